import type { EdgeSpec, EventKind, EventPayloads, GateSpec, NodeSpec, NodeState } from './events';
import { BLOCKING_EDGE_KINDS } from './events';
import { trackTrialArms } from './promotion/arms';
import { applyArchived } from './archive';
import { OVERLAY_HANDLERS } from './overlays/projection';
import { SCHEMA_VERSION, migrate } from './schema';
import type { StoredEvent } from './store/journal';
import type { Projection } from './store/store';
import type { Sql } from './store/sql';

/**
 * Applies events to the tables. Everything here is a deterministic function of the event and the
 * tables, so replaying the journal from nothing gives the same tables (the replay tests check it).
 */
export const ledgerProjection: Projection = {
  schemaVersion: SCHEMA_VERSION,
  migrate,
  apply(sql, e) {
    const handler = handlers[e.kind as EventKind] as Handler<EventKind> | undefined;
    if (!handler) throw new Error(`unknown event kind "${e.kind}"`);
    handler(sql, e.payload as never, e);
    // Per-arm counts of live trials follow the runs they count (promotion/arms.ts).
    trackTrialArms(sql, e);
  },
};

type Handler<K extends EventKind> = (sql: Sql, p: EventPayloads[K], e: StoredEvent) => void;
const BLOCKING = BLOCKING_EDGE_KINDS.map((k) => `'${k}'`).join(',');

interface NodeRow {
  id: string;
  run_id: string;
  state: NodeState;
  unmet: number;
  attempts: number;
  max_attempts: number;
  on_exhausted: string;
  gate: string | null;
  gate_open: number;
  review: number;
  skip: number;
  claim_id: string | null;
  lease_expires: string | null;
  worker: string | null;
}

function node(sql: Sql, id: string): NodeRow {
  const n = sql.get<NodeRow>('SELECT * FROM nodes WHERE id = ?', [id]);
  if (!n) throw new Error(`event names unknown node ${id}`);
  return n;
}

function setState(sql: Sql, id: string, state: NodeState, ts: string): void {
  sql.run('UPDATE nodes SET state = ?, updated_at = ? WHERE id = ?', [state, ts, id]);
}

function releaseClaim(sql: Sql, n: NodeRow, reason: string, ts: string): void {
  if (n.claim_id) sql.run('UPDATE claims SET released_at = ?, release_reason = ? WHERE id = ? AND released_at IS NULL', [ts, reason, n.claim_id]);
  sql.run('UPDATE nodes SET claim_id = NULL, worker = NULL, lease_expires = NULL WHERE id = ?', [n.id]);
}

/**
 * A node whose blocking inputs are all satisfied becomes ready, or waits at its gate if that is still
 * shut. A node whose `when` was false settles as skipped only now, after its own inputs, and passes
 * that on to its dependents: the work below it must not start before the work above it is done.
 */
function becomeReady(sql: Sql, n: Pick<NodeRow, 'id' | 'gate' | 'gate_open' | 'skip'>, ts: string): void {
  if (n.skip) {
    setState(sql, n.id, 'skipped', ts);
    satisfy(sql, n.id, ts);
    return;
  }
  if (n.gate && !n.gate_open) {
    setState(sql, n.id, 'blocked', ts);
    const gate = JSON.parse(n.gate) as GateSpec;
    // A timer gate's clock starts when the node reaches it; the controller opens it at this time.
    if (gate.kind === 'timer') sql.run('UPDATE nodes SET gate_due_at = ? WHERE id = ?', [new Date(Date.parse(ts) + (gate.seconds ?? 0) * 1000).toISOString(), n.id]);
    return;
  }
  setState(sql, n.id, 'ready', ts);
}

/**
 * A node reached done or skipped: its dependents have one input fewer to wait for. Iterative, so a
 * chain of thousands of skipped steps cannot overflow the stack.
 */
function satisfy(sql: Sql, id: string, ts: string): void {
  const queue = [id];
  while (queue.length) {
    const from = queue.pop()!;
    const deps = sql.all<{ to_id: string }>(`SELECT to_id FROM edges WHERE from_id = ? AND kind IN (${BLOCKING})`, [from]);
    for (const d of deps) {
      sql.run('UPDATE nodes SET unmet = unmet - 1 WHERE id = ?', [d.to_id]);
      const dep = node(sql, d.to_id);
      if (dep.unmet !== 0 || dep.state !== 'pending') continue;
      if (dep.skip) {
        setState(sql, dep.id, 'skipped', ts);
        queue.push(dep.id);
      } else {
        becomeReady(sql, dep, ts);
      }
    }
  }
}

function closeNode(sql: Sql, runId: string, ts: string): void {
  sql.run('UPDATE runs SET open_nodes = open_nodes - 1 WHERE id = ?', [runId]);
  const run = sql.get<{ open_nodes: number; status: string; outcome_source: string | null }>(
    'SELECT open_nodes, status, outcome_source FROM runs WHERE id = ?', [runId]);
  if (run && run.open_nodes === 0 && run.status === 'running') finishRun(sql, runId, 'done', 'success', ts);
}

function finishRun(sql: Sql, runId: string, status: string, outcome: string, ts: string): void {
  // An outcome a person or a reviewer recorded as evidence outranks the one derived from node states, and a
  // run that awaits its formula's checks gets no derived outcome at all: until the checks are recorded its
  // outcome is unknown, so no promotion rule can count the model's word as the result.
  sql.run(
    `UPDATE runs SET status = ?, finished_at = ?,
       outcome = CASE WHEN outcome_source = 'evidence' THEN outcome WHEN awaits_checks = 1 THEN NULL ELSE ? END,
       outcome_source = CASE WHEN outcome_source = 'evidence' THEN outcome_source WHEN awaits_checks = 1 THEN NULL ELSE 'derived' END
     WHERE id = ?`,
    [status, ts, outcome, runId],
  );
}

/**
 * Whether node `n` is ready as it goes in: nothing to wait for (`unmet` counts its unfinished blocking
 * inputs by node id), no gate, no skip. A function of the module, not a closure per run start: the
 * bundle keeps function names (esbuild keepNames), a defineProperty for each closure made.
 */
function readyAtOnce(n: NodeSpec, unmet: ReadonlyMap<string, number>): boolean {
  return (unmet.get(n.id) ?? 0) === 0 && !n.skipped && !n.gate;
}

/**
 * Inserts a run's (or an expansion's) nodes and edges. Every node starts pending with the count of its
 * unfinished blocking inputs; then the nodes with none settle in order (ready, blocked at a gate, or
 * skipped, which in turn satisfies what waits on them). Returns how many nodes count as open work.
 */
function insertNodes(sql: Sql, runId: string, nodes: NodeSpec[], edges: EdgeSpec[], e: StoredEvent): number {
  const unmet = new Map<string, number>();
  for (const ed of edges) {
    sql.run('INSERT OR IGNORE INTO edges(run_id, from_id, to_id, kind) VALUES (?, ?, ?, ?)', [runId, ed.from, ed.to, ed.kind]);
    if (!BLOCKING_EDGE_KINDS.includes(ed.kind)) continue;
    const from = sql.get<{ state: string }>('SELECT state FROM nodes WHERE id = ?', [ed.from]);
    const satisfied = from?.state === 'done' || from?.state === 'skipped';
    if (!satisfied) unmet.set(ed.to, (unmet.get(ed.to) ?? 0) + 1);
  }
  let open = 0;
  // A node with nothing to wait for, no gate and no skip is ready at once, and nothing settled below can
  // reach it (what a skipped node satisfies waits on it, so has unmet inputs): it is inserted ready,
  // the row that becomeReady would leave, without reading it back and updating it.
  for (const n of nodes) {
    const gate = n.gate ? JSON.stringify(n.gate) : null;
    if (!n.skipped) open++;
    sql.run(
      `INSERT INTO nodes(id, run_id, step_id, title, instructions, state, unmet, max_attempts, on_exhausted, gate, gate_open, review, skip, created_seq, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)`,
      [n.id, runId, n.stepId, n.title, n.instructions, readyAtOnce(n, unmet) ? 'ready' : 'pending', unmet.get(n.id) ?? 0, n.maxAttempts, n.onExhausted, gate,
        n.review ? 1 : 0, n.skipped ? 1 : 0, e.seq, e.ts],
    );
  }
  for (const n of nodes) {
    if ((unmet.get(n.id) ?? 0) > 0 || readyAtOnce(n, unmet)) continue;
    // An earlier node's settling may already have moved this one on (a skipped chain).
    const row = node(sql, n.id);
    if (row.state === 'pending' && row.unmet === 0) becomeReady(sql, row, e.ts);
  }
  return open;
}

/**
 * A failed attempt (reported failure, rejected review, a failed awaited run): retry while attempts
 * remain (`retryState`: ready, or blocked for a run gate that must start a new run), else exhaust.
 */
function failAttempt(sql: Sql, n: NodeRow, ts: string, retryState: NodeState = 'ready'): void {
  const attempts = n.attempts + 1;
  sql.run('UPDATE nodes SET attempts = ? WHERE id = ?', [attempts, n.id]);
  if (attempts < n.max_attempts) {
    setState(sql, n.id, retryState, ts);
    return;
  }
  switch (n.on_exhausted) {
    case 'skip':
      setState(sql, n.id, 'skipped', ts);
      satisfy(sql, n.id, ts);
      closeNode(sql, n.run_id, ts);
      return;
    case 'escalate': {
      // A person must look at it: the node waits behind a human gate, and the run counts an intervention.
      const gate: GateSpec = { kind: 'human' };
      sql.run('UPDATE nodes SET gate = ?, gate_open = 0 WHERE id = ?', [JSON.stringify(gate), n.id]);
      sql.run('UPDATE runs SET interventions = interventions + 1 WHERE id = ?', [n.run_id]);
      sql.run('UPDATE nodes SET interventions = interventions + 1 WHERE id = ?', [n.id]);
      setState(sql, n.id, 'blocked', ts);
      return;
    }
    default:
      setState(sql, n.id, 'failed', ts);
      finishRun(sql, n.run_id, 'failed', 'failure', ts);
  }
}

const handlers: { [K in EventKind]: Handler<K> } = {
  'family.created'(sql, p, e) {
    sql.run('INSERT INTO families(id, description, created_seq, created_at) VALUES (?, ?, ?, ?)', [p.familyId, p.description, e.seq, e.ts]);
  },
  'variant.created'(sql, p, e) {
    sql.run(
      `INSERT INTO variants(id, family_id, generation, parents, mutation, summary, proposed_by, content_hash, content, status, created_seq, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.variantId, p.familyId, p.generation, JSON.stringify(p.parents), p.mutation === null || p.mutation === undefined ? null : JSON.stringify(p.mutation),
        p.summary, p.proposedBy, p.contentHash, p.content, p.status, e.seq, e.ts],
    );
  },
  'variant.status_changed'(sql, p) {
    sql.run('UPDATE variants SET status = ?, status_reason = ? WHERE id = ?', [p.status, p.reason, p.variantId]);
  },
  'family.active_set'(sql, p, e) {
    sql.run('UPDATE families SET active_variant = ? WHERE id = ?', [p.variantId, p.familyId]);
    sql.run(
      'INSERT INTO selections(seq, family_id, variant_id, previous_variant_id, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [e.seq, p.familyId, p.variantId, p.previousVariantId, p.reason, e.actor, e.ts],
    );
  },
  'family.policy_set'(sql, p) {
    sql.run('UPDATE families SET policy = ?, policy_version = ?, policy_hash = ? WHERE id = ?', [JSON.stringify(p.policy), p.version, p.hash, p.familyId]);
  },
  'run.started'(sql, p, e) {
    // The run's open work is known before its nodes go in (what insertNodes counts), and nothing while
    // they settle reads it, so the row is inserted with it rather than updated after.
    let open = 0;
    for (const n of p.nodes) if (!n.skipped) open++;
    sql.run(
      `INSERT INTO runs(id, family_id, variant_id, generation, title, vars, task_key, arm, status, awaits_checks, open_nodes, created_seq, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
      [p.runId, p.familyId, p.variantId, p.generation, p.title, JSON.stringify(p.vars), p.taskKey, p.arm, p.awaitsChecks ? 1 : 0, open, e.seq, e.ts],
    );
    insertNodes(sql, p.runId, p.nodes, p.edges, e);
    if (open === 0) finishRun(sql, p.runId, 'done', 'success', e.ts);
  },
  'run.cancelled'(sql, p, e) {
    sql.run("UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ?", [e.ts, p.runId]);
    const held = sql.all<NodeRow>("SELECT * FROM nodes WHERE run_id = ? AND claim_id IS NOT NULL", [p.runId]);
    for (const n of held) releaseClaim(sql, n, 'run cancelled', e.ts);
  },
  'node.claimed'(sql, p, e) {
    sql.run('INSERT INTO claims(id, node_id, worker, claimed_at, expires_at) VALUES (?, ?, ?, ?, ?)', [p.claimId, p.nodeId, p.worker, e.ts, p.expiresAt]);
    const n = node(sql, p.nodeId);
    // Taking over an expired lease ends the previous claim.
    if (n.claim_id) sql.run("UPDATE claims SET released_at = ?, release_reason = 'lease expired' WHERE id = ? AND released_at IS NULL", [e.ts, n.claim_id]);
    sql.run("UPDATE nodes SET state = 'claimed', claim_id = ?, worker = ?, lease_expires = ?, updated_at = ? WHERE id = ?", [p.claimId, p.worker, p.expiresAt, e.ts, p.nodeId]);
  },
  'node.lease_renewed'(sql, p) {
    sql.run('UPDATE claims SET expires_at = ? WHERE id = ?', [p.expiresAt, p.claimId]);
    sql.run('UPDATE nodes SET lease_expires = ? WHERE id = ?', [p.expiresAt, p.nodeId]);
  },
  'node.dispatched'(sql, p, e) {
    setState(sql, p.nodeId, 'active', e.ts);
  },
  'worker.bound'(sql, p, e) {
    sql.run('INSERT OR REPLACE INTO bindings(node_id, worker_kind, thread_id, bound_at) VALUES (?, ?, ?, ?)', [p.nodeId, p.workerKind, p.threadId, e.ts]);
  },
  'node.reported'(sql, p, e) {
    const n = node(sql, p.nodeId);
    sql.run('UPDATE nodes SET result = ?, tokens = tokens + ?, duration_ms = duration_ms + ? WHERE id = ?', [p.summary, p.tokens, p.durationMs, p.nodeId]);
    sql.run('UPDATE runs SET tokens = tokens + ?, duration_ms = duration_ms + ? WHERE id = ?', [p.tokens, p.durationMs, n.run_id]);
    releaseClaim(sql, n, 'reported', e.ts);
    if (p.outcome === 'failed') return failAttempt(sql, n, e.ts);
    if (n.review) return setState(sql, n.id, 'review', e.ts);
    setState(sql, n.id, 'done', e.ts);
    satisfy(sql, n.id, e.ts);
    closeNode(sql, n.run_id, e.ts);
  },
  'node.reviewed'(sql, p, e) {
    const n = node(sql, p.nodeId);
    if (p.verdict === 'approve') {
      setState(sql, n.id, 'done', e.ts);
      satisfy(sql, n.id, e.ts);
      closeNode(sql, n.run_id, e.ts);
      return;
    }
    sql.run('UPDATE runs SET review_rejections = review_rejections + 1 WHERE id = ?', [n.run_id]);
    sql.run('UPDATE nodes SET review_rejections = review_rejections + 1 WHERE id = ?', [n.id]);
    failAttempt(sql, n, e.ts);
  },
  'node.recovered'(sql, p, e) {
    const n = node(sql, p.nodeId);
    releaseClaim(sql, n, p.reason, e.ts);
    setState(sql, n.id, 'ready', e.ts);
  },
  'node.handed_off'(sql, p, e) {
    const n = node(sql, p.nodeId);
    releaseClaim(sql, n, 'handed off', e.ts);
    sql.run('INSERT INTO handoffs(id, node_id, from_worker, to_worker, note, at) VALUES (?, ?, ?, ?, ?, ?)', [p.handoffId, p.nodeId, p.fromWorker, p.toWorker, p.note, e.ts]);
    if (p.toPerson) {
      // A person holds no lease that could run out under them: the node waits for them at a human gate,
      // and opening it gives the node back to the workers with the handoff's note as its last result.
      const gate: GateSpec = { kind: 'human' };
      sql.run('UPDATE nodes SET gate = ?, gate_open = 0, gate_due_at = NULL, result = ? WHERE id = ?', [JSON.stringify(gate), `handed off to a person: ${p.note}`, n.id]);
      sql.run('UPDATE runs SET interventions = interventions + 1 WHERE id = ?', [n.run_id]);
      sql.run('UPDATE nodes SET interventions = interventions + 1 WHERE id = ?', [n.id]);
      setState(sql, n.id, 'blocked', e.ts);
      return;
    }
    sql.run('INSERT INTO claims(id, node_id, worker, claimed_at, expires_at) VALUES (?, ?, ?, ?, ?)', [p.claimId, p.nodeId, p.toWorker, e.ts, p.expiresAt]);
    sql.run("UPDATE nodes SET state = 'claimed', claim_id = ?, worker = ?, lease_expires = ?, updated_at = ? WHERE id = ?", [p.claimId, p.toWorker, p.expiresAt, e.ts, p.nodeId]);
  },
  'node.expanded'(sql, p, e) {
    const n = node(sql, p.nodeId);
    const open = insertNodes(sql, n.run_id, p.children, p.edges, e);
    sql.run('UPDATE runs SET open_nodes = open_nodes + ? WHERE id = ?', [open, n.run_id]);
    releaseClaim(sql, n, 'expanded', e.ts);
    // The expanded node becomes the join: it waits for every child that blocks it.
    const waiting = sql.get<{ c: number }>(
      `SELECT count(*) AS c FROM edges ed JOIN nodes c ON c.id = ed.from_id
       WHERE ed.to_id = ? AND ed.kind IN (${BLOCKING}) AND c.state NOT IN ('done', 'skipped')`, [n.id])?.c ?? 0;
    sql.run('UPDATE nodes SET unmet = ? WHERE id = ?', [waiting, n.id]);
    if (waiting > 0) setState(sql, n.id, 'pending', e.ts);
    else becomeReady(sql, n, e.ts);
  },
  'node.lease_expired'(sql, p, e) {
    const n = node(sql, p.nodeId);
    releaseClaim(sql, n, 'lease expired', e.ts);
    setState(sql, n.id, 'ready', e.ts);
  },
  'node.gate_run_started'(sql, p) {
    sql.run('UPDATE nodes SET gate_run_id = ? WHERE id = ?', [p.runId, p.nodeId]);
  },
  'node.gate_failed'(sql, p, e) {
    const n = node(sql, p.nodeId);
    // The next attempt waits for a new run: the old one is forgotten, the node stays at its gate.
    sql.run('UPDATE nodes SET gate_run_id = NULL, result = ? WHERE id = ?', [p.reason, n.id]);
    failAttempt(sql, n, e.ts, 'blocked');
  },
  'node.cancelled'(sql, p, e) {
    const n = node(sql, p.nodeId);
    releaseClaim(sql, n, 'cancelled', e.ts);
    // The node waits for a person: opening its gate gives it another attempt.
    const gate: GateSpec = { kind: 'human' };
    sql.run('UPDATE nodes SET gate = ?, gate_open = 0, gate_due_at = NULL, result = ? WHERE id = ?', [JSON.stringify(gate), `cancelled: ${p.reason}`, n.id]);
    sql.run('UPDATE runs SET interventions = interventions + 1 WHERE id = ?', [n.run_id]);
    sql.run('UPDATE nodes SET interventions = interventions + 1 WHERE id = ?', [n.id]);
    setState(sql, n.id, 'blocked', e.ts);
  },
  'node.gate_opened'(sql, p, e) {
    const n = node(sql, p.nodeId);
    sql.run('UPDATE nodes SET gate_open = 1, gate_due_at = NULL WHERE id = ?', [n.id]);
    if (n.state === 'blocked') {
      // An escalated node gets one more attempt once a person has looked at it.
      if (n.attempts >= n.max_attempts) sql.run('UPDATE nodes SET max_attempts = ? WHERE id = ?', [n.attempts + 1, n.id]);
      setState(sql, n.id, 'ready', e.ts);
    }
  },
  'evidence.recorded'(sql, p, e) {
    sql.run(
      `INSERT INTO evidence(id, family_id, variant_id, run_id, node_id, kind, success, interventions, review_rejections, tokens, duration_ms, note, actor, at, seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.evidenceId, p.familyId, p.variantId, p.runId, p.nodeId, p.kind, p.success === null ? null : p.success ? 1 : 0,
        p.interventions, p.reviewRejections, p.tokens, p.durationMs, p.note, e.actor, e.ts, e.seq],
    );
    // Tokens and time reported as evidence about a node (a Codex turn's usage) count for that node too.
    if (p.nodeId && (p.tokens || p.durationMs)) {
      sql.run('UPDATE nodes SET tokens = tokens + ?, duration_ms = duration_ms + ? WHERE id = ?', [p.tokens ?? 0, p.durationMs ?? 0, p.nodeId]);
    }
    // A person's intervention or a review rejection reported about a node counts for its step too (formula_evidence).
    if (p.nodeId && (p.interventions || p.reviewRejections)) {
      sql.run('UPDATE nodes SET interventions = interventions + ?, review_rejections = review_rejections + ? WHERE id = ?',
        [p.interventions ?? 0, p.reviewRejections ?? 0, p.nodeId]);
    }
    if (!p.runId) return;
    // The false-done guardrail counts runs the model called done whose checks failed (src/ledger/outcome.ts).
    if (p.kind === 'false_done') sql.run('UPDATE runs SET false_done = 1 WHERE id = ?', [p.runId]);
    if (p.success !== null) {
      sql.run("UPDATE runs SET outcome = ?, outcome_source = 'evidence' WHERE id = ?", [p.success ? 'success' : 'failure', p.runId]);
    }
    sql.run(
      `UPDATE runs SET interventions = interventions + ?, review_rejections = review_rejections + ?,
         tokens = tokens + ?, duration_ms = duration_ms + ? WHERE id = ?`,
      [p.interventions ?? 0, p.reviewRejections ?? 0, p.tokens ?? 0, p.durationMs ?? 0, p.runId],
    );
  },
  'trial.started'(sql, p, e) {
    sql.run(
      `INSERT INTO trials(id, family_id, candidate_id, incumbent_id, stage, share, status, started_seq, started_at)
       VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?)`,
      [p.trialId, p.familyId, p.candidateId, p.incumbentId, p.stage, p.share, e.seq, e.ts],
    );
  },
  'trial.stage_changed'(sql, p) {
    sql.run('UPDATE trials SET stage = ?, share = ? WHERE id = ?', [p.stage, p.share, p.trialId]);
  },
  'trial.status_changed'(sql, p) {
    sql.run('UPDATE trials SET status = ? WHERE id = ?', [p.status, p.trialId]);
  },
  'trial.ended'(sql, p, e) {
    sql.run('UPDATE trials SET status = ?, ended_at = ? WHERE id = ?', [p.status, e.ts, p.trialId]);
  },
  'decision.recorded'(sql, p, e) {
    sql.run(
      `INSERT INTO decisions(id, family_id, candidate_id, incumbent_id, trial_id, stage, verdict, actor, reason, policy_version, policy_hash, detail, seq, at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.decisionId, p.familyId, p.candidateId, p.incumbentId, p.trialId, p.stage, p.verdict, e.actor, p.reason,
        p.policyVersion, p.policyHash, JSON.stringify(p.detail), e.seq, e.ts],
    );
  },
  'runs.archived'(sql, p) {
    applyArchived(sql, p.runIds, p.archive, p.evicted ?? []);
  },
  // ---- branch replay: worktrees
  'run.worktree_created'(sql, p, e) {
    sql.run(
      `INSERT OR REPLACE INTO run_worktrees(run_id, path, branch, base_commit, status, created_seq, updated_at) VALUES (?, ?, ?, ?, 'open', ?, ?)`,
      [p.runId, p.path, p.branch, p.baseCommit, e.seq, e.ts],
    );
  },
  'run.worktree_finished'(sql, p, e) {
    sql.run(
      `UPDATE run_worktrees SET head_commit = ?, commits = ?, files_changed = ?, insertions = ?, deletions = ?, status = 'finished', updated_at = ? WHERE run_id = ?`,
      [p.headCommit, p.commits, p.filesChanged, p.insertions, p.deletions, e.ts, p.runId],
    );
  },
  'run.worktree_closed'(sql, p, e) {
    sql.run('UPDATE run_worktrees SET status = ?, merge_commit = ?, note = ?, updated_at = ? WHERE run_id = ?', [p.action, p.mergeCommit, p.note, e.ts, p.runId]);
  },
  // ---- end branch replay
  // ---- branch leftovers: the closing of a worktree, taken inside a commit (src/controller/worktree.ts)
  'run.worktree_closing'(sql, p, e) {
    sql.run(`UPDATE run_worktrees SET status = 'closing', note = ?, updated_at = ? WHERE run_id = ?`,
      [`closing: ${p.action} by ${p.holder}, from ${p.from}`, e.ts, p.runId]);
  },
  'run.worktree_close_failed'(sql, p, e) {
    sql.run('UPDATE run_worktrees SET status = ?, note = ?, updated_at = ? WHERE run_id = ?', [p.from, p.reason, e.ts, p.runId]);
  },
  // ---- end branch leftovers
  // branch overlays (issue 13): blackboard, contract net, coalitions, mail (src/ledger/overlays/projection.ts).
  ...OVERLAY_HANDLERS,
};
