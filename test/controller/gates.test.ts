// Gates under the controller, with the real Codex CLI: a timer gate opens on time (also when the
// controller was down at that time), a run gate starts the run it waits for and opens when it succeeds.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, setup, until, workerScript } from './helpers';

after(cleanup);

const TIMED = `
name = "timed"
version = 1
description = "a, then wait two seconds, then b"
[[steps]]
id = "a"
instructions = "A."
[[steps]]
id = "wait"
needs = ["a"]
instructions = "After the pause."
[steps.gate]
kind = "timer"
seconds = 2
[[steps]]
id = "b"
needs = ["wait"]
instructions = "B."
`;

test('a timer gate opens at its time and the run goes on', { timeout: 120_000 }, async () => {
  const s = await setup({ timed: TIMED }, workerScript());
  const { runId } = await s.formulas.startRunFromFormula({ family: 'timed', vars: {} });
  const c = await s.controller();
  await until(() => !!s.ledger.getNode(`${runId}.wait`)?.gateDueAt, 60_000, 'the wait node to reach its gate');
  const due = Date.parse(s.ledger.getNode(`${runId}.wait`)!.gateDueAt!);
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  const opened = s.ledger.events(0).find((e) => e.kind === 'node.gate_opened')!;
  assert.ok(Date.parse(opened.ts) >= due, 'not before its time');
  assert.ok(Date.parse(opened.ts) < due + 2000, `opened within 2 s of its time (${Date.parse(opened.ts) - due} ms late)`);
  assert.match((opened.payload as { note: string }).note, /timer of 2 s ran out/);
  assert.equal(opened.actor, 'controller');
});

test('a timer gate that fell due while no controller ran opens as soon as one starts', { timeout: 120_000 }, async () => {
  const s = await setup({ timed: TIMED }, workerScript());
  const { runId } = await s.formulas.startRunFromFormula({ family: 'timed', vars: {} });
  const first = await s.controller();
  await until(() => s.ledger.getNode(`${runId}.wait`)?.state === 'blocked', 60_000, 'the wait node to reach its gate');
  await first.stop();
  const due = Date.parse(s.ledger.getNode(`${runId}.wait`)!.gateDueAt!);
  await until(() => Date.now() > due + 1500, 10_000, 'the gate to fall due while nothing runs');
  assert.equal(s.ledger.getNode(`${runId}.wait`)!.state, 'blocked', 'nobody opened it while the controller was down');
  const restartedAt = Date.now();
  const second = await s.controller();
  const [run] = await second.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  const opened = s.ledger.events(0).find((e) => e.kind === 'node.gate_opened')!;
  assert.ok(Date.parse(opened.ts) - restartedAt < 3000, 'opened right after the restart');
});

test('a run gate starts the run it waits for, opens when that run succeeds, and fails the node when it fails', { timeout: 120_000 }, async () => {
  const formulas = {
    nightly: 'name = "nightly"\nversion = 1\ndescription = "the nightly build"\n[vars.flavour]\ndefault = "plain"\n[[steps]]\nid = "build"\ninstructions = "Build {{flavour}}."\n',
    release: `name = "release"
version = 1
description = "prepare, wait for a nightly build, ship"
[vars.flavour]
default = "plain"
[vars.note]
default = "n"
[[steps]]
id = "prepare"
instructions = "Prepare."
[[steps]]
id = "ship"
needs = ["prepare"]
instructions = "Ship."
[steps.gate]
kind = "run"
formula = "nightly"
`,
  };
  // The nightly build fails in the second run of this test.
  let failNightly = false;
  const s = await setup(formulas, workerScript((nodeId) => ({ outcome: failNightly && nodeId.endsWith('.build') ? 'failed' : 'done' })));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'release', vars: { flavour: 'spicy' } });
  const c = await s.controller({ runIds: [runId] });
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  const awaitedId = s.ledger.getNode(`${runId}.ship`)!.gateRunId!;
  const awaited = s.ledger.getRun(awaitedId)!;
  assert.deepEqual([awaited.familyId, awaited.status, awaited.outcome, awaited.taskKey], ['nightly', 'done', 'success', `gate:${runId}.ship#1`]);
  assert.deepEqual(awaited.vars, { flavour: 'spicy' }, 'the awaited run gets the variables it declares');
  const opened = s.ledger.events(0).find((e) => e.kind === 'node.gate_opened')!;
  assert.match((opened.payload as { note: string }).note, new RegExp(`${awaitedId}, ended with success`));

  failNightly = true;
  const second = await s.formulas.startRunFromFormula({ family: 'release', vars: {} });
  c.include(second.runId);
  const [failed] = await c.waitForRuns([second.runId]);
  assert.equal(failed!.status, 'failed');
  assert.match(s.ledger.getNode(`${second.runId}.ship`)!.result ?? '', /ended failed/);
});
