// formula_assess during a screen: the replay evidence against the incumbent's history and the
// false-done guardrail, as a model sees them through the MCP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './helpers';

const FAMILY = 'implement-and-review';

test('formula_assess shows a screen\'s replay evidence and the false-done guardrail', async () => {
  const h = await harness();
  try {
    const active = h.formulas.getFamily(FAMILY)!.activeVariantId!;
    const stepId = h.formulas.variantFormula(active).steps[0]!.id;
    const m = await h.formulas.mutateVariant({ variantId: active, mutations: [{ op: 'edit_instructions', stepId, instructions: 'Plan twice.' }] });
    await h.ok('formula_select', { variantId: m.variantId, stage: 'screen' });
    for (let i = 0; i < 3; i++) await h.promotions.recordReplay({ trialId: h.promotions.liveTrialOf(FAMILY)!.id, taskKey: `k${i}`, candidateSuccess: true, incumbentSuccess: i === 0 });
    const a = await h.ok<{ stage: string; statistics: { replayEvidence: number | null }; guardrails: Array<{ name: string }>; arms: { candidate: { runs: number; falseDone?: number } }; missing: string[] }>(
      'formula_assess', { family: FAMILY });
    assert.equal(a.stage, 'screen');
    assert.equal(a.arms.candidate.runs, 3);
    assert.equal(a.arms.candidate.falseDone, 0);
    assert.ok(a.statistics.replayEvidence !== null && a.statistics.replayEvidence > 1, `3 of 3 against 1 of 3 favours the candidate: ${a.statistics.replayEvidence}`);
    assert.ok(a.guardrails.some((g) => g.name === 'falseDoneRate'));
    assert.deepEqual(a.missing, ['2 more replays of the candidate before the screen can be decided']);
  } finally {
    await h.close();
  }
});
