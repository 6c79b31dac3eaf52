// Flattening `extends`: a child formula starts from its parent's steps and variables, drops the steps it
// names in remove_steps, merges its own steps over the parent's by id and appends the new ones.
import type { Check, Formula, Issue, Problem, Step, StepKey } from './types';
import { listNames, validateFormula } from './validate';

/** Longest chain of extends (a child, its parent, the parent's parent, …): deeper chains are refused. */
export const MAX_EXTENDS_DEPTH = 16;

export type FormulaLookup = (name: string) => Formula | undefined;

export type ResolveResult = { ok: true; formula: Formula } | { ok: false; problems: Problem[] };

const STEP_FIELDS: Record<Exclude<StepKey, 'id'>, keyof Step> = {
  title: 'title',
  instructions: 'instructions',
  needs: 'needs',
  for_each: 'forEach',
  when: 'when',
  review: 'review',
  retry: 'retry',
  gate: 'gate',
};

function mergeStep(parent: Step, child: Step, keys: readonly StepKey[]): Step {
  const merged: Step = structuredClone(parent);
  for (const name of keys) {
    if (name === 'id') continue;
    const field = STEP_FIELDS[name];
    (merged as unknown as Record<string, unknown>)[field] = structuredClone(child[field]);
  }
  return merged;
}

/** A child's check replaces the parent's check of the same id, in its place; new checks come after. */
function mergeChecks(parent: readonly Check[], child: readonly Check[]): Check[] {
  const merged = parent.map((check) => structuredClone(check));
  const position = new Map(merged.map((check, i) => [check.id, i]));
  for (const check of child) {
    const at = position.get(check.id);
    if (at === undefined) {
      position.set(check.id, merged.length);
      merged.push(structuredClone(check));
    } else {
      merged[at] = structuredClone(check);
    }
  }
  return merged;
}

/** Applies one child over an already flat parent. */
function applyChild(parent: Formula, child: Formula, issues: Issue[]): Formula {
  const parentIds = new Set(parent.steps.map((step) => step.id));
  for (const id of child.removeSteps) {
    if (!parentIds.has(id)) {
      issues.push({ field: 'remove_steps', message: `formula "${child.name}" removes step "${id}", but its parent "${parent.name}" has no such step`, fix: `Use one of the parent's step ids: ${listNames([...parentIds])}.` });
    }
  }
  const removed = new Set(child.removeSteps);
  const steps = parent.steps.filter((step) => !removed.has(step.id)).map((step) => structuredClone(step));
  // Positions by id, so merging is linear in the steps rather than a search per child step.
  const position = new Map<string, number>();
  steps.forEach((step, i) => position.set(step.id, i));
  for (const step of child.steps) {
    const at = position.get(step.id) ?? -1;
    if (at >= 0) {
      steps[at] = mergeStep(steps[at] as Step, step, child.stepKeys[step.id] ?? []);
    } else {
      // A new step takes every key from the child; keys it left out keep their defaults.
      position.set(step.id, steps.length);
      steps.push(structuredClone(step));
    }
  }
  return {
    name: child.name,
    description: child.description !== '' ? child.description : parent.description,
    version: child.version,
    extends: null,
    removeSteps: [],
    vars: { ...structuredClone(parent.vars), ...structuredClone(child.vars) },
    steps,
    checks: mergeChecks(parent.checks, child.checks),
    stepKeys: {},
  };
}

/**
 * The flat formula a child describes, or the problems: a missing parent, an extends cycle (named as
 * a path), a chain deeper than MAX_EXTENDS_DEPTH, removals of unknown steps, and anything the flat
 * result fails in validateFormula.
 * `file` labels the problems; their line is 0 because they may come from several files.
 */
export function resolveExtends(formula: Formula, lookup: FormulaLookup, file = `${formula.name}.formula.toml`): ResolveResult {
  const chain: Formula[] = [formula];
  const issues: Issue[] = [];
  let current = formula;
  while (current.extends !== null) {
    const parentName = current.extends;
    const loop = chain.findIndex((member) => member.name === parentName);
    if (loop >= 0) {
      const path = [...chain.slice(loop).map((member) => member.name), parentName];
      issues.push({ field: 'extends', message: `extends forms a cycle: ${path.join(' → ')}`, fix: `Make one of these formulas stop extending the next (for example remove extends from "${current.name}").` });
      break;
    }
    if (chain.length > MAX_EXTENDS_DEPTH) {
      issues.push({ field: 'extends', message: `extends goes more than ${MAX_EXTENDS_DEPTH} formulas deep (${chain.slice(0, 3).map((member) => member.name).join(' → ')} → …)`, fix: 'Flatten the chain: let a formula extend one that is closer to the root.' });
      break;
    }
    const parent = lookup(parentName);
    if (!parent) {
      issues.push({ field: 'extends', message: `formula "${current.name}" extends "${parentName}", which was not found`, fix: 'Check the parent\'s name (its name key, not its file name), or add the parent formula.' });
      break;
    }
    chain.push(parent);
    current = parent;
  }
  if (issues.length === 0) {
    let flat = structuredClone(chain[chain.length - 1] as Formula);
    for (let i = chain.length - 2; i >= 0; i -= 1) flat = applyChild(flat, chain[i] as Formula, issues);
    for (const issue of validateFormula(flat)) {
      issues.push({ ...issue, message: `after applying extends: ${issue.message}` });
    }
    if (issues.length === 0) return { ok: true, formula: flat };
  }
  return { ok: false, problems: issues.map((issue) => ({ file, line: 0, field: issue.field, message: issue.message, fix: issue.fix })) };
}
