// Registers the Gas City MCP server with Codex for a workspace, and undoes it. Pure Node (no vscode
// import): the extension's command calls it, and so can the CLI and the tests.
//
// Codex reads MCP servers from `[mcp_servers.<name>]` in $CODEX_HOME/config.toml. `codex mcp add` writes
// that table, but it also re-prints the other mcp_servers tables (dropping their comments and re-spacing
// their arrays, seen with codex-cli 0.169.0). So the CLI is used only when a dry run on a copy of the file
// shows that it leaves everything outside our table as it was; otherwise our table is written by a
// line-based edit that touches nothing else. Either way the result reports the table's text before and
// after, and `unregisterMcpServer` puts back what was there before.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { findBlocks, insertedAround, lineEnding, NOTHING_AROUND, replaceTable, tomlKey, tomlString } from './tomlTable';
import type { Around } from './tomlTable';

export const DEFAULT_SERVER_NAME = 'gascity';
const CONFIG_FILE = 'config.toml';
const MARK = '# Written by Gas City for Codex ("Register MCP Server with Codex"); unregistering restores what was here before.';

export interface McpServerSpec {
  /** The table name, `[mcp_servers.<name>]`; letters, digits, `_` and `-`, as `codex mcp add` requires. */
  name?: string;
  /** The program Codex runs, `node` by default. */
  command?: string;
  /** Absolute path of the built server, dist/mcp.js. */
  serverScript: string;
  /** The workspace the server serves (passed as --workspace), if it should not follow Codex's working folder. */
  workspace?: string;
  /** The ledger folder (passed as GASCITY_LEDGER_DIR), if it should not be found from the workspace. */
  ledgerDir?: string;
}

export interface RegistrationOptions {
  /** Where Codex keeps its config: $CODEX_HOME, else ~/.codex. */
  codexHome?: string;
  /**
   * The Codex CLI to use: a path or command name; null never uses it; undefined looks for `codex` on PATH.
   * The CLI is also what verifies the result (`codex mcp get <name> --json`).
   */
  codex?: string | null;
  env?: NodeJS.ProcessEnv;
}

/** What a registration changed; keep it (it is plain JSON) to undo the change later. */
export interface Registration {
  name: string;
  configPath: string;
  /** How the table was written. */
  method: 'codex-cli' | 'file-edit';
  /** Why that method was used. */
  reason: string;
  /** The server's table before (null when there was none) and after, exactly as in the file. */
  before: string | null;
  after: string;
  /** Blank lines written around a new table; removed with it on unregister, so the file is as it was. */
  around: Around;
  /** The file did not exist before. */
  created: boolean;
  /** What `codex mcp get <name> --json` reported afterwards, when the CLI was available. */
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

export function codexHome(options: Pick<RegistrationOptions, 'codexHome' | 'env'> = {}): string {
  const env = options.env ?? process.env;
  return path.resolve(options.codexHome ?? env.CODEX_HOME ?? path.join(os.homedir(), '.codex'));
}

export function configPath(options: Pick<RegistrationOptions, 'codexHome' | 'env'> = {}): string {
  return path.join(codexHome(options), CONFIG_FILE);
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

/** The table a file edit writes, in the file's line ending. */
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
  return lines.join(eol) + eol;
}

/** The Codex CLI to use, or null: the one given, else `codex` when it runs. */
export function findCodex(options: Pick<RegistrationOptions, 'codex' | 'env'> = {}): string | null {
  if (options.codex === null) return null;
  const candidate = options.codex ?? 'codex';
  const r = spawnSync(candidate, ['--version'], { encoding: 'utf8', timeout: 10_000, env: options.env ?? process.env });
  return r.status === 0 && /codex/i.test(r.stdout) ? candidate : null;
}

function readConfig(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** Writes the file whole or not at all: a temp file beside it, fsync, rename, fsync of the folder. */
export function writeAtomic(file: string, text: string): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  let mode = 0o600;
  try {
    mode = fs.statSync(file).mode & 0o777;
  } catch {
    // A new config file is private to its owner, like the one Codex creates.
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w', mode);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Some file systems refuse fsync on a folder; the rename is still atomic.
  }
}

function runCodex(codex: string, home: string, args: string[], env: NodeJS.ProcessEnv): { ok: boolean; stdout: string; output: string } {
  const r = spawnSync(codex, args, { encoding: 'utf8', timeout: 30_000, env: { ...env, CODEX_HOME: home } });
  return { ok: r.status === 0, stdout: r.stdout ?? '', output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

function cliAddArgs(spec: McpServerSpec): string[] {
  const env = Object.entries(serverEnv(spec)).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  return ['mcp', 'add', serverName(spec), ...env, '--', spec.command ?? 'node', ...serverArgs(spec)];
}

/** The file without the server's blocks: what must not change when our table is replaced. */
function outside(text: string, tablePath: string[]): string {
  return replaceTable(text, tablePath, null).text;
}

/**
 * Would `codex mcp add` leave the rest of the file as it is? It is run on a copy in a scratch CODEX_HOME,
 * and everything outside the server's table is compared.
 */
function cliKeepsTheRest(codex: string, original: string | null, spec: McpServerSpec, env: NodeJS.ProcessEnv): { ok: boolean; why: string } {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-codex-dry-'));
  try {
    if (original !== null) fs.writeFileSync(path.join(scratch, CONFIG_FILE), original);
    const r = runCodex(codex, scratch, cliAddArgs(spec), env);
    if (!r.ok) return { ok: false, why: `codex mcp add failed on a copy: ${r.output.split('\n').slice(-3).join(' ')}` };
    const result = readConfig(path.join(scratch, CONFIG_FILE)) ?? '';
    const tablePath = ['mcp_servers', serverName(spec)];
    const table = replaceTable(result, tablePath, null).before ?? '';
    // A new table must be a pure insertion; a replaced one must leave everything around it as it was.
    const kept = original === null ? true
      : replaceTable(original, tablePath, null).before === null ? insertedAround(original, result, table) !== null
        : outside(result, tablePath) === outside(original, tablePath);
    if (!kept) return { ok: false, why: 'codex mcp add would also rewrite other parts of config.toml (comments or layout outside this table)' };
    return { ok: true, why: 'codex mcp add leaves the rest of config.toml as it is' };
  } catch (e) {
    return { ok: false, why: `could not try codex mcp add on a copy: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** Reads the server back through the CLI (`codex mcp get <name> --json`). */
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
 * Registers the server: with `codex mcp add` when the CLI is there and keeps the rest of the file, else
 * by writing the table into config.toml directly. Replaces an existing table of the same name (the
 * result keeps it, so unregistering puts it back).
 */
export function registerMcpServer(spec: McpServerSpec, options: RegistrationOptions = {}): Registration {
  const name = serverName(spec);
  serverArgs(spec);
  const tablePath = ['mcp_servers', name];
  const env = options.env ?? process.env;
  const file = configPath(options);
  const original = readConfig(file);
  // Refuses a file the line-based edit cannot handle before anything is written.
  findBlocks(original ?? '', tablePath);
  const codex = findCodex(options);
  const before = original === null ? null : replaceTable(original, tablePath, null).before;

  let method: Registration['method'] = 'file-edit';
  let reason = codex ? '' : 'the Codex CLI was not found, so the table was written into config.toml directly';
  let around = NOTHING_AROUND;
  if (codex) {
    const dry = cliKeepsTheRest(codex, original, spec, env);
    if (dry.ok) {
      const r = runCodex(codex, codexHome(options), cliAddArgs(spec), env);
      if (r.ok) {
        method = 'codex-cli';
        reason = dry.why;
      } else {
        reason = `codex mcp add failed (${r.output.split('\n').slice(-2).join(' ')}), so the table was written into config.toml directly`;
      }
    } else {
      reason = `${dry.why}, so the table was written into config.toml directly`;
    }
  }
  let after: string;
  if (method === 'file-edit') {
    const edit = replaceTable(original ?? '', tablePath, serverTable(spec, lineEnding(original ?? '')));
    writeAtomic(file, edit.text);
    after = edit.after!;
    around = edit.around;
  } else {
    const now = readConfig(file) ?? '';
    after = replaceTable(now, tablePath, null).before ?? '';
    if (before === null) around = insertedAround(original ?? '', now, after) ?? NOTHING_AROUND;
  }
  const verified = codex ? verifyWithCodex(codex, name, options) : null;
  return { name, configPath: file, method, reason, before, after, around, created: original === null, verified };
}

/**
 * Undoes a registration: puts back the table that was there before, or removes ours (and a config file
 * that only existed for it). A table that was changed since it was registered is left alone unless
 * `force` is set, so a person's later edits are not lost.
 */
export function unregisterMcpServer(registration: Pick<Registration, 'name' | 'configPath' | 'before' | 'after' | 'around' | 'created'>, options: { force?: boolean } = {}): Unregistration {
  const file = registration.configPath;
  const tablePath = ['mcp_servers', serverName(registration)];
  const text = readConfig(file);
  if (text === null) return { configPath: file, changed: false, reason: 'config.toml does not exist', before: null, after: null };
  const current = replaceTable(text, tablePath, null).before;
  if (current === null) return { configPath: file, changed: false, reason: `config.toml has no [mcp_servers.${registration.name}] table`, before: null, after: null };
  if (current !== registration.after && !options.force) {
    return { configPath: file, changed: false, reason: `[mcp_servers.${registration.name}] was changed since it was registered; pass force to undo anyway`, before: current, after: current };
  }
  const edit = replaceTable(text, tablePath, registration.before, { around: registration.around });
  if (edit.text === '' && registration.created) {
    fs.rmSync(file);
  } else {
    writeAtomic(file, edit.text);
  }
  return {
    configPath: file, changed: true, before: current, after: registration.before,
    reason: registration.before === null ? 'removed the table' : 'restored the table that was there before',
  };
}
