// Per-arm counts of every live trial, kept by the projection as events arrive, so that measuring a
// trial reads two rows instead of summing its runs (and evaluating costs the same after years of
// history). Everything here is a deterministic function of the events: replaying the journal builds
// the same rows, and `backfillTrialArms` builds them for a ledger written before these tables existed.
import type { StoredEvent } from '../store/journal';
import type { Sql } from '../store/sql';

/** Runs made by recordReplay: they pair up in the screen and never count as live trial runs. */
export const REPLAY_ARM = 'replay';

/** The stages whose numbers are the arms' live runs; the screen's come from paired replays instead. */
const COUNTED_STAGES = "('trial', 'watch')";

/**
 * What one run adds to its arm: nothing until it has an outcome, then one run, its success and its
 * costs. The same rule as summing `runs WHERE outcome IS NOT NULL`.
 */
interface Share {
  runs: number;
  successes: number;
  interventions: number;
  review_rejections: number;
  tokens: number;
  duration_ms: number;
  false_done: number;
}

const FIELDS = ['runs', 'successes', 'interventions', 'review_rejections', 'tokens', 'duration_ms', 'false_done'] as const;

interface RunShareRow {
  outcome: string | null;
  interventions: number;
  review_rejections: number;
  tokens: number;
  duration_ms: number;
  false_done: number;
}

function shareOf(r: RunShareRow): Share {
  if (r.outcome === null) return { runs: 0, successes: 0, interventions: 0, review_rejections: 0, tokens: 0, duration_ms: 0, false_done: 0 };
  return {
    runs: 1, successes: r.outcome === 'success' ? 1 : 0, interventions: r.interventions, review_rejections: r.review_rejections,
    tokens: r.tokens, duration_ms: r.duration_ms, false_done: r.false_done,
  };
}

/**
 * Called by the projection after each event's own handler. Starts and resets the arms when a trial
 * starts or changes stage, drops them when it ends, enrols a new run of either arm of its family's
 * live trial, and moves a run's share to what its row now says after any event about the run or one
 * of its nodes. Costs one or two primary-key lookups for an event that touches no trial run.
 */
export function trackTrialArms(sql: Sql, e: Pick<StoredEvent, 'kind' | 'payload'>): void {
  const p = e.payload as { trialId?: string; runId?: string | null; nodeId?: string | null; stage?: string; arm?: string | null; familyId?: string | null; variantId?: string | null };
  switch (e.kind) {
    case 'trial.started': {
      const t = sql.get<{ candidate_id: string; incumbent_id: string; stage: string }>('SELECT candidate_id, incumbent_id, stage FROM trials WHERE id = ?', [p.trialId!]);
      if (!t) return;
      for (const v of [t.candidate_id, t.incumbent_id]) sql.run('INSERT OR REPLACE INTO trial_arms(trial_id, variant_id, stage) VALUES (?, ?, ?)', [p.trialId!, v, t.stage]);
      return;
    }
    case 'trial.stage_changed':
      // A stage counts only the runs created while it lasts (the trial since it began, the watch since the promotion).
      sql.run('DELETE FROM trial_runs WHERE trial_id = ?', [p.trialId!]);
      sql.run('UPDATE trial_arms SET stage = ?, runs = 0, successes = 0, interventions = 0, review_rejections = 0, tokens = 0, duration_ms = 0, false_done = 0 WHERE trial_id = ?', [p.stage!, p.trialId!]);
      return;
    case 'trial.ended':
      sql.run('DELETE FROM trial_runs WHERE trial_id = ?', [p.trialId!]);
      sql.run('DELETE FROM trial_arms WHERE trial_id = ?', [p.trialId!]);
      return;
    case 'run.started':
      if (!p.runId || !p.familyId || !p.variantId || p.arm === REPLAY_ARM) return;
      enrol(sql, p.runId, p.familyId, p.variantId);
      break;
    default:
      break;
  }
  let runId = p.runId ?? null;
  if (!runId && p.nodeId) runId = sql.get<{ run_id: string }>('SELECT run_id FROM nodes WHERE id = ?', [p.nodeId])?.run_id ?? null;
  if (runId) sync(sql, runId);
}

/** A new run of an arm of its family's live trial (in a stage that counts live runs) joins that arm. */
function enrol(sql: Sql, runId: string, familyId: string, variantId: string): void {
  const arm = sql.get<{ trial_id: string }>(
    `SELECT a.trial_id FROM trials t JOIN trial_arms a ON a.trial_id = t.id
     WHERE t.family_id = ? AND t.status IN ('open', 'paused') AND t.stage IN ${COUNTED_STAGES} AND a.variant_id = ?
     ORDER BY t.started_seq DESC LIMIT 1`, [familyId, variantId]);
  if (arm) sql.run('INSERT OR IGNORE INTO trial_runs(run_id, trial_id, variant_id) VALUES (?, ?, ?)', [runId, arm.trial_id, variantId]);
}

/** Moves a trial run's share in its arm to what the run's row now says. */
function sync(sql: Sql, runId: string): void {
  const held = sql.get<Share & { trial_id: string; variant_id: string }>('SELECT * FROM trial_runs WHERE run_id = ?', [runId]);
  if (!held) return;
  const run = sql.get<RunShareRow>('SELECT outcome, interventions, review_rejections, tokens, duration_ms, false_done FROM runs WHERE id = ?', [runId]);
  if (!run) return;
  const now = shareOf(run);
  const delta = FIELDS.map((f) => now[f] - held[f]);
  if (delta.every((d) => d === 0)) return;
  sql.run(`UPDATE trial_runs SET ${FIELDS.map((f) => `${f} = ?`).join(', ')} WHERE run_id = ?`, [...FIELDS.map((f) => now[f]), runId]);
  sql.run(`UPDATE trial_arms SET ${FIELDS.map((f) => `${f} = ${f} + ?`).join(', ')} WHERE trial_id = ? AND variant_id = ?`, [...delta, held.trial_id, held.variant_id]);
}

/**
 * Builds trial_arms and trial_runs from the other tables, as replaying every event would have: one row
 * per arm of each live trial (in the order the trials started, candidate first) and one per run of an
 * arm created in the trial's current stage (in the order the runs were created). The current stage
 * began at the last decision that moved the trial into it, or when the trial started.
 */
export function backfillTrialArms(sql: Sql): void {
  sql.run('DELETE FROM trial_runs');
  sql.run('DELETE FROM trial_arms');
  const live = sql.all<{ id: string; candidate_id: string; incumbent_id: string; stage: string; started_seq: number }>(
    "SELECT id, candidate_id, incumbent_id, stage, started_seq FROM trials WHERE status IN ('open', 'paused') ORDER BY rowid");
  const members: Array<{ seq: number; runId: string; trialId: string; variantId: string }> = [];
  for (const t of live) {
    for (const v of [t.candidate_id, t.incumbent_id]) sql.run('INSERT INTO trial_arms(trial_id, variant_id, stage) VALUES (?, ?, ?)', [t.id, v, t.stage]);
    if (t.stage !== 'trial' && t.stage !== 'watch') continue;
    const from = stageStart(sql, t.id, t.stage) ?? t.started_seq;
    for (const v of [t.candidate_id, t.incumbent_id]) {
      const runs = sql.all<{ id: string; created_seq: number }>(
        `SELECT id, created_seq FROM runs WHERE variant_id = ? AND created_seq > ? AND (arm IS NULL OR arm <> '${REPLAY_ARM}')`, [v, from]);
      for (const r of runs) members.push({ seq: r.created_seq, runId: r.id, trialId: t.id, variantId: v });
    }
  }
  members.sort((a, b) => a.seq - b.seq);
  for (const m of members) {
    sql.run('INSERT INTO trial_runs(run_id, trial_id, variant_id) VALUES (?, ?, ?)', [m.runId, m.trialId, m.variantId]);
    sync(sql, m.runId);
  }
}

/**
 * The seq of the latest decision of the trial that moved it into `stage` (its detail's nextStage),
 * found through the decisions-by-trial index; undefined when none did (the trial started in it).
 */
export function stageStart(sql: Sql, trialId: string, stage: string): number | undefined {
  return stageEntry(sql, trialId, stage)?.seq;
}

/** The decision that moved the trial into `stage`, with its parsed detail; newest first, stops at the first. */
export function stageEntry(sql: Sql, trialId: string, stage: string): { seq: number; detail: Record<string, unknown> } | undefined {
  const rows = sql.all<{ seq: number; detail: string }>(
    'SELECT seq, detail FROM decisions WHERE trial_id = ? AND detail LIKE ? ORDER BY seq DESC', [trialId, `%"nextStage":"${stage}"%`]);
  for (const r of rows) {
    const detail = JSON.parse(r.detail) as Record<string, unknown>;
    if (detail.nextStage === stage) return { seq: r.seq, detail };
  }
  return undefined;
}
