// Structured edits of a formula. Each op is a flat JSON object so that it can travel as an MCP tool
// input, be stored in the ledger as a mutation record, and be replayed to rebuild a variant.
import * as z from 'zod';
import { forEachVarName } from './template';
import type { Formula, Gate, Problem, Retry, Step, VarSpec } from './types';
import { findUnsafeKey, isUnsafeKey } from './names';
import { listNames, validateFormula } from './validate';

const varValueSchema = z.union([z.string(), z.boolean(), z.array(z.string())]);

export const retrySchema = z
  .object({
    max: z.number().int().min(1).max(100),
    onExhausted: z.enum(['fail', 'skip', 'escalate']).default('fail'),
  })
  .strict();

export const gateSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('human') }).strict(),
  z.object({ kind: z.literal('timer'), seconds: z.number().int().min(1) }).strict(),
  z.object({ kind: z.literal('run'), formula: z.string().min(1) }).strict(),
]);

/** A step as a mutation gives it: id and instructions, everything else optional. */
export const stepInputSchema = z
  .object({
    id: z.string().min(1),
    title: z.string().optional(),
    instructions: z.string(),
    needs: z.array(z.string()).optional(),
    forEach: z.string().nullable().optional(),
    when: z.string().nullable().optional(),
    retry: retrySchema.nullable().optional(),
    gate: gateSchema.nullable().optional(),
    review: z.boolean().optional(),
  })
  .strict();

export const varSpecInputSchema = z
  .object({
    description: z.string().optional(),
    default: varValueSchema.nullable().optional(),
    required: z.boolean().optional(),
    enum: z.array(z.string()).nullable().optional(),
    pattern: z.string().nullable().optional(),
  })
  .strict();

const stepId = z.string().min(1);

export const mutationSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add_step'), step: stepInputSchema, after: stepId.nullable().optional() }).strict(),
  z.object({ op: z.literal('remove_step'), stepId, rewire: z.boolean().optional() }).strict(),
  z.object({ op: z.literal('reorder_step'), stepId, after: stepId.nullable() }).strict(),
  z.object({ op: z.literal('edit_instructions'), stepId, instructions: z.string() }).strict(),
  z.object({ op: z.literal('edit_title'), stepId, title: z.string() }).strict(),
  z.object({ op: z.literal('set_needs'), stepId, needs: z.array(z.string()) }).strict(),
  z.object({ op: z.literal('set_gate'), stepId, gate: gateSchema.nullable() }).strict(),
  z.object({ op: z.literal('set_retry'), stepId, retry: retrySchema.nullable() }).strict(),
  z.object({ op: z.literal('set_condition'), stepId, when: z.string().nullable() }).strict(),
  z.object({ op: z.literal('set_for_each'), stepId, forEach: z.string().nullable() }).strict(),
  z.object({ op: z.literal('set_review'), stepId, review: z.boolean() }).strict(),
  z.object({ op: z.literal('set_var'), name: z.string().min(1), spec: varSpecInputSchema }).strict(),
  z.object({ op: z.literal('remove_var'), name: z.string().min(1) }).strict(),
  z.object({ op: z.literal('set_description'), description: z.string() }).strict(),
]);

export type Mutation = z.input<typeof mutationSchema>;
export type MutationOp = Mutation['op'];
export type StepInput = z.input<typeof stepInputSchema>;
export type VarSpecInput = z.input<typeof varSpecInputSchema>;

export type MutationResult = { ok: true; formula: Formula } | { ok: false; problems: Problem[] };

/** Accepts `{{files}}` as well as `files`, like the file format; anything else is kept for validation to reject. */
function normalizeForEach(value: string | null): string | null {
  return value === null ? null : (forEachVarName(value) ?? value);
}

/** Fills a step given in a mutation the way the parser fills one read from a file. */
export function stepFromInput(input: StepInput): Step {
  return {
    id: input.id,
    title: input.title ?? input.id,
    instructions: input.instructions,
    needs: [...(input.needs ?? [])],
    forEach: normalizeForEach(input.forEach ?? null),
    when: input.when ?? null,
    retry: input.retry ? { max: input.retry.max, onExhausted: input.retry.onExhausted ?? 'fail' } : null,
    gate: input.gate ? (structuredClone(input.gate) as Gate) : null,
    review: input.review ?? false,
  };
}

export function varSpecFromInput(input: VarSpecInput): VarSpec {
  return {
    description: input.description ?? '',
    default: input.default === undefined || input.default === null ? null : structuredClone(input.default),
    required: input.required ?? false,
    enum: input.enum ? [...input.enum] : null,
    pattern: input.pattern ?? null,
  };
}

class Refusal extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

function describeOp(mutation: Mutation): string {
  if ('stepId' in mutation) return `${mutation.op} on step "${mutation.stepId}"`;
  if (mutation.op === 'add_step') return `add_step "${mutation.step.id}"`;
  if ('name' in mutation) return `${mutation.op} "${mutation.name}"`;
  return mutation.op;
}

function findStep(formula: Formula, id: string): number {
  const at = formula.steps.findIndex((step) => step.id === id);
  if (at < 0) {
    throw new Refusal('stepId', `there is no step "${id}"`, `Use one of the step ids: ${listNames(formula.steps.map((step) => step.id))}.`);
  }
  return at;
}

function insertAfter(steps: Step[], step: Step, after: string | null | undefined, formula: Formula): void {
  if (after === undefined) {
    steps.push(step);
  } else if (after === null) {
    steps.unshift(step);
  } else {
    const at = steps.findIndex((existing) => existing.id === after);
    if (at < 0) throw new Refusal('after', `there is no step "${after}" to place it after`, `Use one of the step ids: ${listNames(formula.steps.map((s) => s.id))}, or null for the first place.`);
    steps.splice(at + 1, 0, step);
  }
}

/** Applies one already-checked op to a formula it owns (a clone); throws Refusal when the op cannot apply. */
function applyOne(formula: Formula, mutation: z.output<typeof mutationSchema>): void {
  switch (mutation.op) {
    case 'add_step': {
      if (formula.steps.some((step) => step.id === mutation.step.id)) {
        throw new Refusal('step.id', `a step "${mutation.step.id}" already exists`, 'Pick a new id, or use the edit ops to change the existing step.');
      }
      insertAfter(formula.steps, stepFromInput(mutation.step), mutation.after, formula);
      return;
    }
    case 'remove_step': {
      const at = findStep(formula, mutation.stepId);
      const removed = formula.steps[at] as Step;
      const dependents = formula.steps.filter((step) => step.needs.includes(mutation.stepId));
      if (dependents.length > 0 && !mutation.rewire) {
        throw new Refusal('stepId', `step "${mutation.stepId}" is needed by ${dependents.map((step) => `"${step.id}"`).join(', ')}`, 'Change their needs first, or pass rewire: true so they inherit its needs.');
      }
      formula.steps.splice(at, 1);
      for (const step of dependents) {
        const needs: string[] = [];
        for (const need of step.needs.flatMap((n) => (n === mutation.stepId ? removed.needs : [n]))) {
          if (!needs.includes(need) && need !== step.id) needs.push(need);
        }
        step.needs = needs;
      }
      return;
    }
    case 'reorder_step': {
      const at = findStep(formula, mutation.stepId);
      if (mutation.after === mutation.stepId) throw new Refusal('after', `step "${mutation.stepId}" cannot be placed after itself`, 'Name another step, or null for the first place.');
      const [step] = formula.steps.splice(at, 1);
      insertAfter(formula.steps, step as Step, mutation.after, formula);
      return;
    }
    case 'edit_instructions':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).instructions = mutation.instructions;
      return;
    case 'edit_title':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).title = mutation.title;
      return;
    case 'set_needs':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).needs = [...mutation.needs];
      return;
    case 'set_gate':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).gate = mutation.gate ? (structuredClone(mutation.gate) as Gate) : null;
      return;
    case 'set_retry':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).retry = mutation.retry ? (structuredClone(mutation.retry) as Retry) : null;
      return;
    case 'set_condition':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).when = mutation.when;
      return;
    case 'set_for_each':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).forEach = normalizeForEach(mutation.forEach);
      return;
    case 'set_review':
      (formula.steps[findStep(formula, mutation.stepId)] as Step).review = mutation.review;
      return;
    case 'set_var':
      // Assigning `__proto__` would replace the prototype of vars and the variable would vanish unseen.
      if (isUnsafeKey(mutation.name)) throw new Refusal('name', `"${mutation.name}" cannot be a variable name`, 'Pick a plain name such as "mode"; __proto__, constructor and prototype are reserved.');
      formula.vars[mutation.name] = varSpecFromInput(mutation.spec);
      return;
    case 'remove_var':
      if (!Object.prototype.hasOwnProperty.call(formula.vars, mutation.name)) {
        throw new Refusal('name', `there is no variable "${mutation.name}"`, `Use one of the variables: ${Object.keys(formula.vars).map((v) => `"${v}"`).join(', ') || '(none)'}.`);
      }
      delete formula.vars[mutation.name];
      return;
    case 'set_description':
      formula.description = mutation.description;
      return;
  }
}

/** Maps a validation field like `steps[3].needs` to the op's own field where they are the same thing. */
function opField(issueField: string): string {
  const match = /^steps\[\d+\]\.?(.*)$/.exec(issueField);
  if (!match) return issueField;
  const rest = match[1] as string;
  return rest === '' ? 'step' : rest.replace('for_each', 'forEach').replace('on_exhausted', 'onExhausted');
}

/**
 * Applies mutations in order to a copy of the formula. Each op must leave a valid formula (no cycle, no
 * dangling needs, no undeclared variable); the first op that does not is refused, the input is never
 * changed, and every problem names the op's index and field (`mutations[2].needs`).
 */
export function applyMutations(formula: Formula, mutations: readonly unknown[]): MutationResult {
  const refuse = (index: number, field: string, message: string, fix: string): MutationResult => ({
    ok: false,
    problems: [{ file: 'mutations', line: 0, field: `mutations[${index}]${field ? `.${field}` : ''}`, message, fix }],
  });
  if (formula.extends !== null) {
    return refuse(0, '', `formula "${formula.name}" extends "${formula.extends}"; mutations apply to flat formulas`, 'Resolve extends first (resolveExtends) and mutate the result.');
  }
  const working = structuredClone(formula);
  for (let index = 0; index < mutations.length; index += 1) {
    const unsafe = findUnsafeKey(mutations[index]);
    if (unsafe) {
      return refuse(index, unsafe.path, `mutation ${index} uses "${unsafe.key}" as a key, which is never data`, 'Remove that key; __proto__, constructor and prototype are refused anywhere in a mutation.');
    }
    const parsed = mutationSchema.safeParse(mutations[index]);
    if (!parsed.success) {
      const problems: Problem[] = parsed.error.issues.map((issue) => ({
        file: 'mutations',
        line: 0,
        field: `mutations[${index}]${issue.path.length ? `.${issue.path.join('.')}` : ''}`,
        message: `mutation ${index} is malformed: ${issue.message}`,
        fix: 'Send one of the documented ops with exactly its fields (see docs/formulas.md, "Mutations").',
      }));
      return { ok: false, problems };
    }
    const mutation = parsed.data;
    const label = describeOp(mutation);
    try {
      applyOne(working, mutation);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      return refuse(index, error.field, `mutation ${index} (${label}) refused: ${error.message}`, error.fix);
    }
    const issues = validateFormula(working);
    if (issues.length > 0) {
      return {
        ok: false,
        problems: issues.map((issue) => ({
          file: 'mutations',
          line: 0,
          field: `mutations[${index}].${opField(issue.field)}`,
          message: `mutation ${index} (${label}) refused: ${issue.message}`,
          fix: issue.fix,
        })),
      };
    }
  }
  return { ok: true, formula: working };
}

/** One line that says what a list of mutations does, for lineage headers and commit-like summaries. */
export function summarizeMutations(mutations: readonly Mutation[]): string {
  if (mutations.length === 0) return 'no changes';
  const parts = mutations.map((mutation) => {
    switch (mutation.op) {
      case 'add_step':
        return `add step ${mutation.step.id}${mutation.after === undefined ? '' : mutation.after === null ? ' first' : ` after ${mutation.after}`}`;
      case 'remove_step':
        return `remove step ${mutation.stepId}${mutation.rewire ? ' (rewired)' : ''}`;
      case 'reorder_step':
        return `move ${mutation.stepId} ${mutation.after === null ? 'first' : `after ${mutation.after}`}`;
      case 'edit_instructions':
        return `edit instructions of ${mutation.stepId}`;
      case 'edit_title':
        return `retitle ${mutation.stepId}`;
      case 'set_needs':
        return `${mutation.stepId} needs [${mutation.needs.join(', ')}]`;
      case 'set_gate':
        return mutation.gate ? `${mutation.gate.kind} gate on ${mutation.stepId}` : `no gate on ${mutation.stepId}`;
      case 'set_retry':
        return mutation.retry ? `retry ${mutation.stepId} up to ${mutation.retry.max}` : `no retry on ${mutation.stepId}`;
      case 'set_condition':
        return mutation.when ? `${mutation.stepId} when ${mutation.when}` : `${mutation.stepId} always runs`;
      case 'set_for_each':
        return mutation.forEach ? `${mutation.stepId} for each ${mutation.forEach}` : `${mutation.stepId} runs once`;
      case 'set_review':
        return `${mutation.review ? 'review' : 'no review for'} ${mutation.stepId}`;
      case 'set_var':
        return `set var ${mutation.name}`;
      case 'remove_var':
        return `remove var ${mutation.name}`;
      case 'set_description':
        return 'edit description';
    }
  });
  return parts.join('; ');
}
