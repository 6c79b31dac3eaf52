// The one argument parser of `gascity` and its subcommands that have options of their own (evidence, mcp):
// node:util parseArgs in strict mode, plus the two refusals parseArgs lacks — an option given twice (it would
// keep the last value silently) and positional arguments a command does not take (they would be ignored).
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { LedgerError } from '../ledger/index';

/** The option declarations of one parser, as node:util parseArgs takes them. */
export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** What parseOptions returns: the option values by name, and the positional arguments in order. */
export interface ParsedOptions<T extends OptionSpecs> {
  values: ReturnType<typeof parseArgs<{ options: T; allowPositionals: true; strict: true; tokens: true }>>['values'];
  positionals: string[];
  /** The names of the options given, in order (without the dashes). */
  options: string[];
}

/**
 * Parses `argv` against `options` (strict: an unknown option or a missing value is refused). An option given
 * twice is refused by name unless it is declared `multiple: true` (such as `--profile`), which collects every
 * value. `help` names the command for the message ("see gascity help", "see gascity evidence --help").
 * Throws LedgerError `invalid_input` whose field is the option's name (or `options` for parseArgs' own refusals).
 */
export function parseOptions<T extends OptionSpecs>(argv: readonly string[], options: T, help: string): ParsedOptions<T> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
  } catch (e) {
    throw new LedgerError(`${(e as Error).message.replace(/\.?$/, '')} (see ${help})`, 'invalid_input', 'options');
  }
  const seen = new Set<string>();
  const given: string[] = [];
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    given.push(t.name);
    if (options[t.name]?.multiple) continue;
    if (seen.has(t.name)) throw new LedgerError(`--${t.name}: given twice; give it once`, 'invalid_input', t.name);
    seen.add(t.name);
  }
  return { values: parsed.values, positionals: [...parsed.positionals], options: given };
}

/** How many positional arguments a command takes after its name, and its usage line. */
export interface CommandShape {
  /** The usage after `gascity`, e.g. `show RUN_ID`. */
  usage: string;
  /** Positional arguments at least (missing ones are refused by the command, naming the argument). */
  min: number;
  /** Positional arguments at most; Infinity for commands that take `k=v` run variables. */
  max: number;
  /** The options of the main parser the command reads, beyond GLOBAL_OPTIONS (any other is refused, not ignored). */
  options?: readonly string[];
}

/** The options every command of the main parser takes. */
export const GLOBAL_OPTIONS: readonly string[] = ['ledger', 'workspace', 'json', 'help'];

/**
 * The positional arguments of every command of the main parser. `run` is shaped here by its widest form;
 * its forms (`run RUN_ID --codex`, `run merge RUN_ID`) are checked further where it is dispatched.
 */
export const COMMAND_SHAPES: ReadonlyMap<string, CommandShape> = new Map<string, CommandShape>([
  ['help', { usage: 'help', min: 0, max: 0 }],
  ['status', { usage: 'status', min: 0, max: 0 }],
  ['import', { usage: 'import [DIR]', min: 0, max: 1 }],
  ['families', { usage: 'families', min: 0, max: 0 }],
  ['lineage', { usage: 'lineage FAMILY', min: 1, max: 1 }],
  ['variant', { usage: 'variant ID', min: 1, max: 1 }],
  ['mutate', { usage: 'mutate VARIANT MUTATIONS_JSON', min: 2, max: 2 }],
  ['select', { usage: 'select VARIANT [REASON]', min: 1, max: 2 }],
  ['rollback', { usage: 'rollback FAMILY [REASON]', min: 1, max: 2 }],
  ['trial', { usage: 'trial VARIANT [screen|trial]', min: 1, max: 2 }],
  ['assess', { usage: 'assess VARIANT', min: 1, max: 1 }],
  ['promote', { usage: 'promote VARIANT [REASON]', min: 1, max: 2 }],
  ['reject', { usage: 'reject VARIANT [REASON]', min: 1, max: 2 }],
  ['decisions', { usage: 'decisions FAMILY', min: 1, max: 1 }],
  ['start', { usage: 'start FAMILY [k=v ...] [--task KEY]', min: 1, max: Infinity, options: ['task'] }],
  ['runs', { usage: 'runs', min: 0, max: 0 }],
  ['show', { usage: 'show RUN_ID', min: 1, max: 1 }],
  ['needs', { usage: 'needs', min: 0, max: 0 }],
  ['gate', { usage: 'gate open NODE [NOTE]', min: 2, max: 3 }],
  ['review', { usage: 'review NODE approve|changes [NOTE]', min: 2, max: 3 }],
  ['cancel', { usage: 'cancel RUN_ID|NODE [REASON]', min: 1, max: 2 }],
  ['worktrees', { usage: 'worktrees', min: 0, max: 0 }],
  ['replay', {
    usage: 'replay VARIANT [--tasks N] [--budget-tokens T] [--budget-runs R] [--budget-minutes M] [--workers N]', min: 1, max: 1,
    options: ['tasks', 'budget-tokens', 'budget-runs', 'budget-minutes', 'workers'],
  }],
  ['run', {
    usage: 'run FAMILY [k=v ...] --codex [--workers N] [--task KEY] [--profile NAME=MODEL] | run RUN_ID [--codex] | run merge|discard RUN_ID', min: 1, max: Infinity,
    options: ['codex', 'workers', 'task', 'profile'],
  }],
  ['ready', { usage: 'ready', min: 0, max: 0 }],
  ['claim', { usage: 'claim WORKER [NODE]', min: 1, max: 2 }],
  ['report', { usage: 'report NODE WORKER done|failed [SUMMARY]', min: 3, max: 4 }],
  ['events', { usage: 'events [AFTER_SEQ]', min: 0, max: 1 }],
  ['checkpoint', { usage: 'checkpoint', min: 0, max: 0 }],
  ['archive', { usage: 'archive [DAYS]', min: 0, max: 1 }],
  ['verify', { usage: 'verify', min: 0, max: 0 }],
  ['demo', { usage: 'demo [--model demo|codex] [--workers N]', min: 0, max: 0, options: ['model', 'workers'] }],
]);

/**
 * The error for positional arguments a command does not take: it names them (the first five, each cut to
 * 60 characters), says why when `why` is given, and gives the command's usage. LedgerError `invalid_input`, field `arguments`.
 */
export function unexpectedArguments(command: string, extra: readonly string[], usage: string, why?: string): LedgerError {
  const named = extra.slice(0, 5).map((a) => JSON.stringify(a.length > 60 ? `${a.slice(0, 60)}…` : a)).join(' ');
  const more = extra.length > 5 ? ` and ${extra.length - 5} more` : '';
  return new LedgerError(`${command}: unexpected argument${extra.length === 1 ? '' : 's'} ${named}${more}${why ? ` (${why})` : ''}; usage: gascity ${usage}`,
    'invalid_input', 'arguments');
}

/**
 * Refuses positional arguments after the ones a command takes: `rest` are the arguments after the command's
 * name, `taken` how many it takes, `usage` its usage after `gascity`. Throws unexpectedArguments' error.
 */
export function refuseExtra(command: string, rest: readonly string[], taken: number, usage: string): void {
  if (rest.length > taken) throw unexpectedArguments(command, rest.slice(taken), usage);
}

/**
 * Checks a main-parser command's arguments against COMMAND_SHAPES: positional arguments beyond its `max`, and
 * options (`given`, by name) it does not read, are refused with a LedgerError `invalid_input` naming them and the
 * usage. Unknown commands are left to the dispatcher.
 */
export function checkCommandArguments(command: string, rest: readonly string[], given: readonly string[] = []): void {
  const shape = COMMAND_SHAPES.get(command);
  if (!shape) return;
  refuseExtra(command, rest, shape.max, shape.usage);
  const stray = [...new Set(given)].filter((o) => !GLOBAL_OPTIONS.includes(o) && !(shape.options ?? []).includes(o));
  if (stray.length) {
    throw new LedgerError(`${command}: ${stray.map((o) => `--${o}`).join(', ')} ${stray.length === 1 ? 'does' : 'do'} not apply to it; usage: gascity ${shape.usage}`,
      'invalid_input', stray[0]!);
  }
}
