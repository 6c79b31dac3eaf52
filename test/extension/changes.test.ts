import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeAccumulator, MAX_FOLLOWED_EVENTS } from '../../src/extension/changes';

const known = new Map([['r-1.plan', 'r-1'], ['odd-node', 'r-3']]);
const runOf = (nodeId: string) => known.get(nodeId);

describe('ChangeAccumulator (which runs a burst of events touched)', () => {
  it('names the runs of run events, of node events (by the ledger, else by the id prefix) and of evidence', () => {
    const acc = new ChangeAccumulator(runOf);
    acc.add([
      { kind: 'node.claimed', payload: { nodeId: 'r-1.plan', claimId: 'c', worker: 'w', expiresAt: '' } },
      { kind: 'node.reported', payload: { nodeId: 'r-2.code.sub', outcome: 'done', summary: '', tokens: 0, durationMs: 0 } },
      { kind: 'node.gate_opened', payload: { nodeId: 'odd-node', note: '' } },
      { kind: 'evidence.recorded', payload: { runId: 'r-4', nodeId: null, kind: 'run_outcome' } },
    ]);
    const s = acc.take();
    assert.deepEqual([...s.runIds].sort(), ['r-1', 'r-2', 'r-3', 'r-4']);
    assert.deepEqual([s.runsStarted, s.otherThanRuns, s.everything], [false, false, false]);
    assert.ok(acc.empty, 'take() starts again');
  });

  it('says when a run started and when events about no run came', () => {
    const acc = new ChangeAccumulator(runOf);
    acc.add([{ kind: 'run.started', payload: { runId: 'r-9', title: 't' } }]);
    acc.add([{ kind: 'variant.created', payload: { variantId: 'v', familyId: 'f' } }]);
    const s = acc.take();
    assert.deepEqual([...s.runIds], ['r-9']);
    assert.equal(s.runsStarted, true);
    assert.equal(s.otherThanRuns, true);
  });

  it('does not count evidence about a variant alone as a change of families', () => {
    const acc = new ChangeAccumulator(runOf);
    acc.add([{ kind: 'evidence.recorded', payload: { runId: null, nodeId: null, variantId: 'v-1', kind: 'tokens' } }]);
    const s = acc.take();
    assert.equal(s.otherThanRuns, false);
    assert.deepEqual(s.events.map((e) => e.kind), ['evidence.recorded']);
  });

  it('ignores payloads that are not objects or carry ids of the wrong type, and inherited fields', () => {
    const acc = new ChangeAccumulator(runOf);
    const inherited = Object.create({ runId: 'r-proto' }) as object;
    acc.add([
      { kind: 'x', payload: null },
      { kind: 'x', payload: 'r-1' },
      { kind: 'x', payload: { runId: 42, nodeId: ['r-1.plan'] } },
      { kind: 'x', payload: inherited },
      { kind: 'x', payload: JSON.parse('{"__proto__": {"runId": "r-evil"}}') as unknown },
    ]);
    const s = acc.take();
    assert.deepEqual([...s.runIds], []);
    assert.equal(s.otherThanRuns, true);
  });

  it('says everything after a refresh', () => {
    const acc = new ChangeAccumulator(runOf);
    acc.add([{ kind: 'node.claimed', payload: { nodeId: 'r-1.plan' } }]);
    acc.addEverything();
    assert.equal(acc.take().everything, true);
    assert.equal(acc.take().everything, false);
  });

  it('hands over the events in order, and turns a burst too long to follow into everything', () => {
    const acc = new ChangeAccumulator(runOf);
    acc.add([{ kind: 'node.claimed', payload: { nodeId: 'r-1.plan' } }, { kind: 'node.dispatched', payload: { nodeId: 'r-1.plan' } }]);
    assert.deepEqual(acc.take().events.map((e) => e.kind), ['node.claimed', 'node.dispatched']);
    const burst = Array.from({ length: MAX_FOLLOWED_EVENTS + 1 }, (_, i) => ({ kind: 'node.claimed', payload: { nodeId: `r-${i}.a` } }));
    acc.add(burst);
    const s = acc.take();
    assert.equal(s.everything, true);
    assert.equal(s.events.length, 0);
  });
});
