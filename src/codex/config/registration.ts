// Registers the Gas City MCP server with Codex, and undoes it. Pure Node (no vscode import): the extension's
// command, the CLI (`gascity mcp register`) and the tests call it alike.
//
// Codex reads MCP servers from `[mcp_servers.<name>]` in $CODEX_HOME/config.toml (~/.codex/config.toml: global to
// the machine and shared by `codex`, `codex exec` and Codex's IDE extension). Our table is written by a line-based
// edit (./tomlTable.ts) that touches nothing else of the file, so a person's comments and layout stay. `codex mcp
// add` is not used: it re-prints the other servers' tables (dropping their comments, seen with codex-cli 0.169.0)
// and cannot write per-tool approvals (openai/codex#25442).
//
// Nothing is written unless it is safe: the file must parse (smol-toml) before the edit, and after it the parsed
// file must equal the parsed original everywhere but in our table, and our table must read back as what we meant.
// Otherwise the registration is refused with the line and what to do, and the file is left as it was.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseToml, TomlError } from 'smol-toml';
import { writeFileAtomic } from '../../ledger/store/atomicWrite';
import { tomlKey, tomlString } from './toml';
import { findBlocks, lineEnding, NOTHING_AROUND, replaceTable, TomlEditError } from './tomlTable';
import type { Around } from './tomlTable';

export const DEFAULT_SERVER_NAME = 'gascity';
const CONFIG_FILE = 'config.toml';
const MARK = '# Written by Gas City for Codex ("Register MCP Server with Codex" or `gascity mcp register`); unregistering restores what was here before.';

/** Codex's approval modes for MCP tools (`default_tools_approval_mode`, `tools.<tool>.approval_mode`). */
export type ApprovalMode = 'auto' | 'prompt' | 'approve';

/**
 * What the registration asks Codex to allow without asking:
 * - `write`: read-only and ordinary write tools are approved, destructive tools (and tools added later) ask;
 * - `read`: only read-only tools are approved, every write asks;
 * - `codex`: no approval settings are written; Codex decides from the tools' annotations.
 */
export type ApprovalChoice = 'write' | 'read' | 'codex';

/** Approval settings as written into the server's table. */
export interface ToolApprovals {
  /** For tools not named in `tools` (for example tools of a newer server). */
  readonly defaultMode: ApprovalMode;
  readonly tools: Readonly<Record<string, ApprovalMode>>;
}

/** The part of an MCP tool definition that decides its approval: its name and annotations. */
export interface ToolInfo {
  readonly name: string;
  readonly annotations: { readonly readOnlyHint?: boolean; readonly destructiveHint?: boolean };
}

/**
 * The approval settings of a choice for a list of tools; null for `codex` (write none). A tool that is not
 * read-only counts as destructive unless its annotations say `destructiveHint: false`, as the MCP specification's
 * defaults do (ToolAnnotations: destructiveHint defaults to true).
 */
export function approvalsFor(tools: readonly ToolInfo[], choice: ApprovalChoice): ToolApprovals | null {
  if (choice === 'codex') return null;
  const out: Record<string, ApprovalMode> = {};
  for (const t of [...tools].sort((a, b) => a.name.localeCompare(b.name))) {
    const readOnly = t.annotations.readOnlyHint === true;
    const destructive = !readOnly && t.annotations.destructiveHint !== false;
    out[t.name] = readOnly || (choice === 'write' && !destructive) ? 'approve' : 'prompt';
  }
  return { defaultMode: 'prompt', tools: out };
}

/** The tools an approval setting leaves asking, for messages ("formula_promote, formula_rollback will ask"). */
export function toolsThatAsk(approvals: ToolApprovals | null): string[] {
  if (!approvals) return [];
  return Object.entries(approvals.tools).filter(([, mode]) => mode !== 'approve').map(([name]) => name);
}

export interface McpServerSpec {
  /** The table name, `[mcp_servers.<name>]`; letters, digits, `_` and `-`, as `codex mcp add` requires. */
  name?: string;
  /** The program Codex runs, `node` by default. */
  command?: string;
  /** Absolute path of the server script (a stable copy of dist/mcp.js, see ./serverInstall.ts). */
  serverScript: string;
  /** The workspace the server serves (passed as --workspace), if it should not follow Codex's working folder. */
  workspace?: string;
  /** The ledger folder (passed as GASCITY_LEDGER_DIR), if it should not be found from the workspace. */
  ledgerDir?: string;
  /** Approval settings to write (see approvalsFor); none when absent or null. */
  approvals?: ToolApprovals | null;
}

export interface RegistrationOptions {
  /** Where Codex keeps its config: $CODEX_HOME, else ~/.codex. */
  codexHome?: string;
  /**
   * The Codex CLI that verifies the result (`codex mcp get <name> --json`): a path or command name; null never
   * runs it; undefined looks for `codex` on PATH.
   */
  codex?: string | null;
  env?: NodeJS.ProcessEnv;
}

/** What a registration changed; keep it (it is plain JSON) to undo the change later. */
export interface Registration {
  name: string;
  configPath: string;
  /** Whether configPath is Codex's global config (~/.codex/config.toml, no CODEX_HOME given), for messages. */
  global: boolean;
  /** The Codex CLI that was found, or null: the table is written all the same, and Codex reads it once installed. */
  codex: string | null;
  /** The server's table before (null when there was none) and after, exactly as in the file. */
  before: string | null;
  after: string;
  /** Blank lines written around a new table; removed with it on unregister, so the file is as it was. */
  around: Around;
  /** The file did not exist before. */
  created: boolean;
  /** What `codex mcp get <name> --json` reported afterwards, when the CLI was found. */
  verified: CodexServerEntry | null;
}

export interface Unregistration {
  configPath: string;
  /** False when there was nothing of ours to undo (see `reason`). */
  changed: boolean;
  reason: string;
  /** The table before the undo, and after it (the restored previous table, or null when removed). */
  before: string | null;
  after: string | null;
}

/** The part of `codex mcp get --json` that says what Codex will run. */
export interface CodexServerEntry {
  name: string;
  enabled: boolean;
  transport: { type: string; command?: string; args?: string[]; env?: Record<string, string> | null };
}

/**
 * A config.toml that cannot be edited safely. Nothing was written. `line` is 1-based when known; the message names
 * the file, the line and what to do.
 */
export class RegistrationRefused extends Error {
  constructor(message: string, readonly file: string, readonly line?: number) {
    super(message);
    this.name = 'RegistrationRefused';
  }
}

/** $CODEX_HOME when set (or given), else ~/.codex. */
export function codexHome(options: Pick<RegistrationOptions, 'codexHome' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  return path.resolve(options.codexHome ?? env.CODEX_HOME ?? path.join(os.homedir(), '.codex'));
}

/** The config.toml Codex reads. */
export function configPath(options: Pick<RegistrationOptions, 'codexHome' | 'env'> = {}): string {
  return path.join(codexHome(options), CONFIG_FILE);
}

/** The path as a person would type it: ~/… under the home folder. */
export function displayPath(file: string): string {
  const home = os.homedir();
  return file === home || file.startsWith(home + path.sep) ? `~${file.slice(home.length)}` : file;
}

function serverName(spec: { name?: string }): string {
  const name = spec.name ?? DEFAULT_SERVER_NAME;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`server name "${name}" may only use letters, digits, _ and -`);
  return name;
}

function serverArgs(spec: McpServerSpec): string[] {
  if (!path.isAbsolute(spec.serverScript)) throw new Error(`serverScript must be an absolute path, not ${spec.serverScript}`);
  return [spec.serverScript, ...(spec.workspace ? ['--workspace', path.resolve(spec.workspace)] : [])];
}

function serverEnv(spec: McpServerSpec): Record<string, string> {
  return spec.ledgerDir ? { GASCITY_LEDGER_DIR: path.resolve(spec.ledgerDir) } : {};
}

/** The table as Codex should read it back (the parsed form of serverTable), for the check after an edit. */
function expectedTable(spec: McpServerSpec): Record<string, unknown> {
  const env = serverEnv(spec);
  const table: Record<string, unknown> = { command: spec.command ?? 'node', args: serverArgs(spec) };
  if (Object.keys(env).length) table.env = env;
  if (spec.approvals) {
    table.default_tools_approval_mode = spec.approvals.defaultMode;
    table.tools = Object.fromEntries(Object.entries(spec.approvals.tools).map(([t, mode]) => [t, { approval_mode: mode }]));
  }
  return table;
}

/** The table a file edit writes, in the file's line ending: the server, then one subtable per tool approval. */
export function serverTable(spec: McpServerSpec, eol: '\n' | '\r\n' = '\n'): string {
  const name = serverName(spec);
  const env = Object.entries(serverEnv(spec));
  const lines = [
    `[mcp_servers.${tomlKey(name)}]`,
    MARK,
    `command = ${tomlString(spec.command ?? 'node')}`,
    `args = [${serverArgs(spec).map(tomlString).join(', ')}]`,
    ...(env.length ? [`env = { ${env.map(([k, v]) => `${tomlKey(k)} = ${tomlString(v)}`).join(', ')} }`] : []),
  ];
  if (spec.approvals) {
    const asking = toolsThatAsk(spec.approvals);
    lines.push(
      '# Approved tools run without asking, also in `codex exec`; the others ask first (and `codex exec`, which cannot',
      `# ask, refuses them): ${asking.length ? asking.join(', ') : 'none'}, and any tool this table does not name.`,
      `default_tools_approval_mode = ${tomlString(spec.approvals.defaultMode)}`,
    );
    for (const [tool, mode] of Object.entries(spec.approvals.tools)) {
      lines.push(`[mcp_servers.${tomlKey(name)}.tools.${tomlKey(tool)}]`, `approval_mode = ${tomlString(mode)}`);
    }
  }
  return lines.join(eol) + eol;
}

/** The Codex CLI to use, or null: the one given, else `codex` when it runs. */
export function findCodex(options: Pick<RegistrationOptions, 'codex' | 'env'> = {}): string | null {
  if (options.codex === null) return null;
  const candidate = options.codex ?? 'codex';
  const r = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 10_000, env: options.env ?? process.env });
  return r.status === 0 && /codex/i.test(r.stdout) ? candidate : null;
}

/** Writes config.toml atomically, keeping its permission bits; a new one is private to its owner, as Codex makes it. */
function writeConfig(file: string, text: string): void {
  let mode = 0o600;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }
  writeFileAtomic(file, text, { mode });
}

function readConfig(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Parses config.toml, or refuses with the line smol-toml stopped at. */
function parseConfig(text: string, file: string, when: string): Record<string, unknown> {
  try {
    return plain(parseToml(text)) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const what = e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      throw new RegistrationRefused(
        `${displayPath(file)} ${when} is not valid TOML: line ${e.line}, column ${e.column}: ${what}. ` +
        'Codex cannot read it either; fix that line, then register again. Nothing was changed.',
        file, e.line,
      );
    }
    throw e;
  }
}

/**
 * A parsed TOML value as plain data for comparison: smol-toml makes tables without a prototype, dates are Date
 * objects (compared by their text, since TOML local dates have no single instant) and NaN is compared as itself.
 */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date) return { date: String(value) };
  if (typeof value === 'number' && Number.isNaN(value)) return { number: 'nan' };
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

/** A copy of a parsed config without `[mcp_servers.<name>]` (and without an `mcp_servers` that only held it). */
function withoutServer(config: Record<string, unknown>, name: string): Record<string, unknown> {
  const servers = config.mcp_servers;
  if (typeof servers !== 'object' || servers === null || Array.isArray(servers) || !(name in servers)) return config;
  const rest = { ...(servers as Record<string, unknown>) };
  delete rest[name];
  const out: Record<string, unknown> = { ...config, mcp_servers: rest };
  if (Object.keys(rest).length === 0) delete out.mcp_servers;
  return out;
}

function serverOf(config: Record<string, unknown>, name: string): unknown {
  const servers = config.mcp_servers;
  return typeof servers === 'object' && servers !== null ? (servers as Record<string, unknown>)[name] : undefined;
}

/**
 * The edit, or a refusal: the original must parse and allow a line edit, and the result must parse to the original
 * everywhere but in our table, and our table to `expected` (undefined: the table is gone; null: not checked).
 */
function checkedEdit(file: string, original: string, name: string, table: string | null, expected: unknown, around?: Around) {
  const tablePath = ['mcp_servers', name];
  const before = parseConfig(original, file, 'as it is');
  let edit;
  try {
    edit = replaceTable(original, tablePath, table, around ? { around } : {});
  } catch (e) {
    if (e instanceof TomlEditError) {
      throw new RegistrationRefused(`${displayPath(file)}${e.line ? `, line ${e.line}` : ''}: ${e.message}. Nothing was changed.`, file, e.line);
    }
    throw e;
  }
  const after = parseConfig(edit.text, file, 'after the edit (a bug: please report it)');
  const othersKept = isDeepStrictEqual(withoutServer(after, name), withoutServer(before, name));
  const ours = serverOf(after, name);
  const oursRight = expected === null || (expected === undefined ? ours === undefined : isDeepStrictEqual(ours, expected));
  if (!othersKept || !oursRight) {
    throw new RegistrationRefused(
      `${displayPath(file)}: the edit would ${othersKept ? `not read back as the intended [mcp_servers.${name}] table` : `change more than [mcp_servers.${name}]`}, ` +
      'so nothing was changed. Add the table by hand (see README, "Use with Codex in a terminal").',
      file,
    );
  }
  return edit;
}

function runCodex(codex: string, home: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; stdout: string } {
  const r = spawnSync(codex, args, { encoding: 'utf8', timeout: 30_000, env: { ...env, CODEX_HOME: home } });
  return { ok: r.status === 0, stdout: r.stdout ?? '' };
}

/** Reads the server back through the CLI (`codex mcp get <name> --json`); null when Codex does not know it. */
export function verifyWithCodex(codex: string, name: string, options: Pick<RegistrationOptions, 'codexHome' | 'env'> = {}): CodexServerEntry | null {
  const r = runCodex(codex, codexHome(options), ['mcp', 'get', name, '--json'], options.env ?? process.env);
  if (!r.ok) return null;
  try {
    return JSON.parse(r.stdout) as CodexServerEntry;
  } catch {
    return null;
  }
}

/**
 * Registers the server: writes `[mcp_servers.<name>]` (with the approval subtables) into config.toml, replacing a
 * table of the same name (the result keeps it, so unregistering puts it back). Throws RegistrationRefused, writing
 * nothing, when the file is not valid TOML or cannot be edited safely; Error for a bad spec.
 */
export function registerMcpServer(spec: McpServerSpec, options: RegistrationOptions = {}): Registration {
  const name = serverName(spec);
  serverArgs(spec);
  const file = configPath(options);
  const original = readConfig(file);
  const table = serverTable(spec, lineEnding(original ?? ''));
  const edit = checkedEdit(file, original ?? '', name, table, expectedTable(spec));
  writeConfig(file, edit.text);
  const codex = findCodex(options);
  const verified = codex ? verifyWithCodex(codex, name, options) : null;
  return {
    name, configPath: file, global: options.codexHome === undefined && !(options.env ?? process.env).CODEX_HOME,
    codex, before: edit.before, after: table, around: edit.around, created: original === null, verified,
  };
}

/**
 * Undoes a registration: puts back the table that was there before, or removes ours (and a config file that only
 * existed for it). A table that was changed since it was registered is left alone unless `force` is set, so a
 * person's later edits are not lost. Throws RegistrationRefused when the file cannot be edited safely.
 */
export function unregisterMcpServer(registration: Pick<Registration, 'name' | 'configPath' | 'before' | 'after' | 'around' | 'created'>, options: { force?: boolean } = {}): Unregistration {
  const file = registration.configPath;
  const name = serverName(registration);
  const tablePath = ['mcp_servers', name];
  const text = readConfig(file);
  if (text === null) return { configPath: file, changed: false, reason: 'config.toml does not exist', before: null, after: null };
  let current: string | null;
  try {
    current = replaceTable(text, tablePath, null).before;
  } catch (e) {
    if (e instanceof TomlEditError) throw new RegistrationRefused(`${displayPath(file)}${e.line ? `, line ${e.line}` : ''}: ${e.message}. Nothing was changed.`, file, e.line);
    throw e;
  }
  if (current === null) return { configPath: file, changed: false, reason: `config.toml has no [mcp_servers.${name}] table`, before: null, after: null };
  if (current !== registration.after && !options.force) {
    return { configPath: file, changed: false, reason: `[mcp_servers.${name}] was changed since it was registered; pass force to undo anyway`, before: current, after: current };
  }
  // What the table must read back as afterwards: the earlier table as Codex parses it, or nothing.
  const expected = registration.before === null ? undefined : serverOf(parseConfig(`${registration.before}`, file, 'in the saved earlier table'), name);
  const edit = checkedEdit(file, text, name, registration.before, expected, registration.around);
  if (edit.text === '' && registration.created) {
    fs.rmSync(file);
  } else {
    writeConfig(file, edit.text);
  }
  return {
    configPath: file, changed: true, before: current, after: registration.before,
    reason: registration.before === null ? 'removed the table' : 'restored the table that was there before',
  };
}

/**
 * Removes `[mcp_servers.<name>]` when Gas City wrote it (it carries our mark), without a saved registration: what
 * `gascity mcp unregister` does from a terminal. A table someone else wrote is left alone unless `force` is set.
 */
export function removeMcpServer(options: RegistrationOptions & { name?: string; force?: boolean } = {}): Unregistration {
  const file = configPath(options);
  const name = serverName(options);
  const text = readConfig(file);
  if (text === null) return { configPath: file, changed: false, reason: 'config.toml does not exist', before: null, after: null };
  let current: string | null;
  try {
    current = replaceTable(text, ['mcp_servers', name], null).before;
  } catch (e) {
    if (e instanceof TomlEditError) throw new RegistrationRefused(`${displayPath(file)}${e.line ? `, line ${e.line}` : ''}: ${e.message}. Nothing was changed.`, file, e.line);
    throw e;
  }
  if (current === null) return { configPath: file, changed: false, reason: `config.toml has no [mcp_servers.${name}] table`, before: null, after: null };
  if (!current.includes(MARK) && !options.force) {
    return { configPath: file, changed: false, reason: `[mcp_servers.${name}] was not written by Gas City; pass --force to remove it anyway`, before: current, after: current };
  }
  return unregisterMcpServer({ name, configPath: file, before: null, after: current, around: NOTHING_AROUND, created: false }, { force: true });
}

/** Whether the file can be registered into at all, without writing: null when it can, else the refusal. */
export function checkConfig(options: RegistrationOptions & { name?: string } = {}): RegistrationRefused | null {
  const file = configPath(options);
  const text = readConfig(file);
  if (text === null) return null;
  try {
    parseConfig(text, file, 'as it is');
    findBlocks(text, ['mcp_servers', serverName(options)]);
    return null;
  } catch (e) {
    if (e instanceof RegistrationRefused) return e;
    if (e instanceof TomlEditError) return new RegistrationRefused(`${displayPath(file)}: ${e.message}. Nothing was changed.`, file, e.line);
    throw e;
  }
}
