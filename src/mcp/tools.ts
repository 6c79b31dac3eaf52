import type * as z from 'zod';
import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { LedgerError } from '../ledger/index';
import type { Assessment, DecisionRecord, EvaluationResult, FamilyRow, FormulaService, Ledger, NodeRow, PromotionService } from '../ledger/index';
import { toMutation } from './mutations';
import * as s from './schemas';
import { validate } from './validate';

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

function tool<I extends z.ZodObject, O extends z.ZodObject>(spec: ToolSpec<I, O>): ToolDefinition {
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    input: spec.input,
    output: spec.output,
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

const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const write = (o: { destructive: boolean; idempotent: boolean }): ToolAnnotations =>
  ({ readOnlyHint: false, destructiveHint: o.destructive, idempotentHint: o.idempotent, openWorldHint: false });

/** A node without its (possibly long) instructions and result: what lists show. */
export function summarize(n: NodeRow): z.input<typeof s.nodeSummary> {
  return {
    id: n.id, runId: n.runId, stepId: n.stepId, title: n.title, state: n.state, attempts: n.attempts, maxAttempts: n.maxAttempts,
    worker: n.worker, leaseExpires: n.leaseExpires, review: n.review, gate: n.gate, gateOpen: n.gateOpen, updatedAt: n.updatedAt,
  };
}

function detail(n: NodeRow): z.input<typeof s.nodeDetail> {
  return { ...summarize(n), instructions: n.instructions, unmet: n.unmet, onExhausted: n.onExhausted, claimId: n.claimId, result: n.result, tokens: n.tokens, durationMs: n.durationMs };
}

function needFormulas(ctx: ToolContext): FormulaService {
  if (!ctx.formulas) throw new LedgerError('this server was started without formula support', 'conflict');
  return ctx.formulas;
}

function needPromotions(ctx: ToolContext): PromotionService {
  if (!ctx.promotions) throw new LedgerError('this server was started without promotion support', 'conflict');
  return ctx.promotions;
}

/** Checks that the run a tool was pointed at (if any) exists. */
function checkRun(ctx: ToolContext, runId: string | undefined): void {
  if (runId !== undefined && !ctx.ledger.getRun(runId)) throw new LedgerError(`runId: no run with id "${runId}"`, 'not_found', 'runId');
}

/** The nodes ready now in the run of a node, after a write to it. */
function readyInRunOf(ctx: ToolContext, nodeId: string): Array<z.input<typeof s.nodeSummary>> {
  const node = ctx.ledger.getNode(nodeId)!;
  return ctx.ledger.readyWork({ runId: node.runId }).map(summarize);
}

/** The family named by the tool's `family` field, or an error listing the known ones. */
function needFamily(f: FormulaService, family: string): FamilyRow {
  const row = f.getFamily(family);
  if (!row) throw unknownFamily(f, family, 'family');
  return row;
}

function invalid(field: string, message: string): LedgerError {
  return new LedgerError(`${field}: ${message}`, 'invalid_input', field);
}

// ---- workflow tools ---------------------------------------------------------------------------------

const workflowStart = tool({
  name: 'workflow_start',
  title: 'Start a workflow run',
  description:
    'Start a workflow run in the workspace ledger. Either run a formula family (give `family`, and `vars` / `items` / `taskKey` as the ' +
    'formula needs; see formula_list and formula_view) or give an ad-hoc plan (`title` and `nodes`, each node with a unique `key` and ' +
    '`needs` naming the keys it waits for). Returns the run id, every node id, and the nodes that are ready to claim now.',
  input: s.workflowStartInput,
  output: s.workflowStartOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    let runId: string;
    let nodeIds: string[];
    if (a.family !== undefined) {
      if (a.nodes !== undefined) throw invalid('nodes', 'give either `family` (to run a formula) or `nodes` (an ad-hoc plan), not both');
      const r = await needFormulas(ctx).startRunFromFormula(
        { family: a.family, variantId: a.variantId, title: a.title, vars: a.vars ?? {}, taskKey: a.taskKey, items: a.items }, ctx.actor);
      ({ runId, nodeIds } = r);
    } else {
      if (a.nodes === undefined) throw invalid('nodes', 'give `family` to run a formula, or `title` and `nodes` for an ad-hoc plan');
      if (a.title === undefined) throw invalid('title', 'an ad-hoc plan needs a title');
      for (const field of ['variantId', 'vars', 'items'] as const) {
        if (a[field] !== undefined) throw invalid(field, 'only applies when running a formula `family`');
      }
      ({ runId, nodeIds } = await ctx.ledger.startRun({ title: a.title, taskKey: a.taskKey ?? null, nodes: a.nodes }, ctx.actor));
    }
    const run = ctx.ledger.getRun(runId)!;
    return {
      runId, title: run.title, familyId: run.familyId, variantId: run.variantId, generation: run.generation, arm: run.arm, nodeIds,
      ready: ctx.ledger.readyWork({ runId }).map(summarize),
    };
  },
});

const workflowView = tool({
  name: 'workflow_view',
  title: 'View a run or list runs',
  description:
    'With `runId`: the run (status, outcome, variant, counts) and its graph: nodes with their states, edges (needs / blocks / parent-child) ' +
    'and the Codex threads bound to nodes. Without `runId`: recent runs, newest first, optionally filtered by `status` or `family`.',
  input: s.workflowViewInput,
  output: s.workflowViewOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    if (a.runId !== undefined) {
      for (const field of ['status', 'family', 'limit'] as const) {
        if (a[field] !== undefined) throw invalid(field, 'filters apply when listing runs; leave out `runId` to list');
      }
      const g = ctx.ledger.runGraph(a.runId);
      if (!g) throw new LedgerError(`runId: no run with id "${a.runId}"; workflow_view without runId lists the runs`, 'not_found', 'runId');
      return { run: g.run, nodes: g.nodes.map(summarize), edges: g.edges, bindings: g.bindings };
    }
    return { runs: ctx.ledger.listRuns({ status: a.status, familyId: a.family, limit: a.limit ?? 50 }) };
  },
});

const readyWork = tool({
  name: 'ready_work',
  title: 'List ready nodes',
  description:
    'Nodes that can be claimed now (their needs are done, gates open, no live claim), oldest first, across running runs or in one run. ' +
    'Claim one with node_claim to work on it.',
  input: s.readyWorkInput,
  output: s.readyWorkOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    checkRun(ctx, a.runId);
    return { nodes: ctx.ledger.readyWork({ runId: a.runId, limit: a.limit }).map(summarize) };
  },
});

const nodeClaim = tool({
  name: 'node_claim',
  title: 'Claim a node',
  description:
    'Claim a node for `worker` with a lease: the node named, or the oldest ready node (of `runId` if given). Returns the node with its ' +
    'instructions; `claimed` is false when nothing is ready. While you hold it, call node_dispatch with your thread id, node_renew before ' +
    'the lease runs out on long work, and node_report when done. A node held by someone else cannot be claimed until its lease expires.',
  input: s.nodeClaimInput,
  output: s.nodeClaimOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    checkRun(ctx, a.runId);
    const c = await ctx.ledger.claimNode(a, ctx.actor);
    if (!c) return { claimed: false, claimId: null, expiresAt: null, node: null };
    return { claimed: true, claimId: c.claimId, expiresAt: c.expiresAt, node: detail(ctx.ledger.getNode(c.nodeId)!) };
  },
});

const nodeRenew = tool({
  name: 'node_renew',
  title: 'Renew a claim',
  description: 'Extend your lease on a node you hold, so nobody takes it over while you are still working on it.',
  input: s.nodeRenewInput,
  output: s.nodeRenewOutput,
  annotations: write({ destructive: false, idempotent: true }),
  async run(a, ctx) {
    const r = await ctx.ledger.renewLease(a, ctx.actor);
    return { nodeId: a.nodeId, expiresAt: r.expiresAt };
  },
});

const nodeDispatch = tool({
  name: 'node_dispatch',
  title: 'Start work on a claimed node',
  description:
    'Mark a node you claimed as being worked on (state active) and bind your Codex thread to it (`threadId`), so the work can be followed ' +
    'and resumed. Calling it again with another thread id rebinds the node.',
  input: s.nodeDispatchInput,
  output: s.nodeDispatchOutput,
  annotations: write({ destructive: false, idempotent: true }),
  async run(a, ctx) {
    const r = await ctx.ledger.dispatchNode(a, ctx.actor);
    return { nodeId: r.nodeId, state: r.state, threadId: a.threadId ?? null };
  },
});

const nodeReport = tool({
  name: 'node_report',
  title: 'Report a node done or failed',
  description:
    'Report the outcome of a node you hold: "done" with a `summary` of what was done (the next nodes read it), or "failed" (retried while ' +
    'attempts remain). A node marked for review waits for node_review. Returns the node\'s and the run\'s new state and the nodes now ready.',
  input: s.nodeReportInput,
  output: s.nodeReportOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.reportNode(a, ctx.actor);
    return { ...r, ready: readyInRunOf(ctx, a.nodeId) };
  },
});

const nodeReview = tool({
  name: 'node_review',
  title: 'Review a reported node',
  description: 'Give the verdict on a node waiting for review: "approve" finishes it, "reject" (with a `note` saying what to fix) sends it back to be done again.',
  input: s.nodeReviewInput,
  output: s.nodeStateOutput,
  annotations: write({ destructive: false, idempotent: false }),
  run: (a, ctx) => ctx.ledger.reviewNode(a, ctx.actor),
});

const nodeRecover = tool({
  name: 'node_recover',
  title: 'Take back abandoned nodes',
  description:
    'Put nodes whose lease has expired back to ready (all of them, or the one named) so another worker can claim them. `force` also breaks ' +
    'a live claim: use it only when you know the holder is gone, since its work will be done again.',
  input: s.nodeRecoverInput,
  output: s.nodeRecoverOutput,
  annotations: write({ destructive: true, idempotent: true }),
  run: (a, ctx) => ctx.ledger.recoverNodes(a, ctx.actor),
});

const nodeHandoff = tool({
  name: 'node_handoff',
  title: 'Hand a node to another worker',
  description: 'Move your claim on a node to another worker, with a `note` telling them where the work stands. You can no longer report it afterwards.',
  input: s.nodeHandoffInput,
  output: s.nodeHandoffOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.handoffNode(a, ctx.actor);
    return { ...r, toWorker: a.toWorker };
  },
});

const nodeExpand = tool({
  name: 'node_expand',
  title: 'Fan a node out into children',
  description:
    'Split a node you hold into child nodes discovered at run time (for example one per file). The children become ready (subject to their ' +
    '`needs`); the expanded node waits for all of them and is then ready again, so you can claim it to merge the results.',
  input: s.nodeExpandInput,
  output: s.nodeExpandOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.expandNode(a, ctx.actor);
    return { ...r, ready: readyInRunOf(ctx, a.nodeId) };
  },
});

const workerPeek = tool({
  name: 'worker_peek',
  title: 'What a worker holds / who holds a node',
  description:
    'With `worker`: the nodes that worker holds (claimed or active) and their leases. With `nodeId`: the node in full (state, holder, lease, ' +
    'instructions, latest result), the threads bound to it and its evidence. Give one or both.',
  input: s.workerPeekInput,
  output: s.workerPeekOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    if (a.worker === undefined && a.nodeId === undefined) throw invalid('worker', 'give `worker` (what it holds) or `nodeId` (who holds it), or both');
    let held: Array<z.input<typeof s.nodeSummary>> = [];
    if (a.worker !== undefined) {
      // The ledger has no query by worker yet, so the running runs' graphs are scanned; they are few.
      held = ctx.ledger.listRuns({ status: 'running', limit: 10_000 })
        .flatMap((r) => ctx.ledger.runGraph(r.id)?.nodes ?? [])
        .filter((n) => n.worker === a.worker && (n.state === 'claimed' || n.state === 'active'))
        .map(summarize);
    }
    if (a.nodeId === undefined) return { worker: a.worker ?? null, held, node: null, bindings: [], evidence: [] };
    const node = ctx.ledger.getNode(a.nodeId);
    if (!node) throw new LedgerError(`nodeId: no node with id "${a.nodeId}"`, 'not_found', 'nodeId');
    const bindings = (ctx.ledger.runGraph(node.runId)?.bindings ?? []).filter((b) => b.nodeId === node.id);
    const evidence = ctx.ledger.evidence({ runId: node.runId, limit: 10_000 }).filter((e) => e.nodeId === node.id).slice(0, 50);
    return { worker: a.worker ?? null, held, node: detail(node), bindings, evidence };
  },
});

const evidenceRecord = tool({
  name: 'evidence_record',
  title: 'Record evidence',
  description:
    'Record evidence about a run, node or formula variant: the run\'s outcome (`kind` run_outcome with `success`), a person\'s intervention, ' +
    'a review rejection, tokens or duration, or a note. Evidence decides which formula variants get promoted, so record what happened, not a guess.',
  input: s.evidenceRecordInput,
  output: s.evidenceRecordOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.recordEvidence(a, ctx.actor);
    // Reads back the attribution the ledger applied (the run's variant wins) by id lookups; searching the
    // evidence table for the new row would cost more than the write as a run's evidence grows.
    const runId = a.runId ?? (a.nodeId ? ctx.ledger.getNode(a.nodeId)?.runId : undefined) ?? null;
    const variantId = (runId ? ctx.ledger.getRun(runId)?.variantId : null) ?? a.variantId ?? null;
    return { evidenceId: r.evidenceId, runId, variantId };
  },
});

const workflowCancel = tool({
  name: 'workflow_cancel',
  title: 'Cancel a run',
  description: 'Cancel a running run: its open nodes can no longer be claimed. It cannot be resumed, so only do this when the run should stop.',
  input: s.workflowCancelInput,
  output: s.workflowCancelOutput,
  annotations: write({ destructive: true, idempotent: false }),
  async run(a, ctx) {
    await ctx.ledger.cancelRun(a, ctx.actor);
    return { runId: a.runId, status: ctx.ledger.getRun(a.runId)!.status };
  },
});

// ---- formula tools ----------------------------------------------------------------------------------

const formulaList = tool({
  name: 'formula_list',
  title: 'List formula families or variants',
  description:
    'Without `family`: the formula families (workflow templates) in the ledger with their active variant. With `family`: that family and ' +
    'its variants (generation, parents, status, how many runs and successes). Start a run with workflow_start { family }.',
  input: s.formulaListInput,
  output: s.formulaListOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    if (a.family === undefined) return { families: f.listFamilies() };
    return { family: needFamily(f, a.family), variants: f.listVariants(a.family) };
  },
});

const formulaView = tool({
  name: 'formula_view',
  title: 'View a formula variant',
  description:
    'A formula variant\'s text (TOML: vars and steps with their instructions), its lineage record and, unless `diff` is false, the diff ' +
    'against its parent. Give `variantId`, or `family` for the active variant. Use it before formula_mutate to see the step ids.',
  input: s.formulaViewInput,
  output: s.formulaViewOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    let variantId = a.variantId;
    if (variantId === undefined) {
      if (a.family === undefined) throw invalid('variantId', 'give `variantId`, or `family` for its active variant');
      const family = needFamily(f, a.family);
      if (!family.activeVariantId) throw new LedgerError(`family: ${a.family} has no active variant; give variantId`, 'conflict', 'family');
      variantId = family.activeVariantId;
    }
    const variant = f.getVariant(variantId);
    if (!variant) throw new LedgerError(`variantId: no variant with id "${variantId}"`, 'not_found', 'variantId');
    if (a.family !== undefined && a.variantId !== undefined && variant.familyId !== a.family) {
      throw invalid('variantId', `variant ${variantId} belongs to family ${variant.familyId}, not ${a.family}`);
    }
    return {
      variant, active: f.getFamily(variant.familyId)?.activeVariantId === variant.id, formula: f.variantText(variantId) ?? '',
      diff: a.diff === false ? null : f.diffVariant(variantId),
    };
  },
});

const formulaMutate = tool({
  name: 'formula_mutate',
  title: 'Propose a formula mutation',
  description:
    'Propose a change to a formula: apply structured edits (`mutations`, in order) to a variant and record the result as a new candidate ' +
    'variant one generation later, with the diff and the lineage. It does not become active: promotion needs evidence or a person. The same ' +
    'content as an existing variant returns that variant (created false); content that was rejected before is refused. Get step ids from formula_view.',
  input: s.formulaMutateInput,
  output: s.formulaMutateOutput,
  annotations: write({ destructive: false, idempotent: true }),
  run(a, ctx) {
    return needFormulas(ctx).mutateVariant({
      variantId: a.variantId, mutations: a.mutations.map(toMutation), summary: a.summary, proposedBy: a.proposedBy ?? ctx.actor ?? 'codex',
    }, ctx.actor);
  },
});

const formulaAssess = tool({
  name: 'formula_assess',
  title: 'Assess a variant against the active one',
  description:
    'Where a variant stands, without changing anything: its trial and stage, both arms\' runs and successes, the probability it is better, ' +
    'the guardrails (interventions, review rejections, tokens, duration), the verdict the family\'s recorded rule would give now, and the ' +
    'evidence still missing. Give `variantId`, or `family` for the candidate of its live trial.',
  input: s.formulaAssessInput,
  output: s.formulaAssessOutput,
  annotations: READ,
  reads: true,
  async run(a, ctx) {
    const p = needPromotions(ctx);
    let variantId = a.variantId;
    if (variantId === undefined) {
      if (a.family === undefined) throw invalid('variantId', 'give `variantId`, or `family` for the candidate of its live trial');
      needFamily(needFormulas(ctx), a.family);
      const live = p.liveTrialOf(a.family);
      if (!live) throw new LedgerError(`family: ${a.family} has no live trial; give the variantId to assess (formula_list shows the candidates)`, 'not_found', 'family');
      variantId = live.candidateId;
    }
    const r = await p.assess(variantId);
    return toAssessment(r, p.decisions(r.familyId, { limit: 5 }));
  },
});

const formulaSelect = tool({
  name: 'formula_select',
  title: 'Put a candidate on trial',
  description:
    'Select a candidate variant (from formula_mutate) for an evidence-gated trial against the family\'s active variant. In the "trial" stage a ' +
    'share of new runs of the family (workflow_start { family }) use the candidate, the same taskKey always on the same arm; each finished run ' +
    'is evidence, and the family\'s recorded rule promotes, rejects or pauses for a person. A family has at most one live trial.',
  input: s.formulaSelectInput,
  output: s.trialRow,
  annotations: write({ destructive: false, idempotent: false }),
  run: (a, ctx) => needPromotions(ctx).startTrial({ variantId: a.variantId, stage: a.stage }, ctx.actor),
});

const formulaPromote = tool({
  name: 'formula_promote',
  title: 'Make a variant active',
  description:
    'Make a variant the active variant of its family, as a recorded decision with your `reason` and the numbers at the time; the variant it ' +
    'replaces is kept for rollback and a watch window compares the new one against it. New runs of the family use it. Only do this when a ' +
    'person asked for it or formula_assess says the evidence supports it; otherwise let the trial decide.',
  input: s.formulaPromoteInput,
  output: s.evaluationOutput,
  annotations: write({ destructive: true, idempotent: false }),
  async run(a, ctx) {
    const r = await needPromotions(ctx).promote(a.variantId, { actor: decider(ctx, a.decidedBy), reason: a.reason });
    return withActive(ctx, r);
  },
});

const formulaRollback = tool({
  name: 'formula_rollback',
  title: 'Roll a family back',
  description:
    'Make the variant that was active before the current one active again, recorded with your `reason`. The variant rolled away from is ' +
    'marked rejected so it is not proposed again. Use it when the current variant does worse than the one before.',
  input: s.formulaRollbackInput,
  output: s.evaluationOutput,
  annotations: write({ destructive: true, idempotent: false }),
  fields: { familyId: 'family' },
  async run(a, ctx) {
    const f = needFormulas(ctx);
    needFamily(f, a.family);
    // A promotion under watch is rolled back through the promotion service, so the decision is recorded with its numbers.
    const watch = ctx.promotions?.liveTrialOf(a.family);
    if (ctx.promotions && watch?.stage === 'watch') {
      return withActive(ctx, await ctx.promotions.reject(watch.candidateId, { actor: decider(ctx, undefined), reason: a.reason }));
    }
    const r = await f.rollback({ familyId: a.family, reason: a.reason }, ctx.actor);
    return withActive(ctx, { familyId: r.familyId, trialId: null, action: 'rolled_back', verdict: null, decisionId: null, reason: a.reason });
  },
});

/** The actor of a decision: the person named, noting that it came through this server. */
function decider(ctx: ToolContext, decidedBy: string | undefined): string {
  const via = ctx.actor ?? ctx.ledger.actor;
  return decidedBy ? `${decidedBy} (via ${via})` : via;
}

function withActive(ctx: ToolContext, r: EvaluationResult): z.input<typeof s.evaluationOutput> {
  return { ...r, activeVariantId: ctx.formulas?.getFamily(r.familyId)?.activeVariantId ?? null };
}

function toAssessment(r: Assessment, decisions: DecisionRecord[]): z.input<typeof s.formulaAssessOutput> {
  const st = r.statistics;
  return {
    variantId: r.variantId, familyId: r.familyId, status: r.status, trial: r.trial, stage: r.stage, arms: r.arms,
    statistics: { probBetter: st.probBetter, expectedLoss: st.expectedLoss, sprtLLR: st.sprtLLR, sprtVerdict: st.sprtVerdict, pairs: st.pairs ? { ...st.pairs } : null },
    guardrails: r.guardrails.map((g) => ({
      name: g.name, enabled: g.enabled, incumbent: g.incumbent, candidate: g.candidate, worsening: g.worsening, bound: g.bound, status: g.status,
    })),
    verdict: r.verdict, reason: r.reason, missing: r.missing, policyVersion: r.policyVersion, policyHash: r.policyHash,
    decisions: decisions.map((d) => ({
      id: d.id, candidateId: d.candidateId, incumbentId: d.incumbentId, trialId: d.trialId, stage: d.stage, verdict: d.verdict, actor: d.actor,
      reason: d.reason, policyVersion: d.policyVersion, at: d.at,
    })),
  };
}

const lineageView = tool({
  name: 'lineage_view',
  title: 'View a family\'s lineage',
  description: 'A formula family\'s lineage: every variant with its parents, generation, status and run counts, and every change of the active variant with its reason.',
  input: s.lineageViewInput,
  output: s.lineageViewOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    const l = f.lineage(a.family);
    if (!l) throw unknownFamily(f, a.family, 'family');
    return l;
  },
});

function unknownFamily(f: FormulaService, family: string, field: string): LedgerError {
  const known = f.listFamilies().map((x) => x.id);
  return new LedgerError(`${field}: no formula family "${family}"${known.length ? `; known families: ${known.join(', ')}` : ''}`, 'not_found', field);
}

export const WORKFLOW_TOOLS: readonly ToolDefinition[] = [
  workflowStart, workflowView, readyWork, nodeClaim, nodeRenew, nodeDispatch, nodeReport, nodeReview, nodeRecover, nodeHandoff, nodeExpand,
  workerPeek, evidenceRecord, workflowCancel,
];

export const FORMULA_TOOLS: readonly ToolDefinition[] = [formulaList, formulaView, formulaMutate, formulaRollback, lineageView];

export const PROMOTION_TOOLS: readonly ToolDefinition[] = [formulaAssess, formulaSelect, formulaPromote];
