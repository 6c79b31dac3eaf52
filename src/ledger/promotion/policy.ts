// The evolution policy: the written-down rule that decides when a candidate variant replaces the
// incumbent. Decisions record its version and hash so any verdict can be re-checked later.
import { createHash } from 'node:crypto';
import * as z from 'zod';

const probability = z.number().gt(0).lt(1);
const positiveInt = z.number().int().positive();

/** How much worse than the incumbent the candidate may be on one guardrail metric. */
export const guardrailBoundSchema = z.object({
  enabled: z.boolean(),
  // Rates are bounded in absolute points (0.05 = five more interventions per hundred runs); costs
  // are bounded relative to the incumbent (0.2 = twenty per cent more tokens per run).
  kind: z.enum(['absolute', 'relative']),
  maxIncrease: z.number().min(0),
});
export type GuardrailBound = z.infer<typeof guardrailBoundSchema>;

export const guardrailNames = ['interventionRate', 'reviewRejectionRate', 'tokensPerRun', 'durationPerRun', 'falseDoneRate'] as const;
export type GuardrailName = (typeof guardrailNames)[number];

export const guardrailSetSchema = z.object({
  interventionRate: guardrailBoundSchema,
  reviewRejectionRate: guardrailBoundSchema,
  tokensPerRun: guardrailBoundSchema,
  durationPerRun: guardrailBoundSchema,
  /**
   * Runs the model reported done whose checks failed, per run (absolute points). Optional so that a
   * policy stored before it existed still reads; decide() then applies the default bound of the stage.
   */
  falseDoneRate: guardrailBoundSchema.optional(),
});
export type GuardrailSet = z.infer<typeof guardrailSetSchema>;

export const evolutionPolicySchema = z
  .object({
    version: positiveInt,
    primaryMetric: z.literal('runSuccess'),
    guardrails: guardrailSetSchema,
    stages: z.object({
      screen: z.object({
        /** Replays of the candidate needed before the screen may promote or reject. */
        minPairs: positiveInt,
        /** Replays of the candidate after which an undecided screen moves on to a trial on live runs. */
        maxPairs: positiveInt,
        /**
         * The screen's alternative: the candidate removes at least this share of the incumbent's failures
         * (0.5: an incumbent at 0.7 against a candidate at 0.85 or better). Smaller values detect smaller
         * gains but decide everything more slowly (see docs/decisions/0007).
         */
        minFailureReduction: z.number().min(0.05).max(0.95).default(0.5),
        /** The screen rejects once the evidence for "no better" reaches this (the inverse of its evidence ratio). */
        rejectEvidence: z.number().min(1.5).max(1e6).default(25),
        /** The incumbent's most recent runs (any arm) that make its history, the screen's reference. */
        historyRuns: positiveInt.max(10_000).default(500),
        sprt: z.object({
          /** P(candidate wins | discordant pair) under H0: no better. */
          p0: probability,
          /** P(candidate wins | discordant pair) under H1: better by a margin worth having. */
          p1: probability,
          /** Chance of passing a candidate that is no better. */
          alpha: probability,
          /** Chance of failing a candidate that is better by p1. */
          beta: probability,
        }),
      }),
      trial: z.object({
        /** Share of new tasks routed to the candidate; assignment is sticky by task. */
        candidateShare: z.number().gt(0).lt(1),
      }),
    }),
    decision: z.object({
      method: z.literal('beta-binomial'),
      prior: z.object({ alpha: z.number().positive(), beta: z.number().positive() }),
      promoteProbability: probability,
      maxExpectedLoss: z.number().gt(0).lt(1),
      rejectProbability: probability,
      /**
       * Largest chance of promoting a candidate that is no better, however often the decision is
       * checked; promotion also needs the trial's always-valid evidence ratio to reach 1 / this.
       */
      falsePromotionRate: probability,
      /** How much the evidence ratio's alternative favours small effects over large ones (see stats.ts). */
      evidenceConcentration: z.number().positive(),
      /** Candidate runs needed before promotion or rejection. */
      minCandidateRuns: positiveInt,
      /** Incumbent runs of the same period needed before promotion or rejection. */
      minIncumbentRuns: positiveInt,
      /** Candidate runs after which an undecided trial pauses for a person. */
      maxCandidateRuns: positiveInt,
    }),
    requireHumanApproval: z.boolean(),
    watch: z.object({
      /** Runs of the newly active variant watched before the promotion is settled. */
      runs: positiveInt,
      /** Largest drop in success rate (absolute) tolerated over the watch window. */
      maxSuccessDrop: z.number().min(0).max(1),
      guardrails: guardrailSetSchema,
    }),
  })
  .superRefine((p, ctx) => {
    const sprt = p.stages.screen.sprt;
    if (sprt.p1 <= sprt.p0) {
      ctx.addIssue({ code: 'custom', path: ['stages', 'screen', 'sprt', 'p1'], message: 'p1 must be greater than p0' });
    }
    if (sprt.alpha + sprt.beta >= 1) {
      ctx.addIssue({ code: 'custom', path: ['stages', 'screen', 'sprt', 'beta'], message: 'alpha + beta must be below 1' });
    }
    for (const [set, path] of [[p.guardrails, ['guardrails']], [p.watch.guardrails, ['watch', 'guardrails']]] as const) {
      if (set.falseDoneRate && set.falseDoneRate.kind !== 'absolute') {
        ctx.addIssue({ code: 'custom', path: [...path, 'falseDoneRate', 'kind'], message: 'falseDoneRate is a rate per run: its bound is "absolute" (points)' });
      }
      if (set.falseDoneRate && set.falseDoneRate.maxIncrease > 1) {
        ctx.addIssue({ code: 'custom', path: [...path, 'falseDoneRate', 'maxIncrease'], message: 'a rate per run cannot rise by more than 1' });
      }
    }
    if (p.stages.screen.maxPairs < p.stages.screen.minPairs) {
      ctx.addIssue({ code: 'custom', path: ['stages', 'screen', 'maxPairs'], message: 'maxPairs must be at least minPairs' });
    }
    if (p.decision.rejectProbability >= p.decision.promoteProbability) {
      ctx.addIssue({
        code: 'custom',
        path: ['decision', 'rejectProbability'],
        message: 'rejectProbability must be below promoteProbability',
      });
    }
    if (p.decision.maxCandidateRuns < p.decision.minCandidateRuns) {
      ctx.addIssue({
        code: 'custom',
        path: ['decision', 'maxCandidateRuns'],
        message: 'maxCandidateRuns must be at least minCandidateRuns',
      });
    }
  });

export type EvolutionPolicy = z.infer<typeof evolutionPolicySchema>;

/**
 * The false-done guardrail's bounds when a policy does not set them: a candidate may have at most five
 * more runs per hundred that the model called done and the checks failed (ten in the watch window).
 */
export const DEFAULT_FALSE_DONE: { readonly trial: GuardrailBound; readonly watch: GuardrailBound } = Object.freeze({
  trial: Object.freeze({ enabled: true, kind: 'absolute' as const, maxIncrease: 0.05 }),
  watch: Object.freeze({ enabled: true, kind: 'absolute' as const, maxIncrease: 0.1 }),
});

/** The starting policy from the design; see docs/promotion.md for why each number is what it is. */
export function defaultPolicy(): EvolutionPolicy {
  return {
    version: 1,
    primaryMetric: 'runSuccess',
    guardrails: {
      interventionRate: { enabled: true, kind: 'absolute', maxIncrease: 0.05 },
      reviewRejectionRate: { enabled: true, kind: 'absolute', maxIncrease: 0.05 },
      tokensPerRun: { enabled: true, kind: 'relative', maxIncrease: 0.2 },
      durationPerRun: { enabled: true, kind: 'relative', maxIncrease: 0.25 },
      falseDoneRate: { ...DEFAULT_FALSE_DONE.trial },
    },
    stages: {
      screen: {
        minPairs: 5, maxPairs: 300, minFailureReduction: 0.5, rejectEvidence: 25, historyRuns: 500,
        sprt: { p0: 0.5, p1: 0.7, alpha: 0.05, beta: 0.2 },
      },
      trial: { candidateShare: 0.2 },
    },
    decision: {
      method: 'beta-binomial',
      prior: { alpha: 1, beta: 1 },
      promoteProbability: 0.95,
      maxExpectedLoss: 0.01,
      rejectProbability: 0.05,
      falsePromotionRate: 0.05,
      evidenceConcentration: 20,
      minCandidateRuns: 20,
      minIncumbentRuns: 20,
      maxCandidateRuns: 200,
    },
    requireHumanApproval: false,
    watch: {
      runs: 20,
      maxSuccessDrop: 0.1,
      guardrails: {
        interventionRate: { enabled: true, kind: 'absolute', maxIncrease: 0.1 },
        reviewRejectionRate: { enabled: true, kind: 'absolute', maxIncrease: 0.1 },
        tokensPerRun: { enabled: true, kind: 'relative', maxIncrease: 0.3 },
        durationPerRun: { enabled: true, kind: 'relative', maxIncrease: 0.5 },
        falseDoneRate: { ...DEFAULT_FALSE_DONE.watch },
      },
    },
  };
}

/** Thrown when a policy does not validate; the message names every offending field. */
export class PolicyValidationError extends Error {
  constructor(readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>) {
    super(`invalid evolution policy: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'PolicyValidationError';
  }
}

/** Validates unknown input (a stored policy, a settings value) into a policy or throws naming the fields. */
export function parsePolicy(input: unknown): EvolutionPolicy {
  const result = evolutionPolicySchema.safeParse(input);
  if (result.success) return result.data;
  throw new PolicyValidationError(
    result.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(policy)', message: i.message })),
  );
}

// Canonical JSON: keys sorted at every depth, so two equal policies hash alike whatever order their
// fields were written in.
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('canonicalJson: non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** sha256 (hex) of the policy's canonical JSON. */
export function policyHash(policy: EvolutionPolicy): string {
  return createHash('sha256').update(canonicalJson(policy)).digest('hex');
}
