// Command-line arguments of the MCP server (kept apart from main.ts so tests can import them without starting it).

export interface MainArgs {
  ledger: string | undefined;
  workspace: string | undefined;
  actor: string | undefined;
}

const USAGE = 'usage: mcp.js [--ledger DIR] [--workspace DIR] [--actor NAME]\n' +
  'The ledger is --ledger, else $GASCITY_LEDGER_DIR, else the one the workspace (default: the current folder) points to.';

export function parseArgs(argv: readonly string[]): MainArgs {
  const out: MainArgs = { ledger: undefined, workspace: undefined, actor: undefined };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    // A repeated option would silently keep its last value (which ledger?): refused by name, as the CLI does.
    if (seen.has(flag) && flag.startsWith('--')) throw new Error(`${flag} given twice; give it once\n${USAGE}`);
    seen.add(flag);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${flag} needs a value\n${USAGE}`);
      return v;
    };
    if (flag === '--ledger') out.ledger = value();
    else if (flag === '--workspace') out.workspace = value();
    else if (flag === '--actor') out.actor = value();
    else if (flag === '--help' || flag === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return out;
}
