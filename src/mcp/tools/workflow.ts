// The workflow tools: runs and their nodes (start, view, claim, work, report, review, gates), workers and evidence.
import type * as z from 'zod';
import { LedgerError } from '../../ledger/index';
import * as s from '../schemas';
import { checkRun, detail, invalid, needFormulas, READ, readyInRunOf, summarize, tool, write } from './shared';
import type { ToolDefinition } from './shared';

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

export const WORKFLOW_TOOLS: readonly ToolDefinition[] = [
  workflowStart, workflowView, readyWork, nodeClaim, nodeRenew, nodeDispatch, nodeReport, nodeReview, nodeRecover, nodeHandoff, nodeExpand,
  workerPeek, evidenceRecord, workflowCancel,
];
