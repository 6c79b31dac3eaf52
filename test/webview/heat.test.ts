import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { heatStrip, variantLabel } from '../../src/webview/elements';
import { isLineageGraph } from '../../src/shared/protocol';
import type { LineageVariant, StepHeat } from '../../src/shared/protocol';

function step(stepId: string, failures: number, attempts: number, changedBy: string[] = []): StepHeat {
  return { stepId, title: stepId, attempts, failures, retries: 0, tokens: 100, failureRate: attempts ? failures / attempts : null, changedBy };
}

const variant: LineageVariant = {
  id: 'v-2', label: 'g1·v-2', generation: 1, status: 'trial', parentIds: ['v-1'],
  evidence: { runs: 10, successes: 6, failures: 4, interventions: 0, tokens: 1000 },
  rationale: 'the test step failed on flaky fixtures',
  steps: [step('plan', 0, 10), step('code', 2, 10), step('test', 4, 10, ['edit_instructions']), step('review', 9, 10), step('ship', 0, 0)],
};

describe('step heat in the lineage graph', () => {
  it('draws one bar per step by failure rate, marks the steps the mutation changed, and shows untried steps', () => {
    assert.equal(heatStrip(variant.steps!), '▁▃▅*▇·');
    assert.match(variantLabel(variant, 'v-1'), /\nheat ▁▃▅\*▇·$/);
  });

  it('adds no heat line to a variant without steps or without attempts', () => {
    assert.doesNotMatch(variantLabel({ ...variant, steps: undefined }, undefined), /heat/);
    assert.doesNotMatch(variantLabel({ ...variant, steps: [step('plan', 0, 0)] }, undefined), /heat/);
  });

  it('the page accepts steps and a rationale, and refuses a rate above 1, a negative count or too many steps', () => {
    const lineage = { familyId: 'f', familyName: 'f', variants: [variant] };
    assert.ok(isLineageGraph(lineage));
    for (const bad of [
      { ...variant, steps: [{ ...step('x', 1, 1), failureRate: 1.5 }] },
      { ...variant, steps: [{ ...step('x', 1, 1), retries: -1 }] },
      { ...variant, steps: Array.from({ length: 501 }, (_, i) => step(`s${i}`, 0, 1)) },
      { ...variant, rationale: 42 },
    ]) {
      assert.equal(isLineageGraph({ ...lineage, variants: [bad] }), false);
    }
  });
});
