// Meaning checks on a formula that already has the right shape: references resolve, the steps form a
// DAG, defaults fit their variables. The same checks guard parsed files, resolved extends and mutations.
import { ExpressionError, expressionVars, parseExpression } from './expression';
import { findCycles } from './graph';
import { referencedVars } from './template';
import type { Formula, Issue, Step, VarSpec, VarValue } from './types';

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

/** Compiles a variable's pattern so that it must match the whole value. */
export function compilePattern(pattern: string): RegExp | { error: string } {
  try {
    return new RegExp(`^(?:${pattern})$`, 'u');
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Checks one value against a variable's enum and pattern; returns what is wrong, or null. */
export function checkVarValue(spec: VarSpec, value: VarValue): string | null {
  const items = Array.isArray(value) ? value : [String(value)];
  for (const item of items) {
    if (spec.enum && !spec.enum.includes(item)) {
      return `"${item}" is not one of ${spec.enum.map((v) => `"${v}"`).join(', ')}`;
    }
    if (spec.pattern !== null) {
      const compiled = compilePattern(spec.pattern);
      if (compiled instanceof RegExp && !compiled.test(item)) return `"${item}" does not match the pattern /${spec.pattern}/`;
    }
  }
  return null;
}

function validateVar(name: string, spec: VarSpec, issues: Issue[]): void {
  const at = `vars.${name}`;
  if (!VAR_NAME_PATTERN.test(name)) {
    issues.push({ field: at, message: `variable name "${name}" is not a plain name`, fix: 'Use letters, digits, "_" and "-", starting with a letter or "_".' });
  }
  if (isReserved(name)) {
    issues.push({ field: at, message: `"${name}" is reserved for the current fan-out item`, fix: `Rename the variable; "${RESERVED_VARS.join('" and "')}" are set by for_each.` });
  }
  if (spec.required && spec.default !== null) {
    issues.push({ field: `${at}.default`, message: `variable "${name}" is required and also has a default, so the default would never be used`, fix: 'Remove the default, or set required = false.' });
  }
  if (spec.enum !== null && spec.enum.length === 0) {
    issues.push({ field: `${at}.enum`, message: `variable "${name}" has an empty enum, so no value is allowed`, fix: 'List the allowed values, or remove enum.' });
  }
  let patternOk = true;
  if (spec.pattern !== null) {
    const compiled = compilePattern(spec.pattern);
    if (!(compiled instanceof RegExp)) {
      patternOk = false;
      issues.push({ field: `${at}.pattern`, message: `variable "${name}" has an invalid regular expression: ${compiled.error}`, fix: 'Write a JavaScript regular expression without slashes, e.g. pattern = "^[a-z-]+$".' });
    }
  }
  if (spec.default !== null && patternOk) {
    const wrong = checkVarValue(spec, spec.default);
    if (wrong) {
      issues.push({ field: `${at}.default`, message: `the default of variable "${name}" is not allowed: ${wrong}`, fix: spec.enum ? `Use one of ${spec.enum.map((v) => `"${v}"`).join(', ')} as the default.` : 'Change the default so it matches the pattern.' });
    }
  }
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
 * Every meaning problem in a formula. A formula that extends another is checked only for what it can
 * know alone; references to the parent's steps and variables are checked after resolveExtends.
 */
export function validateFormula(formula: Formula): Issue[] {
  const issues: Issue[] = [];
  const partial = formula.extends !== null;
  if (!NAME_PATTERN.test(formula.name)) {
    issues.push({ field: 'name', message: `formula name "${formula.name}" is not a plain lowercase name`, fix: 'Use lowercase letters, digits, ".", "_" and "-", e.g. name = "implement-and-review".' });
  }
  if (!Number.isInteger(formula.version) || formula.version < 1) {
    issues.push({ field: 'version', message: `version ${formula.version} is not a whole number of at least 1`, fix: 'Write version = 1 and raise it when the formula changes meaning.' });
  }
  if (formula.extends !== null) {
    if (!NAME_PATTERN.test(formula.extends)) {
      issues.push({ field: 'extends', message: `extends names "${formula.extends}", which is not a formula name`, fix: 'Write the parent formula\'s name, e.g. extends = "implement-and-review".' });
    } else if (formula.extends === formula.name) {
      issues.push({ field: 'extends', message: `formula "${formula.name}" extends itself`, fix: 'Name a different parent formula, or remove extends.' });
    }
  } else if (formula.removeSteps.length > 0) {
    issues.push({ field: 'remove_steps', message: 'remove_steps only applies to a formula that extends another', fix: 'Delete the steps directly, or add extends = "<parent>".' });
  }

  for (const [name, spec] of Object.entries(formula.vars)) validateVar(name, spec, issues);
  const declared = (name: string): boolean => partial || Object.prototype.hasOwnProperty.call(formula.vars, name);

  if (!partial && formula.steps.length === 0) {
    issues.push({ field: 'steps', message: `formula "${formula.name}" has no steps`, fix: 'Add at least one [[steps]] table with an id and instructions.' });
  }
  const firstIndex = new Map<string, number>();
  formula.steps.forEach((step, i) => {
    const at = `steps[${i}]`;
    if (!STEP_ID_PATTERN.test(step.id)) {
      issues.push({ field: `${at}.id`, message: `step id "${step.id}" is not a plain name`, fix: 'Use letters, digits, "_" and "-", starting with a letter (brackets are reserved for fan-out instances).' });
    }
    const earlier = firstIndex.get(step.id);
    if (earlier !== undefined) {
      issues.push({ field: `${at}.id`, message: `step id "${step.id}" is used twice (steps ${earlier + 1} and ${i + 1})`, fix: 'Give each step its own id; to change a parent\'s step in a formula that extends it, reuse the id only once.' });
    } else {
      firstIndex.set(step.id, i);
    }
  });

  const stepIds = new Set(formula.steps.map((step) => step.id));
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
    const seen = new Set<string>();
    for (const need of step.needs) {
      if (seen.has(need)) {
        issues.push({ field: `${at}.needs`, message: `step "${step.id}" lists "${need}" twice in needs`, fix: `Remove the second "${need}".` });
      }
      seen.add(need);
      if (need === step.id) {
        issues.push({ field: `${at}.needs`, message: `step "${step.id}" needs itself`, fix: `Remove "${need}" from its needs.` });
      } else if (!partial && !stepIds.has(need)) {
        issues.push({ field: `${at}.needs`, message: `step "${step.id}" needs "${need}", which is not a step in this formula`, fix: `Use one of the step ids: ${[...stepIds].map((id) => `"${id}"`).join(', ')}.` });
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

  if (!partial) {
    const needsOf = (id: string): string[] => formula.steps.find((step) => step.id === id)?.needs ?? [];
    for (const cycle of findCycles([...firstIndex.keys()], needsOf)) {
      const first = cycle[0] as string;
      if (cycle.length === 2) continue; // A step needing itself is already reported.
      issues.push({ field: `steps[${firstIndex.get(first)}].needs`, message: `the steps form a cycle: ${cycle.join(' → ')}`, fix: `Remove one of these needs so that the steps can run in some order (for example "${cycle[1]}" from the needs of "${first}").` });
    }
  }
  return issues;
}
