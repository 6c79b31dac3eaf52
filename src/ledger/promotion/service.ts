// The promotion loop inside the ledger: trials, measurement, recorded decisions, promotion, watch and
// rollback. The rule itself (decide.ts) is pure; this service feeds it what the ledger holds and
// turns its verdicts into events, each decision committed atomically with what it does.
import { randomBytes } from 'node:crypto';
import { EVIDENCE_ID_LENGTH, runIdTaken } from '../archive';
import { conflict, invalid, LedgerError, notFound } from '../errors';
import type { VariantStatus } from '../events';
import { event } from '../events';
import type { FormulaService, VariantChooser } from '../families';
import { findUnsafeKey } from '../formula/names';
import { newId } from '../ids';
import type { Ledger } from '../ledger';
import type { StoredEvent } from '../store/journal';
import type { Sql } from '../store/sql';
import type { NewEvent } from '../store/store';
import { assignArm } from './assign';
import { decide } from './decide';
import { LIVE_TRIAL_STATUSES, supersededTrialEvents } from './supersede';
import type { Decision } from './decide';
import { BASELINE_RUNS, emptyArm, measure, recentArm, watermark } from './measurement';
import type { Measured, RawTrial } from './measurement';
import { defaultPolicy, parsePolicy, policyHash, PolicyValidationError } from './policy';
import type { EvolutionPolicy } from './policy';
import type {
  Assessment, DecisionDetail, DecisionRecord, EvaluationAction, EvaluationResult, PersonDecision, PolicyRecord, RecordReplayInput, RecordedVerdict, TrialRow,
  TrialStage, TrialStatus,
} from './types';

export type * from './types';
import { REPLAY_ARM } from './arms';
export { REPLAY_ARM };

const LIVE = LIVE_TRIAL_STATUSES;
/**
 * Event kinds after which a live trial's evidence may have changed: those that start a run or change a
 * run's outcome, interventions or review rejections (a failed run gate and a cancelled node do too).
 */
const EVIDENCE_KINDS = new Set([
  'run.started', 'run.cancelled', 'node.reported', 'node.reviewed', 'node.gate_failed', 'node.cancelled', 'evidence.recorded', 'family.policy_set',
]);

/** Who a decision is about: a trial, or for a decision outside any trial, the same fields with no id. */
interface DecisionSubject {
  id: string | null; family_id: string; candidate_id: string; incumbent_id: string | null;
}

interface Planned {
  events: NewEvent[];
  result: EvaluationResult;
}

/**
 * Runs evidence-gated promotion for every family: starts trials, routes a share of runs to the
 * candidate, evaluates the recorded rule when evidence arrives, and promotes, rejects, pauses, watches
 * and rolls back, always through a decision record committed with the change it makes.
 */
export class PromotionService {
  private readonly policyCache = new Map<string, PolicyRecord>();

  constructor(readonly ledger: Ledger, readonly formulas: FormulaService) {
    formulas.setVariantChooser(this.chooser);
  }

  /** Removes this service's variant chooser, so new runs use the active variant only. */
  dispose(): void {
    this.formulas.setVariantChooser(undefined);
  }

  // ---- policy ---------------------------------------------------------------------------------------

  /** The family's evolution policy, or the defaults (version 1) when it has none. */
  policyFor(familyId: string): PolicyRecord {
    return this.policyIn(this.ledger.sql, familyId);
  }

  /**
   * Sets a family's policy. `input` may be partial: it is merged over the family's current policy
   * (objects field by field, everything else replaced). The version is assigned here, one above the
   * current one (the defaults are version 1), so two policies of a family never share a version.
   */
  async setPolicy(familyId: string, input: unknown, actor?: string): Promise<PolicyRecord> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw invalid('policy', 'give the policy as an object of the fields to set');
    // A `__proto__` key would be merged into the prototype of the policy object instead of a field of it.
    const unsafe = findUnsafeKey(input);
    if (unsafe) throw invalid(`policy.${unsafe.path}`, `"${unsafe.key}" cannot be used as a key; remove it`);
    return this.ledger.commit(({ sql }) => {
      if (!sql.get('SELECT 1 FROM families WHERE id = ?', [familyId])) throw notFound('familyId', 'family', familyId);
      const current = this.policyIn(sql, familyId);
      const version = current.version + 1;
      const merged = { ...mergeDeep(current.policy, input as Record<string, unknown>), version };
      let policy: EvolutionPolicy;
      try {
        policy = parsePolicy(merged);
      } catch (err) {
        if (!(err instanceof PolicyValidationError)) throw err;
        const first = err.issues[0]!;
        throw new LedgerError(`policy: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, 'invalid_input', `policy.${first.path}`);
      }
      // The trial's evidence ratio assumes the share stayed fixed for the whole trial.
      const live = this.liveTrial(sql, familyId);
      if (live && policy.stages.trial.candidateShare !== current.policy.stages.trial.candidateShare) {
        throw conflict(`family ${familyId} has a live trial (${live.id}); stages.trial.candidateShare cannot change until it ends`, 'policy.stages.trial.candidateShare');
      }
      const hash = policyHash(policy);
      return { events: [event('family.policy_set', { familyId, policy, version, hash })], result: { policy, version, hash, custom: true } };
    }, actor);
  }

  private policyIn(sql: Sql, familyId: string): PolicyRecord {
    const row = sql.get<{ policy: string | null; policy_version: number | null; policy_hash: string | null }>(
      'SELECT policy, policy_version, policy_hash FROM families WHERE id = ?', [familyId]);
    if (!row?.policy || row.policy_hash === null) {
      const cached = this.policyCache.get('');
      if (cached) return cached;
      const policy = defaultPolicy();
      const record = { policy, version: policy.version, hash: policyHash(policy), custom: false };
      this.policyCache.set('', record);
      return record;
    }
    // Parsing and hashing on every evaluation would cost more than the rule itself; the stored hash names the content.
    const cached = this.policyCache.get(familyId);
    if (cached && cached.hash === row.policy_hash) return cached;
    const policy = parsePolicy(JSON.parse(row.policy));
    const record = { policy, version: row.policy_version ?? policy.version, hash: row.policy_hash, custom: true };
    this.policyCache.set(familyId, record);
    return record;
  }

  // ---- trials ---------------------------------------------------------------------------------------

  /**
   * Puts a candidate on trial against the family's active variant. `screen` starts with paired
   * replays (no live traffic); `trial` (the default) routes the policy's share of new tasks to it.
   */
  async startTrial(input: { variantId: string; stage?: 'screen' | 'trial' }, actor?: string): Promise<TrialRow> {
    const stage = input.stage ?? 'trial';
    if (stage !== 'screen' && stage !== 'trial') throw invalid('stage', `"${String(stage)}" is not a stage a trial can start in; use "screen" or "trial"`);
    if (typeof input.variantId !== 'string' || !input.variantId) throw invalid('variantId', 'name the candidate variant');
    const trialId = await this.ledger.commit(({ sql }) => {
      const v = sql.get<{ family_id: string; status: VariantStatus; status_reason: string | null }>(
        'SELECT family_id, status, status_reason FROM variants WHERE id = ?', [input.variantId]);
      if (!v) throw notFound('variantId', 'variant', input.variantId);
      if (v.status === 'rejected') {
        throw conflict(`variant ${input.variantId} was rejected${v.status_reason ? ` (${v.status_reason})` : ''}; a rejected variant is not trialled again — propose a different change`, 'variantId');
      }
      if (v.status === 'active') throw conflict(`variant ${input.variantId} is already the active variant of ${v.family_id}; only a candidate can go on trial`, 'variantId');
      const live = this.liveTrial(sql, v.family_id);
      if (live) {
        throw conflict(`family ${v.family_id} already has a ${live.status} trial (${live.id}) of variant ${live.candidate_id} in stage ${live.stage}; decide it first (promote or reject)`, 'variantId');
      }
      const fam = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [v.family_id])!;
      if (!fam.active_variant) throw conflict(`family ${v.family_id} has no active variant to compare the candidate with; select one first`, 'variantId');
      const policy = this.policyIn(sql, v.family_id).policy;
      const id = newId('t', (x) => !!sql.get('SELECT 1 FROM trials WHERE id = ?', [x]));
      const share = stage === 'trial' ? policy.stages.trial.candidateShare : 0;
      return {
        events: [
          event('variant.status_changed', { variantId: input.variantId, status: 'trial', reason: `on trial against ${fam.active_variant} (${stage})` }),
          event('trial.started', { trialId: id, familyId: v.family_id, candidateId: input.variantId, incumbentId: fam.active_variant, stage, share }),
        ],
        result: id,
      };
    }, actor);
    return this.trial(trialId)!;
  }

  trial(trialId: string): TrialRow | undefined {
    const r = this.ledger.sql.get<RawTrial>('SELECT * FROM trials WHERE id = ?', [trialId]);
    return r ? toTrial(r) : undefined;
  }

  /** The family's open or paused trial, if it has one. */
  liveTrialOf(familyId: string): TrialRow | undefined {
    const r = this.liveTrial(this.ledger.sql, familyId);
    return r ? toTrial(r) : undefined;
  }

  trials(familyId: string): TrialRow[] {
    return this.ledger.sql.all<RawTrial>('SELECT * FROM trials WHERE family_id = ? ORDER BY started_seq', [familyId]).map(toTrial);
  }

  private liveTrial(sql: Sql, familyId: string): RawTrial | undefined {
    return sql.get<RawTrial>(`SELECT * FROM trials WHERE family_id = ? AND status IN ${LIVE} ORDER BY started_seq DESC LIMIT 1`, [familyId]);
  }

  /**
   * Installed as the FormulaService's chooser. While a family's trial is open in the trial stage, a
   * task goes to the candidate when its hash point falls below the share: the same task key always
   * lands on the same arm. A run without a task key gets a fresh random key, so it is assigned by
   * chance and is not sticky. Screen, watch and paused trials route nothing: runs use the active variant.
   */
  readonly chooser: VariantChooser = (sql, familyId, taskKey) => {
    const t = sql.get<{ candidate_id: string; incumbent_id: string; share: number }>(
      "SELECT candidate_id, incumbent_id, share FROM trials WHERE family_id = ? AND status = 'open' AND stage = 'trial' LIMIT 1", [familyId]);
    if (!t || !(t.share > 0)) return undefined;
    const key = taskKey ?? `random:${randomBytes(8).toString('hex')}`;
    const arm = assignArm(key, t.candidate_id, t.share);
    return { variantId: arm === 'candidate' ? t.candidate_id : t.incumbent_id, arm };
  };

  /**
   * Records one paired replay for a trial in the screen stage: the task was run on both variants, and
   * then the family is evaluated. Pairs are always derived from runs (measurement.ts, screenPairs).
   *
   * Without run ids, the pair is stored as two synthetic runs (arm "replay") carrying the given
   * outcomes. With `candidateRunId` and `incumbentRunId` (both or neither), the two real runs are linked
   * instead: each must be a finished run of its arm's variant, with the task key `taskKey`, started
   * after the screen began (start them with arm "replay" so they never count as live trial runs). A run
   * whose checks already decided its outcome keeps it, and a given success that contradicts it is a
   * conflict; a run without an outcome gets a `run_outcome` from the given success, which is then required.
   * Throws LedgerError invalid_input / not_found / conflict naming the field.
   */
  async recordReplay(input: RecordReplayInput, actor?: string): Promise<EvaluationResult> {
    if (!input || typeof input !== 'object') throw invalid('input', 'give { trialId, taskKey, candidateSuccess, incumbentSuccess }');
    const unsafe = findUnsafeKey(input);
    if (unsafe) throw invalid(unsafe.path, `"${unsafe.key}" cannot be used as a key; remove it`);
    if (typeof input.trialId !== 'string' || !input.trialId) throw invalid('trialId', 'name the screen trial the replay belongs to');
    if (typeof input.taskKey !== 'string' || !input.taskKey) throw invalid('taskKey', 'name the task that was replayed on both variants');
    if (input.taskKey.length > 400) throw invalid('taskKey', `is ${input.taskKey.length} characters; use at most 400`);
    const linked = input.candidateRunId !== undefined || input.incumbentRunId !== undefined;
    for (const f of ['candidateRunId', 'incumbentRunId'] as const) {
      const v = input[f];
      if (linked && (typeof v !== 'string' || !v || v.length > 200)) throw invalid(f, 'give the id of the run (both candidateRunId and incumbentRunId, or neither)');
    }
    for (const f of ['candidateSuccess', 'incumbentSuccess'] as const) {
      const v = input[f];
      if (v === undefined && linked) continue;
      if (typeof v !== 'boolean') throw invalid(f, 'give true or false');
    }
    if (linked && input.candidateRunId === input.incumbentRunId) throw invalid('incumbentRunId', 'the two arms need two different runs');
    const familyId = await this.ledger.commit(({ sql }) => {
      const t = sql.get<RawTrial>('SELECT * FROM trials WHERE id = ?', [input.trialId]);
      if (!t) throw notFound('trialId', 'trial', input.trialId);
      if (t.status !== 'open' || t.stage !== 'screen') throw conflict(`trial ${t.id} is ${t.status} in stage ${t.stage}; replays are recorded only in an open screen`, 'trialId');
      const events: NewEvent[] = [];
      const evidenceId = () => newId('e', (x) => !!sql.get('SELECT 1 FROM evidence WHERE id = ?', [x]) || events.some((e) => (e.payload as { evidenceId?: string }).evidenceId === x), EVIDENCE_ID_LENGTH);
      const arms: Array<['candidate' | 'incumbent', string, boolean | undefined, string | undefined]> = [
        ['candidate', t.candidate_id, input.candidateSuccess, input.candidateRunId],
        ['incumbent', t.incumbent_id, input.incumbentSuccess, input.incumbentRunId],
      ];
      for (const [arm, variantId, success, linkedRunId] of arms) {
        if (linkedRunId !== undefined) {
          const field = `${arm}RunId`;
          const run = sql.get<{ variant_id: string | null; task_key: string | null; status: string; outcome: string | null; created_seq: number }>(
            'SELECT variant_id, task_key, status, outcome, created_seq FROM runs WHERE id = ?', [linkedRunId]);
          if (!run) throw notFound(field, 'run', linkedRunId);
          if (run.variant_id !== variantId) throw invalid(field, `run ${linkedRunId} ran variant ${run.variant_id ?? '(none)'}, not the ${arm} ${variantId} of trial ${t.id}`);
          if (run.task_key !== input.taskKey) throw invalid(field, `run ${linkedRunId} has task key ${JSON.stringify(run.task_key)}, not ${JSON.stringify(input.taskKey)}; start both runs with the replayed task's key`);
          if (run.created_seq < t.started_seq) throw conflict(`run ${linkedRunId} started before screen ${t.id} began; replay the task again`, field);
          if (run.status === 'running') throw conflict(`run ${linkedRunId} is still running; record the pair when it has ended`, field);
          if (run.outcome !== null) {
            if (success !== undefined && success !== (run.outcome === 'success')) {
              throw conflict(`run ${linkedRunId} already has the outcome ${run.outcome} (from its checks); ${arm}Success ${String(success)} contradicts it`, `${arm}Success`);
            }
            continue;
          }
          if (success === undefined) throw invalid(`${arm}Success`, `run ${linkedRunId} has no outcome yet; give true or false`);
          events.push(event('evidence.recorded', {
            evidenceId: evidenceId(), familyId: t.family_id, variantId, runId: linkedRunId, nodeId: null, kind: 'run_outcome', success, interventions: null,
            reviewRejections: null, tokens: null, durationMs: null, note: `paired replay for trial ${t.id}`,
          }));
          continue;
        }
        const v = sql.get<{ generation: number }>('SELECT generation FROM variants WHERE id = ?', [variantId])!;
        const runId = newId('r', (x) => runIdTaken(sql, x) || events.some((e) => (e.payload as { runId?: string }).runId === x));
        events.push(event('run.started', {
          runId, familyId: t.family_id, variantId, generation: v.generation, title: `replay: ${input.taskKey}`, vars: {},
          taskKey: input.taskKey, arm: REPLAY_ARM, nodes: [], edges: [],
        }));
        events.push(event('evidence.recorded', {
          evidenceId: evidenceId(), familyId: t.family_id, variantId, runId, nodeId: null, kind: 'run_outcome', success: success!, interventions: null,
          reviewRejections: null, tokens: null, durationMs: null, note: `paired replay for trial ${t.id}`,
        }));
      }
      return { events, result: t.family_id };
    }, actor);
    return this.evaluate(familyId);
  }

  // ---- evaluation ------------------------------------------------------------------------------------

  /**
   * Applies the family's policy to the evidence of its open trial and records what the rule decides,
   * acting on it in the same commit. Safe to call any number of times from any number of processes:
   * everything is re-checked inside the commit, and a `continue` is recorded only when the counted
   * evidence changed since the trial's last decision.
   */
  async evaluate(familyId: string, actor = 'rule'): Promise<EvaluationResult> {
    await this.ledger.refresh();
    // A read-only look first, so that unchanged evidence costs no lock.
    const preview = this.plan(this.ledger.sql, familyId);
    if (preview.events.length === 0) return preview.result;
    return this.ledger.commit(({ sql }) => this.plan(sql, familyId), actor);
  }

  /** Evaluates every family with an open trial. Cheap when there is none: one indexed query. */
  async onEvidence(actor = 'rule'): Promise<EvaluationResult[]> {
    await this.ledger.refresh();
    const families = this.ledger.sql.all<{ family_id: string }>("SELECT DISTINCT family_id FROM trials WHERE status = 'open'").map((r) => r.family_id);
    const out: EvaluationResult[] = [];
    for (const f of families) out.push(await this.evaluate(f, actor));
    return out;
  }

  /**
   * Evaluates the families whose open trial the given events may affect (run outcomes, node reports
   * and reviews, evidence, policy changes). Call it after a write or from `ledger.onDidChange`; the
   * events a decision writes never trigger another evaluation.
   */
  async evaluateAffected(events: ReadonlyArray<Pick<StoredEvent, 'kind' | 'payload'>>, actor = 'rule'): Promise<EvaluationResult[]> {
    const relevant = events.filter((e) => EVIDENCE_KINDS.has(e.kind));
    if (relevant.length === 0) return [];
    const sql = this.ledger.sql;
    const open = new Set(sql.all<{ family_id: string }>("SELECT family_id FROM trials WHERE status = 'open'").map((r) => r.family_id));
    if (open.size === 0) return [];
    const families = new Set<string>();
    for (const e of relevant) {
      const p = e.payload as { familyId?: string | null; runId?: string; nodeId?: string };
      let familyId = p.familyId ?? null;
      if (!familyId && p.runId) familyId = sql.get<{ family_id: string | null }>('SELECT family_id FROM runs WHERE id = ?', [p.runId])?.family_id ?? null;
      if (!familyId && p.nodeId) {
        familyId = sql.get<{ family_id: string | null }>('SELECT r.family_id FROM nodes n JOIN runs r ON r.id = n.run_id WHERE n.id = ?', [p.nodeId])?.family_id ?? null;
      }
      if (familyId && open.has(familyId)) families.add(familyId);
    }
    const out: EvaluationResult[] = [];
    for (const f of families) out.push(await this.evaluate(f, actor));
    return out;
  }

  /**
   * The one evaluate-and-record step every writer calls after its own write (the extension on a ledger
   * change, the MCP server after a tool's write, the CLI and the controller after theirs): puts the
   * events after `since` — a seq, read from the ledger a page at a time, or the events themselves —
   * before the rule of each family whose open trial they may affect, records what it decides, and
   * returns only the evaluations that wrote something (a decision, a stage change, an ended trial).
   * Throws what evaluate throws (a LedgerError when a commit fails).
   */
  async evaluateAndRecord(since: number | ReadonlyArray<Pick<StoredEvent, 'kind' | 'payload'>>, actor = 'rule'): Promise<EvaluationResult[]> {
    let events: ReadonlyArray<Pick<StoredEvent, 'kind' | 'payload'>>;
    if (typeof since === 'number') {
      await this.ledger.refresh();
      const all: StoredEvent[] = [];
      for (let after = since; ;) {
        const page = this.ledger.events(after, 1000);
        all.push(...page);
        if (page.length < 1000) break;
        after = page[page.length - 1]!.seq;
      }
      events = all;
    } else {
      events = since;
    }
    return (await this.evaluateAffected(events, actor)).filter((r) => r.action !== 'none');
  }

  /** What evaluating `familyId` now would write, and the result; pure over `sql`. */
  private plan(sql: Sql, familyId: string): Planned {
    const none = (reason: string, trialId: string | null = null): Planned => ({
      events: [], result: { familyId, trialId, action: 'none', verdict: null, decisionId: null, reason },
    });
    if (!sql.get('SELECT 1 FROM families WHERE id = ?', [familyId])) throw notFound('familyId', 'family', familyId);
    const t = this.liveTrial(sql, familyId);
    if (!t) return none(`family ${familyId} has no open trial`);
    if (t.status === 'paused') return none(`trial ${t.id} is paused until a person promotes or rejects ${t.candidate_id}`, t.id);
    const { policy, version, hash } = this.policyIn(sql, familyId);
    const active = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [familyId])!.active_variant;
    // Someone chose another variant by hand (in a ledger written before such a change ended the trial at once):
    // this trial no longer compares what it set out to.
    const stale = supersededTrialEvents(sql, familyId, active);
    if (stale) return { events: stale.events, result: { familyId, trialId: t.id, action: 'superseded', verdict: null, decisionId: null, reason: `the active variant changed to ${active} outside the trial` } };
    const m = measure(sql, t, policy);
    const d = m.decision;
    const stage = t.stage as TrialStage;
    const decisionId = newId('d', (x) => !!sql.get('SELECT 1 FROM decisions WHERE id = ?', [x]));
    const record = (verdict: RecordedVerdict, reason: string, extra: Partial<DecisionDetail> = {}) => event('decision.recorded', {
      decisionId, familyId, candidateId: t.candidate_id, incumbentId: t.incumbent_id, trialId: t.id, stage, verdict, reason,
      policyVersion: version, policyHash: hash, detail: this.detail(d, m, extra),
    });
    const done = (events: NewEvent[], action: EvaluationAction, verdict: RecordedVerdict): Planned => ({
      events, result: { familyId, trialId: t.id, action, verdict, decisionId, reason: d.reason },
    });

    if (d.verdict === 'continue' && d.nextStage === 'trial') {
      return done([
        record('advance', d.reason, { nextStage: 'trial' }),
        event('trial.stage_changed', { trialId: t.id, stage: 'trial', share: policy.stages.trial.candidateShare }),
      ], 'advanced', 'advance');
    }
    if (d.verdict === 'continue') {
      const last = this.lastDecision(sql, t.id, stage);
      if (last ? last.watermark === m.watermark : !m.counted) return none(`no new evidence since the last decision: ${d.reason}`, t.id);
      // A continue says why the trial goes on; another is recorded only when that changes, not on every run.
      if (last?.verdict === 'continue' && last.basis === d.basis) return none(`the verdict and its reason are unchanged since the last decision: ${d.reason}`, t.id);
      return done([record('continue', d.reason)], 'recorded', 'continue');
    }
    if (d.verdict === 'pause') {
      const last = this.lastDecision(sql, t.id, stage);
      // Not again on the same evidence: neither right after a pause nor right after a person resumed the trial.
      if (last && (last.verdict === 'pause' || last.verdict === 'resume') && last.watermark === m.watermark) return none(d.reason, t.id);
      return done([
        record('pause', d.reason),
        event('trial.status_changed', { trialId: t.id, status: 'paused', reason: d.reason }),
      ], 'paused', 'pause');
    }
    if (d.verdict === 'promote' && stage === 'watch') {
      return done([
        record('confirm', d.reason, { nextStage: 'done' }),
        event('trial.ended', { trialId: t.id, status: 'confirmed' }),
      ], 'confirmed', 'confirm');
    }
    if (d.verdict === 'promote') {
      const activation = this.formulas.activationEvents(sql, t.candidate_id, `promoted by decision ${decisionId}: ${d.reason}`, { decisionId });
      return done([
        record('promote', d.reason, { nextStage: 'watch', baseline: d.arms.incumbent }),
        ...activation.events,
        event('trial.stage_changed', { trialId: t.id, stage: 'watch', share: 0 }),
      ], 'promoted', 'promote');
    }
    if (d.verdict === 'reject') {
      return done([
        record('reject', d.reason),
        event('variant.status_changed', { variantId: t.candidate_id, status: 'rejected', reason: `rejected by decision ${decisionId}: ${d.reason}` }),
        event('trial.ended', { trialId: t.id, status: 'rejected' }),
      ], 'rejected', 'reject');
    }
    // rollback: only the watch stage gives it.
    const back = this.formulas.rollbackEvents(sql, familyId, `rolled back by decision ${decisionId}: ${d.reason}`, { decisionId });
    return done([
      record('rollback', d.reason),
      ...back.events,
      event('trial.ended', { trialId: t.id, status: 'rolled_back' }),
    ], 'rolled_back', 'rollback');
  }

  private detail(d: Decision, m: Measured, extra: Partial<DecisionDetail>): DecisionDetail {
    return {
      ruleVerdict: d.ruleVerdict, ruleReason: d.reason, nextStage: d.nextStage, arms: d.arms, pairs: d.statistics.pairs,
      statistics: d.statistics, guardrails: [...d.guardrails], missing: [...d.missing], period: m.period, watermark: m.watermark,
      basis: d.basis, evaluatedBy: this.ledger.actor, ...extra,
    };
  }

  /**
   * The trial's latest decision in `stage`, with its watermark and basis. The decisions-by-trial index
   * walks the trial's decisions newest first; the first in `stage` is the answer.
   */
  private lastDecision(sql: Sql, trialId: string, stage: string): { verdict: string; watermark: string | null; basis: string | null } | undefined {
    const r = sql.get<{ verdict: string; detail: string }>(
      'SELECT verdict, detail FROM decisions WHERE trial_id = ? AND stage = ? ORDER BY seq DESC LIMIT 1', [trialId, stage]);
    if (!r) return undefined;
    const detail = JSON.parse(r.detail) as { watermark?: string; basis?: string };
    return { verdict: r.verdict, watermark: detail.watermark ?? null, basis: detail.basis ?? null };
  }

  // ---- a person's decisions ---------------------------------------------------------------------------

  /**
   * A person promotes a variant. In a screen or trial it becomes active now and the watch begins; in
   * the watch it confirms the promotion. A candidate without a trial is made active and watched against
   * the previous variant's recent runs. The decision records the person, the reason and the numbers.
   */
  async promote(variantId: string, by: PersonDecision): Promise<EvaluationResult> {
    checkPerson(by);
    return this.ledger.commit<EvaluationResult>(({ sql }) => {
      const v = this.requireVariant(sql, variantId);
      if (v.status === 'rejected') throw conflict(`variant ${variantId} was rejected${v.status_reason ? ` (${v.status_reason})` : ''}; it cannot be promoted`, 'variantId');
      const t = this.liveTrial(sql, v.family_id);
      if (t && t.candidate_id !== variantId) {
        throw conflict(`family ${v.family_id} has a live trial of ${t.candidate_id} (${t.id}); reject or promote it before promoting ${variantId}`, 'variantId');
      }
      const { policy, version, hash } = this.policyIn(sql, v.family_id);
      const decisionId = newId('d', (x) => !!sql.get('SELECT 1 FROM decisions WHERE id = ?', [x]));
      const resumed: NewEvent[] = t?.status === 'paused' ? [event('trial.status_changed', { trialId: t.id, status: 'open', reason: `decided by ${by.actor}` })] : [];
      if (t && t.stage === 'watch') {
        const m = measure(sql, t, policy);
        return {
          events: [
            this.personDecision(decisionId, t, 'watch', 'confirm', by, version, hash, m, { nextStage: 'done' }),
            event('trial.ended', { trialId: t.id, status: 'confirmed' }),
          ],
          result: { familyId: v.family_id, trialId: t.id, action: 'confirmed', verdict: 'confirm', decisionId, reason: by.reason },
        };
      }
      if (t) {
        const m = measure(sql, t, policy);
        // A promotion from the screen has no live incumbent runs of the period; the watch compares with recent ones.
        const baseline = t.stage === 'trial' ? m.decision.arms.incumbent : recentArm(sql, t.incumbent_id, BASELINE_RUNS);
        const activation = this.formulas.activationEvents(sql, variantId, `promoted by ${by.actor} (decision ${decisionId}): ${by.reason}`, { decisionId });
        return {
          events: [
            ...resumed,
            this.personDecision(decisionId, t, t.stage, 'promote', by, version, hash, m, { nextStage: 'watch', baseline }),
            ...activation.events,
            event('trial.stage_changed', { trialId: t.id, stage: 'watch', share: 0 }),
          ],
          result: { familyId: v.family_id, trialId: t.id, action: 'promoted', verdict: 'promote', decisionId, reason: by.reason },
        };
      }
      if (v.status === 'active') throw conflict(`variant ${variantId} is already the active variant of ${v.family_id}`, 'variantId');
      const incumbentId = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [v.family_id])!.active_variant;
      if (!incumbentId) {
        // Nothing to compare with or watch: the change is recorded as a plain decision of the person.
        const first = this.formulas.activationEvents(sql, variantId, `promoted by ${by.actor}: ${by.reason}`, { verdict: 'promote' });
        return {
          events: [...first.events],
          result: { familyId: v.family_id, trialId: null, action: 'promoted', verdict: 'promote', decisionId: first.result.decisionId, reason: by.reason },
        };
      }
      const activation = this.formulas.activationEvents(sql, variantId, `promoted by ${by.actor} (decision ${decisionId}): ${by.reason}`, { decisionId });
      // No trial: the numbers are each variant's recent runs, and a watch trial guards the change.
      const trialId = newId('t', (x) => !!sql.get('SELECT 1 FROM trials WHERE id = ?', [x]));
      const baseline = recentArm(sql, incumbentId, BASELINE_RUNS);
      const candidate = recentArm(sql, variantId, BASELINE_RUNS);
      const decision = decide({ policy, incumbent: baseline, candidate, stage: 'trial' });
      const subject: DecisionSubject = { id: trialId, family_id: v.family_id, candidate_id: variantId, incumbent_id: incumbentId };
      const m: Measured = { decision, period: { fromSeq: 0, toSeq: null }, watermark: watermark('manual', decision.arms, null), counted: true };
      return {
        events: [
          event('trial.started', { trialId, familyId: v.family_id, candidateId: variantId, incumbentId, stage: 'watch', share: 0 }),
          this.personDecision(decisionId, subject, 'manual', 'promote', by, version, hash, m, { nextStage: 'watch', baseline }),
          ...activation.events,
        ],
        result: { familyId: v.family_id, trialId, action: 'promoted', verdict: 'promote', decisionId, reason: by.reason },
      };
    }, by.actor);
  }

  /**
   * A person rejects a variant. In a screen or trial the candidate is rejected and the trial ends; in
   * the watch the promotion is rolled back to the previous variant. A candidate without a trial is
   * simply rejected. Either way it is remembered, so the same change is not proposed again.
   */
  async reject(variantId: string, by: PersonDecision): Promise<EvaluationResult> {
    checkPerson(by);
    return this.ledger.commit<EvaluationResult>(({ sql }) => {
      const v = this.requireVariant(sql, variantId);
      if (v.status === 'rejected') throw conflict(`variant ${variantId} is already rejected`, 'variantId');
      const t = this.liveTrial(sql, v.family_id);
      const { policy, version, hash } = this.policyIn(sql, v.family_id);
      const decisionId = newId('d', (x) => !!sql.get('SELECT 1 FROM decisions WHERE id = ?', [x]));
      if (t && t.candidate_id === variantId) {
        const m = measure(sql, t, policy);
        if (t.stage === 'watch') {
          const back = this.formulas.rollbackEvents(sql, v.family_id, `rolled back by ${by.actor} (decision ${decisionId}): ${by.reason}`, { decisionId });
          return {
            events: [this.personDecision(decisionId, t, 'watch', 'rollback', by, version, hash, m), ...back.events, event('trial.ended', { trialId: t.id, status: 'rolled_back' })],
            result: { familyId: v.family_id, trialId: t.id, action: 'rolled_back', verdict: 'rollback', decisionId, reason: by.reason },
          };
        }
        return {
          events: [
            this.personDecision(decisionId, t, t.stage, 'reject', by, version, hash, m),
            event('variant.status_changed', { variantId, status: 'rejected', reason: `rejected by ${by.actor}: ${by.reason}` }),
            event('trial.ended', { trialId: t.id, status: 'rejected' }),
          ],
          result: { familyId: v.family_id, trialId: t.id, action: 'rejected', verdict: 'reject', decisionId, reason: by.reason },
        };
      }
      if (v.status === 'active') throw conflict(`variant ${variantId} is the active variant of ${v.family_id} and not under watch; roll the family back instead`, 'variantId');
      const incumbentId = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [v.family_id])!.active_variant;
      const incumbent = incumbentId ? recentArm(sql, incumbentId, BASELINE_RUNS) : emptyArm();
      const decision = decide({ policy, incumbent, candidate: recentArm(sql, variantId, BASELINE_RUNS), stage: 'trial' });
      const subject: DecisionSubject = { id: null, family_id: v.family_id, candidate_id: variantId, incumbent_id: incumbentId };
      const m: Measured = { decision, period: { fromSeq: 0, toSeq: null }, watermark: watermark('manual', decision.arms, null), counted: true };
      const rec = this.personDecision(decisionId, subject, 'manual', 'reject', by, version, hash, m);
      return {
        events: [rec, event('variant.status_changed', { variantId, status: 'rejected', reason: `rejected by ${by.actor}: ${by.reason}` })],
        result: { familyId: v.family_id, trialId: null, action: 'rejected', verdict: 'reject', decisionId, reason: by.reason },
      };
    }, by.actor);
  }

  /** A person reopens a paused trial so it gathers more evidence (the rule may pause it again at its cap). */
  async resume(familyId: string, by: PersonDecision): Promise<EvaluationResult> {
    checkPerson(by);
    return this.ledger.commit<EvaluationResult>(({ sql }) => {
      const t = this.liveTrial(sql, familyId);
      if (!t || t.status !== 'paused') throw conflict(`family ${familyId} has no paused trial`, 'familyId');
      const { policy, version, hash } = this.policyIn(sql, familyId);
      const decisionId = newId('d', (x) => !!sql.get('SELECT 1 FROM decisions WHERE id = ?', [x]));
      return {
        events: [
          this.personDecision(decisionId, t, t.stage, 'resume', by, version, hash, measure(sql, t, policy)),
          event('trial.status_changed', { trialId: t.id, status: 'open', reason: `resumed by ${by.actor}: ${by.reason}` }),
        ],
        result: { familyId, trialId: t.id, action: 'recorded', verdict: 'resume', decisionId, reason: by.reason },
      };
    }, by.actor);
  }

  private personDecision(
    decisionId: string, t: DecisionSubject, stage: string, verdict: RecordedVerdict, by: PersonDecision, version: number, hash: string,
    m: Measured, extra: Partial<DecisionDetail> = {},
  ) {
    return event('decision.recorded', {
      decisionId, familyId: t.family_id, candidateId: t.candidate_id, incumbentId: t.incumbent_id, trialId: t.id, stage, verdict,
      reason: by.reason, policyVersion: version, policyHash: hash, detail: this.detail(m.decision, m, { nextStage: null, ...extra }),
    });
  }

  private requireVariant(sql: Sql, variantId: string) {
    if (typeof variantId !== 'string' || !variantId) throw invalid('variantId', 'name the variant');
    const v = sql.get<{ family_id: string; status: VariantStatus; status_reason: string | null }>(
      'SELECT family_id, status, status_reason FROM variants WHERE id = ?', [variantId]);
    if (!v) throw notFound('variantId', 'variant', variantId);
    return v;
  }

  // ---- queries ----------------------------------------------------------------------------------------

  /**
   * Where a variant stands, without writing anything: its trial and stage, both arms, the statistics,
   * the guardrails, the verdict the rule would give now and the evidence still missing. A variant
   * without a live trial is read as if on trial now, over each variant's recent runs.
   */
  async assess(variantId: string): Promise<Assessment> {
    await this.ledger.refresh();
    const sql = this.ledger.sql;
    const v = this.requireVariant(sql, variantId);
    const { policy } = this.policyIn(sql, v.family_id);
    const live = this.liveTrial(sql, v.family_id);
    const own = live?.candidate_id === variantId ? live
      : sql.get<RawTrial>('SELECT * FROM trials WHERE candidate_id = ? ORDER BY started_seq DESC LIMIT 1', [variantId]);
    if (own && (own.status === 'open' || own.status === 'paused')) {
      const m = measure(sql, own, policy);
      const missing = [...m.decision.missing];
      if (own.status === 'paused') missing.unshift(`a person's decision: the trial is paused (promote or reject ${variantId}, or resume the trial)`);
      return toAssessment(variantId, v, toTrial(own), own.stage as TrialStage, m, missing);
    }
    const incumbentId = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [v.family_id])!.active_variant;
    const incumbent = incumbentId && incumbentId !== variantId ? recentArm(sql, incumbentId, BASELINE_RUNS) : emptyArm();
    const decision = decide({ policy, incumbent, candidate: recentArm(sql, variantId, BASELINE_RUNS), stage: 'trial' });
    const m: Measured = { decision, period: { fromSeq: 0, toSeq: null }, watermark: '', counted: true };
    const why = v.status === 'active' ? `nothing: ${variantId} is the active variant`
      : v.status === 'rejected' ? `nothing: ${variantId} was rejected`
        : `a trial: ${variantId} has none open, so these numbers are its recent runs against the active variant's, not the same period`;
    return toAssessment(variantId, v, own ? toTrial(own) : null, 'trial', m, [why, ...decision.missing]);
  }

  /** A family's decisions, oldest first. */
  decisions(familyId: string, options: { trialId?: string; limit?: number } = {}): DecisionRecord[] {
    const limit = Math.max(1, Math.min(options.limit ?? 1000, 10_000));
    const rows = this.ledger.sql.all<RawDecision>(
      `SELECT * FROM (SELECT * FROM decisions WHERE family_id = ? ${options.trialId ? 'AND trial_id = ?' : ''} ORDER BY seq DESC LIMIT ${limit}) ORDER BY seq`,
      options.trialId ? [familyId, options.trialId] : [familyId]);
    return rows.map((r) => ({
      id: r.id, familyId: r.family_id, candidateId: r.candidate_id, incumbentId: r.incumbent_id, trialId: r.trial_id, stage: r.stage,
      verdict: r.verdict, actor: r.actor, reason: r.reason, policyVersion: r.policy_version, policyHash: r.policy_hash,
      detail: JSON.parse(r.detail) as DecisionDetail, seq: r.seq, at: r.at,
    }));
  }
}

interface RawDecision {
  id: string; family_id: string; candidate_id: string; incumbent_id: string | null; trial_id: string | null; stage: string; verdict: string;
  actor: string; reason: string; policy_version: number | null; policy_hash: string | null; detail: string; seq: number; at: string;
}

function checkPerson(by: PersonDecision): void {
  if (!by || typeof by.actor !== 'string' || !by.actor.trim()) throw invalid('actor', 'name the person who decides');
  if (typeof by.reason !== 'string' || !by.reason.trim()) throw invalid('reason', 'say why, in a sentence; it is kept with the decision');
}

function toTrial(r: RawTrial): TrialRow {
  return {
    id: r.id, familyId: r.family_id, candidateId: r.candidate_id, incumbentId: r.incumbent_id, stage: r.stage as TrialStage, share: r.share,
    status: r.status as TrialStatus, startedSeq: r.started_seq, startedAt: r.started_at, endedAt: r.ended_at,
  };
}

function toAssessment(
  variantId: string, v: { family_id: string; status: VariantStatus }, trial: TrialRow | null, stage: TrialStage, m: Measured, missing: string[],
): Assessment {
  const d = m.decision;
  return {
    variantId, familyId: v.family_id, status: v.status, trial, stage, arms: d.arms, pairs: d.statistics.pairs, statistics: d.statistics,
    guardrails: d.guardrails, verdict: d.verdict, ruleVerdict: d.ruleVerdict, nextStage: d.nextStage, reason: d.reason, missing,
    policyVersion: d.policyVersion, policyHash: d.policyHash, period: m.period,
  };
}

/** `patch` over `base`: plain objects merge field by field, anything else replaces. */
function mergeDeep(base: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = base && typeof base === 'object' && !Array.isArray(base) ? { ...(base as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'version') continue;
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
      ? mergeDeep(cur, v as Record<string, unknown>)
      : v;
  }
  return out;
}
