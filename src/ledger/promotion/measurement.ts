// Measuring a trial: what each arm counts in the trial's current stage (kept per arm by the projection,
// promotion/arms.ts), the paired replays of a screen, and each variant's recent runs for decisions
// outside a trial. Everything reads the tables only; nothing here writes.
import { createHash } from 'node:crypto';
import type { Sql } from '../store/sql';
import { REPLAY_ARM, stageEntry } from './arms';
import { decide } from './decide';
import type { ArmStats, Decision } from './decide';
import { canonicalJson } from './policy';
import type { EvolutionPolicy } from './policy';
import type { PairedCounts, PairedResult } from './stats';
import type { DecisionDetail, TrialStage } from './types';

/** Runs of the previous variant a trial-less promotion's watch window is compared against. */
export const BASELINE_RUNS = 100;

/** A trials row as stored. */
export interface RawTrial {
  id: string; family_id: string; candidate_id: string; incumbent_id: string; stage: string; share: number; status: string;
  started_seq: number; started_at: string; ended_at: string | null;
}

/** The rule's decision on a trial's counted evidence, with the period and fingerprint of what was counted. */
export interface Measured {
  decision: Decision;
  period: { fromSeq: number; toSeq: number | null };
  watermark: string;
  /** Whether any evidence at all was counted (runs on either arm, or pairs). */
  counted: boolean;
}

interface RawArmRun {
  variant_id: string; task_key: string | null; outcome: string; interventions: number; review_rejections: number; tokens: number; duration_ms: number;
  false_done: number;
}

const ARM_COLUMNS = 'variant_id, task_key, outcome, interventions, review_rejections, tokens, duration_ms, false_done';

/** An arm with nothing counted. */
export function emptyArm(): ArmStats {
  return { runs: 0, successes: 0, interventions: 0, reviewRejections: 0, tokens: 0, durationMs: 0, falseDone: 0 };
}

function sumArm(rows: readonly RawArmRun[]): ArmStats {
  const a = { runs: 0, successes: 0, interventions: 0, reviewRejections: 0, tokens: 0, durationMs: 0, falseDone: 0 };
  for (const r of rows) {
    a.runs++;
    if (r.outcome === 'success') a.successes++;
    a.interventions += r.interventions;
    a.reviewRejections += r.review_rejections;
    a.tokens += r.tokens;
    a.durationMs += r.duration_ms;
    a.falseDone += r.false_done;
  }
  return a;
}

/**
 * A variant's live runs with an outcome created at or after `fromSeq`, summed over the runs table.
 * The projection's trial_arms row holds the same numbers for a live trial; this is the reference the
 * tests compare it with, and the fallback should the row be missing.
 */
export function armStats(sql: Sql, variantId: string, fromSeq: number): ArmStats {
  const r = sql.get<{ runs: number; successes: number | null; interventions: number | null; rr: number | null; tokens: number | null; duration: number | null; fd: number | null }>(
    `SELECT count(*) AS runs, sum(outcome = 'success') AS successes, sum(interventions) AS interventions, sum(review_rejections) AS rr,
       sum(tokens) AS tokens, sum(duration_ms) AS duration, sum(false_done) AS fd
     FROM runs WHERE variant_id = ? AND created_seq >= ? AND outcome IS NOT NULL AND (arm IS NULL OR arm <> '${REPLAY_ARM}')`,
    [variantId, fromSeq])!;
  return {
    runs: r.runs, successes: r.successes ?? 0, interventions: r.interventions ?? 0, reviewRejections: r.rr ?? 0, tokens: r.tokens ?? 0, durationMs: r.duration ?? 0,
    falseDone: r.fd ?? 0,
  };
}

/** The arm's counts the projection keeps for a live trial's current stage; undefined when it has no row. */
function keptArm(sql: Sql, trialId: string, variantId: string, stage: string): ArmStats | undefined {
  const r = sql.get<{ stage: string; runs: number; successes: number; interventions: number; review_rejections: number; tokens: number; duration_ms: number; false_done: number }>(
    'SELECT * FROM trial_arms WHERE trial_id = ? AND variant_id = ?', [trialId, variantId]);
  if (!r || r.stage !== stage) return undefined;
  return {
    runs: r.runs, successes: r.successes, interventions: r.interventions, reviewRejections: r.review_rejections, tokens: r.tokens, durationMs: r.duration_ms,
    falseDone: r.false_done,
  };
}

/** A variant's most recent `limit` live runs with an outcome, whenever they ran. */
export function recentArm(sql: Sql, variantId: string, limit: number): ArmStats {
  return sumArm(sql.all<RawArmRun>(
    `SELECT ${ARM_COLUMNS} FROM runs
     WHERE variant_id = ? AND outcome IS NOT NULL AND (arm IS NULL OR arm <> '${REPLAY_ARM}') ORDER BY created_seq DESC LIMIT ${limit}`, [variantId]));
}

/**
 * The incumbent's history for the screen: its most recent `limit` runs with an outcome, of any arm
 * (its replays are runs of it too), read through runs_variant newest first.
 */
export function historyArm(sql: Sql, variantId: string, limit: number): ArmStats {
  return sumArm(sql.all<RawArmRun>(
    `SELECT ${ARM_COLUMNS} FROM runs WHERE variant_id = ? AND outcome IS NOT NULL ORDER BY created_seq DESC LIMIT ${limit}`, [variantId]));
}

/** Fingerprint of what a decision counted: the stage, both arms and the pairs (sha256, 16 hex digits). */
export function watermark(stage: string, arms: Decision['arms'], pairs: PairedCounts | null): string {
  return createHash('sha256').update(`${stage}\u0000${canonicalJson({ arms, pairs })}`).digest('hex').slice(0, 16);
}

/** The decision that moved the trial into `stage`: its seq starts that stage's period. */
export function entered(sql: Sql, t: RawTrial, stage: TrialStage): { seq: number; detail: Partial<DecisionDetail> } | undefined {
  return stageEntry(sql, t.id, stage) as { seq: number; detail: Partial<DecisionDetail> } | undefined;
}

/**
 * Counts the evidence of a trial's current stage and applies the rule. The screen compares paired
 * replays; the trial compares both variants' runs created since the trial stage began (the same
 * period for both); the watch compares the promoted variant's runs since its promotion with the
 * baseline recorded in the promotion decision. The arms' counts are read from trial_arms, so the
 * cost does not grow with the runs counted or with the ledger's history.
 */
export function measure(sql: Sql, t: RawTrial, policy: EvolutionPolicy): Measured {
  const stage = t.stage as TrialStage;
  if (stage === 'screen') {
    // The candidate's replays (every run of it since the screen began) against the incumbent's history;
    // the pairs (tasks both ran) are counted too, for the paired SPRT.
    const { pairs } = screenPairs(sql, t, t.started_seq);
    const candidate = sumArm(sql.all<RawArmRun>(
      `SELECT ${ARM_COLUMNS} FROM runs WHERE variant_id = ? AND created_seq >= ? AND outcome IS NOT NULL`, [t.candidate_id, t.started_seq]));
    const incumbent = historyArm(sql, t.incumbent_id, policy.stages.screen.historyRuns);
    const decision = decide({ policy, incumbent, candidate, pairs, stage });
    return {
      decision, period: { fromSeq: t.started_seq, toSeq: null }, watermark: watermark(stage, decision.arms, decision.statistics.pairs), counted: candidate.runs > 0,
    };
  }
  if (stage === 'trial') {
    const fromSeq = entered(sql, t, 'trial')?.seq ?? t.started_seq;
    const candidate = keptArm(sql, t.id, t.candidate_id, stage) ?? armStats(sql, t.candidate_id, fromSeq);
    const incumbent = keptArm(sql, t.id, t.incumbent_id, stage) ?? armStats(sql, t.incumbent_id, fromSeq);
    const decision = decide({ policy, incumbent, candidate, stage });
    return { decision, period: { fromSeq, toSeq: null }, watermark: watermark(stage, decision.arms, null), counted: candidate.runs + incumbent.runs > 0 };
  }
  const promotion = entered(sql, t, 'watch');
  const fromSeq = promotion?.seq ?? t.started_seq;
  const baseline = promotion?.detail.baseline ?? emptyArm();
  const candidate = keptArm(sql, t.id, t.candidate_id, stage) ?? armStats(sql, t.candidate_id, fromSeq + 1);
  const decision = decide({ policy, incumbent: baseline, candidate, stage });
  return { decision, period: { fromSeq: fromSeq + 1, toSeq: null }, watermark: watermark(stage, decision.arms, null), counted: candidate.runs > 0 };
}

/**
 * Paired replays of a screen: for every task key with a finished run of both variants since the
 * screen began, the earliest run of each. Pairs come from runs, whether recordReplay made them or
 * someone ran the candidate by hand on a task the incumbent ran in the same period.
 */
function screenPairs(sql: Sql, t: RawTrial, fromSeq: number): { pairs: PairedResult[]; candidate: ArmStats; incumbent: ArmStats } {
  const rows = sql.all<RawArmRun>(
    `SELECT ${ARM_COLUMNS} FROM runs
     WHERE variant_id IN (?, ?) AND created_seq >= ? AND outcome IS NOT NULL AND task_key IS NOT NULL
     ORDER BY created_seq`, [t.candidate_id, t.incumbent_id, fromSeq]);
  const first = new Map<string, { c?: RawArmRun; i?: RawArmRun }>();
  for (const r of rows) {
    const slot = first.get(r.task_key!) ?? {};
    if (r.variant_id === t.candidate_id) slot.c ??= r;
    else slot.i ??= r;
    first.set(r.task_key!, slot);
  }
  const pairs: PairedResult[] = [];
  const c: RawArmRun[] = [];
  const i: RawArmRun[] = [];
  for (const [task, slot] of first) {
    if (!slot.c || !slot.i) continue;
    pairs.push({ task, candidateSuccess: slot.c.outcome === 'success', incumbentSuccess: slot.i.outcome === 'success' });
    c.push(slot.c);
    i.push(slot.i);
  }
  return { pairs, candidate: sumArm(c), incumbent: sumArm(i) };
}
