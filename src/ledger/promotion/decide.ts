// The promotion decision: given the policy and what each arm has done, say what should happen next.
// It is a pure function of its input and is meant to be evaluated after every run; the Bayesian
// rule and the SPRT both stay valid under that kind of continuous checking.
import { DEFAULT_FALSE_DONE, policyHash } from './policy';
import type { EvolutionPolicy, GuardrailBound, GuardrailName, GuardrailSet } from './policy';
import { evolutionPolicySchema } from './policy';
import { countPairs, expectedLoss, logReplayEvidence, logTrialEvidence, probBBeatsA, sprtBounds, sprtLLR, sprtVerdict } from './stats';
import type { PairedCounts, PairedResult, SprtBounds, SprtVerdict } from './stats';

export type PromotionStage = 'screen' | 'trial' | 'watch';
export type Verdict = 'promote' | 'reject' | 'continue' | 'pause' | 'rollback';

/** What one variant did over the comparison period; the caller keeps both arms to the same period. */
export interface ArmStats {
  readonly runs: number;
  readonly successes: number;
  readonly interventions: number;
  readonly reviewRejections: number;
  readonly tokens: number;
  readonly durationMs: number;
  /** Runs the model reported done whose checks failed (the false-done guardrail); 0 when not counted. */
  readonly falseDone?: number;
}

export interface DecisionInput {
  readonly policy: EvolutionPolicy;
  /** In 'watch', the previously active variant's baseline from before the promotion. */
  readonly incumbent: ArmStats;
  /** In 'watch', the newly active variant's runs since the promotion. */
  readonly candidate: ArmStats;
  readonly pairs?: readonly PairedResult[];
  readonly stage: PromotionStage;
}

export type GuardrailRowName = GuardrailName | 'successRate';
export type GuardrailStatus = 'pass' | 'fail' | 'off' | 'no-data';

export interface GuardrailRow {
  readonly name: GuardrailRowName;
  readonly kind: GuardrailBound['kind'];
  readonly enabled: boolean;
  /** Incumbent's value per run (or rate); null without incumbent runs. */
  readonly incumbent: number | null;
  /** Candidate's value per run (or rate); null without candidate runs. */
  readonly candidate: number | null;
  /** candidate − incumbent, in the metric's own units. */
  readonly delta: number | null;
  /** How much worse the candidate is, in the bound's units (absolute points or a fraction of the incumbent). */
  readonly worsening: number | null;
  /** The largest worsening the policy allows. */
  readonly bound: number;
  readonly status: GuardrailStatus;
  readonly pass: boolean;
}

export interface DecisionStatistics {
  /** P(candidate's success rate > incumbent's) under the Beta-Binomial model. */
  readonly probBetter: number;
  /** E[max(p_incumbent − p_candidate, 0)]: success rate expected to be lost by choosing the candidate. */
  readonly expectedLoss: number;
  readonly sprtLLR: number | null;
  readonly sprtVerdict: SprtVerdict | null;
  readonly bounds: SprtBounds;
  readonly pairs: PairedCounts | null;
  /** Log of the trial's always-valid evidence ratio for "candidate better"; null outside the trial. */
  readonly trialLogEvidence: number | null;
  /** ln(1 / falsePromotionRate): the evidence a promotion needs. */
  readonly trialEvidenceBound: number;
  /**
   * Log of the screen's evidence ratio for "candidate better": its replays against the incumbent's
   * history (stats.ts, logReplayEvidence); null outside the screen. Absent in decisions recorded before it existed.
   */
  readonly replayLogEvidence?: number | null;
  /** ln(stages.screen.rejectEvidence): the screen rejects at or below minus this. */
  readonly replayRejectBound: number;
}

export interface Decision {
  /** What to do now, after the human-approval gate. */
  readonly verdict: Verdict;
  /** What the rule alone says; differs from verdict only when a promotion awaits approval. */
  readonly ruleVerdict: Verdict;
  readonly stage: PromotionStage;
  /** The stage to move to, when this decision ends the current one. */
  readonly nextStage: PromotionStage | 'done' | null;
  readonly statistics: DecisionStatistics;
  readonly guardrails: readonly GuardrailRow[];
  readonly arms: { readonly incumbent: ArmStats; readonly candidate: ArmStats };
  /** One plain sentence a person can read. */
  readonly reason: string;
  /**
   * What the reason says without its numbers (for example "trial:too-few-runs"): a `continue` is
   * recorded only when the verdict or this changes, not on every new run.
   */
  readonly basis: string;
  /** Evidence still needed before the rule can reach a verdict; empty once it has one. */
  readonly missing: readonly string[];
  readonly policyVersion: number;
  readonly policyHash: string;
}

// Validating and hashing the policy on every run would dominate the cost of a decision, and a
// policy object is not changed in place once built, so both are remembered per object.
const checkedPolicies = new WeakMap<EvolutionPolicy, string>();

function checkedPolicyHash(policy: EvolutionPolicy): string {
  const known = checkedPolicies.get(policy);
  if (known !== undefined) return known;
  const parsed = evolutionPolicySchema.safeParse(policy);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new RangeError(`invalid policy at ${first ? first.path.join('.') : '(policy)'}: ${first?.message ?? 'unknown'}`);
  }
  const hash = policyHash(policy);
  checkedPolicies.set(policy, hash);
  return hash;
}

function checkArm(arm: ArmStats, name: string): void {
  const fields: Array<keyof ArmStats> = ['runs', 'successes', 'interventions', 'reviewRejections', 'tokens', 'durationMs'];
  for (const f of fields) {
    const v = arm[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${name}.${f} must be a finite number >= 0, got ${v}`);
  }
  for (const f of ['runs', 'successes', 'interventions', 'reviewRejections'] as const) {
    if (!Number.isInteger(arm[f])) throw new RangeError(`${name}.${f} must be a whole number, got ${arm[f]}`);
  }
  if (arm.successes > arm.runs) throw new RangeError(`${name}.successes (${arm.successes}) exceeds ${name}.runs (${arm.runs})`);
  if (arm.falseDone !== undefined && (!Number.isInteger(arm.falseDone) || arm.falseDone < 0 || arm.falseDone > arm.runs)) {
    throw new RangeError(`${name}.falseDone must be a whole number from 0 to ${name}.runs (${arm.runs}), got ${arm.falseDone}`);
  }
}

const perRunMetric: Record<GuardrailName, (a: ArmStats) => number> = {
  interventionRate: (a) => a.interventions,
  reviewRejectionRate: (a) => a.reviewRejections,
  tokensPerRun: (a) => a.tokens,
  durationPerRun: (a) => a.durationMs,
  falseDoneRate: (a) => a.falseDone ?? 0,
};

const guardrailOrder: readonly GuardrailName[] = ['interventionRate', 'reviewRejectionRate', 'tokensPerRun', 'durationPerRun', 'falseDoneRate'];

function worseningOf(kind: GuardrailBound['kind'], incumbent: number, candidate: number): number | null {
  if (kind === 'absolute') return candidate - incumbent;
  // A relative change from zero has no size; a zero incumbent with a zero candidate is no change.
  if (incumbent === 0) return candidate === 0 ? 0 : null;
  return (candidate - incumbent) / incumbent;
}

function row(
  name: GuardrailRowName,
  bound: GuardrailBound,
  incumbent: number | null,
  candidate: number | null,
  worsening: (inc: number, cand: number) => number | null,
): GuardrailRow {
  const delta = incumbent !== null && candidate !== null ? candidate - incumbent : null;
  const w = incumbent !== null && candidate !== null ? worsening(incumbent, candidate) : null;
  let status: GuardrailStatus;
  if (!bound.enabled) status = 'off';
  else if (incumbent === null || candidate === null) status = 'no-data';
  else status = w !== null && w <= bound.maxIncrease + 1e-12 ? 'pass' : 'fail';
  return {
    name,
    kind: bound.kind,
    enabled: bound.enabled,
    incumbent,
    candidate,
    delta,
    worsening: w,
    bound: bound.maxIncrease,
    status,
    pass: status === 'pass' || status === 'off',
  };
}

// candidateRunsForMean lets the watch stage ask what the rows would look like at the end of the
// window in the candidate's best case: later runs can only add interventions, tokens and time.
function guardrailRows(set: GuardrailSet, inc: ArmStats, cand: ArmStats, candidateRunsForMean = cand.runs, watch = false): GuardrailRow[] {
  return guardrailOrder.map((name) => {
    // A policy stored before the false-done guardrail existed gets the stage's default bound.
    const bound = set[name] ?? (watch ? DEFAULT_FALSE_DONE.watch : DEFAULT_FALSE_DONE.trial);
    const metric = perRunMetric[name];
    const i = inc.runs > 0 ? metric(inc) / inc.runs : null;
    const c = candidateRunsForMean > 0 ? metric(cand) / candidateRunsForMean : null;
    return row(name, bound, i, c, (a, b) => worseningOf(bound.kind, a, b));
  });
}

function successDropRow(maxDrop: number, inc: ArmStats, candidateRate: number | null): GuardrailRow {
  const i = inc.runs > 0 ? inc.successes / inc.runs : null;
  return row('successRate', { enabled: true, kind: 'absolute', maxIncrease: maxDrop }, i, candidateRate, (a, b) => a - b);
}

function fmt(x: number): string {
  if (x === 0) return '0';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  return Number(x.toPrecision(3)).toString();
}

// Probabilities near 0 or 1 would round to a misleading "1" or "0" with three significant digits.
function fmtP(p: number): string {
  if (p > 0.999) return p < 0.99995 ? p.toFixed(4) : '> 0.9999';
  if (p < 0.001) return p >= 0.00005 ? p.toFixed(4) : '< 0.0001';
  return fmt(p);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function describeRow(r: GuardrailRow): string {
  const unit = r.kind === 'relative' ? ' of the incumbent' : '';
  if (r.worsening === null) return `${r.name} cannot be compared with an incumbent value of 0`;
  return `${r.name} is worse by ${fmt(r.worsening)}${unit}, beyond the bound of ${fmt(r.bound)}`;
}

interface RuleOutcome {
  verdict: Verdict;
  nextStage: PromotionStage | 'done' | null;
  reason: string;
  missing: string[];
  /** What the reason says without its numbers; defaults to the stage and verdict. */
  basis?: string;
}

/**
 * The screen: the candidate's replays of past tasks against the incumbent's history (input.incumbent).
 * Promotes (into the watch) once the replay evidence reaches 1 / falsePromotionRate with every guardrail
 * within its bound, rejects once the evidence for "no better" reaches rejectEvidence (or the paired
 * replays' SPRT says no better), and moves to a trial on live runs at its cap of replays.
 */
function decideScreen(input: DecisionInput, stats: DecisionStatistics, rows: GuardrailRow[]): RuleOutcome {
  const screen = input.policy.stages.screen;
  const { incumbent: inc, candidate: cand } = input;
  const n = cand.runs;
  if (n < screen.minPairs) {
    return {
      verdict: 'continue',
      nextStage: null,
      reason: `The screen has ${plural(n, 'replay')} of the candidate and needs ${screen.minPairs} before it can be decided.`,
      basis: 'screen:too-few-pairs',
      missing: [`${plural(screen.minPairs - n, 'more replay')} of the candidate before the screen can be decided`],
    };
  }
  const evidence = stats.replayLogEvidence ?? 0;
  const summary = `the candidate succeeded in ${cand.successes} of ${plural(n, 'replay')} against ${inc.successes} of ${inc.runs} runs in the incumbent's history`;
  const ratio = `the evidence ratio for the candidate is ${fmt(Math.exp(evidence))}`;
  if (evidence <= -stats.replayRejectBound) {
    return {
      verdict: 'reject',
      nextStage: null,
      reason: `The candidate is no better than the incumbent on replays: ${summary}, so ${ratio}, at or below 1/${fmt(Math.exp(stats.replayRejectBound))}.`,
      missing: [],
    };
  }
  if (stats.sprtVerdict === 'accept-h0') {
    const p = stats.pairs;
    return {
      verdict: 'reject',
      nextStage: null,
      reason: `The candidate is no better than the incumbent on paired replays: ${p?.wins ?? 0} wins and ${p?.losses ?? 0} losses put the SPRT at ${fmt(stats.sprtLLR ?? 0)}, at or below ${fmt(stats.bounds.lower)}.`,
      missing: [],
    };
  }
  const failing = rows.filter((r) => r.status === 'fail');
  if (evidence >= stats.trialEvidenceBound && failing.length === 0) {
    return {
      verdict: 'promote',
      nextStage: 'watch',
      reason: `The candidate should be promoted on its replays: ${summary}, ${ratio} (at least ${fmt(Math.exp(stats.trialEvidenceBound))}), and every guardrail is within its bound.`,
      missing: [],
    };
  }
  if (n >= screen.maxPairs) {
    return {
      verdict: 'continue',
      nextStage: 'trial',
      reason: `The screen reached its cap of ${screen.maxPairs} replays without a verdict (${summary}, ${ratio}${failing.length ? `; ${failing.map(describeRow).join(' and ')}` : ''}), so the candidate moves to a trial on live runs.`,
      missing: [],
    };
  }
  const favoured = evidence >= stats.trialEvidenceBound;
  return {
    verdict: 'continue',
    nextStage: null,
    reason: favoured
      ? `The replays favour the candidate (${summary}, ${ratio}) but ${failing.map(describeRow).join(' and ')}.`
      : `The replays are not yet conclusive: ${summary}, and ${ratio}.`,
    basis: favoured ? `screen:guardrails:${failing.map((r) => r.name).join(',')}` : 'screen:inconclusive',
    missing: favoured
      ? failing.map((r) => `${r.name} back within its bound (${describeRow(r)})`)
      : [`more replays until the evidence ratio reaches ${fmt(Math.exp(stats.trialEvidenceBound))} or falls to 1/${fmt(Math.exp(stats.replayRejectBound))} (now ${fmt(Math.exp(evidence))})`],
  };
}

function decideTrial(input: DecisionInput, stats: DecisionStatistics, rows: GuardrailRow[]): RuleOutcome {
  const d = input.policy.decision;
  const { incumbent: inc, candidate: cand } = input;
  const counts = `the candidate succeeded in ${cand.successes} of ${plural(cand.runs, 'run')} against ${inc.successes} of ${inc.runs} for the incumbent`;
  if (stats.sprtVerdict === 'accept-h0') {
    return {
      verdict: 'reject',
      nextStage: null,
      reason: `Paired replays show the candidate is no better than the incumbent (SPRT ${fmt(stats.sprtLLR ?? 0)} at or below ${fmt(stats.bounds.lower)}).`,
      missing: [],
    };
  }
  const missing: string[] = [];
  if (cand.runs < d.minCandidateRuns) {
    missing.push(`${plural(d.minCandidateRuns - cand.runs, 'more candidate run')} before a promotion can be decided`);
  }
  if (inc.runs < d.minIncumbentRuns) {
    missing.push(`${plural(d.minIncumbentRuns - inc.runs, 'more incumbent run')} of the same period before a promotion can be decided`);
  }
  const enough = missing.length === 0;
  if (enough && stats.probBetter <= d.rejectProbability) {
    return {
      verdict: 'reject',
      nextStage: null,
      reason: `The candidate is very likely worse: ${counts}, so P(candidate better) is ${fmtP(stats.probBetter)}, at or below ${fmt(d.rejectProbability)}.`,
      missing: [],
    };
  }
  const failing = rows.filter((r) => !r.pass);
  const probOk = stats.probBetter >= d.promoteProbability;
  const lossOk = stats.expectedLoss <= d.maxExpectedLoss;
  const evidenceOk = (stats.trialLogEvidence ?? -Infinity) >= stats.trialEvidenceBound;
  if (enough && probOk && lossOk && evidenceOk && failing.length === 0) {
    return {
      verdict: 'promote',
      nextStage: 'watch',
      reason: `The candidate should be promoted: ${counts}, P(candidate better) is ${fmtP(stats.probBetter)} (at least ${fmt(d.promoteProbability)}), the expected loss is ${fmt(stats.expectedLoss)} (at most ${fmt(d.maxExpectedLoss)}), the evidence ratio is ${fmt(Math.exp(stats.trialLogEvidence ?? 0))} (at least ${fmt(1 / d.falsePromotionRate)}), and every guardrail is within its bound.`,
      missing: [],
    };
  }
  if (enough) {
    if (!probOk) {
      missing.push(
        `more runs until P(candidate better) reaches ${fmt(d.promoteProbability)} or falls to ${fmt(d.rejectProbability)} (now ${fmtP(stats.probBetter)})`,
      );
    } else if (!lossOk) {
      missing.push(`more runs until the expected loss falls to ${fmt(d.maxExpectedLoss)} (now ${fmt(stats.expectedLoss)})`);
    } else if (!evidenceOk) {
      missing.push(
        `more runs until the evidence ratio for the candidate reaches ${fmt(1 / d.falsePromotionRate)} (now ${fmt(Math.exp(stats.trialLogEvidence ?? -Infinity))})`,
      );
    }
    for (const r of failing) {
      missing.push(r.status === 'no-data' ? `runs on both arms to judge ${r.name}` : `${r.name} back within its bound (${describeRow(r)})`);
    }
  }
  if (cand.runs >= d.maxCandidateRuns) {
    return {
      verdict: 'pause',
      nextStage: null,
      reason: `The trial reached its cap of ${d.maxCandidateRuns} candidate runs without a verdict (${counts}, P(candidate better) ${fmtP(stats.probBetter)}), so a person should decide.`,
      missing: [],
    };
  }
  const why = !enough
    ? 'there are not yet enough runs'
    : failing.length > 0 && probOk && lossOk
      ? failing.map((r) => (r.status === 'no-data' ? `${r.name} has no data` : describeRow(r))).join(' and ')
      : !probOk
        ? `P(candidate better) is ${fmtP(stats.probBetter)}, between ${fmt(d.rejectProbability)} and ${fmt(d.promoteProbability)}`
        : !lossOk
          ? `the expected loss is ${fmt(stats.expectedLoss)}, above ${fmt(d.maxExpectedLoss)}`
          : `the evidence ratio for the candidate is ${fmt(Math.exp(stats.trialLogEvidence ?? -Infinity))}, below the ${fmt(1 / d.falsePromotionRate)} a promotion needs`;
  const basis = !enough ? 'trial:too-few-runs'
    : failing.length > 0 && probOk && lossOk ? `trial:guardrails:${failing.map((r) => `${r.name}=${r.status}`).join(',')}`
      : !probOk ? 'trial:probability' : !lossOk ? 'trial:expected-loss' : 'trial:evidence-ratio';
  return { verdict: 'continue', nextStage: null, reason: `The trial continues: ${counts}, and ${why}.`, missing, basis };
}

function decideWatch(input: DecisionInput): { outcome: RuleOutcome; rows: GuardrailRow[] } {
  const w = input.policy.watch;
  const { incumbent: inc, candidate: cand } = input;
  const rate = cand.runs > 0 ? cand.successes / cand.runs : null;
  const rows = [successDropRow(w.maxSuccessDrop, inc, rate), ...guardrailRows(w.guardrails, inc, cand, cand.runs, true)];
  if (cand.runs >= w.runs) {
    const failing = rows.filter((r) => r.status === 'fail');
    if (failing.length > 0) {
      return {
        rows,
        outcome: {
          verdict: 'rollback',
          nextStage: null,
          reason: `Roll back to the previous variant: over the ${plural(cand.runs, 'watched run')}, ${failing.map(describeRow).join(' and ')}.`,
          missing: [],
        },
      };
    }
    const noData = rows.filter((r) => r.status === 'no-data');
    if (noData.length > 0) {
      return {
        rows,
        outcome: {
          verdict: 'pause',
          nextStage: null,
          reason: `The watch window is over but there is no baseline for ${noData.map((r) => r.name).join(', ')}, so a person should confirm the promotion.`,
          missing: [],
        },
      };
    }
    return {
      rows,
      outcome: {
        verdict: 'promote',
        nextStage: 'done',
        reason: `The promotion stands: over the ${plural(cand.runs, 'watched run')} no guardrail regressed beyond its rollback bound.`,
        missing: [],
      },
    };
  }
  // Before the window closes, roll back only when the end-of-window check can no longer pass even if
  // every remaining run went perfectly; earlier noise must not undo a promotion.
  const remaining = w.runs - cand.runs;
  const bestRate = (cand.successes + remaining) / w.runs;
  const bestCase = [successDropRow(w.maxSuccessDrop, inc, bestRate), ...guardrailRows(w.guardrails, inc, cand, w.runs, true)];
  const certain = bestCase.filter((r) => r.status === 'fail');
  if (certain.length > 0) {
    return {
      rows,
      outcome: {
        verdict: 'rollback',
        nextStage: null,
        reason: `Roll back to the previous variant now: even if the remaining ${plural(remaining, 'watched run')} went perfectly, ${certain.map(describeRow).join(' and ')}.`,
        missing: [],
      },
    };
  }
  return {
    rows,
    outcome: {
      verdict: 'continue',
      nextStage: null,
      reason: `The promoted variant is being watched: ${cand.runs} of ${plural(w.runs, 'run')} so far, with no regression that would force a rollback.`,
      basis: 'watch:watching',
      missing: [`${plural(remaining, 'more watched run')} before the promotion is settled`],
    },
  };
}

interface CountStatistics { probBetter: number; expectedLoss: number; trialLogEvidence: number | null; replayLogEvidence: number | null }

/** Recent results of countStatistics by their inputs; cleared when full. */
const countCache = new Map<string, CountStatistics>();
const COUNT_CACHE_SIZE = 512;

/**
 * The statistics that depend only on the arms' success counts and the policy's numbers. They take
 * numerical integration (0.1-0.6 ms), and evaluation repeats them for every piece of evidence that
 * leaves the counts as they were (tokens, notes, a second look), so recent results are remembered.
 */
function countStatistics(inc: ArmStats, cand: ArmStats, stage: PromotionStage, policy: EvolutionPolicy): CountStatistics {
  const prior = policy.decision.prior;
  const share = policy.stages.trial.candidateShare;
  const concentration = policy.decision.evidenceConcentration;
  const reduction = policy.stages.screen.minFailureReduction;
  const key = JSON.stringify([inc.successes, inc.runs, cand.successes, cand.runs, stage, prior, share, concentration, reduction]);
  const known = countCache.get(key);
  if (known) return known;
  const value: CountStatistics = {
    probBetter: probBBeatsA(inc.successes, inc.runs - inc.successes, cand.successes, cand.runs - cand.successes, prior),
    expectedLoss: expectedLoss(inc.successes, inc.runs - inc.successes, cand.successes, cand.runs - cand.successes, prior),
    trialLogEvidence: stage === 'trial' ? logTrialEvidence(cand.successes, cand.runs - cand.successes, inc.successes, inc.runs - inc.successes, share, concentration) : null,
    replayLogEvidence: stage === 'screen' ? logReplayEvidence(cand.successes, cand.runs - cand.successes, inc.successes, inc.runs - inc.successes, reduction) : null,
  };
  if (countCache.size >= COUNT_CACHE_SIZE) countCache.clear();
  countCache.set(key, value);
  return value;
}

/** Decides the next step for a candidate at the given stage; safe to call after every run. */
export function decide(input: DecisionInput): Decision {
  const hash = checkedPolicyHash(input.policy);
  checkArm(input.incumbent, 'incumbent');
  checkArm(input.candidate, 'candidate');
  const { policy, incumbent: inc, candidate: cand, stage } = input;
  const sprt = policy.stages.screen.sprt;
  const bounds = sprtBounds(sprt.alpha, sprt.beta);
  const pairs = input.pairs ? countPairs(input.pairs) : null;
  const llr = pairs ? sprtLLR(pairs.wins, pairs.losses, sprt.p0, sprt.p1) : null;
  const counts = countStatistics(inc, cand, stage, policy);
  const statistics: DecisionStatistics = {
    probBetter: counts.probBetter,
    expectedLoss: counts.expectedLoss,
    sprtLLR: llr,
    sprtVerdict: llr === null ? null : sprtVerdict(llr, bounds),
    bounds,
    pairs,
    trialLogEvidence: counts.trialLogEvidence,
    trialEvidenceBound: Math.log(1 / policy.decision.falsePromotionRate),
    replayLogEvidence: counts.replayLogEvidence,
    replayRejectBound: Math.log(policy.stages.screen.rejectEvidence),
  };

  let rows: GuardrailRow[];
  let outcome: RuleOutcome;
  if (stage === 'watch') {
    ({ rows, outcome } = decideWatch(input));
  } else {
    rows = guardrailRows(policy.guardrails, inc, cand);
    outcome = stage === 'screen' ? decideScreen(input, statistics, rows) : decideTrial(input, statistics, rows);
  }

  let verdict = outcome.verdict;
  let nextStage = outcome.nextStage;
  let reason = outcome.reason;
  let missing = outcome.missing;
  // Only the move to active needs a person; confirming after the watch window or rolling back does not.
  if (outcome.verdict === 'promote' && stage !== 'watch' && policy.requireHumanApproval) {
    verdict = 'pause';
    nextStage = null;
    reason = `Awaiting approval: ${outcome.reason.charAt(0).toLowerCase()}${outcome.reason.slice(1)}`;
    missing = ['approval by a person'];
  }
  return {
    verdict,
    ruleVerdict: outcome.verdict,
    stage,
    nextStage,
    statistics,
    guardrails: rows,
    arms: { incumbent: { ...inc }, candidate: { ...cand } },
    reason,
    basis: verdict === outcome.verdict ? (outcome.basis ?? `${stage}:${verdict}`) : `${stage}:${verdict}:awaiting-approval`,
    missing,
    policyVersion: policy.version,
    policyHash: hash,
  };
}
