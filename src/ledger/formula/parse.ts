// Reading `*.formula.toml`: TOML syntax first, then the shape of every key, then meaning (validate.ts).
// Every problem found is reported with its line, not just the first, so one save shows the whole list.
import { parse as parseToml, TomlError } from 'smol-toml';
import { SourceLocator } from './locate';
import { isUnsafeKey } from './names';
import { forEachVarName } from './template';
import { STEP_KEYS } from './types';
import { CHECK_TIMEOUT_DEFAULT_SECONDS } from './types';
import type { Check, Formula, Gate, Issue, Problem, Retry, RetryExhaustion, Step, StepKey, VarSpec, VarValue } from './types';
import { validateFormula } from './validate';

const FORMULA_KEYS = ['name', 'description', 'version', 'extends', 'remove_steps', 'vars', 'steps', 'checks'] as const;
/** What a check does: exactly one of these keys says it. */
const CHECK_KINDS = ['run', 'file_exists', 'verdict'] as const;
const CHECK_KEYS: Record<(typeof CHECK_KINDS)[number], readonly string[]> = {
  run: ['id', 'run', 'timeout_seconds', 'exit_codes'],
  file_exists: ['id', 'file_exists'],
  verdict: ['id', 'verdict'],
};
/** Verdicts a `verdict` check can wait for. */
const VERDICTS = ['review'] as const;
const VAR_KEYS = ['description', 'default', 'required', 'enum', 'pattern'] as const;
const RETRY_KEYS = ['max', 'on_exhausted'] as const;
const EXHAUSTION: readonly RetryExhaustion[] = ['fail', 'skip', 'escalate'];
const GATE_KINDS = ['human', 'timer', 'run'] as const;

type Table = Record<string, unknown>;

/** Largest formula file, in bytes (UTF-16 code units, as read): about 50,000 plain steps. */
export const MAX_FORMULA_LENGTH = 8 * 1024 * 1024;
/**
 * Deepest nesting of tables and lists in a formula file. A formula needs four (`steps[i].retry.max`);
 * the bound keeps every walk over the document short, whatever the file holds.
 */
export const MAX_TOML_DEPTH = 16;

/**
 * Keys that are never data (`__proto__`, `constructor`, `prototype`) and nesting deeper than
 * MAX_TOML_DEPTH, anywhere in a parsed TOML document, as issues on the field where they occur. The walk
 * uses an explicit stack, so no document can overflow the call stack.
 */
function hostileKeys(raw: unknown): Issue[] {
  const issues: Issue[] = [];
  const stack: Array<{ value: unknown; field: string; depth: number }> = [{ value: raw, field: '', depth: 0 }];
  while (stack.length > 0) {
    const { value, field, depth } = stack.pop() as { value: unknown; field: string; depth: number };
    if (typeof value !== 'object' || value === null || value instanceof Date) continue;
    if (depth > MAX_TOML_DEPTH) {
      issues.push({ field, message: `tables and lists are nested more than ${MAX_TOML_DEPTH} deep here`, fix: 'A formula needs at most four levels (steps[i].retry.max); remove the extra nesting.' });
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((item, i) => stack.push({ value: item, field: `${field}[${i}]`, depth: depth + 1 }));
      continue;
    }
    for (const key of Object.keys(value)) {
      const at = field ? `${field}.${key}` : key;
      if (isUnsafeKey(key)) {
        issues.push({ field: at, message: `"${key}" cannot be used as a key: it is never data, and reading it as such would change how the formula's objects behave`, fix: `Rename "${key}" (for a variable or a step, pick a plain name such as "mode").` });
        continue;
      }
      stack.push({ value: (value as Table)[key], field: at, depth: depth + 1 });
    }
  }
  return issues;
}

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** Says what a TOML value is, the way the file's author would. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (isTable(value)) return 'a table';
  return 'an unknown value';
}

function list(names: readonly string[]): string {
  return names.map((name) => `"${name}"`).join(', ');
}

class ShapeReader {
  readonly issues: Issue[] = [];

  unknownKeys(table: Table, at: string, allowed: readonly string[], what: string): void {
    for (const key of Object.keys(table)) {
      // Prototype keys are reported once, by hostileKeys.
      if (!allowed.includes(key) && !isUnsafeKey(key)) {
        const field = at ? `${at}.${key}` : key;
        this.issues.push({ field, message: `unknown key "${key}" in ${what}`, fix: `Remove it or fix the spelling; the allowed keys are ${list(allowed)}.` });
      }
    }
  }

  string(table: Table, key: string, at: string, fallback: string, required = false): string {
    const value = table[key];
    const field = at ? `${at}.${key}` : key;
    if (value === undefined) {
      if (required) this.issues.push({ field: at || key, message: `"${key}" is missing`, fix: `Add ${key} = "..."${at ? ` to ${at}` : ''}.` });
      return fallback;
    }
    if (typeof value !== 'string') {
      this.issues.push({ field, message: `"${key}" must be text, but it is ${describeValue(value)}`, fix: `Quote it: ${key} = "${String(value)}".` });
      return fallback;
    }
    return value;
  }

  nullableString(table: Table, key: string, at: string): string | null {
    return table[key] === undefined ? null : this.string(table, key, at, '');
  }

  boolean(table: Table, key: string, at: string, fallback: boolean): boolean {
    const value = table[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.issues.push({ field: `${at}.${key}`, message: `"${key}" must be true or false, but it is ${describeValue(value)}`, fix: `Write ${key} = true or ${key} = false, without quotes.` });
      return fallback;
    }
    return value;
  }

  integer(table: Table, key: string, at: string, fallback: number, required: boolean): number {
    const value = table[key];
    const field = at ? `${at}.${key}` : key;
    if (value === undefined) {
      if (required) this.issues.push({ field: at || key, message: `"${key}" is missing`, fix: `Add ${key} = <whole number>${at ? ` to ${at}` : ''}.` });
      return fallback;
    }
    if (typeof value === 'string' && /^\d+$/.test(value)) {
      this.issues.push({ field, message: `"${key}" must be a whole number, but it is ${describeValue(value)}`, fix: `Remove the quotes: ${key} = ${value}.` });
      return Number(value);
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.issues.push({ field, message: `"${key}" must be a whole number, but it is ${describeValue(value)}`, fix: `Write e.g. ${key} = 1.` });
      return fallback;
    }
    return value;
  }

  stringList(table: Table, key: string, at: string): string[] | null {
    const value = table[key];
    const field = at ? `${at}.${key}` : key;
    if (value === undefined) return null;
    if (typeof value === 'string') {
      this.issues.push({ field, message: `"${key}" must be a list, but it is ${describeValue(value)}`, fix: `Put it in brackets: ${key} = ["${value}"].` });
      return [value];
    }
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      this.issues.push({ field, message: `"${key}" must be a list of text, but it is ${Array.isArray(value) ? 'a list with other values in it' : describeValue(value)}`, fix: `Write ${key} = ["a", "b"].` });
      return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
    }
    return value as string[];
  }

  varValue(table: Table, key: string, at: string): VarValue | null {
    const value = table[key];
    if (value === undefined) return null;
    if (typeof value === 'string' || typeof value === 'boolean') return value;
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value as string[];
    this.issues.push({ field: `${at}.${key}`, message: `"${key}" must be text, true/false or a list of text, but it is ${describeValue(value)}`, fix: typeof value === 'number' ? `Quote it: ${key} = "${value}".` : `Write e.g. ${key} = "value".` });
    return null;
  }

  variable(name: string, raw: unknown): VarSpec {
    const at = `vars.${name}`;
    const spec: VarSpec = { description: '', default: null, required: false, enum: null, pattern: null };
    if (!isTable(raw)) {
      this.issues.push({ field: at, message: `variable "${name}" must be a table, but it is ${describeValue(raw)}`, fix: `Write [vars.${name}] followed by description = "...", default = "...".` });
      return spec;
    }
    this.unknownKeys(raw, at, VAR_KEYS, `variable "${name}"`);
    spec.description = this.string(raw, 'description', at, '');
    spec.default = this.varValue(raw, 'default', at);
    spec.required = this.boolean(raw, 'required', at, false);
    spec.enum = this.stringList(raw, 'enum', at);
    spec.pattern = this.nullableString(raw, 'pattern', at);
    return spec;
  }

  retry(raw: unknown, at: string, stepId: string): Retry | null {
    if (raw === undefined) return null;
    if (!isTable(raw)) {
      this.issues.push({ field: at, message: `retry of step "${stepId}" must be a table, but it is ${describeValue(raw)}`, fix: 'Write [steps.retry] with max = 3 and on_exhausted = "fail" under the step.' });
      return null;
    }
    this.unknownKeys(raw, at, RETRY_KEYS, `the retry of step "${stepId}"`);
    const max = this.integer(raw, 'max', at, 1, true);
    const onExhausted = this.string(raw, 'on_exhausted', at, 'fail');
    if (!(EXHAUSTION as readonly string[]).includes(onExhausted)) {
      this.issues.push({ field: `${at}.on_exhausted`, message: `on_exhausted of step "${stepId}" is "${onExhausted}", which is not a known outcome`, fix: `Use one of ${list(EXHAUSTION)}.` });
      return { max, onExhausted: 'fail' };
    }
    return { max, onExhausted: onExhausted as RetryExhaustion };
  }

  gate(raw: unknown, at: string, stepId: string): Gate | null {
    if (raw === undefined) return null;
    if (!isTable(raw)) {
      this.issues.push({ field: at, message: `gate of step "${stepId}" must be a table, but it is ${describeValue(raw)}`, fix: 'Write [steps.gate] with kind = "human" under the step.' });
      return null;
    }
    const kind = this.string(raw, 'kind', at, '', true);
    if (kind === 'human') {
      this.unknownKeys(raw, at, ['kind'], `a human gate (step "${stepId}")`);
      return { kind };
    }
    if (kind === 'timer') {
      this.unknownKeys(raw, at, ['kind', 'seconds'], `a timer gate (step "${stepId}")`);
      return { kind, seconds: this.integer(raw, 'seconds', at, 1, true) };
    }
    if (kind === 'run') {
      this.unknownKeys(raw, at, ['kind', 'formula'], `a run gate (step "${stepId}")`);
      return { kind, formula: this.string(raw, 'formula', at, '', true) };
    }
    if (kind !== '') {
      this.issues.push({ field: `${at}.kind`, message: `gate kind "${kind}" of step "${stepId}" is not a known kind`, fix: `Use one of ${list(GATE_KINDS)}: human waits for a person, timer for seconds, run for a run of another formula.` });
    }
    return null;
  }

  /** One `[[checks]]` table: its id and exactly one of run, file_exists and verdict. */
  check(raw: Table, index: number): Check | null {
    const at = `checks[${index}]`;
    const id = this.string(raw, 'id', at, `check-${index + 1}`, true);
    const kinds = CHECK_KINDS.filter((kind) => raw[kind] !== undefined);
    if (kinds.length !== 1) {
      this.issues.push({
        field: at,
        message: kinds.length === 0 ? `check "${id}" says nothing to check` : `check "${id}" sets ${list(kinds)}; a check does one thing`,
        fix: 'Give the check exactly one of run = "npm test", file_exists = "dist/out.js" or verdict = "review"; write several [[checks]] for several things.',
      });
      if (kinds.length === 0) {
        this.unknownKeys(raw, at, ['id', ...CHECK_KINDS, 'timeout_seconds', 'exit_codes'], `check "${id}"`);
        return null;
      }
    }
    const kind = kinds[0] as (typeof CHECK_KINDS)[number];
    this.unknownKeys(raw, at, kinds.length === 1 ? CHECK_KEYS[kind] : ['id', ...CHECK_KINDS, 'timeout_seconds', 'exit_codes'], `a ${kind} check ("${id}")`);
    if (kind === 'run') {
      const timeoutSeconds = this.integer(raw, 'timeout_seconds', at, CHECK_TIMEOUT_DEFAULT_SECONDS, false);
      return { id, kind, run: this.string(raw, 'run', at, ''), timeoutSeconds, exitCodes: this.integerList(raw, 'exit_codes', at) ?? [0] };
    }
    if (kind === 'file_exists') return { id, kind, path: this.string(raw, 'file_exists', at, '') };
    const verdict = this.string(raw, 'verdict', at, 'review');
    if (!(VERDICTS as readonly string[]).includes(verdict)) {
      this.issues.push({ field: `${at}.verdict`, message: `check "${id}" waits for the verdict "${verdict}", which is not a known verdict`, fix: 'Write verdict = "review": the check passes when every review step of the run was approved.' });
    }
    return { id, kind, verdict: 'review' };
  }

  integerList(table: Table, key: string, at: string): number[] | null {
    const value = table[key];
    if (value === undefined) return null;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'number' && Number.isInteger(item))) {
      this.issues.push({ field: `${at}.${key}`, message: `"${key}" must be a list of whole numbers, but it is ${Array.isArray(value) ? 'a list with other values in it' : describeValue(value)}`, fix: `Write ${key} = [0, 1].` });
      return [0];
    }
    return value as number[];
  }

  step(raw: Table, index: number, extending: boolean): { step: Step; keys: StepKey[] } {
    const at = `steps[${index}]`;
    const id = this.string(raw, 'id', at, `step-${index + 1}`, true);
    this.unknownKeys(raw, at, STEP_KEYS, `step "${id}"`);
    let forEach: string | null = null;
    const rawForEach = raw['for_each'];
    if (rawForEach !== undefined) {
      if (typeof rawForEach === 'string') {
        forEach = forEachVarName(rawForEach);
        if (forEach === null) {
          this.issues.push({ field: `${at}.for_each`, message: `for_each of step "${id}" is "${rawForEach}", which does not name one variable`, fix: 'Write for_each = "{{files}}", naming a variable that holds a list.' });
        }
      } else {
        this.issues.push({ field: `${at}.for_each`, message: `for_each of step "${id}" must name a variable, but it is ${describeValue(rawForEach)}`, fix: 'Declare a variable with the list as its default and write for_each = "{{that_var}}".' });
      }
    }
    const step: Step = {
      id,
      title: this.string(raw, 'title', at, id),
      instructions: this.string(raw, 'instructions', at, '', !extending),
      needs: this.stringList(raw, 'needs', at) ?? [],
      forEach,
      when: this.nullableString(raw, 'when', at),
      retry: this.retry(raw['retry'], `${at}.retry`, id),
      gate: this.gate(raw['gate'], `${at}.gate`, id),
      review: this.boolean(raw, 'review', at, false),
    };
    const keys = STEP_KEYS.filter((key) => key !== 'id' && raw[key] !== undefined);
    return { step, keys };
  }
}

/** Reads the shape of a parsed TOML document into a Formula, filling defaults; meaning is checked later. */
export function readFormula(raw: unknown): { formula: Formula; issues: Issue[]; stepIndex: number[]; checkIndex: number[] } {
  const reader = new ShapeReader();
  reader.issues.push(...hostileKeys(raw));
  const table: Table = isTable(raw) ? raw : {};
  if (!isTable(raw)) reader.issues.push({ field: 'name', message: 'a formula must be a TOML table', fix: 'Start the file with name = "...".' });
  reader.unknownKeys(table, '', FORMULA_KEYS, 'the formula');
  const extendsName = reader.nullableString(table, 'extends', '');
  const formula: Formula = {
    name: reader.string(table, 'name', '', '', true),
    description: reader.string(table, 'description', '', ''),
    version: reader.integer(table, 'version', '', 1, true),
    extends: extendsName,
    removeSteps: reader.stringList(table, 'remove_steps', '') ?? [],
    vars: {},
    steps: [],
    checks: [],
    stepKeys: {},
  };
  const rawVars = table['vars'];
  if (rawVars !== undefined) {
    if (isTable(rawVars)) {
      for (const [name, spec] of Object.entries(rawVars)) {
        if (!isUnsafeKey(name)) formula.vars[name] = reader.variable(name, spec);
      }
    } else {
      reader.issues.push({ field: 'vars', message: `"vars" must be a table of variables, but it is ${describeValue(rawVars)}`, fix: 'Declare each variable as [vars.<name>].' });
    }
  }
  const stepIndex: number[] = [];
  const rawSteps = table['steps'];
  if (rawSteps !== undefined) {
    if (Array.isArray(rawSteps)) {
      rawSteps.forEach((rawStep, i) => {
        if (!isTable(rawStep)) {
          reader.issues.push({ field: `steps[${i}]`, message: `step ${i + 1} must be a table, but it is ${describeValue(rawStep)}`, fix: 'Write each step as a [[steps]] table.' });
          return;
        }
        const { step, keys } = reader.step(rawStep, i, extendsName !== null);
        formula.steps.push(step);
        stepIndex.push(i);
        // A step id such as "__proto__" is refused by validation; as a key here it would replace the prototype.
        if (extendsName !== null && !isUnsafeKey(step.id)) formula.stepKeys[step.id] = keys;
      });
    } else {
      reader.issues.push({ field: 'steps', message: `"steps" must be a list of tables, but it is ${describeValue(rawSteps)}`, fix: 'Write each step as a [[steps]] table.' });
    }
  }
  const checkIndex: number[] = [];
  const rawChecks = table['checks'];
  if (rawChecks !== undefined) {
    if (Array.isArray(rawChecks)) {
      rawChecks.forEach((rawCheck, i) => {
        if (!isTable(rawCheck)) {
          reader.issues.push({ field: `checks[${i}]`, message: `check ${i + 1} must be a table, but it is ${describeValue(rawCheck)}`, fix: 'Write each check as a [[checks]] table.' });
          return;
        }
        const check = reader.check(rawCheck, i);
        if (check) {
          formula.checks.push(check);
          checkIndex.push(i);
        }
      });
    } else {
      reader.issues.push({ field: 'checks', message: `"checks" must be a list of tables, but it is ${describeValue(rawChecks)}`, fix: 'Write each check as a [[checks]] table.' });
    }
  }
  return { formula, issues: reader.issues, stepIndex, checkIndex };
}

/** Places issues in a file: the field path finds the line, and step and check indices are mapped back to the file's. */
export function issuesToProblems(issues: readonly Issue[], file: string, locator: SourceLocator | null, stepIndex?: readonly number[], checkIndex?: readonly number[]): Problem[] {
  return issues.map((issue) => {
    let field = issue.field;
    if (stepIndex) {
      field = field.replace(/^steps\[(\d+)\]/, (_whole, index: string) => `steps[${stepIndex[Number(index)] ?? index}]`);
    }
    if (checkIndex) {
      field = field.replace(/^checks\[(\d+)\]/, (_whole, index: string) => `checks[${checkIndex[Number(index)] ?? index}]`);
    }
    if (!locator) return { file, line: 0, field, message: issue.message, fix: issue.fix };
    const position = locator.find(field);
    return { file, line: position.line, column: position.column, field, message: issue.message, fix: issue.fix };
  });
}

export interface ParseResult {
  /** The formula when the file has no problems; null otherwise. */
  formula: Formula | null;
  problems: Problem[];
}

/** The key written at the start of a line (`x` in `x = [[[`), with the table it is in, for a problem smol-toml reports only by line. */
function keyAtLine(source: string, line: number): string {
  const lines = source.split(/\r?\n/, line);
  const key = /^\s*([A-Za-z0-9_.-]+)\s*=/.exec(lines[line - 1] ?? '')?.[1] ?? '';
  for (let i = line - 2; i >= 0; i -= 1) {
    const header = /^\s*\[\[?([A-Za-z0-9_.-]*)\]/.exec(lines[i] as string);
    if (header) return key ? `${header[1]}.${key}` : (header[1] as string);
  }
  return key;
}

/**
 * Parses and validates one formula file's text. `file` only labels the problems. Never throws for any
 * text: a file over MAX_FORMULA_LENGTH, a TOML syntax error, nesting deeper than MAX_TOML_DEPTH and
 * prototype keys are problems with their line and field like any other.
 */
export function parseFormula(source: string, file = '<formula>'): ParseResult {
  if (source.length > MAX_FORMULA_LENGTH) {
    return { formula: null, problems: [{ file, line: 1, column: 1, field: '', message: `the file has ${source.length} characters; a formula may have at most ${MAX_FORMULA_LENGTH}`, fix: 'Split the workflow into formulas that start each other through run gates.' }] };
  }
  let raw: unknown;
  try {
    raw = parseToml(source, { maxDepth: MAX_TOML_DEPTH });
  } catch (error) {
    if (error instanceof TomlError) {
      const message = error.message.split('\n')[0] ?? error.message;
      if (/excessively nested/.test(message)) {
        return { formula: null, problems: [{ file, line: error.line, column: error.column, field: keyAtLine(source, error.line), message: `lists or inline tables are nested more than ${MAX_TOML_DEPTH} deep`, fix: 'A formula needs at most four levels (steps[i].retry.max); remove the extra nesting.' }] };
      }
      return { formula: null, problems: [{ file, line: error.line, column: error.column, field: '', message: `TOML syntax error: ${message}`, fix: 'Fix the TOML syntax at this line (unclosed quotes and brackets are the usual cause).' }] };
    }
    throw error;
  }
  const { formula, issues, stepIndex, checkIndex } = readFormula(raw);
  const meaning = validateFormula(formula);
  const locator = new SourceLocator(source);
  const problems = [...issuesToProblems(issues, file, locator), ...issuesToProblems(meaning, file, locator, stepIndex, checkIndex)];
  // Several checks can land on one key; keep each message once.
  const seen = new Set<string>();
  const unique = problems.filter((problem) => {
    const key = `${problem.field}\u0000${problem.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  unique.sort((a, b) => a.line - b.line || (a.column ?? 0) - (b.column ?? 0));
  return { formula: unique.length === 0 ? formula : null, problems: unique };
}
