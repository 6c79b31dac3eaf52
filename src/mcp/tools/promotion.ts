// The promotion tools: where a candidate stands (assess), putting it on trial (select), and making a
// variant active by hand (promote).
import type * as z from 'zod';
import { LedgerError } from '../../ledger/index';
import type { Assessment, DecisionRecord } from '../../ledger/index';
import { clip } from '../paging';
import * as s from '../schemas';
import { decider, invalid, needFamily, needFormulas, needPromotions, READ, tool, withActive, write } from './shared';
import type { ToolDefinition } from './shared';

const formulaAssess = tool({
  name: 'formula_assess',
  title: 'Assess a variant against the active one',
  description:
    'Where a variant stands, without changing anything: its trial and stage, both arms\' runs and successes, the probability it is better, ' +
    'in a screen the evidence ratio of its replays against the incumbent\'s history, the guardrails (interventions, review rejections, tokens, ' +
    'duration, false "done"), the verdict the family\'s recorded rule would give now, and the ' +
    'evidence still missing. Give `variantId`, or `family` for the candidate of its live trial.',
  input: s.formulaAssessInput,
  output: s.formulaAssessOutput,
  annotations: READ,
  reads: true,
  async run(a, ctx) {
    const p = needPromotions(ctx);
    let variantId = a.variantId;
    if (variantId === undefined) {
      if (a.family === undefined) throw invalid('variantId', 'give `variantId`, or `family` for the candidate of its live trial');
      needFamily(needFormulas(ctx), a.family);
      const live = p.liveTrialOf(a.family);
      if (!live) throw new LedgerError(`family: ${a.family} has no live trial; give the variantId to assess (formula_list shows the candidates)`, 'not_found', 'family');
      variantId = live.candidateId;
    }
    const r = await p.assess(variantId);
    return toAssessment(r, p.decisions(r.familyId, { limit: 5 }));
  },
});

const formulaSelect = tool({
  name: 'formula_select',
  title: 'Put a candidate on trial',
  description:
    'Select a candidate variant (from formula_mutate) for an evidence-gated trial against the family\'s active variant. In the "trial" stage a ' +
    'share of new runs of the family (workflow_start { family }) use the candidate, the same taskKey always on the same arm; each finished run ' +
    'is evidence, and the family\'s recorded rule promotes, rejects or pauses for a person. A family has at most one live trial.',
  input: s.formulaSelectInput,
  output: s.trialRow,
  annotations: write({ destructive: false, idempotent: false }),
  run: (a, ctx) => needPromotions(ctx).startTrial({ variantId: a.variantId, stage: a.stage }, ctx.actor),
});

const formulaPromote = tool({
  name: 'formula_promote',
  title: 'Make a variant active',
  description:
    'Make a variant the active variant of its family, as a recorded decision with your `reason` and the numbers at the time; the variant it ' +
    'replaces is kept for rollback and a watch window compares the new one against it. New runs of the family use it. Only do this when a ' +
    'person asked for it or formula_assess says the evidence supports it; otherwise let the trial decide.',
  input: s.formulaPromoteInput,
  output: s.evaluationOutput,
  annotations: write({ destructive: true, idempotent: false }),
  async run(a, ctx) {
    const r = await needPromotions(ctx).promote(a.variantId, { actor: decider(ctx, a.decidedBy), reason: a.reason });
    return withActive(ctx, r);
  },
});

/** Characters of a recorded decision's reason that formula_assess shows (it lists five). */
const DECISION_REASON = 300;

function toAssessment(r: Assessment, decisions: DecisionRecord[]): z.input<typeof s.formulaAssessOutput> {
  const st = r.statistics;
  return {
    variantId: r.variantId, familyId: r.familyId, status: r.status, trial: r.trial, stage: r.stage, arms: r.arms,
    statistics: {
      probBetter: st.probBetter, expectedLoss: st.expectedLoss, sprtLLR: st.sprtLLR, sprtVerdict: st.sprtVerdict, pairs: st.pairs ? { ...st.pairs } : null,
      replayEvidence: st.replayLogEvidence === null || st.replayLogEvidence === undefined ? null : Math.exp(Math.min(st.replayLogEvidence, 700)),
    },
    guardrails: r.guardrails.map((g) => ({
      name: g.name, enabled: g.enabled, incumbent: g.incumbent, candidate: g.candidate, worsening: g.worsening, bound: g.bound, status: g.status,
    })),
    verdict: r.verdict, reason: r.reason, missing: r.missing, policyVersion: r.policyVersion, policyHash: r.policyHash,
    decisions: decisions.map((d) => ({
      id: d.id, candidateId: d.candidateId, incumbentId: d.incumbentId, trialId: d.trialId, stage: d.stage, verdict: d.verdict, actor: d.actor,
      reason: clip(d.reason, DECISION_REASON, () => `\`gascity decisions ${r.familyId}\``), policyVersion: d.policyVersion, at: d.at,
    })),
  };
}

export const PROMOTION_TOOLS: readonly ToolDefinition[] = [formulaAssess, formulaSelect, formulaPromote];
