// The replay lab: a candidate variant and the family's incumbent re-run the incumbent's past tasks
// (same variables, same base commit) in throwaway worktrees, driven by a controller within a budget.
// Each finished pair is recorded through the promotion service's recordReplay, so it feeds the screen
// stage's sequential test; the lab stops when the rule decides, when the budget is spent, or when it
// is cancelled. The rule itself lives in src/ledger/promotion: nothing here decides. See docs/replay.md.
import { LedgerError, errorMessage } from '../ledger/index';
import type { EvaluationResult, FormulaService, Ledger, PromotionService, RunRow, TrialRow } from '../ledger/index';
import type { Controller } from './controller';
import { takeReplayLock } from './replayLock';
import { REPLAY_TASK_PREFIX } from './worktree';

/** What a replay may spend; the lab starts no pair that could exceed `runs`, and stops at `tokens` or `wallMs`. */
export interface ReplayBudget {
  /** Runs in all, both arms counted (a pair is two runs). Default 2 × tasks. */
  runs: number;
  /** Tokens of every replay run, summed. Default 2,000,000. */
  tokens: number;
  /** Wall time of the whole replay in ms; runs still going when it is spent are cancelled. Default one hour. */
  wallMs: number;
}

/** Why a replay stopped. */
export type ReplayStop = 'decided' | 'tasks-done' | 'no-tasks' | 'budget-runs' | 'budget-tokens' | 'budget-time' | 'cancelled';

/** One replayed task: the past run and the two new runs with their outcomes. */
export interface ReplayPair {
  /** The incumbent's past run whose task was replayed. */
  pastRunId: string;
  taskKey: string;
  /** The commit both worktrees were checked out at (null: the workspace had no git repository). */
  baseCommit: string | null;
  candidateRunId: string;
  incumbentRunId: string;
  candidateSuccess: boolean | null;
  incumbentSuccess: boolean | null;
  /** Whether the pair was recorded for the screen (both runs reached an outcome). */
  recorded: boolean;
}

/** What a replay did, for the CLI, the MCP tool and VS Code. */
export interface ReplayReport {
  candidateId: string;
  incumbentId: string;
  familyId: string;
  trialId: string;
  /** True when the lab started the screen trial itself (none was open). */
  startedTrial: boolean;
  pairs: ReplayPair[];
  stop: ReplayStop;
  /** One sentence a person reads: why it stopped and where the candidate stands. */
  summary: string;
  /** The trial as it stands after the last pair (stage, status). */
  trial: TrialRow | undefined;
  /** What the rule said about the last recorded pair, if any. */
  lastEvaluation: EvaluationResult | null;
  spent: { runs: number; tokens: number; wallMs: number };
}

/** Progress as the lab works: one event per step, for progress bars and lines. */
export type ReplayProgress =
  | { type: 'planned'; trialId: string; tasks: number; startedTrial: boolean }
  | { type: 'pairStarted'; index: number; of: number; pastRunId: string; candidateRunId: string; incumbentRunId: string }
  | { type: 'pairEnded'; index: number; of: number; pair: ReplayPair; evaluation: EvaluationResult | null }
  | { type: 'stopped'; stop: ReplayStop; summary: string };

/** The input of a replay: what the CLI, the MCP tool and VS Code pass in. */
export interface ReplayInput {
  /** The candidate variant (v-…); its family's active variant is the incumbent. */
  variantId: string;
  /** How many past tasks to replay at most. Default 10, at most 200. */
  tasks?: number;
  budget?: Partial<ReplayBudget>;
}

/** What drives a replay: a started controller (scoped or not), the ledger services, and an abort signal. */
export interface ReplayDeps {
  ledger: Ledger;
  formulas: FormulaService;
  promotion: PromotionService;
  controller: Controller;
  signal?: AbortSignal;
  onProgress?: (p: ReplayProgress) => void;
  actor?: string;
  /** The token of a replay lock taken by the process that started this one (REPLAY_LOCK_ENV), to adopt instead of refuse. */
  adoptLock?: string;
}

const MAX_TASKS = 200;

function invalid(field: string, message: string): LedgerError {
  return new LedgerError(`${field}: ${message}`, 'invalid_input', field);
}

function wholeNumber(value: unknown, field: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `give a whole number from ${min} to ${max}, not ${JSON.stringify(value)?.slice(0, 40) ?? String(value)}`);
  }
  return value;
}

/**
 * Checks a replay's input and returns it with defaults: every field is named in the error when it is
 * wrong (a LedgerError with code invalid_input). Does not look at the ledger.
 */
export function parseReplayInput(input: unknown): { variantId: string; tasks: number; budget: ReplayBudget } {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid('input', 'give an object with variantId');
  const o = input as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['variantId', 'tasks', 'budget'].includes(key)) throw invalid(key, 'is not a replay option; use variantId, tasks, budget');
  }
  if (typeof o.variantId !== 'string' || !/^[A-Za-z0-9_.-]{1,200}$/.test(o.variantId)) throw invalid('variantId', 'name the candidate variant, e.g. v-1a2b3c4d');
  const tasks = wholeNumber(o.tasks, 'tasks', 1, MAX_TASKS) ?? 10;
  const b = o.budget ?? {};
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw invalid('budget', 'give an object with runs, tokens and wallMs');
  const bo = b as Record<string, unknown>;
  for (const key of Object.keys(bo)) {
    if (!['runs', 'tokens', 'wallMs'].includes(key)) throw invalid(`budget.${key}`, 'is not a budget; use runs, tokens, wallMs');
  }
  const budget: ReplayBudget = {
    runs: wholeNumber(bo.runs, 'budget.runs', 2, 2 * MAX_TASKS) ?? 2 * tasks,
    tokens: wholeNumber(bo.tokens, 'budget.tokens', 1, 1e12) ?? 2_000_000,
    wallMs: wholeNumber(bo.wallMs, 'budget.wallMs', 1000, 7 * 24 * 3600 * 1000) ?? 3600 * 1000,
  };
  return { variantId: o.variantId, tasks, budget };
}

/** A past run of the incumbent worth replaying: its task key, variables and base commit. */
interface PastTask {
  run: RunRow;
  baseCommit: string | null;
}

/**
 * The incumbent's past tasks, newest first: finished runs with a task key and an outcome, not replays
 * themselves, one per task key, skipping those this trial has replayed already.
 */
export function pastTasks(ledger: Ledger, incumbentId: string, trialStartSeq: number, limit: number): PastTask[] {
  const rows = ledger.sql.all<{ id: string; task_key: string }>(
    `SELECT id, task_key FROM runs WHERE variant_id = ? AND task_key IS NOT NULL AND outcome IS NOT NULL AND status IN ('done', 'failed')
       AND substr(task_key, 1, ?) <> ? ORDER BY created_seq DESC LIMIT 5000`, [incumbentId, REPLAY_TASK_PREFIX.length, REPLAY_TASK_PREFIX]);
  const replayed = new Set(ledger.sql.all<{ task_key: string }>(
    'SELECT DISTINCT task_key FROM runs WHERE created_seq >= ? AND substr(task_key, 1, ?) = ?', [trialStartSeq, REPLAY_TASK_PREFIX.length, REPLAY_TASK_PREFIX]).map((r) => r.task_key));
  const seen = new Set<string>();
  const out: PastTask[] = [];
  for (const r of rows) {
    if (seen.has(r.task_key) || replayed.has(replayKey(r.id))) continue;
    seen.add(r.task_key);
    const run = ledger.getRun(r.id);
    if (!run) continue;
    const wt = ledger.sql.get<{ base_commit: string }>('SELECT base_commit FROM run_worktrees WHERE run_id = ?', [r.id]);
    out.push({ run, baseCommit: wt?.base_commit ?? null });
    if (out.length >= limit) break;
  }
  return out;
}

/** The task key both runs of a replay share (so the screen pairs them): `replay:<past run id>`. */
export function replayKey(pastRunId: string): string {
  return `${REPLAY_TASK_PREFIX}${pastRunId}`;
}

/** A run's variables that a variant's formula declares, with values a run can take (strings, booleans, lists). */
function varsFor(formulas: FormulaService, variantId: string, vars: Record<string, unknown>): Record<string, string | boolean | string[]> {
  const declared = formulas.variantFormula(variantId).vars;
  const out: Record<string, string | boolean | string[]> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (!Object.prototype.hasOwnProperty.call(declared, k)) continue;
    if (typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) out[k] = v as string[];
  }
  return out;
}

/**
 * Finds the candidate, its incumbent and the open screen trial (starting one when the family has no
 * live trial). Throws a LedgerError naming variantId when the variant is unknown, active, rejected, or
 * its family has a trial that is not an open screen of this candidate.
 */
export async function openScreen(formulas: FormulaService, promotion: PromotionService, variantId: string, actor?: string): Promise<{ trial: TrialRow; started: boolean }> {
  const v = formulas.getVariant(variantId);
  if (!v) throw new LedgerError(`variantId: no variant ${variantId}; see gascity lineage FAMILY`, 'not_found', 'variantId');
  const live = promotion.liveTrialOf(v.familyId);
  if (live) {
    if (live.candidateId !== variantId) {
      throw new LedgerError(`variantId: family ${v.familyId} has a ${live.status} trial (${live.id}) of another candidate, ${live.candidateId}; decide it first`, 'conflict', 'variantId');
    }
    if (live.status !== 'open' || live.stage !== 'screen') {
      throw new LedgerError(`variantId: ${variantId}'s trial ${live.id} is ${live.status} in stage ${live.stage}; replays count only in an open screen`, 'conflict', 'variantId');
    }
    return { trial: live, started: false };
  }
  return { trial: await promotion.startTrial({ variantId, stage: 'screen' }, actor), started: true };
}

/**
 * Refuses, before anything is written, a replay that would open a new screen trial with nothing to
 * replay: when the candidate's family has no live trial and its active variant (the incumbent such a
 * trial would compare with) has no finished past run with a task key. Without this check a replay
 * asked for in vain left the candidate in an open screen, which then blocked every other candidate of
 * the family. Throws LedgerError conflict naming `variantId`; other refusals (unknown, active or
 * rejected variant, another candidate's trial) are left to openScreen, which words them.
 */
export function checkReplayable(ledger: Ledger, formulas: FormulaService, promotion: PromotionService, variantId: string): void {
  const v = formulas.getVariant(variantId);
  if (!v || v.status === 'active' || v.status === 'rejected' || promotion.liveTrialOf(v.familyId)) return;
  const incumbentId = formulas.getFamily(v.familyId)?.activeVariantId;
  if (!incumbentId) return;
  if (pastTasks(ledger, incumbentId, Number.MAX_SAFE_INTEGER, 1).length > 0) return;
  throw new LedgerError(
    `variantId: the incumbent ${incumbentId} of ${v.familyId} has no finished past run with a task key to replay, so no screen trial was opened; ` +
    'run the incumbent on tasks first (workflow_start with taskKey, or gascity run FAMILY --task KEY)', 'conflict', 'variantId');
}

/** Resolves after `ms`, or at once when the signal aborts. */
function sleepOrAbort(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs a replay screen for a candidate: up to `tasks` past tasks of the incumbent, one pair at a time,
 * each task on both variants at once in throwaway worktrees at the past run's base commit, driven by
 * `deps.controller` (which must be started). A pair is recorded for the screen when both runs reached
 * an outcome; then the rule is asked (recordReplay), and the lab stops once the trial is no longer an
 * open screen (the rule decided), when the next pair would exceed the run budget, when the tokens or the
 * wall time are spent (runs still going are cancelled), or when `deps.signal` aborts (likewise).
 * Throws a LedgerError for bad input, an unknown or non-candidate variant, or a conflicting trial.
 */
export async function replayVariant(input: ReplayInput | Record<string, unknown>, deps: ReplayDeps): Promise<ReplayReport> {
  // One replay per candidate at a time, across processes (src/controller/replayLock.ts); a lock handed over by
  // the starter (formula_replay) is adopted.
  const lock = takeReplayLock(deps.ledger, parseReplayInput(input).variantId, { adopt: deps.adoptLock });
  try {
    return await replayHeld(input, deps);
  } finally {
    lock.release();
  }
}

async function replayHeld(input: ReplayInput | Record<string, unknown>, deps: ReplayDeps): Promise<ReplayReport> {
  const { variantId, tasks, budget } = parseReplayInput(input);
  const { ledger, formulas, promotion, controller } = deps;
  const actor = deps.actor ?? 'replay';
  const emit = (p: ReplayProgress): void => {
    try {
      deps.onProgress?.(p);
    } catch {
      // A listener's failure is not the replay's.
    }
  };
  await ledger.refresh();
  const started = Date.now();
  checkReplayable(ledger, formulas, promotion, variantId);
  const { trial, started: startedTrial } = await openScreen(formulas, promotion, variantId, actor);
  const trialStartSeq = ledger.sql.get<{ started_seq: number }>('SELECT started_seq FROM trials WHERE id = ?', [trial.id])?.started_seq ?? 0;
  const incumbentId = trial.incumbentId;
  const family = trial.familyId;
  const plan = pastTasks(ledger, incumbentId, trialStartSeq, tasks);
  emit({ type: 'planned', trialId: trial.id, tasks: plan.length, startedTrial });
  const pairs: ReplayPair[] = [];
  const spent = { runs: 0, tokens: 0, wallMs: 0 };
  let lastEvaluation: EvaluationResult | null = null;
  let stop: ReplayStop = plan.length === 0 ? 'no-tasks' : 'tasks-done';

  const stillScreening = (): boolean => {
    const t = promotion.trial(trial.id);
    return !!t && t.status === 'open' && t.stage === 'screen';
  };

  for (let i = 0; i < plan.length; i++) {
    if (deps.signal?.aborted) { stop = 'cancelled'; break; }
    if (!stillScreening()) { stop = 'decided'; break; }
    if (spent.runs + 2 > budget.runs) { stop = 'budget-runs'; break; }
    if (spent.tokens >= budget.tokens) { stop = 'budget-tokens'; break; }
    if (Date.now() - started >= budget.wallMs) { stop = 'budget-time'; break; }
    const past = plan[i]!;
    const taskKey = replayKey(past.run.id);
    const start = async (variant: string, arm: string): Promise<string> => (await formulas.startRunFromFormula({
      // arm "replay": the run pairs up in the screen and never counts as a live trial run.
      family, variantId: variant, vars: varsFor(formulas, variant, past.run.vars), taskKey, arm: 'replay',
      title: `replay of ${past.run.id} on the ${arm} ${variant}`.slice(0, 200),
    }, actor)).runId;
    const candidateRunId = await start(variantId, 'candidate');
    const incumbentRunId = await start(incumbentId, 'incumbent');
    spent.runs += 2;
    // Both worktrees at the past run's base commit before any node is dispatched in them.
    if (controller.worktrees) {
      for (const runId of [candidateRunId, incumbentRunId]) {
        try {
          await controller.worktrees.ensure(runId, past.baseCommit ?? undefined);
        } catch (e) {
          // The base commit is gone (history rewritten): both runs are cancelled rather than run elsewhere.
          for (const r of [candidateRunId, incumbentRunId]) await ledger.cancelRun({ runId: r, reason: `replay could not check out its base commit: ${errorMessage(e)}` }, actor).catch(() => undefined);
          throw e;
        }
      }
    }
    emit({ type: 'pairStarted', index: i + 1, of: plan.length, pastRunId: past.run.id, candidateRunId, incumbentRunId });
    controller.include(candidateRunId);
    controller.include(incumbentRunId);

    // Waits for both runs (outcomes recorded), the wall-time budget, or a cancel, whichever comes first.
    const remaining = Math.max(0, budget.wallMs - (Date.now() - started));
    const timeout = new AbortController();
    const waited = await Promise.race([
      controller.waitForRuns([candidateRunId, incumbentRunId]).then(() => 'ended' as const),
      sleepOrAbort(remaining, AbortSignal.any([timeout.signal, ...(deps.signal ? [deps.signal] : [])])).then(() => 'interrupted' as const),
    ]);
    timeout.abort();
    if (waited === 'interrupted') {
      const why = deps.signal?.aborted ? 'the replay was cancelled' : `the replay's wall-time budget of ${Math.round(budget.wallMs / 1000)} s was spent`;
      for (const r of [candidateRunId, incumbentRunId]) {
        if (ledger.getRun(r)?.status === 'running') await controller.cancelRun(r, why, actor).catch(() => undefined);
      }
      // The cancelled runs settle (their worktrees are removed) before the lab returns.
      await Promise.race([controller.waitForRuns([candidateRunId, incumbentRunId]), sleepOrAbort(30_000)]);
    }
    await ledger.refresh();
    const c = ledger.getRun(candidateRunId);
    const inc = ledger.getRun(incumbentRunId);
    spent.tokens += (c?.tokens ?? 0) + (inc?.tokens ?? 0);
    const pair: ReplayPair = {
      pastRunId: past.run.id, taskKey, baseCommit: controller.worktrees?.get(candidateRunId)?.baseCommit ?? null, candidateRunId, incumbentRunId,
      candidateSuccess: c?.outcome ? c.outcome === 'success' : null, incumbentSuccess: inc?.outcome ? inc.outcome === 'success' : null, recorded: false,
    };
    let evaluation: EvaluationResult | null = null;
    if (waited === 'ended' && pair.candidateSuccess !== null && pair.incumbentSuccess !== null && stillScreening()) {
      // recordReplay links the two real runs (their checks decided their outcomes) as the screen's pair
      // and asks the rule at once.
      evaluation = await promotion.recordReplay({ trialId: trial.id, taskKey, candidateRunId, incumbentRunId }, actor);
      lastEvaluation = evaluation;
      pair.recorded = true;
    } else if (waited === 'ended' && pair.candidateSuccess !== null && pair.incumbentSuccess !== null) {
      // The rule decided on these very runs when their outcomes were recorded (the controller asked it).
      pair.recorded = true;
    }
    pairs.push(pair);
    emit({ type: 'pairEnded', index: i + 1, of: plan.length, pair, evaluation });
    if (waited === 'interrupted') {
      stop = deps.signal?.aborted ? 'cancelled' : 'budget-time';
      break;
    }
    if (!stillScreening()) { stop = 'decided'; break; }
  }
  if (stop === 'tasks-done' && !stillScreening()) stop = 'decided';
  spent.wallMs = Date.now() - started;
  const after = promotion.trial(trial.id);
  const report: ReplayReport = {
    candidateId: variantId, incumbentId, familyId: family, trialId: trial.id, startedTrial, pairs, stop, trial: after, lastEvaluation, spent,
    summary: summarize(stop, pairs, after, latestReason(promotion, family, trial.id) ?? lastEvaluation?.reason ?? null, budget, tasks),
  };
  emit({ type: 'stopped', stop, summary: report.summary });
  return report;
}

/** The reason of the trial's latest recorded decision (whoever asked the rule: the lab or the controller). */
function latestReason(promotion: PromotionService, familyId: string, trialId: string): string | null {
  const mine = promotion.decisions(familyId).filter((d) => d.trialId === trialId);
  return mine.length ? mine[mine.length - 1]!.reason : null;
}

function summarize(stop: ReplayStop, pairs: ReplayPair[], trial: TrialRow | undefined, rule: string | null, budget: ReplayBudget, tasks: number): string {
  const recorded = pairs.filter((p) => p.recorded).length;
  const wins = pairs.filter((p) => p.recorded && p.candidateSuccess && !p.incumbentSuccess).length;
  const losses = pairs.filter((p) => p.recorded && !p.candidateSuccess && p.incumbentSuccess).length;
  const why: Record<ReplayStop, string> = {
    'decided': 'the rule decided',
    'tasks-done': `all ${pairs.length} past task(s) asked for (${tasks}) were replayed`,
    'no-tasks': 'the incumbent has no finished past task with a task key left to replay in this screen',
    'budget-runs': `the run budget (${budget.runs}) would be exceeded by another pair`,
    'budget-tokens': `the token budget (${budget.tokens}) was spent`,
    'budget-time': `the wall-time budget (${Math.round(budget.wallMs / 1000)} s) was spent`,
    'cancelled': 'it was cancelled',
  };
  const where = trial ? `trial ${trial.id} is ${trial.status} in stage ${trial.stage}` : 'the trial is gone';
  return `Replay stopped because ${why[stop]}: ${recorded} pair(s) recorded (candidate alone succeeded in ${wins}, incumbent alone in ${losses}); ${where}${rule ? `. The rule: ${rule}` : ''}`;
}
