// The formula_evidence tool: the step table of a variant or a family through the MCP server, and the
// fields it names when a query is bad.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, textOf } from './helpers';

const FAMILY = 'implement-and-review';

test('formula_evidence returns per-step figures and the rationale a mutation gave, and names bad fields', async () => {
  const h = await harness();
  try {
    const active = h.formulas.getFamily(FAMILY)!.activeVariantId!;
    const { runId } = await h.formulas.startRunFromFormula({ family: FAMILY, vars: { task: 'add a flag' }, taskKey: 'k1' });
    const claim = (await h.ledger.claimNode({ runId, worker: 'w' }))!;
    await h.ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome: 'failed', summary: 'could not find the config file', tokens: 300 });
    const step = h.ledger.getNode(claim.nodeId)!.stepId;
    const m = await h.ok<{ variantId: string }>('formula_mutate', {
      variantId: active, rationale: `${step} failed: the config file was not found`,
      mutations: [{ op: 'edit_instructions', stepId: step, instructions: 'Locate the config file first (it is under config/).' }],
    });
    const e = await h.ok<{ familyId: string; variants: Array<{ variantId: string; rationale: string | null; totals: { runs: number }; steps: Array<{ stepId: string; failures: number; tokens: number; changedBy: string[]; lastFailures: Array<{ summary: string }> }> }> }>(
      'formula_evidence', { family: FAMILY });
    assert.deepEqual(e.variants.map((v) => v.variantId), [m.variantId, active]);
    assert.equal(e.variants[0]!.rationale, `${step} failed: the config file was not found`);
    const row = e.variants[1]!.steps.find((s) => s.stepId === step)!;
    assert.deepEqual([row.failures, row.tokens, row.lastFailures[0]!.summary], [1, 300, 'could not find the config file']);
    assert.equal(e.variants[1]!.totals.runs, 1);
    const lineage = await h.ok<{ variants: Array<{ id: string; rationale?: string | null }> }>('lineage_view', { family: FAMILY });
    assert.equal(lineage.variants.find((v) => v.id === m.variantId)!.rationale, `${step} failed: the config file was not found`);

    for (const [args, field] of [[{ family: 'nope' }, 'family'], [{ variantId: 'v-nope' }, 'variantId'], [{ runs: 5000, variantId: active }, 'runs'], [{}, 'variantId']] as const) {
      const r = await h.call('formula_evidence', args);
      assert.equal(r.isError, true);
      assert.ok(textOf(r).startsWith(`formula_evidence failed: ${field}: `), textOf(r));
    }
  } finally {
    await h.close();
  }
});
