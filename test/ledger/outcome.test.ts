// recordCheckedOutcome: a run's checks decide its outcome, with the model's report kept beside them,
// a false "done" recorded against the variant, all in one commit and once per run.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger/index';
import type { FormulaService, Ledger } from '../../src/ledger/index';
import { falseDoneRate, recordCheckedOutcome } from '../../src/ledger/outcome';
import type { CheckedResult } from '../../src/ledger/outcome';
import { formulaWorkspace } from './helpers';


const FORMULA = `
name = "fix"
version = 1
[[steps]]
id = "edit"
instructions = "Edit."
[[steps]]
id = "test"
needs = ["edit"]
instructions = "Test."

[[checks]]
id = "tests"
run = "npm test"
`;

async function workspace(): Promise<{ dir: string; ledger: Ledger; formulas: FormulaService }> {
  const { dir, ledger, formulas, problems } = await formulaWorkspace(FORMULA, 'gascity-outcome-');
  assert.deepEqual(problems, []);
  return { dir, ledger, formulas };
}

/** A run's evidence in the order it was written (the ledger lists newest first). */
function written(ledger: Ledger, runId: string) {
  return ledger.evidence({ runId }).reverse();
}

/** Starts a run and lets a worker report each node as `outcomes` says (default done). */
async function finishedRun(ledger: Ledger, formulas: FormulaService, outcomes: Record<string, 'done' | 'failed'> = {}): Promise<string> {
  const { runId } = await formulas.startRunFromFormula({ family: 'fix', vars: {} });
  for (;;) {
    const run = ledger.getRun(runId)!;
    if (run.status !== 'running') return runId;
    const claim = await ledger.claimNode({ runId, worker: 'w' });
    assert.ok(claim, 'a node is ready');
    const step = ledger.getNode(claim.nodeId)!.stepId;
    await ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome: outcomes[step] ?? 'done', summary: `${step} reported` });
  }
}

const failing: CheckedResult = { id: 'tests', kind: 'run', passed: false, summary: 'exited with code 1 after 0.4 s (expected 0)', subject: 'npm test', output: 'FAIL login.test.js\n  expected 200, got 500\n' };
const passing: CheckedResult = { ...failing, passed: true, summary: 'exited with code 0 after 0.4 s', output: '12 passing\n' };

test('a failed check overrides a model\'s "done": the outcome is failure, with false_done and the model\'s report beside it', async () => {
  const { ledger, formulas } = await workspace();
  const runId = await finishedRun(ledger, formulas);
  // Every node reported done, yet the run has no outcome until its checks decide: no promotion rule can count
  // the model's word (arms and trials count only runs with an outcome).
  assert.deepEqual([ledger.getRun(runId)!.status, ledger.getRun(runId)!.outcome], ['done', null], 'no outcome from the node states');
  const before = ledger.seq;
  const id = await recordCheckedOutcome(ledger, runId, [failing], 'controller');
  const run = ledger.getRun(runId)!;
  assert.deepEqual([run.status, run.outcome], ['done', 'failure']);
  const rows = written(ledger, runId).map((e) => ({ kind: e.kind, success: e.success, variant: e.variantId, actor: e.actor, note: e.note }));
  assert.deepEqual(rows.map((r) => [r.kind, r.success]), [['check', false], ['model_report', true], ['false_done', false], ['run_outcome', false]]);
  assert.ok(rows.every((r) => r.variant === run.variantId && r.actor === 'controller'));
  assert.equal(rows[0]!.note, 'check tests (run) failed: exited with code 1 after 0.4 s (expected 0)\n$ npm test\nFAIL login.test.js\n  expected 200, got 500\n');
  assert.equal(rows[1]!.note, 'the model reported the run done: 2 of 2 nodes done');
  assert.equal(rows[2]!.note, 'the model reported the run done, but 1 of 1 checks failed: tests');
  assert.equal(rows[3]!.note, 'checks: 1 of 1 failed (tests: exited with code 1 after 0.4 s (expected 0))');
  assert.equal(written(ledger, runId).at(-1)!.id, id);
  // One commit: four events with one timestamp, and nothing else was written.
  const events = ledger.events(before);
  assert.equal(events.length, 4);
  assert.equal(new Set(events.map((e) => e.ts)).size, 1);
});

test('passing checks give success, and a run the model failed can still pass its checks', async () => {
  const { ledger, formulas } = await workspace();
  const ok = await finishedRun(ledger, formulas);
  await recordCheckedOutcome(ledger, ok, [passing]);
  assert.equal(ledger.getRun(ok)!.outcome, 'success');
  assert.deepEqual(written(ledger, ok).map((e) => [e.kind, e.success]), [['check', true], ['model_report', true], ['run_outcome', true]]);

  const failed = await finishedRun(ledger, formulas, { test: 'failed' });
  assert.equal(ledger.getRun(failed)!.status, 'failed');
  await recordCheckedOutcome(ledger, failed, [passing]);
  assert.equal(ledger.getRun(failed)!.outcome, 'success');
  const rows = written(ledger, failed);
  assert.deepEqual(rows.map((e) => [e.kind, e.success]), [['check', true], ['model_report', false], ['run_outcome', true]]);
  assert.equal(rows[1]!.note, 'the run ended failed: 1 of 2 nodes failed');
});

test('the outcome is recorded once: two controllers racing on one ledger write one set of rows', async () => {
  const { dir, ledger, formulas } = await workspace();
  const runId = await finishedRun(ledger, formulas);
  const other = await openLedger(path.join(dir, '.gascity', 'ledger'), { actor: 'other' });
  after(() => other.close());
  const results = await Promise.all([recordCheckedOutcome(ledger, runId, [failing]), recordCheckedOutcome(other, runId, [passing])]);
  assert.equal(results.filter((r) => r !== null).length, 1);
  await ledger.refresh();
  const kinds = ledger.evidence({ runId }).map((e) => e.kind);
  assert.equal(kinds.filter((k) => k === 'run_outcome').length, 1);
  assert.equal(kinds.filter((k) => k === 'check').length, 1);
  // And a third call, later, writes nothing at all.
  const seq = ledger.seq;
  assert.equal(await recordCheckedOutcome(ledger, runId, [passing]), null);
  assert.equal(ledger.seq, seq);
});

test('nothing is recorded for a running or cancelled run, nor over an outcome a person marked', async () => {
  const { ledger, formulas } = await workspace();
  const { runId: running } = await formulas.startRunFromFormula({ family: 'fix', vars: {} });
  const seq = ledger.seq;
  assert.equal(await recordCheckedOutcome(ledger, running, [passing]), null);
  await ledger.cancelRun({ runId: running, reason: 'not needed' });
  assert.equal(await recordCheckedOutcome(ledger, running, [passing]), null);
  assert.equal(ledger.seq, seq + 1, 'only the cancel was written');

  const marked = await finishedRun(ledger, formulas);
  await ledger.recordEvidence({ runId: marked, kind: 'run_outcome', success: false, note: 'a person saw it fail' }, 'person');
  assert.equal(await recordCheckedOutcome(ledger, marked, [passing]), null);
  assert.equal(ledger.getRun(marked)!.outcome, 'failure');
  await assert.rejects(recordCheckedOutcome(ledger, 'r-nothere', [passing]), /r-nothere/);
});

test('the false-done rate of a variant counts the runs its model called done that their checks failed', async () => {
  const { ledger, formulas } = await workspace();
  const first = await finishedRun(ledger, formulas);
  const variantId = ledger.getRun(first)!.variantId!;
  assert.deepEqual(falseDoneRate(ledger, variantId), { reportedDone: 0, falseDone: 0, rate: null });
  await recordCheckedOutcome(ledger, first, [failing]);
  await recordCheckedOutcome(ledger, await finishedRun(ledger, formulas), [passing]);
  await recordCheckedOutcome(ledger, await finishedRun(ledger, formulas), [passing]);
  // A run the model failed is no claim of "done", whatever its checks say.
  await recordCheckedOutcome(ledger, await finishedRun(ledger, formulas, { edit: 'failed' }), [failing]);
  assert.deepEqual(falseDoneRate(ledger, variantId), { reportedDone: 3, falseDone: 1, rate: 1 / 3 });
});
