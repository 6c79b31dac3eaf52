import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { openLedger } from '../../src/ledger/index';
import type { Ledger, StoredEvent } from '../../src/ledger/index';
import { RunGraphFollower } from '../../src/extension/runGraphFollower';
import type { RunGraphSource } from '../../src/extension/runGraphFollower';
import { applyRunGraphPatch } from '../../src/shared/graphPatch';
import { tempDir } from '../ledger/helpers';

let dir: string;
let ledger: Ledger;
let heard: StoredEvent[];
let listener: { dispose(): void };

beforeEach(async () => {
  dir = tempDir('gascity-follower-');
  ledger = await openLedger(dir, { actor: 'test' });
  heard = [];
  listener = ledger.onDidChange((c) => heard.push(...c.events));
});
afterEach(() => {
  listener.dispose();
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The events committed since the last call, as the model would hand them over. */
function take(): StoredEvent[] {
  const out = heard;
  heard = [];
  return out;
}

/** The real ledger, counting the reads the follower makes. */
function counted(): { source: RunGraphSource; reads: { whole: number; node: number } } {
  const reads = { whole: 0, node: 0 };
  return {
    reads,
    source: {
      runGraph: (id) => (reads.whole++, ledger.runGraph(id)),
      getNode: (id) => (reads.node++, ledger.getNode(id)),
      evidence: (f) => ledger.evidence(f),
    },
  };
}

/** What a fresh panel would show: the run read whole. */
function fresh(runId: string) {
  return new RunGraphFollower(ledger, runId).readAll();
}

async function chain(title: string, nodes: { key: string; needs?: string[]; skipped?: boolean }[]): Promise<{ runId: string; ids: Record<string, string> }> {
  const { runId } = await ledger.startRun({ title, nodes: nodes.map((n) => ({ title: `step ${n.key}`, ...n })) });
  return { runId, ids: Object.fromEntries(nodes.map((n) => [n.key, `${runId}.${n.key}`])) };
}

describe('RunGraphFollower (an open run graph reads only what a change touched)', () => {
  it('follows a claim, a Codex thread, evidence and a report node by node, and ends where a whole read does', async () => {
    const { runId, ids } = await chain('chain', [{ key: 'a' }, { key: 'b', needs: ['a'] }, { key: 'c', needs: ['b'] }]);
    const { source, reads } = counted();
    const follower = new RunGraphFollower(source, runId);
    const first = follower.readAll()!;
    take();

    await ledger.claimNode({ nodeId: ids.a, worker: 'w1' });
    await ledger.dispatchNode({ nodeId: ids.a, worker: 'w1', threadId: 'thr_42' });
    await ledger.recordEvidence({ runId, nodeId: ids.a, kind: 'review', success: false, note: 'missing test' });
    const claimed = follower.follow(take())!;
    assert.deepEqual(claimed.patch?.upsertNodes.map((n) => n.id), [ids.a]);
    const a = claimed.patch!.upsertNodes[0]!;
    assert.equal(a.state, 'active');
    assert.equal(a.worker?.threadId, 'thr_42');
    assert.ok(a.evidence.some((e) => e.label === 'review' && e.value === 'failure · missing test'));
    assert.deepEqual(claimed.graph, fresh(runId));
    assert.deepEqual(applyRunGraphPatch(first, claimed.patch!), claimed.graph, 'the page, applying the patch, shows the same');

    await ledger.reportNode({ nodeId: ids.a, worker: 'w1', outcome: 'done' });
    const reported = follower.follow(take())!;
    assert.deepEqual(reported.patch?.upsertNodes.map((n) => [n.id, n.state]), [[ids.a, 'done'], [ids.b, 'ready']], 'the dependent became ready');
    assert.deepEqual(reported.graph, fresh(runId));
    assert.equal(reads.whole, 1, 'no whole read after the first');
    assert.ok(reads.node <= 5, `read ${reads.node} nodes`);
  });

  it('follows a chain of skipped steps to the step they ready', async () => {
    const { runId, ids } = await chain('skips', [
      { key: 'a' }, { key: 'b', needs: ['a'], skipped: true }, { key: 'c', needs: ['b'], skipped: true }, { key: 'd', needs: ['c'] }, { key: 'e', needs: ['d'] },
    ]);
    const follower = new RunGraphFollower(ledger, runId);
    follower.readAll();
    await ledger.claimNode({ nodeId: ids.a, worker: 'w1' });
    await ledger.reportNode({ nodeId: ids.a, worker: 'w1', outcome: 'done' });
    const r = follower.follow(take())!;
    assert.deepEqual(r.graph, fresh(runId));
    assert.equal(r.graph.nodes.find((n) => n.id === ids.d)?.state, 'ready');
    assert.equal(r.graph.nodes.find((n) => n.id === ids.e)?.state, 'pending');
  });

  it('reads the run whole when it changes shape (an expansion) or is cancelled, and the patch adds the children', async () => {
    const { runId, ids } = await chain('expand', [{ key: 'a' }, { key: 'b', needs: ['a'] }]);
    const { source, reads } = counted();
    const follower = new RunGraphFollower(source, runId);
    const first = follower.readAll()!;
    take();
    await ledger.claimNode({ nodeId: ids.a, worker: 'w1' });
    await ledger.expandNode({ nodeId: ids.a, worker: 'w1', children: [{ key: 'x', title: 'sub x' }, { key: 'y', title: 'sub y', needs: ['x'] }] });
    const r = follower.follow(take())!;
    assert.equal(reads.whole, 2);
    assert.deepEqual(r.graph, fresh(runId));
    assert.deepEqual(r.patch?.upsertNodes.map((n) => n.id).sort(), [ids.a, `${ids.a}.x`, `${ids.a}.y`].sort());
    assert.deepEqual(applyRunGraphPatch(first, r.patch!), r.graph);
    await ledger.cancelRun({ runId, reason: 'enough' });
    assert.deepEqual(follower.follow(take())!.graph, fresh(runId));
    assert.equal(reads.whole, 3);
  });

  it('costs nothing for events of other runs, and says null when nothing it shows changed', async () => {
    const mine = await chain('mine', [{ key: 'a' }]);
    const other = await chain('other', [{ key: 'a' }]);
    const { source, reads } = counted();
    const follower = new RunGraphFollower(source, mine.runId);
    follower.readAll();
    take();
    await ledger.claimNode({ nodeId: other.ids.a, worker: 'w1' });
    await ledger.recordEvidence({ runId: other.runId, kind: 'run_outcome', success: true });
    assert.equal(follower.follow(take())!.patch, null);
    assert.deepEqual(reads, { whole: 1, node: 0 });
    // Evidence about the run as a whole shows on no node.
    await ledger.recordEvidence({ runId: mine.runId, kind: 'note', note: 'looked at it' });
    assert.equal(follower.follow(take())!.patch, null);
  });

  it('reads the run whole on `everything`, and says undefined when the run is not in the ledger', async () => {
    const { runId } = await chain('r', [{ key: 'a' }]);
    const { source, reads } = counted();
    const follower = new RunGraphFollower(source, runId);
    follower.readAll();
    assert.equal(follower.follow([], true)!.patch, null);
    assert.equal(reads.whole, 2);
    assert.equal(new RunGraphFollower(ledger, 'r-missing').readAll(), undefined);
    assert.equal(new RunGraphFollower(ledger, 'r-missing').follow([{ kind: 'node.claimed', payload: { nodeId: 'r-missing.a' } }]), undefined);
  });

  it('ignores malformed event payloads', async () => {
    const { runId, ids } = await chain('r', [{ key: 'a' }]);
    const follower = new RunGraphFollower(ledger, runId);
    follower.readAll();
    const r = follower.follow([
      { kind: 'node.claimed', payload: null },
      { kind: 'node.claimed', payload: { nodeId: 42 } },
      { kind: 'worker.bound', payload: { nodeId: ids.a, workerKind: 7 } },
      { kind: 'node.expanded', payload: { nodeId: 'r-elsewhere.a' } },
    ])!;
    assert.equal(r.patch, null, 'a malformed worker.bound re-reads its node and finds nothing changed');
  });
});
