import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where a process finds the ledger of the workspace it serves. The extension keeps the ledger in
 * VS Code's storage for the workspace and leaves a pointer in `.gascity/ledger-location.json`, so
 * that an MCP server Codex starts in the workspace (or the CLI) opens the same ledger. Without a
 * pointer the ledger lives in `.gascity/ledger` inside the workspace.
 */
export const POINTER_FILE = path.join('.gascity', 'ledger-location.json');
export const DEFAULT_LEDGER_DIR = path.join('.gascity', 'ledger');

export function resolveLedgerDir(options: { dir?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  if (options.dir) return path.resolve(options.dir);
  const env = options.env ?? process.env;
  if (env.GASCITY_LEDGER_DIR) return path.resolve(env.GASCITY_LEDGER_DIR);
  const cwd = path.resolve(options.cwd ?? process.cwd());
  for (let d = cwd; ; d = path.dirname(d)) {
    const pointer = path.join(d, POINTER_FILE);
    if (fs.existsSync(pointer)) {
      try {
        const v = JSON.parse(fs.readFileSync(pointer, 'utf8')) as { dir?: unknown };
        if (typeof v.dir === 'string' && v.dir) return path.resolve(d, v.dir);
      } catch {
        // An unreadable pointer is ignored rather than sending writes somewhere unexpected.
      }
    }
    if (fs.existsSync(path.join(d, DEFAULT_LEDGER_DIR))) return path.join(d, DEFAULT_LEDGER_DIR);
    if (path.dirname(d) === d) break;
  }
  return path.join(cwd, DEFAULT_LEDGER_DIR);
}

export function writeLedgerPointer(workspaceDir: string, ledgerDir: string): void {
  const file = path.join(workspaceDir, POINTER_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify({ dir: ledgerDir }, null, 2) + '\n');
  fs.renameSync(tmp, file);
}
