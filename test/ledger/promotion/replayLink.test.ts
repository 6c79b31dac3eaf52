// recordReplay with real runs: the replay lab links the two runs it drove (candidate and incumbent on
// the same task) instead of inventing synthetic ones, and their checked outcomes are what the screen counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LedgerError, PromotionService } from '../../../src/ledger/index';
import type { FormulaService, Ledger } from '../../../src/ledger/index';
import { recordCheckedOutcome } from '../../../src/ledger/outcome';
import { CHECKED_FORMULA as FORMULA, failingCheck as failing, formulaWorkspace, passingCheck as passing } from '../helpers';

async function world() {
  const { ledger, formulas } = await formulaWorkspace(FORMULA, 'gascity-replaylink-');
  const promotion = new PromotionService(ledger, formulas);
  const incumbent = formulas.getFamily('fix')!.activeVariantId!;
  const m = await formulas.mutateVariant({ variantId: incumbent, mutations: [{ op: 'edit_instructions', stepId: 'edit', instructions: 'Run the tests first.' }] });
  const screen = await promotion.startTrial({ variantId: m.variantId, stage: 'screen' });
  return { ledger, formulas, promotion, incumbent, candidate: m.variantId, screen };
}

/** A replay run of `variantId` on `taskKey`, worked to the end with every node reported done. */
async function replayRun(ledger: Ledger, formulas: FormulaService, variantId: string, taskKey: string, finish = true): Promise<string> {
  const { runId, arm } = await formulas.startRunFromFormula({ family: 'fix', variantId, taskKey, arm: 'replay', vars: {} });
  assert.equal(arm, 'replay');
  while (finish && ledger.getRun(runId)!.status === 'running') {
    const claim = await ledger.claimNode({ runId, worker: 'w' });
    assert.ok(claim);
    await ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome: 'done' });
  }
  return runId;
}

async function rejects(p: Promise<unknown>, field: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof LedgerError && err.field === field && message.test(err.message));
}

test('linked replay runs pair up with the outcomes their checks decided, and no synthetic runs are made', async () => {
  const w = await world();
  for (let i = 0; i < 3; i++) {
    const c = await replayRun(w.ledger, w.formulas, w.candidate, `task-${i}`);
    const inc = await replayRun(w.ledger, w.formulas, w.incumbent, `task-${i}`);
    await recordCheckedOutcome(w.ledger, c, [passing]);
    await recordCheckedOutcome(w.ledger, inc, [failing]);
    const runsBefore = w.ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs')!.n;
    await w.promotion.recordReplay({ trialId: w.screen.id, taskKey: `task-${i}`, candidateRunId: c, incumbentRunId: inc });
    assert.equal(w.ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs')!.n, runsBefore, 'no run is invented');
  }
  // A run whose checks have not run yet gets its outcome from the pair.
  const c = await replayRun(w.ledger, w.formulas, w.candidate, 'task-3');
  const inc = await replayRun(w.ledger, w.formulas, w.incumbent, 'task-3');
  await w.promotion.recordReplay({ trialId: w.screen.id, taskKey: 'task-3', candidateRunId: c, incumbentRunId: inc, candidateSuccess: true, incumbentSuccess: true });
  assert.equal(w.ledger.getRun(inc)!.outcome, 'success');
  const a = await w.promotion.assess(w.candidate);
  assert.deepEqual(a.pairs, { pairs: 4, wins: 3, losses: 0, ties: 1 });
  // Replay runs never count as live runs of either variant.
  const live = w.ledger.sql.get<{ n: number }>("SELECT count(*) AS n FROM runs WHERE arm IS NOT 'replay'")!.n;
  assert.equal(live, 0);
});

test('linked replays refuse runs that do not belong to the pair, naming the field', async () => {
  const w = await world();
  const c = await replayRun(w.ledger, w.formulas, w.candidate, 'k');
  const inc = await replayRun(w.ledger, w.formulas, w.incumbent, 'k');
  const other = await replayRun(w.ledger, w.formulas, w.incumbent, 'other');
  const running = await replayRun(w.ledger, w.formulas, w.incumbent, 'k', false);
  await recordCheckedOutcome(w.ledger, c, [passing]);
  const base = { trialId: w.screen.id, taskKey: 'k' };
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: c }), 'incumbentRunId', /both candidateRunId and incumbentRunId/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: inc, incumbentRunId: c, candidateSuccess: true, incumbentSuccess: true }), 'candidateRunId', /not the candidate/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: c, incumbentRunId: other, incumbentSuccess: true }), 'incumbentRunId', /task key "other"/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: c, incumbentRunId: running, incumbentSuccess: true }), 'incumbentRunId', /still running/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: c, incumbentRunId: inc }), 'incumbentSuccess', /no outcome yet/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: c, incumbentRunId: inc, candidateSuccess: false, incumbentSuccess: true }), 'candidateSuccess', /contradicts/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: 'r-nope', incumbentRunId: inc, incumbentSuccess: true }), 'candidateRunId', /r-nope/);
  await rejects(w.promotion.recordReplay({ ...base, taskKey: 'x'.repeat(100_000), candidateSuccess: true, incumbentSuccess: true }), 'taskKey', /at most 400/);
  await rejects(w.promotion.recordReplay({ ...base, candidateRunId: { __proto__: null } as unknown as string, incumbentRunId: inc }), 'candidateRunId', /id of the run/);
  await rejects(w.promotion.recordReplay(JSON.parse(`{"trialId":"${w.screen.id}","taskKey":"k","candidateSuccess":true,"incumbentSuccess":true,"__proto__":{"candidateRunId":"x"}}`)), '__proto__', /cannot be used as a key/);
  await rejects(w.promotion.setPolicy('fix', JSON.parse('{"guardrails":{"__proto__":{"falseDoneRate":{"enabled":false}}}}')), 'policy.guardrails.__proto__', /cannot be used as a key/);
  await rejects(w.promotion.setPolicy('fix', { guardrails: { falseDoneRate: { enabled: true, kind: 'relative', maxIncrease: 0.1 } } }), 'policy.guardrails.falseDoneRate.kind', /rate per run/);
  await rejects(w.promotion.setPolicy('fix', { stages: { screen: { minFailureReduction: 'half' } } }), 'policy.stages.screen.minFailureReduction', /number/);
  assert.equal(w.promotion.policyFor('fix').custom, false, 'no policy was set');
  // Nothing was written by the refused calls: the incumbent run still has no outcome.
  assert.equal(w.ledger.getRun(inc)!.outcome, null);
  await rejects(w.formulas.startRunFromFormula({ family: 'fix', taskKey: 'k', arm: 'replay', vars: {} }), 'variantId', /names the variant/);
});
