import * as z from 'zod';
import { LedgerError } from './errors';

/**
 * Input schemas of the ledger's commands. The MCP tools, the CLI and the extension all pass their
 * input through these, so a bad field gets the same message everywhere. Objects stay flat because
 * Codex flattens `anyOf` in tool schemas.
 */
const id = (what: string) => z.string().min(1, `give the ${what} id`).max(200, `${what} id is longer than 200 characters`);
const worker = z.string().min(1, 'name the worker').max(120, 'worker name is longer than 120 characters');
const note = z.string().max(4000, 'note is longer than 4000 characters');
const count = z.number().int('must be a whole number').min(0, 'must not be negative').max(1e12, 'is implausibly large');

export const gateSchema = z.object({
  kind: z.enum(['human', 'timer', 'run']),
  seconds: z.number().int().min(0).max(31 * 24 * 3600).optional(),
  formula: z.string().max(200).optional(),
});

export const planNodeSchema = z.object({
  key: z.string().min(1).max(120).regex(/^[A-Za-z0-9_.\-[\]]+$/, 'use letters, digits, _ . - [ ] only'),
  title: z.string().min(1, 'give the node a title').max(200),
  instructions: z.string().max(20_000).default(''),
  needs: z.array(z.string().max(120)).max(500).default([]),
  maxAttempts: z.number().int().min(1).max(100).default(1),
  onExhausted: z.enum(['fail', 'skip', 'escalate']).default('fail'),
  gate: gateSchema.nullable().default(null),
  review: z.boolean().default(false),
  skipped: z.boolean().default(false),
});

export const startRunSchema = z.object({
  title: z.string().min(1, 'give the run a title').max(200),
  familyId: z.string().max(200).nullable().default(null),
  variantId: z.string().max(200).nullable().default(null),
  generation: z.number().int().min(0).nullable().default(null),
  vars: z.record(z.string(), z.unknown()).default({}),
  taskKey: z.string().max(400).nullable().default(null),
  arm: z.string().max(40).nullable().default(null),
  awaitsChecks: z.boolean().default(false),
  nodes: z.array(planNodeSchema).min(1, 'a run needs at least one node').max(5000, 'a run may have at most 5000 nodes'),
});

export const claimSchema = z.object({
  worker,
  nodeId: id('node').optional(),
  runId: id('run').optional(),
  leaseSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(900),
});

export const renewSchema = z.object({ nodeId: id('node'), worker, leaseSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(900) });

export const dispatchSchema = z.object({
  nodeId: id('node'),
  worker,
  workerKind: z.string().min(1).max(60).default('codex'),
  threadId: z.string().min(1).max(200).optional(),
});

export const reportSchema = z.object({
  nodeId: id('node'),
  worker,
  outcome: z.enum(['done', 'failed']),
  summary: z.string().max(20_000).default(''),
  tokens: count.default(0),
  durationMs: count.default(0),
});

export const reviewSchema = z.object({ nodeId: id('node'), verdict: z.enum(['approve', 'reject']), note: note.default('') });

export const recoverSchema = z.object({
  nodeId: id('node').optional(),
  force: z.boolean().default(false),
  reason: note.default(''),
});

export const handoffSchema = z.object({
  nodeId: id('node'),
  fromWorker: worker,
  toWorker: worker,
  note: note.default(''),
  leaseSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(900),
  /** A person takes over: the node waits for them behind a human gate instead of under a lease that runs out. */
  toPerson: z.boolean().default(false),
});

export const expandSchema = z.object({
  nodeId: id('node'),
  worker,
  children: z.array(planNodeSchema).min(1, 'give at least one child').max(500),
});

export const openGateSchema = z.object({ nodeId: id('node'), note: note.default('') });

export const evidenceSchema = z.object({
  runId: id('run').optional(),
  nodeId: id('node').optional(),
  variantId: id('variant').optional(),
  // 'bidding' (branch leftovers): the tokens of a profile's bidding turn for the node (src/codex/worker.ts).
  kind: z.enum(['run_outcome', 'intervention', 'review', 'tokens', 'duration', 'note', 'bidding']),
  success: z.boolean().optional(),
  interventions: count.optional(),
  reviewRejections: count.optional(),
  tokens: count.optional(),
  durationMs: count.optional(),
  note: note.default(''),
});

export const cancelRunSchema = z.object({ runId: id('run'), reason: note.default('') });

export const cancelNodeSchema = z.object({ nodeId: id('node'), reason: note.default('') });

/** Validates `input`, or throws a LedgerError naming the first bad field and what is wrong with it. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : 'input';
  throw new LedgerError(`${field}: ${describeIssue(issue, valueAt(input, issue.path))}`, 'invalid_input', field);
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list', object: 'an object', null: 'null',
};

/**
 * A zod issue in words a person or a model can act on: a wrong type says which type was expected and
 * what was given (zod's own text for a union is only "Invalid input").
 */
export function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_type') return `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${describeValue(value)}`;
  if (issue.code === 'invalid_union') {
    const expected = new Set<string>();
    for (const branch of issue.errors) {
      for (const inner of branch) if (inner.code === 'invalid_type' && inner.path.length === 0) expected.add(TYPE_WORDS[inner.expected] ?? inner.expected);
    }
    if (expected.size) return `expected ${[...expected].join(', or ')}, got ${describeValue(value)}`;
  }
  return issue.message;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return `${TYPE_WORDS[typeof value] ?? typeof value} ${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Object.prototype.hasOwnProperty.call(current, key) ? (current as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return current;
}
