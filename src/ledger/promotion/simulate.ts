// Monte Carlo check of the promotion rule: a family whose candidate has a known true success rate
// runs through a trial one run at a time, with the decision evaluated after every run exactly as
// the extension does. It lets tests and benches measure false-promotion rates and runs to decision.
import { assignArm } from './assign';
import { decide } from './decide';
import type { ArmStats, Decision, Verdict } from './decide';
import type { EvolutionPolicy } from './policy';

/** A small, fast, seedable PRNG (mulberry32) so simulations repeat exactly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SimulationConfig {
  readonly policy: EvolutionPolicy;
  /** True success probability of the candidate. */
  readonly candidateSuccess: number;
  /** True success probability of the incumbent. */
  readonly incumbentSuccess: number;
  readonly seed: number;
  /** Safety stop on total runs; the policy's candidate cap normally ends the trial first. */
  readonly maxTotalRuns?: number;
  /** Tokens per candidate run relative to the incumbent's 1000; 1 means equal cost. */
  readonly candidateTokenFactor?: number;
}

export interface SimulationResult {
  /** The rule's verdict (before any human-approval gate), or 'continue' if maxTotalRuns stopped it. */
  readonly verdict: Verdict;
  readonly totalRuns: number;
  readonly candidateRuns: number;
  readonly incumbentRuns: number;
  readonly decision: Decision;
}

interface MutableArm {
  runs: number;
  successes: number;
  interventions: number;
  reviewRejections: number;
  tokens: number;
  durationMs: number;
}

function emptyArm(): MutableArm {
  return { runs: 0, successes: 0, interventions: 0, reviewRejections: 0, tokens: 0, durationMs: 0 };
}

/** Runs one simulated trial until the rule says promote, reject or pause. */
export function simulateFamily(config: SimulationConfig): SimulationResult {
  const random = seededRandom(config.seed);
  const share = config.policy.stages.trial.candidateShare;
  const candidateId = `candidate-${config.seed}`;
  const tokenFactor = config.candidateTokenFactor ?? 1;
  const maxTotal = config.maxTotalRuns ?? 100_000;
  const incumbent = emptyArm();
  const candidate = emptyArm();
  let decision: Decision | undefined;
  let total = 0;
  while (total < maxTotal) {
    total++;
    const arm = assignArm(`task-${total}`, candidateId, share) === 'candidate' ? candidate : incumbent;
    const p = arm === candidate ? config.candidateSuccess : config.incumbentSuccess;
    arm.runs++;
    if (random() < p) arm.successes++;
    arm.tokens += arm === candidate ? 1000 * tokenFactor : 1000;
    arm.durationMs += 60_000;
    decision = decide({ policy: config.policy, incumbent: incumbent as ArmStats, candidate: candidate as ArmStats, stage: 'trial' });
    if (decision.ruleVerdict !== 'continue') break;
  }
  if (decision === undefined) throw new RangeError('maxTotalRuns must be at least 1');
  return {
    verdict: decision.ruleVerdict,
    totalRuns: total,
    candidateRuns: candidate.runs,
    incumbentRuns: incumbent.runs,
    decision,
  };
}

export interface SimulationSummary {
  readonly families: number;
  readonly promoteRate: number;
  readonly rejectRate: number;
  readonly pauseRate: number;
  /** Mean total runs (both arms) until the verdict. */
  readonly meanRuns: number;
  /** Mean candidate runs until the verdict. */
  readonly meanCandidateRuns: number;
}

/** Simulates many families with seeds derived from one seed and summarizes the verdicts. */
export function simulateMany(config: Omit<SimulationConfig, 'seed'> & { readonly families: number; readonly seed: number }): SimulationSummary {
  const next = seededRandom(config.seed);
  let promote = 0;
  let reject = 0;
  let pause = 0;
  let runs = 0;
  let candidateRuns = 0;
  for (let i = 0; i < config.families; i++) {
    const r = simulateFamily({ ...config, seed: Math.floor(next() * 2 ** 32) });
    if (r.verdict === 'promote') promote++;
    else if (r.verdict === 'reject') reject++;
    else if (r.verdict === 'pause') pause++;
    runs += r.totalRuns;
    candidateRuns += r.candidateRuns;
  }
  const n = config.families;
  return {
    families: n,
    promoteRate: promote / n,
    rejectRate: reject / n,
    pauseRate: pause / n,
    meanRuns: runs / n,
    meanCandidateRuns: candidateRuns / n,
  };
}
