// What changed between two formulas, as data (for the graph view and the ledger) and as text (for
// people reviewing an evolved variant like a code change).
import type { Formula, Step, VarSpec } from './types';

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

export type FormulaChange =
  | { kind: 'formula_changed'; field: 'name' | 'description' | 'version' | 'extends' | 'removeSteps' | 'checks'; before: unknown; after: unknown }
  | { kind: 'step_added'; stepId: string; index: number; step: Step }
  | { kind: 'step_removed'; stepId: string; step: Step }
  | { kind: 'step_changed'; stepId: string; fields: FieldChange[] }
  | { kind: 'step_moved'; stepId: string; from: number; to: number }
  | { kind: 'var_added'; name: string; spec: VarSpec }
  | { kind: 'var_removed'; name: string; spec: VarSpec }
  | { kind: 'var_changed'; name: string; fields: FieldChange[] };

const STEP_FIELDS: Array<keyof Step> = ['title', 'instructions', 'needs', 'forEach', 'when', 'retry', 'gate', 'review'];
const VAR_FIELDS: Array<keyof VarSpec> = ['description', 'default', 'required', 'enum', 'pattern'];

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function fieldChanges<T extends object>(before: T, after: T, fields: Array<keyof T>): FieldChange[] {
  return fields
    .filter((field) => !same(before[field], after[field]))
    .map((field) => ({ field: String(field), before: before[field], after: after[field] }));
}

/**
 * Ids kept in order by the longest common subsequence; the ids outside it are the ones that moved. Step
 * ids are unique, so the subsequence is the longest increasing run of parent positions in child order,
 * found by patience sorting in O(n log n) (Fredman 1975; Gusfield, "Algorithms on Strings, Trees, and
 * Sequences", 12.5) rather than the O(n·m) table, which would need gigabytes for a formula of 38,000 steps.
 */
function commonOrder(a: readonly string[], b: readonly string[]): Set<string> {
  const positionInA = new Map(a.map((id, i) => [id, i]));
  const sequence = b.map((id) => positionInA.get(id)).filter((i): i is number => i !== undefined);
  // tails[k]: index in `sequence` of the smallest tail of an increasing run of length k + 1.
  const tails: number[] = [];
  const previous = new Array<number>(sequence.length).fill(-1);
  sequence.forEach((value, i) => {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((sequence[tails[mid] as number] as number) < value) low = mid + 1;
      else high = mid;
    }
    if (low > 0) previous[i] = tails[low - 1] as number;
    tails[low] = i;
  });
  const kept = new Set<string>();
  for (let i = tails.length > 0 ? (tails[tails.length - 1] as number) : -1; i >= 0; i = previous[i] as number) {
    kept.add(a[sequence[i] as number] as string);
  }
  return kept;
}

/** The changes that turn `parent` into `child`, in a stable order: formula, vars, then steps. */
export function diffFormulas(parent: Formula, child: Formula): FormulaChange[] {
  const changes: FormulaChange[] = [];
  for (const field of ['name', 'version', 'description', 'extends', 'removeSteps', 'checks'] as const) {
    if (!same(parent[field], child[field])) changes.push({ kind: 'formula_changed', field, before: parent[field], after: child[field] });
  }
  const varNames = [...new Set([...Object.keys(parent.vars), ...Object.keys(child.vars)])].sort();
  for (const name of varNames) {
    const before = parent.vars[name];
    const after = child.vars[name];
    if (before && !after) changes.push({ kind: 'var_removed', name, spec: before });
    else if (!before && after) changes.push({ kind: 'var_added', name, spec: after });
    else if (before && after) {
      const fields = fieldChanges(before, after, VAR_FIELDS);
      if (fields.length > 0) changes.push({ kind: 'var_changed', name, fields });
    }
  }
  const parentSteps = new Map(parent.steps.map((step) => [step.id, step]));
  const parentIndex = new Map(parent.steps.map((step, i) => [step.id, i]));
  const childSteps = new Map(child.steps.map((step) => [step.id, step]));
  for (const step of parent.steps) {
    if (!childSteps.has(step.id)) changes.push({ kind: 'step_removed', stepId: step.id, step });
  }
  const parentOrder = parent.steps.map((step) => step.id).filter((id) => childSteps.has(id));
  const childOrder = child.steps.map((step) => step.id).filter((id) => parentSteps.has(id));
  const kept = commonOrder(parentOrder, childOrder);
  child.steps.forEach((step, index) => {
    const before = parentSteps.get(step.id);
    if (!before) {
      changes.push({ kind: 'step_added', stepId: step.id, index, step });
      return;
    }
    if (!kept.has(step.id)) {
      changes.push({ kind: 'step_moved', stepId: step.id, from: parentIndex.get(step.id) as number, to: index });
    }
    const fields = fieldChanges(before, step, STEP_FIELDS);
    if (fields.length > 0) changes.push({ kind: 'step_changed', stepId: step.id, fields });
  });
  return changes;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return '(none)';
  if (typeof value === 'string') return JSON.stringify(value);
  return JSON.stringify(value);
}

/** Line-level diff of two texts, as `-`/`+`/` ` prefixed lines. */
function diffLines(before: string, after: string, indent: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const kept = commonIndexes(a, b);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  for (const [ki, kj] of kept) {
    while (i < ki) out.push(`${indent}- ${a[i++]}`);
    while (j < kj) out.push(`${indent}+ ${b[j++]}`);
    out.push(`${indent}  ${a[i]}`);
    i += 1;
    j += 1;
  }
  while (i < a.length) out.push(`${indent}- ${a[i++]}`);
  while (j < b.length) out.push(`${indent}+ ${b[j++]}`);
  return out;
}

/** Most cells of the line-diff table; beyond it the differing middle is shown as removed, then added. */
const MAX_DIFF_CELLS = 4_000_000;

/**
 * Pairs of equal lines kept by a longest common subsequence. Common leading and trailing lines are
 * matched first (linear); the table for the rest is built only when it has at most MAX_DIFF_CELLS
 * cells, so a diff of two long texts stays correct (every line shown once) and bounded in memory.
 */
function commonIndexes(a: readonly string[], b: readonly string[]): Array<[number, number]> {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const pairs: Array<[number, number]> = [];
  for (let k = 0; k < start; k += 1) pairs.push([k, k]);
  const n = endA - start;
  const m = endB - start;
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= MAX_DIFF_CELLS) {
    const table: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
    for (let i = n - 1; i >= 0; i -= 1) {
      for (let j = m - 1; j >= 0; j -= 1) {
        const row = table[i] as number[];
        row[j] = a[start + i] === b[start + j] ? (table[i + 1] as number[])[j + 1]! + 1 : Math.max((table[i + 1] as number[])[j]!, row[j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[start + i] === b[start + j]) {
        pairs.push([start + i, start + j]);
        i += 1;
        j += 1;
      } else if ((table[i + 1] as number[])[j]! >= (table[i] as number[])[j + 1]!) {
        i += 1;
      } else {
        j += 1;
      }
    }
  }
  for (let k = 0; endA + k < a.length; k += 1) pairs.push([endA + k, endB + k]);
  return pairs;
}

function fieldLines(fields: readonly FieldChange[]): string[] {
  const lines: string[] = [];
  for (const change of fields) {
    if (typeof change.before === 'string' && typeof change.after === 'string' && (change.before.includes('\n') || change.after.includes('\n'))) {
      lines.push(`    ${change.field}:`, ...diffLines(change.before, change.after, '      '));
    } else {
      lines.push(`    ${change.field}: ${show(change.before)} → ${show(change.after)}`);
    }
  }
  return lines;
}

/** Readable unified-style text: `+` added, `-` removed, `~` changed, `>` moved. */
export function renderDiff(changes: readonly FormulaChange[], labels: { before?: string; after?: string } = {}): string {
  const lines = [`--- ${labels.before ?? 'parent'}`, `+++ ${labels.after ?? 'child'}`];
  if (changes.length === 0) lines.push('  (no changes)');
  for (const change of changes) {
    switch (change.kind) {
      case 'formula_changed':
        lines.push(`~ formula ${change.field}: ${show(change.before)} → ${show(change.after)}`);
        break;
      case 'var_added':
        lines.push(`+ var ${change.name}${change.spec.default !== null ? ` (default ${show(change.spec.default)})` : ''}${change.spec.required ? ' (required)' : ''}`);
        break;
      case 'var_removed':
        lines.push(`- var ${change.name}`);
        break;
      case 'var_changed':
        lines.push(`~ var ${change.name}`, ...fieldLines(change.fields));
        break;
      case 'step_added':
        lines.push(`+ step ${change.stepId} "${change.step.title}"${change.step.needs.length ? ` needs [${change.step.needs.join(', ')}]` : ''}`);
        lines.push(...change.step.instructions.split('\n').map((line) => `    + ${line}`));
        break;
      case 'step_removed':
        lines.push(`- step ${change.stepId} "${change.step.title}"`);
        break;
      case 'step_moved':
        lines.push(`> step ${change.stepId} moved from position ${change.from + 1} to ${change.to + 1}`);
        break;
      case 'step_changed':
        lines.push(`~ step ${change.stepId}`, ...fieldLines(change.fields));
        break;
    }
  }
  return `${lines.join('\n')}\n`;
}
