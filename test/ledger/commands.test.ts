import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../src/ledger/index';
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

const diamond = {
  title: 'diamond',
  nodes: [
    { key: 'plan', title: 'Plan' },
    { key: 'left', title: 'Left', needs: ['plan'] },
    { key: 'right', title: 'Right', needs: ['plan'] },
    { key: 'join', title: 'Join', needs: ['left', 'right'] },
  ],
};

async function finish(l: Ledger, nodeId: string, worker = 'w'): Promise<void> {
  await l.claimNode({ nodeId, worker });
  await l.reportNode({ nodeId, worker, outcome: 'done' });
}

test('ready work follows the graph: fan-out after plan, join after both branches, run done at the end', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun(diamond);
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['plan']);
    await finish(l, `${runId}.plan`);
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['left', 'right']);
    await finish(l, `${runId}.left`);
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['right']);
    await finish(l, `${runId}.right`);
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['join']);
    await finish(l, `${runId}.join`);
    assert.equal(l.getRun(runId)?.status, 'done');
    assert.equal(l.getRun(runId)?.outcome, 'success');
    assert.deepEqual(l.readyWork(), []);
  });
});

test('a claim is a lease: others are refused until it expires, then it can be taken over or recovered', async () => {
  await withLedger(async (l, clock) => {
    const { runId } = await l.startRun(diamond);
    const c = await l.claimNode({ worker: 'alice', leaseSeconds: 60 });
    assert.equal(c?.nodeId, `${runId}.plan`);
    await assert.rejects(l.claimNode({ worker: 'bob', nodeId: c!.nodeId }), /held by alice until/);
    await assert.rejects(l.reportNode({ nodeId: c!.nodeId, worker: 'bob', outcome: 'done' }), /held by alice, not bob/);
    assert.equal(await l.claimNode({ worker: 'bob' }), null, 'nothing else is ready');
    clock.t += 61_000;
    await assert.rejects(l.reportNode({ nodeId: c!.nodeId, worker: 'alice', outcome: 'done' }), /lease of alice .* expired/);
    const r = await l.recoverNodes({});
    assert.deepEqual(r.recovered, [c!.nodeId]);
    assert.equal(l.getNode(c!.nodeId)?.state, 'ready');
    const again = await l.claimNode({ worker: 'bob' });
    assert.equal(again?.nodeId, c!.nodeId);
  });
});

test('retries: a failed attempt goes back to ready until the limit, then the run fails', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'retry', nodes: [{ key: 'flaky', title: 'Flaky', maxAttempts: 2 }] });
    const id = `${runId}.flaky`;
    await l.claimNode({ nodeId: id, worker: 'w' });
    assert.equal((await l.reportNode({ nodeId: id, worker: 'w', outcome: 'failed' })).state, 'ready');
    await l.claimNode({ nodeId: id, worker: 'w' });
    const r = await l.reportNode({ nodeId: id, worker: 'w', outcome: 'failed' });
    assert.deepEqual(r, { nodeId: id, state: 'failed', runStatus: 'failed' });
    assert.equal(l.getRun(runId)?.outcome, 'failure');
  });
});

test('on_exhausted skip lets dependents go on; escalate waits for a person and counts an intervention', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({
      title: 'exhaust',
      nodes: [
        { key: 'optional', title: 'Optional', onExhausted: 'skip' },
        { key: 'hard', title: 'Hard', onExhausted: 'escalate' },
        { key: 'after', title: 'After', needs: ['optional', 'hard'] },
      ],
    });
    await l.claimNode({ nodeId: `${runId}.optional`, worker: 'w' });
    assert.equal((await l.reportNode({ nodeId: `${runId}.optional`, worker: 'w', outcome: 'failed' })).state, 'skipped');
    await l.claimNode({ nodeId: `${runId}.hard`, worker: 'w' });
    assert.equal((await l.reportNode({ nodeId: `${runId}.hard`, worker: 'w', outcome: 'failed' })).state, 'blocked');
    assert.equal(l.getRun(runId)?.interventions, 1);
    assert.equal((await l.openGate({ nodeId: `${runId}.hard`, note: 'fixed the env' })).state, 'ready');
    await finish(l, `${runId}.hard`);
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['after']);
  });
});

test('review: a reported node waits for a verdict; a rejection retries and is counted', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'rev', nodes: [{ key: 'impl', title: 'Implement', review: true, maxAttempts: 3 }] });
    const id = `${runId}.impl`;
    await l.claimNode({ nodeId: id, worker: 'w' });
    assert.equal((await l.reportNode({ nodeId: id, worker: 'w', outcome: 'done' })).state, 'review');
    assert.equal((await l.reviewNode({ nodeId: id, verdict: 'reject', note: 'tests missing' })).state, 'ready');
    assert.equal(l.getRun(runId)?.reviewRejections, 1);
    await l.claimNode({ nodeId: id, worker: 'w' });
    await l.reportNode({ nodeId: id, worker: 'w', outcome: 'done' });
    assert.deepEqual(await l.reviewNode({ nodeId: id, verdict: 'approve' }), { nodeId: id, state: 'done', runStatus: 'done' });
  });
});

test('human gates hold a node until opened', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'gate', nodes: [{ key: 'a', title: 'A' }, { key: 'ship', title: 'Ship', needs: ['a'], gate: { kind: 'human' } }] });
    await finish(l, `${runId}.a`);
    assert.equal(l.getNode(`${runId}.ship`)?.state, 'blocked');
    assert.deepEqual(l.readyWork(), []);
    await l.openGate({ nodeId: `${runId}.ship` });
    assert.deepEqual(l.readyWork().map((n) => n.stepId), ['ship']);
  });
});

test('expand fans a node out at run time and makes it the join; handoff moves the claim', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'fan', nodes: [{ key: 'files', title: 'Per file' }, { key: 'after', title: 'After', needs: ['files'] }] });
    const parent = `${runId}.files`;
    await l.claimNode({ nodeId: parent, worker: 'w' });
    const { childIds } = await l.expandNode({ nodeId: parent, worker: 'w', children: [{ key: 'a', title: 'a.ts' }, { key: 'b', title: 'b.ts' }] });
    assert.deepEqual(childIds, [`${parent}.a`, `${parent}.b`]);
    assert.equal(l.getNode(parent)?.state, 'pending');
    assert.deepEqual(l.readyWork().map((n) => n.id), childIds);
    const g = l.runGraph(runId)!;
    assert.ok(g.edges.some((e) => e.from === parent && e.to === `${parent}.a` && e.kind === 'parent-child'));
    assert.ok(g.edges.some((e) => e.from === `${parent}.a` && e.to === parent && e.kind === 'blocks'));

    await l.claimNode({ nodeId: childIds[0]!, worker: 'x' });
    await l.handoffNode({ nodeId: childIds[0]!, fromWorker: 'x', toWorker: 'y', note: 'x is out of context' });
    await assert.rejects(l.reportNode({ nodeId: childIds[0]!, worker: 'x', outcome: 'done' }), /held by y, not x/);
    await l.reportNode({ nodeId: childIds[0]!, worker: 'y', outcome: 'done' });
    await finish(l, childIds[1]!);
    assert.equal(l.getNode(parent)?.state, 'ready', 'the join is ready again once both children are done');
    await finish(l, parent);
    await finish(l, `${runId}.after`);
    assert.equal(l.getRun(runId)?.status, 'done');
  });
});

test('dispatch binds the worker thread; evidence is attributed to the run and can set its outcome', async () => {
  await withLedger(async (l) => {
    const { runId } = await l.startRun({ title: 'bind', nodes: [{ key: 'a', title: 'A' }] });
    await l.claimNode({ nodeId: `${runId}.a`, worker: 'codex' });
    await l.dispatchNode({ nodeId: `${runId}.a`, worker: 'codex', threadId: 'thr_123' });
    assert.equal(l.getNode(`${runId}.a`)?.state, 'active');
    assert.deepEqual(l.runGraph(runId)!.bindings.map((b) => b.threadId), ['thr_123']);
    await l.recordEvidence({ runId, kind: 'run_outcome', success: false, note: 'the person says it broke the build' });
    await l.reportNode({ nodeId: `${runId}.a`, worker: 'codex', outcome: 'done', tokens: 1200, durationMs: 5000 });
    const run = l.getRun(runId)!;
    assert.equal(run.status, 'done');
    assert.equal(run.outcome, 'failure', 'a recorded outcome outranks the derived one');
    assert.equal(run.tokens, 1200);
    assert.equal(l.evidence({ runId }).length, 1);
  });
});

test('bad input: a clear error naming the field, and nothing written', async () => {
  await withLedger(async (l) => {
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => l.startRun({ title: '', nodes: [{ key: 'a', title: 'A' }] }), /^title: give the run a title/],
      [() => l.startRun({ title: 't', nodes: [] }), /^nodes: a run needs at least one node/],
      [() => l.startRun({ title: 't', nodes: [{ key: 'a', title: 'A', needs: ['zzz'] }] }), /^nodes\.0\.needs: "zzz" is not a node of this plan/],
      [() => l.startRun({ title: 't', nodes: [{ key: 'a', title: 'A', needs: ['b'] }, { key: 'b', title: 'B', needs: ['a'] }] }), /cycle through a, b/],
      [() => l.startRun({ title: 't', nodes: [{ key: 'a', title: 'A' }, { key: 'a', title: 'B' }] }), /^nodes\.1\.key: "a" is used twice/],
      [() => l.startRun({ title: 't', nodes: [{ key: 'a b', title: 'A' }] }), /^nodes\.0\.key: use letters/],
      [() => l.startRun({ title: 't', variantId: 'v-nope', nodes: [{ key: 'a', title: 'A' }] }), /^variantId: no variant with id "v-nope"/],
      [() => l.claimNode({ worker: 42 }), /^worker: /],
      [() => l.claimNode({ worker: 'w', nodeId: 'r-nope.a' }), /^nodeId: no node with id "r-nope.a"/],
      [() => l.reportNode({ nodeId: 'x', worker: 'w', outcome: 'maybe' }), /^outcome: /],
      [() => l.reportNode({ nodeId: 'x', worker: 'w', outcome: 'done', tokens: -5 }), /^tokens: must not be negative/],
      [() => l.recordEvidence({ kind: 'run_outcome', success: true }), /^runId: name the run/],
      [() => l.startRun({ title: 'x'.repeat(300), nodes: [{ key: 'a', title: 'A' }] }), /^title: /],
      [() => l.startRun(null), /^input: /],
    ];
    for (const [call, message] of cases) {
      const before = l.seq;
      await assert.rejects(call(), (e: Error & { code?: string }) => {
        assert.match(e.message, message);
        assert.ok(e.code === 'invalid_input' || e.code === 'not_found', `unexpected code ${e.code}`);
        return true;
      });
      assert.equal(l.seq, before, `${message} wrote something`);
    }
  });
});
