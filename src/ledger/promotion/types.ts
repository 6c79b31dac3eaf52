// The promotion loop's shapes: trials, decision records, assessments and evaluation results, shared by
// the measurement (measurement.ts), the service (service.ts) and their callers.
import type { ArmStats, DecisionStatistics, GuardrailRow, PromotionStage, Verdict } from './decide';
import type { PairedCounts } from './stats';
import type { EvolutionPolicy } from './policy';
import type { VariantStatus } from '../events';

export type TrialStage = PromotionStage;
/** open and paused trials are live; the others are how a trial ended. */
export type TrialStatus = 'open' | 'paused' | 'confirmed' | 'rejected' | 'rolled_back' | 'superseded';
/**
 * What a decision record says happened. The rule's own verdicts, plus `advance` (the screen passed,
 * the trial on live runs begins), `confirm` (the watch window closed clean) and `resume` (a person
 * reopened a paused trial).
 */
export type RecordedVerdict = Verdict | 'advance' | 'confirm' | 'resume';

export interface TrialRow {
  id: string;
  familyId: string;
  candidateId: string;
  incumbentId: string;
  stage: TrialStage;
  /** Share of new tasks routed to the candidate; 0 outside the trial stage. */
  share: number;
  status: TrialStatus;
  startedSeq: number;
  startedAt: string;
  endedAt: string | null;
}

export interface PolicyRecord {
  policy: EvolutionPolicy;
  version: number;
  hash: string;
  /** False when the family has no policy of its own and the defaults apply. */
  custom: boolean;
}

/** Everything a decision record keeps besides its columns, so a verdict can be re-derived later. */
export interface DecisionDetail {
  /** What the rule alone said (it differs from the recorded verdict for a person's decision or an approval pause). */
  ruleVerdict: Verdict;
  ruleReason: string;
  /** The stage this decision moved the trial into, if any. */
  nextStage: TrialStage | 'done' | null;
  arms: { incumbent: ArmStats; candidate: ArmStats };
  pairs: PairedCounts | null;
  statistics: DecisionStatistics;
  guardrails: GuardrailRow[];
  missing: string[];
  /** The runs counted: those created at or after `fromSeq` (and before `toSeq` when set). */
  period: { fromSeq: number; toSeq: number | null };
  /** Fingerprint of the counted evidence: the same evidence is never decided twice. */
  watermark: string;
  /**
   * The rule's reason without its numbers (Decision.basis); a `continue` is recorded only when it
   * changes. Absent in decisions recorded before it existed.
   */
  basis?: string;
  /** On a promotion: the previous variant's numbers the watch window compares against. */
  baseline?: ArmStats;
  /** The process that wrote the decision (the ledger's actor), next to the decision's actor. */
  evaluatedBy: string;
}

export interface DecisionRecord {
  id: string;
  familyId: string;
  candidateId: string;
  incumbentId: string | null;
  trialId: string | null;
  stage: string;
  verdict: string;
  actor: string;
  reason: string;
  policyVersion: number | null;
  policyHash: string | null;
  detail: DecisionDetail | Record<string, unknown>;
  seq: number;
  at: string;
}

export interface Assessment {
  variantId: string;
  familyId: string;
  status: VariantStatus;
  /** The variant's trial: the live one, else the latest it had; null when it never had one. */
  trial: TrialRow | null;
  /** The stage the numbers are for; 'trial' for a hypothetical reading of a variant without a live trial. */
  stage: TrialStage;
  arms: { incumbent: ArmStats; candidate: ArmStats };
  pairs: PairedCounts | null;
  statistics: DecisionStatistics;
  guardrails: readonly GuardrailRow[];
  /** What the rule would do now (after the approval gate), and what it says on its own. */
  verdict: Verdict;
  ruleVerdict: Verdict;
  nextStage: TrialStage | 'done' | null;
  reason: string;
  /** Evidence still needed, in plain words. */
  missing: string[];
  policyVersion: number;
  policyHash: string;
  period: { fromSeq: number; toSeq: number | null };
}

export type EvaluationAction = 'none' | 'recorded' | 'advanced' | 'promoted' | 'rejected' | 'paused' | 'confirmed' | 'rolled_back' | 'superseded';

export interface EvaluationResult {
  familyId: string;
  trialId: string | null;
  /** What the evaluation did; 'none' when it wrote nothing. */
  action: EvaluationAction;
  verdict: RecordedVerdict | null;
  decisionId: string | null;
  reason: string;
}

export interface PersonDecision {
  actor: string;
  reason: string;
}

/**
 * One paired replay for PromotionService.recordReplay. Without run ids the outcomes are required and
 * two synthetic replay runs are stored; with both run ids the real runs are linked, and a success is
 * needed only for a run that has no outcome yet (one its checks decided is kept).
 */
export interface RecordReplayInput {
  /** The open screen trial. */
  trialId: string;
  /** The replayed task's key (at most 400 characters); linked runs must carry it. */
  taskKey: string;
  candidateSuccess?: boolean;
  incumbentSuccess?: boolean;
  /** A finished run of the candidate on this task, started after the screen began. */
  candidateRunId?: string;
  /** A finished run of the incumbent on this task, started after the screen began. */
  incumbentRunId?: string;
}
