import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from './errors';
import { writeFileAtomic } from './store/atomicWrite';
import { JOURNAL_FILE, SNAPSHOT_FILE } from './store/store';

/**
 * Where a process finds the ledger of the workspace it serves. The extension keeps the ledger in
 * VS Code's storage for the workspace and leaves a pointer in `<workspace>/.gascity/ledger-location.json`,
 * so that an MCP server Codex starts in the workspace (or the CLI) opens the same ledger. Without a
 * pointer the ledger lives in `<workspace>/.gascity/ledger`.
 *
 * The pointer is a file in the workspace, so it may be committed by anyone: it is input, and the rules
 * (docs/decisions/0006-ledger-pointer.md) keep it from sending writes anywhere else:
 * - only the workspace's own `.gascity` is read; folders above the workspace are never consulted, so a
 *   pointer in a parent folder cannot capture the workspaces below it;
 * - the pointer names an existing ledger folder (one holding the ledger's journal or snapshot): a stale
 *   pointer is an error, never a new empty ledger, and nothing is created by following it;
 * - a relative pointer stays inside the workspace;
 * - a folder outside the workspace is accepted only when its owner file (OWNER_FILE, written by
 *   writeLedgerPointer next to the ledger) names this workspace — the folder VS Code keeps for it.
 */
export const POINTER_FILE = path.join('.gascity', 'ledger-location.json');
export const DEFAULT_LEDGER_DIR = path.join('.gascity', 'ledger');
/** In a ledger folder: `{"workspaces": [<absolute real path>, ...]}`, the workspaces whose pointer may name it. */
export const OWNER_FILE = 'workspaces.json';
/** A pointer is a few hundred bytes; a larger file is not one. */
const MAX_POINTER_BYTES = 64 * 1024;

/**
 * The ledger folder for a process: `dir` (from `--ledger`), else `env.GASCITY_LEDGER_DIR`, else what
 * `<cwd>/.gascity/ledger-location.json` points to, else `<cwd>/.gascity/ledger`. `cwd` is the workspace
 * (default: the process's working folder). The first two are a person's explicit choice and are used as
 * given. Creates nothing. Throws LedgerError (invalid_input, field POINTER_FILE) when the pointer is
 * unreadable, stale, leads outside the workspace to a folder not kept for it, or when `.gascity` itself
 * leads outside the workspace; the message names the file, says why and what to do.
 */
export function resolveLedgerDir(options: { dir?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  if (options.dir) return path.resolve(options.dir);
  const env = options.env ?? process.env;
  if (env.GASCITY_LEDGER_DIR) return path.resolve(env.GASCITY_LEDGER_DIR);
  const workspace = path.resolve(options.cwd ?? process.cwd());
  const pointer = path.join(workspace, POINTER_FILE);
  if (fs.existsSync(pointer)) return followPointer(workspace, pointer);
  const fallback = path.join(workspace, DEFAULT_LEDGER_DIR);
  const outside = leavesWorkspace(workspace, fallback);
  if (outside) refuse(fallback, `${DEFAULT_LEDGER_DIR} leads outside the workspace (to ${outside}) through a symbolic link`, `make ${path.dirname(DEFAULT_LEDGER_DIR)} a real folder inside the workspace, or pass --ledger DIR`);
  return fallback;
}

function refuse(file: string, why: string, fix: string): never {
  throw new LedgerError(`${file}: ${why}; nothing was created or written. To fix: ${fix}.`, 'invalid_input', POINTER_FILE);
}

/** The real path of `target` (of its longest existing ancestor, for one that does not exist yet). */
function realPathOf(target: string): string {
  const missing: string[] = [];
  let existing = target;
  for (;;) {
    try {
      return path.join(fs.realpathSync(existing), ...missing.reverse());
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) return target;
      missing.push(path.basename(existing));
      existing = parent;
    }
  }
}

function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/** Where `target` really is when that is outside `workspace` (symbolic links resolved), else null. */
function leavesWorkspace(workspace: string, target: string): string | null {
  const real = realPathOf(target);
  return isInside(realPathOf(workspace), real) ? null : real;
}

function isLedgerFolder(dir: string): boolean {
  return fs.existsSync(path.join(dir, JOURNAL_FILE)) || fs.existsSync(path.join(dir, SNAPSHOT_FILE));
}

/** The workspaces (real paths) an owner file names; none when it is missing or unreadable. */
function ownersOf(ledgerDir: string): string[] {
  try {
    const raw = JSON.parse(fs.readFileSync(path.join(ledgerDir, OWNER_FILE), 'utf8')) as { workspaces?: unknown };
    return Array.isArray(raw.workspaces) ? raw.workspaces.filter((w): w is string => typeof w === 'string') : [];
  } catch {
    return [];
  }
}

function followPointer(workspace: string, pointer: string): string {
  const again = 'open the workspace in VS Code with Gas City once (it writes a fresh pointer), or delete the file to use .gascity/ledger, or pass --ledger DIR';
  const stat = fs.statSync(pointer);
  if (!stat.isFile() || stat.size > MAX_POINTER_BYTES) refuse(pointer, 'it is not a pointer file (a small JSON file)', again);
  let dir: unknown;
  try {
    dir = (JSON.parse(fs.readFileSync(pointer, 'utf8')) as { dir?: unknown } | null)?.dir;
  } catch (error) {
    refuse(pointer, `it is not valid JSON (${(error as Error).message})`, again);
  }
  if (typeof dir !== 'string' || dir.trim() === '') refuse(pointer, 'it has no "dir" naming the ledger folder', again);
  const target = path.resolve(workspace, dir);
  if (!path.isAbsolute(dir) && !isInside(workspace, target)) {
    refuse(pointer, `"dir" is ${JSON.stringify(dir)}, a relative path that leaves the workspace (to ${target}); a relative pointer may only name a folder inside the workspace`, again);
  }
  let isDir = false;
  try {
    isDir = fs.statSync(target).isDirectory();
  } catch {
    refuse(pointer, `it points to ${target}, which does not exist (a stale pointer: the folder was moved or deleted)`, again);
  }
  if (!isDir) refuse(pointer, `it points to ${target}, which is not a folder`, again);
  const real = fs.realpathSync(target);
  if (!isLedgerFolder(real)) {
    refuse(pointer, `it points to ${target}, which holds no ledger (no ${JOURNAL_FILE} or ${SNAPSHOT_FILE}); a pointer must name an existing ledger`, again);
  }
  const realWorkspace = fs.realpathSync(workspace);
  if (isInside(realWorkspace, real)) return target;
  if (!ownersOf(real).includes(realWorkspace)) {
    refuse(pointer, `it points outside the workspace to ${real}, a ledger that was not kept for this workspace (its ${OWNER_FILE} does not name ${realWorkspace}); only a ledger inside the workspace or the one the extension keeps for it may be used`, again);
  }
  return target;
}

/**
 * Points the workspace at `ledgerDir` (an existing ledger folder, typically in VS Code's storage):
 * first records the workspace in the ledger's owner file (OWNER_FILE), so that resolveLedgerDir accepts
 * the folder although it lies outside the workspace, then writes the pointer. Both writes are atomic
 * (temp file, fsync, rename, fsync of the folder). Throws the file system's error.
 */
export function writeLedgerPointer(workspaceDir: string, ledgerDir: string): void {
  const realWorkspace = fs.realpathSync(workspaceDir);
  const owners = ownersOf(ledgerDir);
  if (!owners.includes(realWorkspace)) {
    const text = `${JSON.stringify({ workspaces: [...owners, realWorkspace] }, null, 2)}\n`;
    writeFileAtomic(path.join(ledgerDir, OWNER_FILE), text);
  }
  const file = path.join(workspaceDir, POINTER_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, `${JSON.stringify({ dir: ledgerDir }, null, 2)}\n`);
}
