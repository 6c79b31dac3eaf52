// The false-done guardrail on a real ledger: runs the model called done whose checks failed count
// against the variant, and block a promotion its success alone would earn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PromotionService } from '../../../src/ledger/index';
import type { DecisionDetail, FormulaService, Ledger } from '../../../src/ledger/index';
import { recordCheckedOutcome } from '../../../src/ledger/outcome';
import type { CheckedResult } from '../../../src/ledger/outcome';
import { CHECKED_FORMULA as FORMULA, failingCheck as failing, formulaWorkspace, passingCheck as passing } from '../helpers';

/** A finished run of `variantId`: the model reports `reported`, then the checks decide. */
async function run(ledger: Ledger, formulas: FormulaService, variantId: string, taskKey: string, reported: 'done' | 'failed', checks: CheckedResult, arm?: 'replay') {
  const { runId } = await formulas.startRunFromFormula({ family: 'fix', variantId, taskKey, vars: {}, ...(arm ? { arm } : {}) });
  const claim = (await ledger.claimNode({ runId, worker: 'w' }))!;
  await ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome: reported });
  await recordCheckedOutcome(ledger, runId, [checks]);
  return runId;
}

test('a candidate whose model calls failed runs done is held back by the false-done guardrail, and the decision shows it', async () => {
  const { ledger, formulas } = await formulaWorkspace(FORMULA, 'gascity-falsedone-');
  const promotion = new PromotionService(ledger, formulas);
  const incumbent = formulas.getFamily('fix')!.activeVariantId!;
  // The incumbent's history: half its runs fail, and its model says so (no false "done").
  for (let i = 0; i < 30; i++) await run(ledger, formulas, incumbent, `h${i}`, i % 2 ? 'done' : 'failed', i % 2 ? passing : failing);
  const m = await formulas.mutateVariant({ variantId: incumbent, mutations: [{ op: 'edit_instructions', stepId: 'edit', instructions: 'Say done.' }] });
  await promotion.startTrial({ variantId: m.variantId, stage: 'screen' });
  // The candidate passes far more often, but every failure of it was reported done.
  for (let i = 0; i < 20; i++) {
    const before = ledger.seq;
    await run(ledger, formulas, m.variantId, `h${i}`, 'done', i % 7 === 3 ? failing : passing, 'replay');
    await promotion.evaluateAndRecord(before);
  }
  const a = await promotion.assess(m.variantId);
  assert.equal(a.trial!.stage, 'screen', 'not promoted');
  assert.ok((a.statistics.replayLogEvidence ?? 0) >= Math.log(20), 'its success alone would promote it');
  const row = a.guardrails.find((g) => g.name === 'falseDoneRate')!;
  assert.deepEqual([row.status, row.incumbent, row.candidate], ['fail', 0, 3 / 20]);
  assert.match(a.reason, /falseDoneRate is worse by 0.15, beyond the bound of 0.05/);
  const recorded = promotion.decisions('fix').at(-1)!;
  assert.equal(recorded.verdict, 'continue');
  assert.equal((recorded.detail as DecisionDetail).guardrails.find((g) => g.name === 'falseDoneRate')!.status, 'fail');
  // With the guardrail switched off by a person, the same evidence promotes.
  await promotion.setPolicy('fix', { guardrails: { falseDoneRate: { enabled: false, kind: 'absolute', maxIncrease: 0.05 } } });
  const r = await promotion.evaluate('fix');
  assert.equal(r.action, 'promoted');
  promotion.dispose();
});
