// Meaning checks on a formula that already has the right shape: references resolve, the steps form a
// DAG, defaults fit their variables. The same checks guard parsed files, resolved extends and mutations.
import { RE2JS } from 're2js';
import { ExpressionError, expressionVars, parseExpression } from './expression';
import { findCycles } from './graph';
import { fileNameProblem, isUnsafeKey, MAX_NAME_LENGTH } from './names';
import { referencedVars } from './template';
import { CHECK_TIMEOUT_MAX_SECONDS } from './types';
import type { Check, Formula, Issue, Step, VarSpec, VarValue } from './types';

/**
 * Size limits of a formula. Each is far above what a workflow needs and matches what a run can hold
 * (src/ledger/inputs.ts: node titles up to 200 characters, instructions up to 20,000, 500 needs), so a
 * formula that imports can also start; together they keep every check linear and every message short.
 */
export const LIMITS = {
  steps: 50_000,
  vars: 1000,
  titleLength: 200,
  instructionsLength: 20_000,
  descriptionLength: 4000,
  needs: 500,
  enumValues: 1000,
  valueLength: 20_000,
  listItems: 1000,
  patternLength: 1000,
  /** Checks per formula, and the sizes of one check. */
  checks: 20,
  checkCommandLength: 4000,
  checkPathLength: 1000,
  checkExitCodes: 32,
} as const;

/** Formula and family names become folder names, so they stay plain. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
/** Step ids must not contain brackets: `id[i]` is how fan-out instances are keyed. */
export const STEP_ID_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;
export const VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Names a fan-out step reads for the current item; a formula cannot declare them. */
export const RESERVED_VARS = ['item', 'index'] as const;

function isReserved(name: string): boolean {
  return (RESERVED_VARS as readonly string[]).includes(name);
}

const compiled = new Map<string, RE2JS | { error: string }>();

/**
 * Compiles a variable's pattern with RE2 semantics (the re2js package), so matching takes time linear
 * in the value whatever the pattern: `(a+)+` against 34 "a" and a "!" answers at once. Constructs RE2
 * cannot run in linear time (backreferences, lookaround) are refused with RE2's message. The pattern
 * must match the whole value. Compiled patterns are cached, since the same few are checked on every run.
 */
export function compilePattern(pattern: string): RE2JS | { error: string } {
  const known = compiled.get(pattern);
  if (known) return known;
  let result: RE2JS | { error: string };
  if (pattern.length > LIMITS.patternLength) {
    result = { error: `it has ${pattern.length} characters; at most ${LIMITS.patternLength} are allowed` };
  } else {
    try {
      result = RE2JS.compile(pattern);
    } catch (error) {
      result = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  // A bounded cache: patterns come from formulas, but an endless stream of new ones must not grow memory.
  if (compiled.size >= 500) compiled.clear();
  compiled.set(pattern, result);
  return result;
}

/** Checks one value against a variable's enum and pattern; returns what is wrong, or null. */
export function checkVarValue(spec: VarSpec, value: VarValue): string | null {
  const items = Array.isArray(value) ? value : [String(value)];
  const allowed = spec.enum ? new Set(spec.enum) : null;
  const pattern = spec.pattern === null ? null : compilePattern(spec.pattern);
  for (const item of items) {
    if (allowed && !allowed.has(item)) {
      return `"${clip(item)}" is not one of ${listNames(spec.enum as string[])}`;
    }
    if (pattern instanceof RE2JS && !pattern.matches(item)) return `"${clip(item)}" does not match the pattern /${clip(spec.pattern as string)}/`;
    if (pattern !== null && !(pattern instanceof RE2JS)) return `the pattern /${clip(spec.pattern as string)}/ cannot be used: ${pattern.error}`;
  }
  return null;
}

/** A value as it appears in a message: long ones are cut, so a message stays readable and small. */
function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Names for a fix message, quoted; at most 20, so a message about a huge formula stays small. */
export function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 20).map((name) => `"${clip(name)}"`).join(', ');
  return names.length > 20 ? `${shown} and ${names.length - 20} more` : shown;
}

/** What is wrong with a variable name, or null. */
function varNameProblem(name: string): string | null {
  if (isUnsafeKey(name)) return `"${name}" is reserved: as a key it would change how the object holding the variables behaves`;
  if (name.length > MAX_NAME_LENGTH) return `it has ${name.length} characters; at most ${MAX_NAME_LENGTH} are allowed`;
  if (!VAR_NAME_PATTERN.test(name)) return 'it is not a plain name';
  return null;
}

function validateValue(value: VarValue, field: string, name: string, issues: Issue[]): void {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  if (Array.isArray(value) && value.length > LIMITS.listItems) {
    issues.push({ field, message: `the default of variable "${name}" lists ${value.length} items; at most ${LIMITS.listItems} are allowed`, fix: 'Pass long lists at run time instead.' });
  }
  if (items.some((item) => item.length > LIMITS.valueLength)) {
    issues.push({ field, message: `the default of variable "${name}" is longer than ${LIMITS.valueLength} characters`, fix: 'Shorten it; long text belongs in the step instructions.' });
  }
}

function validateVar(name: string, spec: VarSpec, issues: Issue[]): void {
  const at = `vars.${name}`;
  const nameProblem = varNameProblem(name);
  if (nameProblem) {
    issues.push({ field: at, message: `variable name "${clipName(name)}" cannot be used: ${nameProblem}`, fix: `Use letters, digits, "_" and "-", starting with a letter or "_", at most ${MAX_NAME_LENGTH} characters.` });
  }
  if (isReserved(name)) {
    issues.push({ field: at, message: `"${name}" is reserved for the current fan-out item`, fix: `Rename the variable; "${RESERVED_VARS.join('" and "')}" are set by for_each.` });
  }
  if (spec.description.length > LIMITS.descriptionLength) {
    issues.push({ field: `${at}.description`, message: `the description of variable "${name}" is longer than ${LIMITS.descriptionLength} characters`, fix: 'Shorten it to a sentence or two.' });
  }
  if (spec.required && spec.default !== null) {
    issues.push({ field: `${at}.default`, message: `variable "${name}" is required and also has a default, so the default would never be used`, fix: 'Remove the default, or set required = false.' });
  }
  if (spec.enum !== null && spec.enum.length === 0) {
    issues.push({ field: `${at}.enum`, message: `variable "${name}" has an empty enum, so no value is allowed`, fix: 'List the allowed values, or remove enum.' });
  }
  if (spec.enum !== null && (spec.enum.length > LIMITS.enumValues || spec.enum.some((value) => value.length > LIMITS.valueLength))) {
    issues.push({ field: `${at}.enum`, message: `variable "${name}" allows ${spec.enum.length} values; at most ${LIMITS.enumValues}, each up to ${LIMITS.valueLength} characters, are allowed`, fix: 'Use a pattern for a large set of values.' });
  }
  let patternOk = true;
  if (spec.pattern !== null) {
    const compiled = compilePattern(spec.pattern);
    if (!(compiled instanceof RE2JS)) {
      patternOk = false;
      issues.push({ field: `${at}.pattern`, message: `variable "${name}" has a pattern that cannot be used: ${compiled.error}`, fix: 'Write a regular expression in RE2 syntax, without slashes, e.g. pattern = "[a-z-]+"; backreferences and lookaround are not available, because patterns must match in linear time.' });
    }
  }
  if (spec.default !== null) validateValue(spec.default, `${at}.default`, name, issues);
  if (spec.default !== null && patternOk) {
    const wrong = checkVarValue(spec, spec.default);
    if (wrong) {
      issues.push({ field: `${at}.default`, message: `the default of variable "${name}" is not allowed: ${wrong}`, fix: spec.enum ? `Use one of ${listNames(spec.enum)} as the default.` : 'Change the default so it matches the pattern.' });
    }
  }
}

/** A name as it appears in a message: a 300-character name is cut so the message stays readable. */
function clipName(name: string): string {
  return name.length > 60 ? `${name.slice(0, 60)}…` : name;
}

/**
 * What keeps `name` from being a formula or family name, or null. Names become folder names under
 * formulas/evolution/, so they are plain lowercase and valid folder names on Windows, macOS and Linux.
 */
export function familyNameProblem(name: string): string | null {
  if (!NAME_PATTERN.test(name)) return 'it is not a plain lowercase name';
  return fileNameProblem(name);
}

/** What keeps `id` from being a step id (it becomes part of node ids and file names), or null. */
export function stepIdProblem(id: string): string | null {
  if (!STEP_ID_PATTERN.test(id)) return 'it is not a plain name';
  return fileNameProblem(id);
}

function validateStepText(step: Step, at: string, declared: (name: string) => boolean, issues: Issue[]): void {
  const fields: Array<[string, string]> = [
    ['title', step.title],
    ['instructions', step.instructions],
  ];
  if (step.gate?.kind === 'run') fields.push(['gate.formula', step.gate.formula]);
  for (const [field, text] of fields) {
    for (const name of referencedVars(text)) {
      if (isReserved(name)) {
        if (step.forEach === null) {
          issues.push({ field: `${at}.${field}`, message: `step "${step.id}" uses {{${name}}} but has no for_each, so there is no current item`, fix: `Add for_each = "{{list_var}}" to the step, or remove {{${name}}}.` });
        }
      } else if (!declared(name)) {
        issues.push({ field: `${at}.${field}`, message: `step "${step.id}" uses {{${name}}} in ${field}, but no variable "${name}" is declared`, fix: `Declare it with a [vars.${name}] table, or fix the spelling.` });
      }
    }
  }
}

/**
 * What keeps `path` from naming a file inside the run's folder, or null: it must be relative, without
 * `..`, and plain text. Both `/` and `\\` separate parts, so a path refused on one system is refused on all.
 */
export function checkPathProblem(path: string): string | null {
  if (path.trim() === '') return 'it is empty';
  if (path.length > LIMITS.checkPathLength) return `it has ${path.length} characters; at most ${LIMITS.checkPathLength} are allowed`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(path)) return 'it contains control characters';
  if (/^[/\\]/.test(path) || /^[A-Za-z]:/.test(path) || path.startsWith('~')) return 'it is absolute; a check may only look inside the run\'s folder';
  if (path.split(/[/\\]/).includes('..')) return 'it leaves the run\'s folder through ".."';
  return null;
}

function validateCheck(check: Check, at: string, formula: Formula, partial: boolean, declared: (name: string) => boolean, issues: Issue[]): void {
  const idProblem = stepIdProblem(check.id);
  if (idProblem) {
    issues.push({ field: `${at}.id`, message: `check id "${clipName(check.id)}" cannot be used: ${idProblem}`, fix: 'Use letters, digits, "_" and "-", starting with a letter, e.g. id = "tests".' });
  }
  if (check.kind === 'run') {
    if (check.run.trim() === '') {
      issues.push({ field: `${at}.run`, message: `check "${check.id}" runs an empty command`, fix: 'Write the command that decides the outcome, e.g. run = "npm test".' });
    }
    if (check.run.length > LIMITS.checkCommandLength) {
      issues.push({ field: `${at}.run`, message: `the command of check "${clipName(check.id)}" has ${check.run.length} characters; at most ${LIMITS.checkCommandLength} are allowed`, fix: 'Put a long command in a script in the repository and run that.' });
    }
    for (const name of referencedVars(check.run)) {
      if (isReserved(name) || !declared(name)) {
        issues.push({ field: `${at}.run`, message: `check "${check.id}" uses {{${name}}} in its command, but no variable "${name}" is declared`, fix: `Declare it with a [vars.${name}] table, or fix the spelling.` });
      }
    }
    if (!Number.isInteger(check.timeoutSeconds) || check.timeoutSeconds < 1 || check.timeoutSeconds > CHECK_TIMEOUT_MAX_SECONDS) {
      issues.push({ field: `${at}.timeout_seconds`, message: `check "${check.id}" may run ${check.timeoutSeconds} seconds; timeout_seconds must be a whole number from 1 to ${CHECK_TIMEOUT_MAX_SECONDS}`, fix: 'Write e.g. timeout_seconds = 600, or leave it out for 600.' });
    }
    const codes = check.exitCodes;
    if (codes.length === 0 || codes.length > LIMITS.checkExitCodes || codes.some((code) => !Number.isInteger(code) || code < 0 || code > 255) || new Set(codes).size !== codes.length) {
      issues.push({ field: `${at}.exit_codes`, message: `check "${check.id}" accepts the exit codes [${codes.slice(0, 10).join(', ')}${codes.length > 10 ? ', …' : ''}]; they must be 1 to ${LIMITS.checkExitCodes} different whole numbers from 0 to 255`, fix: 'Write e.g. exit_codes = [0, 1], or leave it out to accept only 0.' });
    }
  } else if (check.kind === 'file_exists') {
    const problem = checkPathProblem(check.path);
    if (problem) {
      issues.push({ field: `${at}.file_exists`, message: `check "${check.id}" looks for "${clipName(check.path)}", which cannot be used: ${problem}`, fix: 'Write a path relative to the run\'s folder, e.g. file_exists = "dist/report.md".' });
    }
  } else if (!partial && !formula.steps.some((step) => step.review)) {
    issues.push({ field: `${at}.verdict`, message: `check "${check.id}" waits for the review verdict, but no step of formula "${clipName(formula.name)}" has review = true`, fix: 'Add review = true to the step a person or reviewer must approve, or remove the check.' });
  }
}

/** Problems of a formula's checks: their number, unique ids and each check's fields. */
function validateChecks(formula: Formula, partial: boolean, declared: (name: string) => boolean, issues: Issue[]): void {
  if (formula.checks.length > LIMITS.checks) {
    issues.push({ field: 'checks', message: `formula "${clipName(formula.name)}" declares ${formula.checks.length} checks; at most ${LIMITS.checks} are allowed`, fix: 'Combine commands into one script that the check runs.' });
    return;
  }
  const seen = new Map<string, number>();
  formula.checks.forEach((check, i) => {
    const at = `checks[${i}]`;
    const earlier = seen.get(check.id);
    if (earlier !== undefined) {
      issues.push({ field: `${at}.id`, message: `check id "${check.id}" is used twice (checks ${earlier + 1} and ${i + 1})`, fix: 'Give each check its own id.' });
    } else {
      seen.set(check.id, i);
    }
    validateCheck(check, at, formula, partial, declared, issues);
  });
}

/**
 * Every meaning problem in a formula. A formula that extends another is checked only for what it can
 * know alone; references to the parent's steps and variables are checked after resolveExtends.
 */
export function validateFormula(formula: Formula): Issue[] {
  const issues: Issue[] = [];
  const partial = formula.extends !== null;
  const nameProblem = familyNameProblem(formula.name);
  if (nameProblem) {
    issues.push({ field: 'name', message: `formula name "${clipName(formula.name)}" cannot be used: ${nameProblem}`, fix: `Use lowercase letters, digits, ".", "_" and "-", at most ${MAX_NAME_LENGTH} characters, not a Windows device name (con, nul, com1, …), e.g. name = "implement-and-review".` });
  }
  if (formula.description.length > LIMITS.descriptionLength) {
    issues.push({ field: 'description', message: `the description is longer than ${LIMITS.descriptionLength} characters`, fix: 'Shorten it to a paragraph; details belong in the steps.' });
  }
  if (!Number.isInteger(formula.version) || formula.version < 1) {
    issues.push({ field: 'version', message: `version ${formula.version} is not a whole number of at least 1`, fix: 'Write version = 1 and raise it when the formula changes meaning.' });
  }
  if (formula.extends !== null) {
    if (familyNameProblem(formula.extends) !== null) {
      issues.push({ field: 'extends', message: `extends names "${clipName(formula.extends)}", which is not a formula name`, fix: 'Write the parent formula\'s name, e.g. extends = "implement-and-review".' });
    } else if (formula.extends === formula.name) {
      issues.push({ field: 'extends', message: `formula "${formula.name}" extends itself`, fix: 'Name a different parent formula, or remove extends.' });
    }
  } else if (formula.removeSteps.length > 0) {
    issues.push({ field: 'remove_steps', message: 'remove_steps only applies to a formula that extends another', fix: 'Delete the steps directly, or add extends = "<parent>".' });
  }

  const varNames = Object.keys(formula.vars);
  if (varNames.length > LIMITS.vars) {
    issues.push({ field: 'vars', message: `the formula declares ${varNames.length} variables; at most ${LIMITS.vars} are allowed`, fix: 'Group related values into list variables.' });
  }
  for (const name of varNames) validateVar(name, formula.vars[name] as VarSpec, issues);
  const declared = (name: string): boolean => partial || Object.prototype.hasOwnProperty.call(formula.vars, name);

  if (!partial && formula.steps.length === 0) {
    issues.push({ field: 'steps', message: `formula "${formula.name}" has no steps`, fix: 'Add at least one [[steps]] table with an id and instructions.' });
  }
  if (formula.steps.length > LIMITS.steps) {
    // Checking each of a million steps would only produce a million messages; the count is the problem.
    issues.push({ field: 'steps', message: `formula "${clipName(formula.name)}" has ${formula.steps.length} steps; at most ${LIMITS.steps} are allowed`, fix: 'Split the workflow into formulas that start each other through run gates.' });
    return issues;
  }
  const firstIndex = new Map<string, number>();
  formula.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    const idProblem = stepIdProblem(step.id);
    if (idProblem) {
      issues.push({ field: `${at}.id`, message: `step id "${clipName(step.id)}" cannot be used: ${idProblem}`, fix: `Use letters, digits, "_" and "-", starting with a letter, at most ${MAX_NAME_LENGTH} characters, not a Windows device name (con, nul, com1, …); brackets are reserved for fan-out instances.` });
    }
    const earlier = firstIndex.get(step.id);
    if (earlier !== undefined) {
      issues.push({ field: `${at}.id`, message: `step id "${step.id}" is used twice (steps ${earlier + 1} and ${i + 1})`, fix: 'Give each step its own id; to change a parent\'s step in a formula that extends it, reuse the id only once.' });
    } else {
      firstIndex.set(step.id, i);
    }
  });

  const stepIds = new Set(formula.steps.map((step) => step.id));
  const stepIdList = [...stepIds];
  formula.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    const explicit = partial ? formula.stepKeys[step.id] : undefined;
    const sets = (key: string): boolean => explicit === undefined || (explicit as readonly string[]).includes(key);
    if (!partial && step.instructions.trim() === '') {
      issues.push({ field: `${at}.instructions`, message: `step "${step.id}" has no instructions`, fix: 'Write what the agent should do in instructions = """...""".' });
    }
    if (step.title.trim() === '' && sets('title')) {
      issues.push({ field: `${at}.title`, message: `step "${step.id}" has an empty title`, fix: 'Write a short title, or leave title out to use the step id.' });
    }
    if (step.title.length > LIMITS.titleLength) {
      issues.push({ field: `${at}.title`, message: `the title of step "${clipName(step.id)}" has ${step.title.length} characters; at most ${LIMITS.titleLength} are allowed`, fix: 'Keep the title short; put the detail in instructions.' });
    }
    if (step.instructions.length > LIMITS.instructionsLength) {
      issues.push({ field: `${at}.instructions`, message: `the instructions of step "${clipName(step.id)}" have ${step.instructions.length} characters; at most ${LIMITS.instructionsLength} are allowed`, fix: 'Shorten them, or split the step into several.' });
    }
    if (step.needs.length > LIMITS.needs) {
      issues.push({ field: `${at}.needs`, message: `step "${clipName(step.id)}" needs ${step.needs.length} steps; at most ${LIMITS.needs} are allowed`, fix: 'Add a step that joins them and need that one.' });
    }
    const seen = new Set<string>();
    for (const need of step.needs) {
      if (seen.has(need)) {
        issues.push({ field: `${at}.needs`, message: `step "${step.id}" lists "${need}" twice in needs`, fix: `Remove the second "${need}".` });
      }
      seen.add(need);
      if (need === step.id) {
        issues.push({ field: `${at}.needs`, message: `step "${step.id}" needs itself`, fix: `Remove "${need}" from its needs.` });
      } else if (!partial && !stepIds.has(need)) {
        issues.push({ field: `${at}.needs`, message: `step "${step.id}" needs "${need}", which is not a step in this formula`, fix: `Use one of the step ids: ${listNames(stepIdList)}.` });
      }
    }
    if (step.forEach !== null) {
      if (isReserved(step.forEach) || !VAR_NAME_PATTERN.test(step.forEach)) {
        issues.push({ field: `${at}.for_each`, message: `step "${step.id}" fans out over "${step.forEach}", which is not a variable name`, fix: 'Write for_each = "{{list_var}}" naming a declared variable that holds a list.' });
      } else if (!declared(step.forEach)) {
        issues.push({ field: `${at}.for_each`, message: `step "${step.id}" fans out over "${step.forEach}", but no variable "${step.forEach}" is declared`, fix: `Declare it with a [vars.${step.forEach}] table whose value is a list.` });
      }
    }
    if (step.when !== null) {
      try {
        const tree = parseExpression(step.when);
        for (const name of expressionVars(tree)) {
          if (isReserved(name) && step.forEach !== null) continue;
          if (!declared(name)) {
            issues.push({ field: `${at}.when`, message: `the condition of step "${step.id}" reads "${name}", but no variable "${name}" is declared`, fix: `Declare it with a [vars.${name}] table, or quote it ('${name}') if you meant text.` });
          }
        }
      } catch (error) {
        if (!(error instanceof ExpressionError)) throw error;
        issues.push({ field: `${at}.when`, message: `the condition of step "${step.id}" is not valid: ${error.message} (at column ${error.at + 1} of the condition)`, fix: "Write e.g. when = \"{{mode}} == 'fast' and not {{dry_run}}\"; only ==, !=, and, or, not, parentheses, {{vars}}, quoted text, true and false are allowed." });
      }
    }
    validateStepText(step, at, declared, issues);
    if (step.retry !== null && (!Number.isInteger(step.retry.max) || step.retry.max < 1 || step.retry.max > 100)) {
      issues.push({ field: `${at}.retry.max`, message: `step "${step.id}" retries ${step.retry.max} times; max must be a whole number from 1 to 100`, fix: 'Write e.g. max = 3.' });
    }
    if (step.gate?.kind === 'timer' && (!Number.isInteger(step.gate.seconds) || step.gate.seconds < 1)) {
      issues.push({ field: `${at}.gate.seconds`, message: `the timer gate of step "${step.id}" waits ${step.gate.seconds} seconds; it must be a whole number of at least 1`, fix: 'Write e.g. seconds = 600.' });
    }
    if (step.gate?.kind === 'run' && referencedVars(step.gate.formula).length === 0 && !NAME_PATTERN.test(step.gate.formula)) {
      issues.push({ field: `${at}.gate.formula`, message: `the run gate of step "${step.id}" waits for "${step.gate.formula}", which is not a formula name`, fix: 'Name the formula whose run must complete, e.g. formula = "research-then-plan".' });
    }
  });

  validateChecks(formula, partial, declared, issues);

  if (!partial) {
    // A map, not a search of the steps per lookup: the search made validation quadratic in the steps.
    const needsById = new Map<string, string[]>();
    for (const step of formula.steps) if (!needsById.has(step.id)) needsById.set(step.id, step.needs);
    const needsOf = (id: string): string[] => needsById.get(id) ?? [];
    for (const cycle of findCycles([...firstIndex.keys()], needsOf)) {
      const first = cycle[0] as string;
      if (cycle.length === 2) continue; // A step needing itself is already reported.
      const path = cycle.length > 21 ? `${cycle.slice(0, 10).join(' → ')} → … (${cycle.length - 20} more) → ${cycle.slice(-10).join(' → ')}` : cycle.join(' → ');
      issues.push({ field: `steps[${firstIndex.get(first)}].needs`, message: `the steps form a cycle: ${path}`, fix: `Remove one of these needs so that the steps can run in some order (for example "${cycle[1]}" from the needs of "${first}").` });
    }
  }
  return issues;
}
