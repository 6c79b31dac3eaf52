// Turning a formula and run-time variables into a run plan: the concrete nodes a run starts with.
// The same formula, variables and items always give the same plan, so a plan can be recomputed.
import { evaluateExpression, parseExpression } from './expression';
import { contentHash } from './canonical';
import { listFromValue, substitute } from './template';
import type { Formula, Gate, Problem, Retry, VarValue } from './types';
import { isUnsafeKey } from './names';
import { checkVarValue, listNames, validateFormula } from './validate';

export interface NodeSpec {
  stepId: string;
  /** Unique in the run: the step id, or `stepId[i]` for the i-th (0-based) instance of a fan-out. */
  key: string;
  title: string;
  instructions: string;
  /** Node keys this node waits for. */
  needs: string[];
  retry: Retry | null;
  gate: Gate | null;
  review: boolean;
  /** True when the step's condition is false: the node exists so the graph is whole, but does no work. */
  skipped: boolean;
  /** The fan-out item and its index, or null for a step without for_each. */
  item: string | null;
  index: number | null;
}

export interface RunPlan {
  formula: string;
  version: number;
  /** Content hash of the formula the plan came from (the variant that runs). */
  formulaHash: string;
  vars: Record<string, VarValue>;
  nodes: NodeSpec[];
}

export interface InstantiateOptions {
  /**
   * Fan-out lists by step id, known only at run time (for example files found by an earlier step).
   * They take precedence over the list in the step's for_each variable.
   */
  items?: Record<string, readonly string[]>;
}

export type InstantiateResult = { ok: true; plan: RunPlan } | { ok: false; problems: Problem[] };

/** A run gate may name its formula through a variable. */
function gateFor(gate: Gate | null, values: Record<string, VarValue>): Gate | null {
  if (gate === null) return null;
  return gate.kind === 'run' ? { kind: 'run', formula: substitute(gate.formula, values) } : { ...gate };
}

function problem(field: string, message: string, fix: string): Problem {
  return { file: 'vars', line: 0, field, message, fix };
}

/** Validates run-time variables against the formula's declarations and fills defaults. */
export function resolveVars(formula: Formula, given: Record<string, VarValue>): { vars: Record<string, VarValue>; problems: Problem[] } {
  const problems: Problem[] = [];
  const vars: Record<string, VarValue> = {};
  const declared = Object.keys(formula.vars);
  for (const name of Object.keys(given)) {
    if (isUnsafeKey(name)) {
      problems.push(problem(`vars.${name}`, `"${name}" cannot be a variable name`, 'Remove it; __proto__, constructor and prototype are never variables.'));
    } else if (!Object.prototype.hasOwnProperty.call(formula.vars, name)) {
      problems.push(problem(`vars.${name}`, `variable "${name}" is not declared by formula "${formula.name}"`, `Use one of ${listNames(declared) || '(no variables)'}, or declare it in the formula.`));
    }
  }
  for (const name of declared.sort()) {
    const spec = formula.vars[name]!;
    const value = Object.prototype.hasOwnProperty.call(given, name) ? given[name] : undefined;
    if (value === undefined) {
      if (spec.required) {
        problems.push(problem(`vars.${name}`, `variable "${name}" is required by formula "${formula.name}" and was not given`, `Pass a value for "${name}"${spec.description ? ` (${spec.description})` : ''}.`));
        continue;
      }
      vars[name] = structuredClone(spec.default ?? '');
      continue;
    }
    // Values may come from JSON (an MCP tool, a CLI flag), so their type is checked, not trusted.
    const shapeOk = typeof value === 'string' || typeof value === 'boolean' || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
    if (!shapeOk) {
      problems.push(problem(`vars.${name}`, `variable "${name}" must be text, true/false or a list of text, but it is ${JSON.stringify(value)}`, 'Pass a string such as "3", a boolean, or an array of strings.'));
      continue;
    }
    const wrong = checkVarValue(spec, value);
    if (wrong) {
      problems.push(problem(`vars.${name}`, `variable "${name}" is not allowed: ${wrong}`, spec.enum ? `Use one of ${listNames(spec.enum)}.` : `Give a value that matches /${spec.pattern}/.`));
      continue;
    }
    vars[name] = structuredClone(value);
  }
  return { vars, problems };
}

/**
 * The run plan for a flat formula. Steps keep file order; a fan-out step becomes one node per item,
 * keyed `stepId[i]`, and a step that needs it needs every instance (the join). A fan-out over an
 * empty list has no nodes, so its dependents wait on what it waited on instead.
 */
export function instantiate(formula: Formula, given: Record<string, VarValue>, options: InstantiateOptions = {}): InstantiateResult {
  if (formula.extends !== null) {
    return { ok: false, problems: [problem('extends', `formula "${formula.name}" extends "${formula.extends}" and must be resolved first`, 'Call resolveExtends and instantiate the flat formula.')] };
  }
  const invalid = validateFormula(formula);
  if (invalid.length > 0) {
    return { ok: false, problems: invalid.map((issue) => ({ file: formula.name, line: 0, field: issue.field, message: issue.message, fix: issue.fix })) };
  }
  const { vars, problems } = resolveVars(formula, given);
  const lists = new Map<string, string[]>();
  for (const step of formula.steps) {
    const fromOptions = options.items?.[step.id];
    if (fromOptions) {
      lists.set(step.id, [...fromOptions]);
    } else if (step.forEach !== null && vars[step.forEach] !== undefined) {
      const list = listFromValue(vars[step.forEach] as VarValue);
      if (Array.isArray(list)) lists.set(step.id, list);
      else problems.push(problem(`vars.${step.forEach}`, `step "${step.id}" fans out over variable "${step.forEach}", but its value is not a list: ${list.error}`, 'Give a JSON array of strings (["a.ts", "b.ts"]) or comma-separated text (a.ts, b.ts).'));
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  // Node keys each step resolves to, so that needs on a fan-out step become needs on all its instances.
  const keysOf = new Map<string, string[]>();
  const nodes: NodeSpec[] = [];
  for (const step of formula.steps) {
    const needSet = new Set<string>();
    for (const need of step.needs) for (const key of keysOf.get(need) ?? []) needSet.add(key);
    const needs = [...needSet];
    const baseValues: Record<string, VarValue> = { ...vars };
    const conditionHolds = (values: Record<string, VarValue>): boolean => step.when === null || evaluateExpression(parseExpression(step.when), values);
    const list = step.forEach !== null || lists.has(step.id) ? (lists.get(step.id) ?? []) : null;
    if (list === null) {
      nodes.push({
        stepId: step.id,
        key: step.id,
        title: substitute(step.title, baseValues),
        instructions: substitute(step.instructions, baseValues),
        needs,
        retry: structuredClone(step.retry),
        gate: gateFor(step.gate, baseValues),
        review: step.review,
        skipped: !conditionHolds(baseValues),
        item: null,
        index: null,
      });
      keysOf.set(step.id, [step.id]);
      continue;
    }
    if (list.length === 0) {
      keysOf.set(step.id, needs);
      continue;
    }
    const keys: string[] = [];
    list.forEach((item, index) => {
      const values: Record<string, VarValue> = { ...baseValues, item, index: String(index) };
      const key = `${step.id}[${index}]`;
      keys.push(key);
      nodes.push({
        stepId: step.id,
        key,
        title: substitute(step.title, values),
        instructions: substitute(step.instructions, values),
        needs: [...needs],
        retry: structuredClone(step.retry),
        gate: gateFor(step.gate, values),
        review: step.review,
        skipped: !conditionHolds(values),
        item,
        index,
      });
    });
    keysOf.set(step.id, keys);
  }
  return { ok: true, plan: { formula: formula.name, version: formula.version, formulaHash: contentHash(formula), vars, nodes } };
}
