// Monte Carlo check of the promotion rule: a family whose candidate has a known true success rate
// goes through the loop one run at a time (the incumbent's history, replays in the screen, live runs
// in a trial), with the decision evaluated after every run exactly as the ledger does. It measures
// false-promotion rates and runs to decision (scripts/simulate.ts prints the table of docs/promotion.md).
import { assignArm } from './assign';
import { decide } from './decide';
import type { ArmStats, Decision, Verdict } from './decide';
import type { EvolutionPolicy } from './policy';
import type { PairedResult } from './stats';

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
  /** Safety stop on total runs; the policy's caps normally end the loop first. */
  readonly maxTotalRuns?: number;
  /** Tokens per candidate run relative to the incumbent's 1000; 1 means equal cost. */
  readonly candidateTokenFactor?: number;
  /**
   * Where the candidate starts: 'screen' (the default, the realistic loop: replays of past tasks
   * against the incumbent's history, then a trial on live runs if the screen reaches its cap
   * undecided) or 'trial' (live runs only, as before the screen had evidence of its own).
   */
  readonly start?: 'screen' | 'trial';
  /** Runs of the incumbent before the candidate appears: its history (default 300). */
  readonly incumbentHistory?: number;
  /** Every k-th replay also re-runs the incumbent on the same task, a pair (default 0: never). */
  readonly incumbentEvery?: number;
  /**
   * How alike a task's outcomes are on the two variants (default 0.5): with this probability both
   * variants' outcomes on a task come from one shared draw (a hard task is hard for both), otherwise
   * from independent draws. Each variant's own success rate is unchanged by it.
   */
  readonly taskCorrelation?: number;
}

export interface SimulationResult {
  /** The rule's verdict (before any human-approval gate), or 'continue' if maxTotalRuns stopped it. */
  readonly verdict: Verdict;
  /** Every run the loop cost until the verdict: replays and live runs, both arms (the history is not counted). */
  readonly totalRuns: number;
  readonly candidateRuns: number;
  readonly incumbentRuns: number;
  /** Of totalRuns, the replays (candidate and incumbent). */
  readonly replayRuns: number;
  /** The stage the verdict was reached in. */
  readonly stage: 'screen' | 'trial';
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

function addRun(arm: MutableArm, success: boolean, tokens: number): void {
  arm.runs++;
  if (success) arm.successes++;
  arm.tokens += tokens;
  arm.durationMs += 60_000;
}

/**
 * Runs one simulated candidate through the loop until the rule says promote, reject or pause: the
 * incumbent's history, then (from 'screen') replays of past tasks decided after every replay, then, if
 * the screen reaches its cap undecided, a trial on live runs decided after every run.
 */
export function simulateFamily(config: SimulationConfig): SimulationResult {
  const random = seededRandom(config.seed);
  const share = config.policy.stages.trial.candidateShare;
  const candidateId = `candidate-${config.seed}`;
  const tokenFactor = config.candidateTokenFactor ?? 1;
  const maxTotal = config.maxTotalRuns ?? 100_000;
  const rho = config.taskCorrelation ?? 0.5;
  const every = config.incumbentEvery ?? 0;
  const history = emptyArm();
  for (let i = 0; i < (config.incumbentHistory ?? 300); i++) addRun(history, random() < config.incumbentSuccess, 1000);
  let decision: Decision | undefined;
  let total = 0;
  let replays = 0;
  let candidateRuns = 0;
  let incumbentRuns = 0;
  if ((config.start ?? 'screen') === 'screen') {
    const candidate = emptyArm();
    const pairs: PairedResult[] = [];
    while (total < maxTotal) {
      // One past task replayed: its outcomes on both variants share one draw with probability rho.
      const shared = random() < rho;
      const u = random();
      const c = (shared ? u : random()) < config.candidateSuccess;
      addRun(candidate, c, 1000 * tokenFactor);
      total++;
      replays++;
      candidateRuns++;
      if (every > 0 && candidate.runs % every === 0) {
        const i = (shared ? u : random()) < config.incumbentSuccess;
        addRun(history, i, 1000);
        total++;
        replays++;
        incumbentRuns++;
        pairs.push({ task: `replay-${candidate.runs}`, candidateSuccess: c, incumbentSuccess: i });
      }
      decision = decide({ policy: config.policy, incumbent: history as ArmStats, candidate: candidate as ArmStats, pairs, stage: 'screen' });
      if (decision.ruleVerdict !== 'continue') {
        return { verdict: decision.ruleVerdict, totalRuns: total, candidateRuns, incumbentRuns, replayRuns: replays, stage: 'screen', decision };
      }
      if (decision.nextStage === 'trial') break;
    }
  }
  const incumbent = emptyArm();
  const candidate = emptyArm();
  while (total < maxTotal) {
    total++;
    const arm = assignArm(`task-${total}`, candidateId, share) === 'candidate' ? candidate : incumbent;
    const p = arm === candidate ? config.candidateSuccess : config.incumbentSuccess;
    if (arm === candidate) candidateRuns++;
    else incumbentRuns++;
    addRun(arm, random() < p, arm === candidate ? 1000 * tokenFactor : 1000);
    decision = decide({ policy: config.policy, incumbent: incumbent as ArmStats, candidate: candidate as ArmStats, stage: 'trial' });
    if (decision.ruleVerdict !== 'continue') break;
  }
  if (decision === undefined) throw new RangeError('maxTotalRuns must be at least 1');
  return { verdict: decision.ruleVerdict, totalRuns: total, candidateRuns, incumbentRuns, replayRuns: replays, stage: 'trial', decision };
}

export interface SimulationSummary {
  readonly families: number;
  readonly promoteRate: number;
  readonly rejectRate: number;
  readonly pauseRate: number;
  /** promoteRate + rejectRate. */
  readonly decidedRate: number;
  /** Mean total runs (both arms, replays and live runs) until the verdict. */
  readonly meanRuns: number;
  /** Mean candidate runs until the verdict. */
  readonly meanCandidateRuns: number;
  /** Mean replays (both arms) until the verdict. */
  readonly meanReplayRuns: number;
  /** Share of families whose candidate went on from the screen to a trial on live runs. */
  readonly trialRate: number;
}

/** Simulates many families with seeds derived from one seed and summarizes the verdicts. */
export function simulateMany(config: Omit<SimulationConfig, 'seed'> & { readonly families: number; readonly seed: number }): SimulationSummary {
  const next = seededRandom(config.seed);
  let promote = 0;
  let reject = 0;
  let pause = 0;
  let runs = 0;
  let candidateRuns = 0;
  let replayRuns = 0;
  let trials = 0;
  for (let i = 0; i < config.families; i++) {
    const r = simulateFamily({ ...config, seed: Math.floor(next() * 2 ** 32) });
    if (r.verdict === 'promote') promote++;
    else if (r.verdict === 'reject') reject++;
    else if (r.verdict === 'pause') pause++;
    runs += r.totalRuns;
    candidateRuns += r.candidateRuns;
    replayRuns += r.replayRuns;
    if (r.stage === 'trial') trials++;
  }
  const n = config.families;
  return {
    families: n,
    promoteRate: promote / n,
    rejectRate: reject / n,
    pauseRate: pause / n,
    decidedRate: (promote + reject) / n,
    meanRuns: runs / n,
    meanCandidateRuns: candidateRuns / n,
    meanReplayRuns: replayRuns / n,
    trialRate: trials / n,
  };
}

/** The four cases of the promotion table (issue 14): true success of the candidate and of the incumbent. */
export const TABLE_CASES: ReadonlyArray<{ readonly name: string; readonly candidate: number; readonly incumbent: number }> = [
  { name: 'better', candidate: 0.9, incumbent: 0.7 },
  { name: 'modestly better', candidate: 0.8, incumbent: 0.7 },
  { name: 'equal', candidate: 0.7, incumbent: 0.7 },
  { name: 'worse', candidate: 0.6, incumbent: 0.7 },
];
