// The canonical text of a formula: one fixed key order and one formatting, so that equal content gives
// equal bytes and therefore an equal hash, whatever whitespace, comments or key order the author used.
import { createHash } from 'node:crypto';
import { CHECK_TIMEOUT_DEFAULT_SECONDS } from './types';
import type { Check, Formula, Gate, Retry, Step, StepKey, VarSpec, VarValue } from './types';

const BARE_KEY = /^[A-Za-z0-9_-]+$/;

function key(name: string): string {
  return BARE_KEY.test(name) ? name : basicString(name);
}

function escapeChar(ch: string): string {
  switch (ch) {
    case '\\':
      return '\\\\';
    case '"':
      return '\\"';
    case '\b':
      return '\\b';
    case '\t':
      return '\\t';
    case '\n':
      return '\\n';
    case '\f':
      return '\\f';
    case '\r':
      return '\\r';
    default:
      return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
}

/** A TOML basic string: quoted, with everything TOML requires escaped. */
export function basicString(text: string): string {
  // eslint-disable-next-line no-control-regex
  return `"${text.replace(/[\\"\u0000-\u001f\u007f]/g, escapeChar)}"`;
}

/**
 * Instructions are prose over many lines, so they are written as multi-line strings that read like the
 * original. Only what TOML requires is escaped: backslashes, control characters, runs of quotes.
 */
function multilineString(text: string): string {
  // eslint-disable-next-line no-control-regex
  let body = text.replace(/[\\\u0000-\u0008\u000b-\u001f\u007f]/g, escapeChar);
  // A quote right before the closing delimiter would merge with it, so the last one is escaped.
  const trailing = body.endsWith('"') ? '\\"' : '';
  if (trailing) body = body.slice(0, -1);
  body = body.replace(/"""/g, '""\\"');
  return `"""\n${body}${trailing}"""`;
}

function text(value: string): string {
  return value.includes('\n') ? multilineString(value) : basicString(value);
}

function stringList(values: readonly string[]): string {
  return `[${values.map(basicString).join(', ')}]`;
}

function varValue(value: VarValue): string {
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return stringList(value);
  return text(value);
}

function varLines(name: string, spec: VarSpec): string[] {
  const lines = [`[vars.${key(name)}]`];
  if (spec.description !== '') lines.push(`description = ${text(spec.description)}`);
  if (spec.required) lines.push('required = true');
  if (spec.default !== null) lines.push(`default = ${varValue(spec.default)}`);
  if (spec.enum !== null) lines.push(`enum = ${stringList(spec.enum)}`);
  if (spec.pattern !== null) lines.push(`pattern = ${basicString(spec.pattern)}`);
  return lines;
}

function retryLines(retry: Retry): string[] {
  return ['[steps.retry]', `max = ${retry.max}`, `on_exhausted = ${basicString(retry.onExhausted)}`];
}

function gateLines(gate: Gate): string[] {
  const lines = ['[steps.gate]', `kind = ${basicString(gate.kind)}`];
  if (gate.kind === 'timer') lines.push(`seconds = ${gate.seconds}`);
  if (gate.kind === 'run') lines.push(`formula = ${basicString(gate.formula)}`);
  return lines;
}

/**
 * A step's lines. `explicit` lists the keys to write for a step of a formula that extends another;
 * otherwise every key that differs from its default is written (and title and instructions always).
 */
function stepLines(step: Step, explicit: readonly StepKey[] | undefined): string[] {
  const writes = (name: StepKey, isDefault: boolean): boolean => (explicit ? explicit.includes(name) : !isDefault);
  const lines = ['[[steps]]', `id = ${basicString(step.id)}`];
  if (writes('title', false)) lines.push(`title = ${text(step.title)}`);
  if (writes('needs', step.needs.length === 0)) lines.push(`needs = ${stringList(step.needs)}`);
  if (writes('for_each', step.forEach === null) && step.forEach !== null) lines.push(`for_each = ${basicString(`{{${step.forEach}}}`)}`);
  if (writes('when', step.when === null) && step.when !== null) lines.push(`when = ${basicString(step.when)}`);
  if (writes('review', !step.review)) lines.push(`review = ${step.review}`);
  if (writes('instructions', false)) lines.push(`instructions = ${text(step.instructions)}`);
  const tables: string[] = [];
  if (writes('retry', step.retry === null) && step.retry !== null) tables.push('', ...retryLines(step.retry));
  if (writes('gate', step.gate === null) && step.gate !== null) tables.push('', ...gateLines(step.gate));
  return [...lines, ...tables];
}

/** A check's lines; defaults (600 seconds, exit code 0) are left out so that equal checks read the same. */
function checkLines(check: Check): string[] {
  const lines = ['[[checks]]', `id = ${basicString(check.id)}`];
  if (check.kind === 'run') {
    lines.push(`run = ${text(check.run)}`);
    if (check.timeoutSeconds !== CHECK_TIMEOUT_DEFAULT_SECONDS) lines.push(`timeout_seconds = ${check.timeoutSeconds}`);
    if (!(check.exitCodes.length === 1 && check.exitCodes[0] === 0)) lines.push(`exit_codes = [${check.exitCodes.join(', ')}]`);
  } else if (check.kind === 'file_exists') {
    lines.push(`file_exists = ${basicString(check.path)}`);
  } else {
    lines.push(`verdict = ${basicString(check.verdict)}`);
  }
  return lines;
}

/** The canonical TOML text of a formula. */
export function canonicalize(formula: Formula): string {
  const lines = [`name = ${basicString(formula.name)}`, `version = ${formula.version}`];
  if (formula.description !== '') lines.push(`description = ${text(formula.description)}`);
  if (formula.extends !== null) lines.push(`extends = ${basicString(formula.extends)}`);
  if (formula.removeSteps.length > 0) lines.push(`remove_steps = ${stringList(formula.removeSteps)}`);
  for (const name of Object.keys(formula.vars).sort()) {
    lines.push('', ...varLines(name, formula.vars[name] as VarSpec));
  }
  for (const step of formula.steps) {
    const explicit = formula.extends !== null ? (formula.stepKeys[step.id] ?? []) : undefined;
    lines.push('', ...stepLines(step, explicit));
  }
  // Checks come last, so a formula without checks keeps the text (and the hash) it had before checks existed.
  for (const check of formula.checks) lines.push('', ...checkLines(check));
  return `${lines.join('\n')}\n`;
}

/** TOML text that parses back to the same formula; it is the canonical text. */
export function toToml(formula: Formula): string {
  return canonicalize(formula);
}

/** sha256 (hex) of the canonical text: the identity of a formula variant. */
export function contentHash(formula: Formula): string {
  return createHash('sha256').update(canonicalize(formula), 'utf8').digest('hex');
}
