// The graph's rules that the controller relies on: skipped steps settle in order, expired leases are
// claimable by the ordinary rule, expansions cannot close a cycle, claims stay inside their run,
// timer and run gates, cancelling a node, and a finished run's outcome recorded once as evidence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FormulaService, LedgerError, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { tempDir } from './helpers';

async function withLedger(fn: (l: Ledger, clock: { t: number }) => Promise<void>): Promise<void> {
  const clock = { t: Date.parse('2026-03-01T10:00:00Z') };
  const l = await openLedger(tempDir(), { now: () => new Date(clock.t), actor: 'test' });
  try {
    await fn(l, clock);
  } finally {
    l.close();
  }
}

async function finish(l: Ledger, nodeId: string, worker = 'w'): Promise<void> {
  await l.claimNode({ nodeId, worker });
  await l.reportNode({ nodeId, worker, outcome: 'done' });
}

function states(l: Ledger, runId: string): Record<string, string> {
  return Object.fromEntries(l.runGraph(runId)!.nodes.map((n) => [n.stepId, n.state]));
}

test('a step skipped by `when` settles only after its own inputs: a → b (skipped) → c', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({
      title: 'skip chain',
      nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B', needs: ['a'], skipped: true }, { key: 'c', title: 'C', needs: ['b'] }],
    });
    // Today's bug: ready was "a c" at once. Only a may start.
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['a']);
    assert.deepEqual(states(l, runId), { a: 'ready', b: 'pending', c: 'pending' });
    // A second worker asking for anything gets a, never c.
    const claim = await l.claimNode({ worker: 'second' });
    assert.equal(claim?.nodeId, `${runId}.a`);
    await l.reportNode({ nodeId: `${runId}.a`, worker: 'second', outcome: 'done' });
    assert.deepEqual(states(l, runId), { a: 'done', b: 'skipped', c: 'ready' });
    await finish(l, `${runId}.c`);
    assert.equal(l.getRun(runId)!.status, 'done');
  });
});

test('skips settle through chains and fan-ins, and a run whose last steps are skipped still ends', async () => {
  await withLedger(async (l) => {
    const nodes = [{ key: 's0', title: 'first', skipped: true }];
    for (let i = 1; i < 3000; i++) nodes.push({ key: `s${i}`, title: `step ${i}`, needs: [`s${i - 1}`], skipped: i < 2999 } as never);
    const { runId } = await l.startRun({ title: 'long skipped chain', nodes });
    // Thousands of skipped steps in a row settle at once without overflowing the stack.
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['s2999']);

    const fan = await l.startRun({
      title: 'fan-in',
      nodes: [
        { key: 'a', title: 'A' }, { key: 'x', title: 'X', needs: ['a'], skipped: true }, { key: 'y', title: 'Y', needs: ['a'] },
        { key: 'join', title: 'Join', needs: ['x', 'y'] }, { key: 'tail', title: 'Tail', needs: ['join'], skipped: true },
      ],
    });
    await finish(l, `${fan.runId}.a`);
    assert.deepEqual(states(l, fan.runId), { a: 'done', x: 'skipped', y: 'ready', join: 'pending', tail: 'pending' });
    await finish(l, `${fan.runId}.y`);
    await finish(l, `${fan.runId}.join`);
    assert.deepEqual(states(l, fan.runId), { a: 'done', x: 'skipped', y: 'done', join: 'done', tail: 'skipped' });
    assert.equal(l.getRun(fan.runId)!.status, 'done');
    assert.equal(l.getRun(runId)!.status, 'running');
  });
});

test('the shipped formula: with mode=fast, review waits for check even though self-review is skipped', async () => {
  const ws = tempDir();
  const l = await openLedger(path.join(ws, 'ledger'), { actor: 'test' });
  try {
    const formulas = new FormulaService(l, { workspaceDir: ws });
    await formulas.importFormulas(path.join(__dirname, '..', '..', 'formulas'));
    const { runId } = await formulas.startRunFromFormula({ family: 'implement-and-review', vars: { task: 't', mode: 'fast' } });
    assert.deepEqual(l.readyWork({ runId }).map((n) => n.stepId), ['plan']);
    assert.equal(states(l, runId)['self-review'], 'pending');
    await finish(l, `${runId}.plan`);
    await finish(l, `${runId}.implement`);
    assert.deepEqual(l.readyWork({ runId }).map((n) => n.stepId), ['check']);
    await finish(l, `${runId}.check`);
    assert.equal(states(l, runId)['self-review'], 'skipped');
    assert.equal(states(l, runId).review, 'blocked', 'review waits at its human gate once check is done');
  } finally {
    l.close();
  }
});

test('a lease that ran out makes the node claimable by the ordinary rule, and the expiry names the old holder', async () => {
  await withLedger(async (l, clock) => {
    const { runId } = await l.startRun({ title: 'lease', nodes: [{ key: 'only', title: 'Only' }] });
    const nodeId = `${runId}.only`;
    await l.claimNode({ nodeId, worker: 'gone', leaseSeconds: 1 });
    assert.deepEqual(l.readyWork(), [], 'a live claim is not ready work');
    assert.equal(await l.claimNode({ worker: 'other' }), null);
    clock.t += 2000;
    // Today's bug: ready_work was empty and a claim without an id said nothing was ready.
    const ready = l.readyWork();
    assert.deepEqual(ready.map((n) => n.id), [nodeId]);
    assert.equal(ready[0]!.worker, 'gone');
    const claim = await l.claimNode({ worker: 'other' });
    assert.equal(claim?.nodeId, nodeId);
    const kinds = l.events(0).map((e) => e.kind);
    assert.deepEqual(kinds.slice(-2), ['node.lease_expired', 'node.claimed']);
    const expired = l.events(0).find((e) => e.kind === 'node.lease_expired')!.payload as { worker: string; expiredAt: string };
    assert.equal(expired.worker, 'gone');
    assert.equal(expired.expiredAt, new Date(Date.parse('2026-03-01T10:00:01Z')).toISOString());
    const claims = l.sql.all<{ worker: string; release_reason: string | null }>('SELECT worker, release_reason FROM claims ORDER BY claimed_at, rowid');
    assert.deepEqual(claims, [{ worker: 'gone', release_reason: 'lease expired' }, { worker: 'other', release_reason: null }]);
    // The old holder can no longer report.
    await assert.rejects(l.reportNode({ nodeId, worker: 'gone', outcome: 'done' }), /held by other/);
  });
});

test('node_claim with a run id and a node of another run is refused and writes nothing', async () => {
  await withLedger(async (l) => {
    const a = await l.startRun({ title: 'A', nodes: [{ key: 'x', title: 'X' }] });
    const b = await l.startRun({ title: 'B', nodes: [{ key: 'y', title: 'Y' }] });
    const seq = l.seq;
    await assert.rejects(l.claimNode({ worker: 'w', runId: a.runId, nodeId: `${b.runId}.y` }), (e: unknown) =>
      e instanceof LedgerError && e.field === 'nodeId' && e.message.includes(`belongs to run ${b.runId}, not to run ${a.runId}`));
    assert.equal(l.seq, seq);
    assert.equal(l.getNode(`${b.runId}.y`)!.state, 'ready');
  });
});

test('node_expand refuses children that would close a cycle, naming the path, and a reused key names the key', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({
      title: 'expand',
      nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B', needs: ['a'] }, { key: 'c', title: 'C', needs: ['b'] }],
    });
    await l.claimNode({ nodeId: `${runId}.a`, worker: 'w' });
    const seq = l.seq;
    // A child that needs its own join.
    await assert.rejects(l.expandNode({ nodeId: `${runId}.a`, worker: 'w', children: [{ key: 'k', title: 'K', needs: [`${runId}.a`] }] }),
      (e: unknown) => e instanceof LedgerError && e.field === 'children.0.needs' && /is the node being expanded/.test(e.message));
    // A child that needs something downstream of the join: the path is named.
    await assert.rejects(l.expandNode({ nodeId: `${runId}.a`, worker: 'w', children: [{ key: 'k', title: 'K' }, { key: 'm', title: 'M', needs: [`${runId}.c`] }] }),
      (e: unknown) => e instanceof LedgerError && e.field === 'children.1.needs' && e.message.includes(`${runId}.a → ${runId}.b → ${runId}.c`));
    assert.equal(l.seq, seq, 'nothing was written');
    const r = await l.expandNode({ nodeId: `${runId}.a`, worker: 'w', children: [{ key: 'k', title: 'K' }] });
    assert.deepEqual(r.childIds, [`${runId}.a.k`]);
    // The node comes back as the join; expanding it again with the same key is an input error, not a crash.
    await finish(l, `${runId}.a.k`);
    await l.claimNode({ nodeId: `${runId}.a`, worker: 'w' });
    await assert.rejects(l.expandNode({ nodeId: `${runId}.a`, worker: 'w', children: [{ key: 'k', title: 'again' }] }),
      (e: unknown) => e instanceof LedgerError && e.code === 'invalid_input' && e.field === 'children.0.key' && e.message.includes('"k" is already used'));
  });
});

test('a variable of the wrong type says what type was expected', async () => {
  const ws = tempDir();
  const l = await openLedger(path.join(ws, 'ledger'), { actor: 'test' });
  try {
    const formulas = new FormulaService(l, { workspaceDir: ws });
    await formulas.importFormulas(path.join(__dirname, '..', '..', 'formulas'));
    await assert.rejects(formulas.startRunFromFormula({ family: 'bug-fix-with-reproduction', vars: { bug: 5 } as never }),
      (e: unknown) => e instanceof LedgerError && e.field === 'vars.bug' && /expected text, or true or false, or a list, got a number 5/.test(e.message));
  } finally {
    l.close();
  }
});

test('a timer gate is due its seconds after the node reaches it; a run gate binds one awaited run', async () => {
  await withLedger(async (l, clock) => {
    const { runId } = await l.startRun({
      title: 'gates',
      nodes: [
        { key: 'a', title: 'A' },
        { key: 'wait', title: 'Wait', needs: ['a'], gate: { kind: 'timer', seconds: 60 } },
        { key: 'other', title: 'Other', gate: { kind: 'run', formula: 'nightly' } },
      ],
    });
    assert.equal(l.getNode(`${runId}.wait`)!.gateDueAt, null, 'the clock starts when the node reaches its gate');
    clock.t += 10_000;
    await finish(l, `${runId}.a`);
    const due = l.getNode(`${runId}.wait`)!.gateDueAt;
    assert.equal(due, new Date(clock.t + 60_000).toISOString());
    assert.deepEqual(l.dueTimerGates(new Date(clock.t + 59_000).toISOString()), []);
    assert.deepEqual(l.dueTimerGates(new Date(clock.t + 60_000).toISOString()).map((n) => n.stepId), ['wait']);
    assert.equal(l.nextDeadline(), due);

    assert.deepEqual(l.runGates().map((g) => [g.node.stepId, g.awaitedRunId]), [['other', null]]);
    const awaited = await l.startRun({ title: 'nightly', nodes: [{ key: 'n', title: 'N' }] });
    await l.bindGateRun(`${runId}.other`, awaited.runId);
    const spare = await l.startRun({ title: 'nightly (second controller)', nodes: [{ key: 'n', title: 'N' }] });
    await assert.rejects(l.bindGateRun(`${runId}.other`, spare.runId), /already waits for run/);
    await finish(l, `${awaited.runId}.n`);
    assert.deepEqual(l.runGates().map((g) => [g.awaitedRunId, g.awaited]), [[awaited.runId, { status: 'done', outcome: 'success' }]]);
    // A failed awaited run is a failed attempt: with none left the node fails and so does the run.
    await l.failGate(`${runId}.other`, `run ${awaited.runId} failed`);
    assert.equal(l.getNode(`${runId}.other`)!.state, 'failed');
    assert.equal(l.getRun(runId)!.status, 'failed');
  });
});

test('cancelling a node ends its claim and holds it for a person; opening the gate gives it another attempt', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'cancel', nodes: [{ key: 'a', title: 'A' }] });
    const nodeId = `${runId}.a`;
    await l.claimNode({ nodeId, worker: 'codex' });
    const r = await l.cancelNode({ nodeId, reason: 'wrong approach' });
    assert.equal(r.state, 'blocked');
    const n = l.getNode(nodeId)!;
    assert.equal(n.worker, null);
    assert.equal(n.claimId, null);
    assert.deepEqual(l.needsPerson().map((x) => x.id), [nodeId]);
    assert.equal(l.getRun(runId)!.interventions, 1);
    await assert.rejects(l.reportNode({ nodeId, worker: 'codex', outcome: 'done' }), LedgerError);
    await l.openGate({ nodeId, note: 'try again' });
    assert.deepEqual(l.readyWork().map((x) => x.id), [nodeId]);
    await assert.rejects(l.cancelNode({ nodeId: `${runId}.nope` }), (e: unknown) => e instanceof LedgerError && e.code === 'not_found');
  });
});

test("a finished run's outcome is recorded as evidence once, and not for a running or cancelled run", async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'outcome', nodes: [{ key: 'a', title: 'A' }] });
    assert.equal(await l.recordRunOutcome(runId, 'controller'), null);
    await finish(l, `${runId}.a`);
    const id = await l.recordRunOutcome(runId, 'derived from the node states');
    assert.ok(id);
    assert.equal(await l.recordRunOutcome(runId, 'again'), null);
    assert.deepEqual(l.evidence({ runId }).map((e) => [e.kind, e.success]), [['run_outcome', true]]);
    const c = await l.startRun({ title: 'cancelled', nodes: [{ key: 'a', title: 'A' }] });
    await l.cancelRun({ runId: c.runId });
    assert.equal(await l.recordRunOutcome(c.runId, 'x'), null);
  });
});

test('a handoff to a person holds the node for them at a human gate: no lease runs out under them', async () => {
  await withLedger(async (l, clock) => {
    const { runId } = await l.startRun({ title: 'deploy', nodes: [{ key: 'deploy', title: 'Deploy' }] });
    const nodeId = `${runId}.deploy`;
    await l.claimNode({ nodeId, worker: 'codex' });
    await l.handoffNode({ nodeId, fromWorker: 'codex', toWorker: 'person', note: 'needs the production password', toPerson: true });
    const n = l.getNode(nodeId)!;
    assert.deepEqual([n.state, n.worker, n.attempts, n.result], ['blocked', null, 0, 'handed off to a person: needs the production password']);
    clock.t += 7 * 24 * 3600 * 1000;
    assert.deepEqual(l.readyWork(), [], 'nothing is claimable, however long the person takes');
    assert.deepEqual(l.needsPerson().map((x) => x.id), [nodeId]);
    assert.equal(l.getRun(runId)!.interventions, 1);
    await l.openGate({ nodeId, note: 'password set; go on' });
    assert.deepEqual(l.readyWork().map((x) => x.id), [nodeId]);
  });
});
