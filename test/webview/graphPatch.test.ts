import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyRunGraphPatch, changesStructure, diffRunGraph } from '../../src/shared/graphPatch';
import { isHostMessage } from '../../src/shared/protocol';
import type { RunGraph, RunGraphNode } from '../../src/shared/protocol';
import { syntheticRunGraph } from '../../bench/ui.data';

const base: RunGraph = {
  runId: 'r-1',
  title: 'ship it',
  nodes: [
    { id: 'r-1.plan', title: 'Plan', state: 'done', evidence: [{ label: 'attempts', value: 'done on attempt 1 of 1' }] },
    { id: 'r-1.code', title: 'Code', state: 'ready', evidence: [] },
    { id: 'r-1.test', title: 'Test', state: 'pending', evidence: [] },
  ],
  edges: [
    { id: 'e0:r-1.plan>r-1.code', source: 'r-1.plan', target: 'r-1.code', kind: 'needs' },
    { id: 'e1:r-1.code>r-1.test', source: 'r-1.code', target: 'r-1.test', kind: 'needs' },
  ],
};

function withNode(graph: RunGraph, id: string, change: Partial<RunGraphNode>): RunGraph {
  return { ...graph, nodes: graph.nodes.map((n) => (n.id === id ? { ...n, ...change } : n)) };
}

describe('diffRunGraph (the host sends what changed in the run on screen)', () => {
  it('is null when nothing a person sees changed', () => {
    assert.equal(diffRunGraph(base, structuredClone(base)), null);
  });

  it('carries only the node whose state, worker or evidence changed, and keeps the layout', () => {
    const next = withNode(base, 'r-1.code', { state: 'active', worker: { worker: 'codex', threadId: 'thr_1' } });
    const patch = diffRunGraph(base, next);
    assert.ok(patch);
    assert.deepEqual(patch.upsertNodes.map((n) => n.id), ['r-1.code']);
    assert.deepEqual([patch.removeNodes, patch.upsertEdges, patch.removeEdges], [[], [], []]);
    assert.equal(changesStructure(base, patch), false);
    assert.deepEqual(applyRunGraphPatch(base, patch), next);
    const evidence = withNode(next, 'r-1.code', { evidence: [{ label: 'review', value: 'failure · missing test' }] });
    assert.deepEqual(diffRunGraph(next, evidence)?.upsertNodes.map((n) => n.evidence), [[{ label: 'review', value: 'failure · missing test' }]]);
  });

  it('marks added or removed nodes and edges as a change of structure, and applying it gives the next graph', () => {
    const expanded: RunGraph = {
      ...base,
      nodes: [...base.nodes, { id: 'r-1.code.a', title: 'Sub-task', state: 'ready', evidence: [] }],
      edges: [...base.edges, { id: 'e2:r-1.code>r-1.code.a', source: 'r-1.code', target: 'r-1.code.a', kind: 'parent-child' }],
    };
    const grown = diffRunGraph(base, expanded)!;
    assert.deepEqual(grown.upsertNodes.map((n) => n.id), ['r-1.code.a']);
    assert.equal(changesStructure(base, grown), true);
    assert.deepEqual(applyRunGraphPatch(base, grown), expanded);
    const shrunk = diffRunGraph(expanded, base)!;
    assert.deepEqual([shrunk.removeNodes, shrunk.removeEdges], [['r-1.code.a'], ['e2:r-1.code>r-1.code.a']]);
    assert.equal(changesStructure(expanded, shrunk), true);
    assert.deepEqual(applyRunGraphPatch(expanded, shrunk), base);
  });

  it('treats an edge that keeps its id but moves to other ends as structure', () => {
    const moved: RunGraph = { ...base, edges: [base.edges[0]!, { ...base.edges[1]!, source: 'r-1.plan' }] };
    const patch = diffRunGraph(base, moved)!;
    assert.equal(patch.upsertEdges.length, 1);
    assert.equal(changesStructure(base, patch), true);
  });

  it('carries a new title alone', () => {
    const patch = diffRunGraph(base, { ...base, title: 'ship it now' })!;
    assert.equal(patch.title, 'ship it now');
    assert.equal(patch.upsertNodes.length, 0);
    assert.equal(applyRunGraphPatch(base, patch).title, 'ship it now');
  });

  it('refuses to diff or patch across runs', () => {
    assert.throws(() => diffRunGraph(base, { ...base, runId: 'r-2' }), /r-2/);
    assert.throws(() => applyRunGraphPatch({ ...base, runId: 'r-2' }, diffRunGraph(base, { ...base, title: 'x' })!), /r-1/);
  });

  it('patches one node of a 2,000-node run with a one-node message that the page accepts', () => {
    const big = syntheticRunGraph(2000);
    const target = big.nodes[1234]!;
    const next = withNode(big, target.id, { state: target.state === 'failed' ? 'done' : 'failed' });
    const patch = diffRunGraph(big, next)!;
    assert.deepEqual(patch.upsertNodes.map((n) => n.id), [target.id]);
    const message = { type: 'patchRunGraph', patch };
    assert.ok(isHostMessage(JSON.parse(JSON.stringify(message))), 'the patch survives postMessage and the guard');
    assert.ok(JSON.stringify(message).length < 1000, 'the message is about one node, not the graph');
    assert.deepEqual(applyRunGraphPatch(big, patch), next);
  });
});

describe('isHostMessage on patches (the page ignores malformed ones)', () => {
  it('refuses a patch with a missing list, a bad state, an edge of an unknown kind or a huge id', () => {
    const ok = diffRunGraph(base, withNode(base, 'r-1.code', { state: 'active' }))!;
    assert.ok(isHostMessage({ type: 'patchRunGraph', patch: ok }));
    const { removeEdges: _r, ...missing } = ok;
    for (const patch of [
      missing,
      { ...ok, upsertNodes: [{ ...ok.upsertNodes[0]!, state: 'exploded' }] },
      { ...ok, upsertEdges: [{ id: 'e', source: 'a', target: 'b', kind: 'teleports' }] },
      { ...ok, removeNodes: ['x'.repeat(100_000)] },
      { ...ok, runId: '' },
      null,
    ]) {
      assert.equal(isHostMessage({ type: 'patchRunGraph', patch }), false, JSON.stringify(patch)?.slice(0, 120));
    }
  });
});
