// The workflow tools: runs and their nodes (start, view, claim, work, report, review, gates), workers and evidence.
import type * as z from 'zod';
import { LedgerError } from '../../ledger/index';
import type { EvidenceRow, NodeRow, RunRow } from '../../ledger/index';
import { explainNext, situationOf } from '../../controller/explain';
import type { RunSituation } from '../../controller/explain';
import { clip, decodeCursor, jsonBytes, PAGE_BUDGET, pageOf, pageOfWindow } from '../paging';
import type { CursorState } from '../paging';
import * as s from '../schemas';
import { afterNodeWrite, afterWrite, checkRun, detail, invalid, needFormulas, READ, readyQuery, summarize, tool, write } from './shared';
import type { ToolContext, ToolDefinition } from './shared';
import { overlaySection, overlaysOf } from './overlays';

/** Default page sizes; a page also ends before its answer passes PAGE_BUDGET bytes. */
const DEFAULT_LIMIT = { ready: 20, nodes: 25, runs: 20, held: 20, evidence: 10 } as const;
/** How many node ids workflow_start lists (a run may have 5000 nodes; workflow_view pages through them). */
const START_IDS = 40;
/** Characters of each run variable an answer shows; runs list them shorter. */
const VAR_TEXT = { run: 300, list: 60 } as const;

/** A run row with long variable values clipped (the resource gascity://run/{id} has them whole). */
function runView(run: RunRow, max: number): z.input<typeof s.runSchema> {
  const more = () => `the resource gascity://run/${run.id}`;
  const vars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(run.vars)) {
    if (typeof v === 'string') vars[k] = clip(v, max, more);
    else if (Array.isArray(v)) vars[k] = v.length > 10 ? [...v.slice(0, 10).map((x) => clip(String(x), max, more)), `…(${v.length - 10} more items; ${more()})`] : v.map((x) => clip(String(x), max, more));
    else vars[k] = v;
  }
  return { ...run, vars, title: clip(run.title, 200, more), taskKey: run.taskKey === null ? null : clip(run.taskKey, 200, more) };
}

/**
 * Up to `count` runs of the runs list (newest first, optionally of one status and family) from where `cursor`
 * points, with the list's length and the window's offset in it. Read by keyset: the runs created before the
 * cursor's last run, through the index of the list's order (runs_created, runs_status or runs_family), so a
 * page costs the same at 100 runs as at 100,000; reading the whole list and cutting a page out of it cost
 * 120-200 ms at 3,000 runs (bench/life.ts). When the cursor's run is gone, the cursor's offset is used.
 */
function runsWindow(ctx: ToolContext, filter: { status?: string; familyId?: string }, cursor: CursorState | undefined, count: number): {
  runs: RunRow[]; offset: number; total: number;
} {
  const where: string[] = [];
  const params: Array<string | number> = [];
  if (filter.status !== undefined) { where.push('status = ?'); params.push(filter.status); }
  if (filter.familyId !== undefined) { where.push('family_id = ?'); params.push(filter.familyId); }
  const sql = ctx.ledger.sql;
  const total = sql.get<{ n: number }>(`SELECT count(*) AS n FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`, params)!.n;
  let after: number | undefined;
  if (cursor?.k) after = sql.get<{ created_seq: number }>('SELECT created_seq FROM runs WHERE id = ?', [cursor.k])?.created_seq;
  if (after !== undefined) { where.push('created_seq < ?'); params.push(after); }
  const skip = after === undefined && cursor ? ` OFFSET ${cursor.o}` : '';
  const ids = sql.all<{ id: string }>(
    `SELECT id FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_seq DESC LIMIT ${count}${skip}`, params);
  return { runs: ids.map((r) => ctx.ledger.getRun(r.id)!), offset: cursor?.o ?? 0, total };
}

/** What waits across the running runs (the latest 50), for an answer that found nothing ready. */
function situationAcross(ctx: ToolContext, runId: string | undefined): RunSituation {
  const now = new Date();
  if (runId !== undefined) {
    const g = ctx.ledger.runGraph(runId)!;
    return situationOf(g.run, g.nodes, now);
  }
  const all: RunSituation = { run: { id: 'every running run', status: 'running' }, ready: 0, held: 0, waiting: [] };
  for (const r of ctx.ledger.listRuns({ status: 'running', limit: 50 })) {
    const g = ctx.ledger.runGraph(r.id);
    if (!g) continue;
    const one = situationOf(g.run, g.nodes, now);
    all.ready += one.ready;
    all.held += one.held;
    all.waiting.push(...one.waiting);
  }
  return all;
}

/** "There is no running run" or what the runs wait for, when nothing is ready. */
function nothingReady(ctx: ToolContext, runId: string | undefined): string {
  const s = situationAcross(ctx, runId);
  if (runId === undefined && s.ready === 0 && s.held === 0 && s.waiting.length === 0) {
    return 'Nothing is ready and nothing waits: start a run with workflow_start (formula_list shows the formulas).';
  }
  return `Nothing is ready to claim. ${explainNext(s)}`;
}

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
    const more = nodeIds.length > START_IDS ? ` It has ${nodeIds.length} nodes; workflow_view {"runId":"${runId}"} pages through them.` : '';
    return {
      runId, title: run.title, familyId: run.familyId, variantId: run.variantId, generation: run.generation, arm: run.arm,
      nodeCount: nodeIds.length, nodeIds: nodeIds.slice(0, START_IDS),
      ...afterWrite(ctx, runId, `Run ${runId} started.${more}`),
    };
  },
});

const workflowView = tool({
  name: 'workflow_view',
  title: 'View a run or list runs',
  description:
    'With `runId`: the run (status, outcome, variant, counts) and a page of its graph: nodes with their states and what they wait for, ' +
    'the edges into them (needs / blocks / parent-child) and the Codex threads bound to them; `states` filters the nodes (e.g. ["ready","blocked"]), ' +
    '`cursor` (the previous answer\'s nextCursor) gives the next page. Without `runId`: recent runs, newest first, optionally filtered by ' +
    '`status` or `family`, a page at a time.',
  input: s.workflowViewInput,
  // branch overlays (issue 13): the run's claims, rounds, coalitions and mail.
  output: s.workflowViewOutput.extend({ overlays: overlaySection.optional() }),
  annotations: READ,
  reads: true,
  run(a, ctx) {
    if (a.runId !== undefined) {
      for (const field of ['status', 'family'] as const) {
        if (a[field] !== undefined) throw invalid(field, 'filters apply when listing runs; leave out `runId` to list, or use `states` to filter the nodes of a run');
      }
      const g = ctx.ledger.runGraph(a.runId);
      if (!g) throw new LedgerError(`runId: no run with id "${a.runId}"; workflow_view without runId lists the runs`, 'not_found', 'runId');
      const states = a.states ? [...new Set(a.states)].sort() : undefined;
      const nodes = states ? g.nodes.filter((n) => states.includes(n.state)) : g.nodes;
      const run = runView(g.run, VAR_TEXT.run);
      const next = explainNext(situationOf(g.run, g.nodes));
      const view = (rows: readonly NodeRow[]) => {
        const ids = new Set(rows.map((n) => n.id));
        return {
          nodes: rows.map(summarize),
          edges: g.edges.filter((e) => ids.has(e.to)),
          bindings: g.bindings.filter((b) => ids.has(b.nodeId)),
        };
      };
      // The overlays section (bounded to OVERLAY_SECTION_BUDGET) comes out of the page's budget.
      const overlays = overlaysOf(ctx, a.runId);
      const page = pageOf(nodes, {
        query: `workflow_view:${a.runId}:${states?.join(',') ?? '*'}`, cursor: a.cursor, limit: a.limit ?? DEFAULT_LIMIT.nodes, key: (n) => n.id,
        wrap: (p) => ({ run, ...view(p.rows), total: p.total, nextCursor: p.nextCursor, next }),
        ...(overlays ? { budget: PAGE_BUDGET - jsonBytes({ overlays }) } : {}),
      });
      const out = { run, ...view(page.rows), total: page.total, nextCursor: page.nextCursor, next, ...(overlays ? { overlays } : {}) };
      // One node with hundreds of needs can pass the budget alone; its edges are then cut, and said to be.
      if (jsonBytes(out) > PAGE_BUDGET) {
        const kept = out.edges.length;
        while (out.edges.length > 0 && jsonBytes(out) > PAGE_BUDGET - 200) out.edges.pop();
        out.next = `${next} (Only ${out.edges.length} of ${kept} edges into these nodes are shown; the resource gascity://run/${a.runId} has them all.)`;
      }
      return out;
    }
    if (a.states !== undefined) throw invalid('states', 'filters the nodes of a run; give `runId` too');
    const query = `workflow_view:runs:${a.status ?? '*'}:${a.family ?? '*'}`;
    const limit = a.limit ?? DEFAULT_LIMIT.runs;
    const window = runsWindow(ctx, { status: a.status, familyId: a.family }, a.cursor === undefined ? undefined : decodeCursor(a.cursor, query), limit + 1);
    const page = pageOfWindow(window.runs, {
      query, limit, key: (r) => r.id, offset: window.offset, total: window.total,
      wrap: (p) => ({ runs: p.rows.map((r) => runView(r, VAR_TEXT.list)), total: p.total, nextCursor: p.nextCursor }),
    });
    return { runs: page.rows.map((r) => runView(r, VAR_TEXT.list)), total: page.total, nextCursor: page.nextCursor };
  },
});

const NEXT_READY = 'Claim one with node_claim (its nodeId, or no nodeId for the oldest); nextCursor pages on.';

const readyWork = tool({
  name: 'ready_work',
  title: 'List ready nodes',
  description:
    'Nodes that can be claimed now (their needs are done, gates open, no live claim), oldest first, across running runs or in one run, ' +
    'a page at a time (`cursor`: the previous answer\'s nextCursor). Claim one with node_claim to work on it. When nothing is ready, `next` ' +
    'says what the runs wait for (a person, a review, a time, another run).',
  input: s.readyWorkInput,
  output: s.readyWorkOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    checkRun(ctx, a.runId);
    const page = pageOf(ctx.ledger.readyWork({ runId: a.runId, limit: 1000 }), {
      query: readyQuery(a.runId), cursor: a.cursor, limit: a.limit ?? DEFAULT_LIMIT.ready, key: (n) => n.id,
      wrap: (p) => ({ nodes: p.rows.map(summarize), total: p.total, nextCursor: p.nextCursor, next: NEXT_READY }),
    });
    const next = page.total > 0 ? NEXT_READY : nothingReady(ctx, a.runId);
    return { nodes: page.rows.map(summarize), total: page.total, nextCursor: page.nextCursor, next };
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
    if (!c) return { claimed: false, claimId: null, expiresAt: null, node: null, next: nothingReady(ctx, a.runId) };
    const node = ctx.ledger.getNode(c.nodeId)!;
    const next = `You hold ${node.id} until ${c.expiresAt}: call node_dispatch with your thread id, do its instructions, then node_report ` +
      `"done" with a summary (or "failed")${node.review ? '; it then waits for a review' : ''}. On long work renew with node_renew before the lease ends.`;
    return { claimed: true, claimId: c.claimId, expiresAt: c.expiresAt, node: detail(node), next };
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
    'attempts remain). A node marked for review then waits for a reviewer or a person. Returns the node\'s and the run\'s new state, the ' +
    'nodes now ready, what waits (for a person, a review, a time, another run) and, in `next`, what happens next in words.',
  input: s.nodeReportInput,
  output: s.nodeReportOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.reportNode(a, ctx.actor);
    return { ...r, ...afterNodeWrite(ctx, a.nodeId) };
  },
});

const nodeReview = tool({
  name: 'node_review',
  title: 'Review a reported node',
  description:
    'Give the verdict on a node waiting for review: "approve" finishes it, so the nodes after it may become ready; "reject" (with a `note` ' +
    'saying what to fix) sends it back: ready to be claimed again while attempts remain, else escalated to a person or failed, as its step ' +
    'says. The answer says which in `next`, with the nodes now ready and what waits.',
  input: s.nodeReviewInput,
  output: s.nodeStateOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.reviewNode(a, ctx.actor);
    return { ...r, ...afterNodeWrite(ctx, a.nodeId) };
  },
});

const gateOpen = tool({
  name: 'gate_open',
  title: 'Open a gate for a person',
  description:
    'Open the gate a node waits at, for a person: a human gate, an escalation (a node whose attempts ran out; it gets one more attempt), ' +
    'or a timer or run gate early. Only call it when the person asked you to; Codex asks them before it runs. Put what they said in `note`. ' +
    'Returns the node\'s new state, the nodes now ready and what happens next.',
  input: s.gateOpenInput,
  output: s.nodeStateOutput,
  annotations: write({ destructive: true, idempotent: false }),
  async run(a, ctx) {
    const r = await ctx.ledger.openGate(a, ctx.actor);
    return { ...r, ...afterNodeWrite(ctx, a.nodeId) };
  },
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
    const lead = `${a.nodeId} now waits for its ${r.childIds.length} children and is ready again once they are done.`;
    return { ...r, ...afterNodeWrite(ctx, a.nodeId, lead) };
  },
});

/**
 * Up to `count` of a node's evidence rows, newest first, from where `cursor` points, with how many the node has
 * and the window's offset. The cursor's last row is found by its place in the evidence_node index (the rows
 * newer than it), so the first page reads `count` rows however much evidence the node has, instead of all of
 * it (up to 10,000 rows) for every view. Rows past the 10,000 newest stay out of reach, as before.
 */
function evidenceWindow(ctx: ToolContext, nodeId: string, cursor: CursorState | undefined, count: number): {
  rows: EvidenceRow[]; offset: number; total: number;
} {
  const sql = ctx.ledger.sql;
  const total = sql.get<{ n: number }>('SELECT count(*) AS n FROM evidence WHERE node_id = ?', [nodeId])!.n;
  let offset = cursor?.o ?? 0;
  const last = cursor?.k ? sql.get<{ seq: number }>('SELECT seq FROM evidence WHERE id = ? AND node_id = ?', [cursor.k, nodeId]) : undefined;
  if (last) offset = sql.get<{ n: number }>('SELECT count(*) AS n FROM evidence WHERE node_id = ? AND seq >= ?', [nodeId, last.seq])!.n;
  if (offset >= EVIDENCE_REACH) return { rows: [], offset, total };
  return { rows: ctx.ledger.evidence({ nodeId, limit: Math.min(EVIDENCE_REACH, offset + count) }).slice(offset), offset, total };
}

/** The newest evidence rows of a node that worker_peek pages through (Ledger.evidence reads at most this many). */
const EVIDENCE_REACH = 10_000;

/** Characters of an evidence note that worker_peek shows. */
const EVIDENCE_NOTE = 300;

const workerPeek = tool({
  name: 'worker_peek',
  title: 'What a worker holds / who holds a node',
  description:
    'With `worker`: the nodes that worker holds (claimed or active) and their leases, a page at a time (`cursor`). With `nodeId`: the node ' +
    '(state, what it waits for, holder, lease, instructions, latest result), the threads bound to it and its evidence (`evidenceCursor` pages ' +
    'on). Long instructions and results are clipped; `instructionsFrom` / `resultFrom` show them from the character the clipped text names.',
  input: s.workerPeekInput,
  // branch overlays (issue 13): the node's rounds, coalitions, claims and unread mail.
  output: s.workerPeekOutput.extend({ overlays: overlaySection.optional() }),
  annotations: READ,
  reads: true,
  run(a, ctx) {
    if (a.worker === undefined && a.nodeId === undefined) throw invalid('worker', 'give `worker` (what it holds) or `nodeId` (who holds it), or both');
    if (a.worker === undefined && a.cursor !== undefined) throw invalid('cursor', 'pages the nodes of `worker`; give `worker` too');
    if (a.nodeId === undefined) {
      for (const field of ['evidenceCursor', 'instructionsFrom', 'resultFrom'] as const) {
        if (a[field] !== undefined) throw invalid(field, 'applies to the node named by `nodeId`; give `nodeId` too');
      }
    }
    // The node's overlays section (bounded) comes out of the budget of the node and held parts.
    const peeked = a.nodeId !== undefined ? ctx.ledger.getNode(a.nodeId) : undefined;
    const overlays = peeked ? overlaysOf(ctx, peeked.runId, peeked.id) : undefined;
    const budget = PAGE_BUDGET - (overlays ? jsonBytes({ overlays }) : 0);
    // The node part first: the held page is cut to fit beside it.
    let part: Omit<z.input<typeof s.workerPeekOutput>, 'worker' | 'held' | 'total' | 'nextCursor'> = {
      node: null, bindings: [], evidence: [], evidenceTotal: 0, evidenceNextCursor: null,
    };
    if (a.nodeId !== undefined) {
      const node = ctx.ledger.getNode(a.nodeId);
      if (!node) throw new LedgerError(`nodeId: no node with id "${a.nodeId}"`, 'not_found', 'nodeId');
      const shown = detail(node, { instructions: a.instructionsFrom, result: a.resultFrom });
      // The latest bindings: a node is rebound when a turn is resumed in another thread.
      const bindings = (ctx.ledger.runGraph(node.runId)?.bindings ?? []).filter((b) => b.nodeId === node.id).slice(-5);
      const query = `worker_peek:evidence:${node.id}`;
      const window = evidenceWindow(ctx, node.id, a.evidenceCursor === undefined ? undefined : decodeCursor(a.evidenceCursor, query, 'evidenceCursor'), DEFAULT_LIMIT.evidence + 1);
      const rows = window.rows.map((e) => ({ ...e, note: clip(e.note, EVIDENCE_NOTE, () => '`gascity events`') }));
      const half = Math.floor(budget * (a.worker === undefined ? 1 : 0.6));
      const page = pageOfWindow(rows, {
        query, offset: window.offset, total: window.total, limit: DEFAULT_LIMIT.evidence, key: (e) => e.id, budget: half,
        wrap: (p) => ({ node: shown, bindings, evidence: p.rows, evidenceTotal: p.total, evidenceNextCursor: p.nextCursor }),
      });
      part = { node: shown, bindings, evidence: page.rows, evidenceTotal: page.total, evidenceNextCursor: page.nextCursor };
    }
    let held: NodeRow[] = [];
    if (a.worker !== undefined) {
      // Answered from the nodes-by-worker index, not by reading every running run's graph.
      held = ctx.ledger.heldBy(a.worker);
    }
    const page = pageOf(held, {
      query: `worker_peek:${a.worker ?? ''}`, cursor: a.cursor, limit: DEFAULT_LIMIT.held, key: (n) => n.id,
      wrap: (p) => ({ worker: a.worker ?? null, held: p.rows.map(summarize), total: p.total, nextCursor: p.nextCursor, ...part }), budget,
    });
    return { worker: a.worker ?? null, held: page.rows.map(summarize), total: page.total, nextCursor: page.nextCursor, ...part, ...(overlays ? { overlays } : {}) };
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
  workflowStart, workflowView, readyWork, nodeClaim, nodeRenew, nodeDispatch, nodeReport, nodeReview, gateOpen, nodeRecover, nodeHandoff,
  nodeExpand, workerPeek, evidenceRecord, workflowCancel,
];
