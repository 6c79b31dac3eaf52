// What every tool file shares: the context a tool runs in, the `tool()` helper that validates arguments
// and names fields in errors, the annotations, the node rows that results show, and small lookups.
import * as z from 'zod';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { LedgerError } from '../../ledger/index';
import type { EvaluationResult, FamilyRow, FormulaService, Ledger, NodeRow, PromotionService } from '../../ledger/index';
import { explainNext, explainState, explainWait, situationOf } from '../../controller/explain';
import { clip, pageOf } from '../paging';
import * as s from '../schemas';
import { validate } from '../validate';

/** What a tool works on: the workspace's ledger, and the formula service when the server has one. */
export interface ToolContext {
  ledger: Ledger;
  formulas: FormulaService | undefined;
  /** Trials and recorded decisions; when present, runs of a family in trial are routed by it. */
  promotions: PromotionService | undefined;
  /** Who writes: recorded as the event actor, and the default `proposedBy` of mutations. */
  actor: string | undefined;
}

/** A tool with its types erased, so the server can hold a list of them and call one by name. */
export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  input: z.ZodObject;
  output: z.ZodObject;
  annotations: ToolAnnotations;
  /** Read tools refresh the ledger first, to see what other processes wrote since. */
  reads: boolean;
  invoke(args: unknown, ctx: ToolContext): Promise<Record<string, unknown>>;
}

interface ToolSpec<I extends z.ZodObject, O extends z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  reads?: boolean;
  /** Service field names to the tool's own, where they differ, so an error names the field the caller sent. */
  fields?: Readonly<Record<string, string>>;
  run(args: z.output<I>, ctx: ToolContext): Promise<z.input<O>> | z.input<O>;
}

export function tool<I extends z.ZodObject, O extends z.ZodObject>(spec: ToolSpec<I, O>): ToolDefinition {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    input: spec.input,
    // A write may trigger a promotion decision, which the server adds to the answer (see server.ts).
    output: spec.reads ? spec.output : spec.output.extend({ promotion: z.array(s.promotionNote).optional().describe('Promotion decisions this call\'s evidence triggered.') }),
    annotations: spec.annotations,
    reads: spec.reads ?? false,
    invoke: async (args, ctx) => {
      try {
        return (await spec.run(validate(spec.input, args), ctx)) as Record<string, unknown>;
      } catch (e) {
        throw renamed(e, spec.fields);
      }
    },
  };
}

function renamed(e: unknown, fields: Readonly<Record<string, string>> | undefined): unknown {
  if (!(e instanceof LedgerError) || !fields || e.field === undefined || !(e.field in fields)) return e;
  const to = fields[e.field]!;
  const message = e.message.startsWith(`${e.field}: `) ? `${to}: ${e.message.slice(e.field.length + 2)}` : e.message;
  return new LedgerError(message, e.code, to);
}

export const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
export const write = (o: { destructive: boolean; idempotent: boolean }): ToolAnnotations =>
  ({ readOnlyHint: false, destructiveHint: o.destructive, idempotentHint: o.idempotent, openWorldHint: false });

/** A node without its (possibly long) instructions and result, with what it waits for in words: what lists show. */
export function summarize(n: NodeRow): z.input<typeof s.nodeSummary> {
  return {
    id: n.id, runId: n.runId, stepId: n.stepId, title: n.title, state: n.state, attempts: n.attempts, maxAttempts: n.maxAttempts,
    worker: n.worker, leaseExpires: n.leaseExpires, review: n.review, gate: n.gate, gateOpen: n.gateOpen, updatedAt: n.updatedAt,
    waiting: explainWait(n)?.text ?? null,
  };
}

/** Characters of a node's instructions and of its result that one answer shows; the rest is read with worker_peek. */
export const NODE_TEXT = { instructions: 3000, result: 1200 } as const;

/**
 * A node in full, with its instructions and result clipped so that the answer stays small; each clipped text
 * ends with the worker_peek call that shows more, from the character where it was cut.
 */
export function detail(n: NodeRow, from: { instructions?: number; result?: number } = {}): z.input<typeof s.nodeDetail> {
  const peek = (field: string) => (next: number) => `worker_peek ${JSON.stringify({ nodeId: n.id, [`${field}From`]: next })}`;
  return {
    ...summarize(n),
    instructions: clip(n.instructions, NODE_TEXT.instructions, peek('instructions'), from.instructions),
    unmet: n.unmet, onExhausted: n.onExhausted, claimId: n.claimId,
    result: n.result === null ? null : clip(n.result, NODE_TEXT.result, peek('result'), from.result),
    tokens: n.tokens, durationMs: n.durationMs,
  };
}

/** The cursor scope of ready_work for a run (or every running run), shared by the write tools' readyNextCursor. */
export function readyQuery(runId: string | undefined): string {
  return `ready_work:${runId ?? '*'}`;
}

/** How many ready nodes and waits a write's answer shows; the rest is a ready_work or workflow_view call away. */
const AFTER_WRITE = { ready: 5, readyBytes: 2500, waiting: 3 } as const;

/**
 * A run after a write to it: the first ready nodes (with the cursor of the rest), the nodes that wait for a
 * person, a reviewer, a time or another run, and what to do next in words, led by `lead` (the node's own news).
 */
export function afterWrite(ctx: ToolContext, runId: string, lead = ''): {
  ready: Array<z.input<typeof s.nodeSummary>>; readyTotal: number; readyNextCursor: string | null; waiting: Array<z.input<typeof s.nodeWait>>; next: string;
} {
  const g = ctx.ledger.runGraph(runId)!;
  const now = new Date();
  const page = pageOf(ctx.ledger.readyWork({ runId, limit: 1000 }), {
    query: readyQuery(runId), cursor: undefined, limit: AFTER_WRITE.ready, key: (n) => n.id,
    wrap: (p) => p.rows.map(summarize), budget: AFTER_WRITE.readyBytes,
  });
  const situation = situationOf(g.run, g.nodes, now);
  const next = explainNext(situation);
  return {
    ready: page.rows.map(summarize), readyTotal: page.total, readyNextCursor: page.nextCursor,
    waiting: situation.waiting.slice(0, AFTER_WRITE.waiting), next: lead ? `${lead} ${next}` : next,
  };
}

export function needFormulas(ctx: ToolContext): FormulaService {
  if (!ctx.formulas) throw new LedgerError('this server was started without formula support', 'conflict');
  return ctx.formulas;
}

export function needPromotions(ctx: ToolContext): PromotionService {
  if (!ctx.promotions) throw new LedgerError('this server was started without promotion support', 'conflict');
  return ctx.promotions;
}

/** Checks that the run a tool was pointed at (if any) exists. */
export function checkRun(ctx: ToolContext, runId: string | undefined): void {
  if (runId !== undefined && !ctx.ledger.getRun(runId)) throw new LedgerError(`runId: no run with id "${runId}"`, 'not_found', 'runId');
}

/** The run of a node after a write to the node: see afterWrite; `lead` defaults to the node's state in words. */
export function afterNodeWrite(ctx: ToolContext, nodeId: string, lead?: string): ReturnType<typeof afterWrite> {
  const node = ctx.ledger.getNode(nodeId)!;
  return afterWrite(ctx, node.runId, lead ?? explainState(node));
}

/** The family named by the tool's `family` field, or an error listing the known ones. */
export function needFamily(f: FormulaService, family: string): FamilyRow {
  const row = f.getFamily(family);
  if (!row) throw unknownFamily(f, family, 'family');
  return row;
}

/** An invalid-input error about `field`, its message starting with the field. */
export function invalid(field: string, message: string): LedgerError {
  return new LedgerError(`${field}: ${message}`, 'invalid_input', field);
}

/** The actor of a decision: the person named, noting that it came through this server. */
export function decider(ctx: ToolContext, decidedBy: string | undefined): string {
  const via = ctx.actor ?? ctx.ledger.actor;
  return decidedBy ? `${decidedBy} (via ${via})` : via;
}

/** An evaluation result with the family's active variant afterwards. */
export function withActive(ctx: ToolContext, r: EvaluationResult): z.input<typeof s.evaluationOutput> {
  return { ...r, activeVariantId: ctx.formulas?.getFamily(r.familyId)?.activeVariantId ?? null };
}

/** The not-found error for a family, listing the families that exist. */
export function unknownFamily(f: FormulaService, family: string, field: string): LedgerError {
  const known = f.listFamilies().map((x) => x.id);
  return new LedgerError(`${field}: no formula family "${family}"${known.length ? `; known families: ${known.join(', ')}` : ''}`, 'not_found', field);
}

