// `gascity mcp register|unregister|check`: the registration of the Gas City MCP server with Codex, from a terminal.
// The same edit as the extension's "Register MCP Server with Codex" (src/codex/config/registration.ts): the global
// ~/.codex/config.toml (or $CODEX_HOME's) gets [mcp_servers.gascity], pointing at a copy of the server in a folder that
// survives updates of the extension or of a checkout, with per-tool approvals. Needs no ledger.
import * as os from 'node:os';
import * as path from 'node:path';
import type { ApprovalChoice } from '../codex/config/registration';
import {
  approvalsFor, checkConfig, configPath, displayPath, findCodex, registerMcpServer, RegistrationRefused, removeMcpServer, toolsThatAsk,
} from '../codex/config/registration';
import { installServer } from '../codex/config/serverInstall';
import { parseOptions, unexpectedArguments } from './args';
import { FORMULA_TOOLS, PROMOTION_TOOLS, REPLAY_TOOLS, WORKFLOW_TOOLS } from '../mcp/tools';

/** Where `mcpCommand` writes and what it reads; the CLI passes the process's, tests their own. */
export interface McpCommandIo {
  /** Normal output (a line ends in "\n"). */
  out(text: string): void;
  /** Errors and usage. */
  err(text: string): void;
  /** The environment (CODEX_HOME, XDG_DATA_HOME, HOME); process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** The folder holding mcp.js and sql-wasm.wasm to copy; by default the folder of the running bundle (dist/). */
  distDir?: string;
}

export const MCP_USAGE = `Usage: gascity mcp <command> [options]

  register     write [mcp_servers.gascity] into Codex's config.toml (global: ~/.codex/config.toml, or $CODEX_HOME's)
  unregister   remove it again (only a table Gas City wrote, unless --force)
  check        say whether config.toml can be edited safely, without writing

Options:
  --approvals write|read|codex   which tools Codex may run without asking (default write: read and ordinary write
                                 tools; destructive ones such as formula_rollback ask, and codex exec refuses them)
  --node PATH                    the Node.js Codex starts the server with (default: node)
  --server PATH                  register this server script as it is, instead of a stable copy
  --codex PATH                   the Codex CLI used to read the entry back (default: codex on PATH)
  --codex-home DIR               edit DIR/config.toml instead of $CODEX_HOME or ~/.codex
  --name NAME                    the table's name (default: gascity)
  --force                        unregister a table Gas City did not write
  --json                         print the result as JSON

Example:
  gascity mcp register
  codex exec "List the Gas City formula families and start a run of implement-and-review"
`;

const APPROVALS: readonly ApprovalChoice[] = ['write', 'read', 'codex'];
const TOOLS = [...WORKFLOW_TOOLS, ...FORMULA_TOOLS, ...PROMOTION_TOOLS, ...REPLAY_TOOLS /* branch replay */];

/** The folder the CLI keeps its stable copy of the server in: $XDG_DATA_HOME/gascity/mcp-server, else ~/.local/share/…. */
export function stableServerDir(env: NodeJS.ProcessEnv = process.env): string {
  const data = env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
  return path.join(data, 'gascity', 'mcp-server');
}

/**
 * Runs `gascity mcp ARGS`. Returns the exit code: 0 done (also when there was nothing to undo), 1 refused or failed
 * (the message says why and what to do; config.toml is unchanged), 2 a usage error. Never throws.
 */
export async function mcpCommand(args: string[], io: McpCommandIo): Promise<number> {
  const env = io.env ?? process.env;
  let parsed;
  try {
    // The one parser of the CLI (src/cli/args.ts): it also refuses an option given twice (`--name a --name b`).
    parsed = parseOptions(args, {
      approvals: { type: 'string' }, node: { type: 'string' }, server: { type: 'string' }, codex: { type: 'string' },
      'codex-home': { type: 'string' }, name: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    }, 'gascity mcp --help');
  } catch (e) {
    io.err(`gascity mcp: ${e instanceof Error ? e.message : String(e)}\n\n${MCP_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (command === undefined && !values.help ? io.err : io.out)(MCP_USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (extra.length) {
    io.err(`gascity ${unexpectedArguments(`mcp ${command}`, extra, `mcp ${command} [options]`).message}\n\n${MCP_USAGE}`);
    return 2;
  }
  const approvals = (values.approvals ?? 'write') as ApprovalChoice;
  if (!APPROVALS.includes(approvals)) {
    io.err(`gascity mcp: --approvals must be one of ${APPROVALS.join(', ')}, not "${values.approvals}"\n`);
    return 2;
  }
  const options = { ...(values['codex-home'] ? { codexHome: path.resolve(values['codex-home']) } : {}), env };
  const print = (value: unknown, text: string) => io.out(values.json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
  try {
    switch (command) {
      case 'register': {
        const script = values.server
          ? path.resolve(values.server)
          : installServer(io.distDir ?? __dirname, stableServerDir(env)).script;
        const rules = approvalsFor(TOOLS, approvals);
        const r = registerMcpServer(
          { ...(values.name ? { name: values.name } : {}), command: values.node ?? 'node', serverScript: script, approvals: rules },
          { ...options, codex: values.codex ?? 'codex' },
        );
        const asking = toolsThatAsk(rules);
        print(r, [
          `Wrote [mcp_servers.${r.name}] into ${r.global ? 'the global Codex config' : 'the Codex config'} ${displayPath(r.configPath)}.`,
          `Codex starts: ${values.node ?? 'node'} ${script}`,
          approvals === 'codex' ? 'Approvals: none written; Codex decides from each tool\'s annotations.'
            : approvals === 'read' ? 'Approvals: read tools run without asking; every write asks first (codex exec refuses them).'
              : `Approvals: read and write tools run without asking, also in codex exec; these ask first (codex exec refuses them): ${asking.join(', ')}.`,
          r.codex ? (r.verified ? `codex mcp get ${r.name} reads it back.` : `Warning: codex mcp get ${r.name} could not read it back.`)
            : `The Codex CLI (${values.codex ?? 'codex'}) was not found: Codex reads this entry once it is installed.`,
          `Undo: gascity mcp unregister${values['codex-home'] ? ` --codex-home ${values['codex-home']}` : ''}`,
        ].join('\n'));
        return 0;
      }
      case 'unregister': {
        const u = removeMcpServer({ ...options, ...(values.name ? { name: values.name } : {}), force: values.force ?? false });
        print(u, u.changed ? `Removed [mcp_servers.${values.name ?? 'gascity'}] from ${displayPath(u.configPath)}.` : `Nothing changed in ${displayPath(u.configPath)}: ${u.reason}.`);
        return u.changed || !u.before ? 0 : 1;
      }
      case 'check': {
        const refused = checkConfig({ ...options, ...(values.name ? { name: values.name } : {}) });
        const codex = findCodex({ codex: values.codex ?? 'codex', env });
        const file = configPath(options);
        print({ configPath: file, editable: refused === null, problem: refused?.message ?? null, line: refused?.line ?? null, codex },
          refused ? refused.message : `${displayPath(file)} can be edited safely.${codex ? '' : ' The Codex CLI was not found.'}`);
        return refused ? 1 : 0;
      }
      default:
        io.err(`gascity mcp: unknown command "${command}"\n\n${MCP_USAGE}`);
        return 2;
    }
  } catch (e) {
    io.err(`gascity mcp ${command}: ${e instanceof RegistrationRefused || e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
