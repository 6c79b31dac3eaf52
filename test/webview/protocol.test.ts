import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isHostMessage, isWebviewMessage, viewOf } from '../../src/shared/protocol';
import type { HostMessage, LineageGraph, RunGraph } from '../../src/shared/protocol';

const graph: RunGraph = {
  runId: 'r-1',
  title: 'ship it',
  nodes: [
    { id: 'a', title: 'Plan', state: 'done', evidence: [{ label: 'tokens', value: '12' }] },
    { id: 'b', title: 'Code', state: 'active', worker: { worker: 'codex', threadId: 'thr_1' }, evidence: [] },
  ],
  edges: [{ id: 'e1', source: 'a', target: 'b', kind: 'needs' }],
};
const lineage: LineageGraph = {
  familyId: 'fam',
  familyName: 'fam',
  activeVariantId: 'v1',
  variants: [
    { id: 'v1', label: 'g1', generation: 1, status: 'active', parentIds: [], evidence: { runs: 3, successes: 2, failures: 1, interventions: 0, tokens: 10 } },
    { id: 'v2', label: 'g2', generation: 2, status: 'trial', parentIds: ['v1'], trial: 'trial', evidence: { runs: 0, successes: 0, failures: 0, interventions: 0, tokens: 0 } },
  ],
};

describe('isWebviewMessage (the host checks every message from the page)', () => {
  it('accepts each well-formed message', () => {
    for (const m of [
      { type: 'ready' },
      { type: 'selectNode', view: 'run', id: 'a' },
      { type: 'openNode', runId: 'r-1', nodeId: 'a' },
      { type: 'openVariant', familyId: 'fam', variantId: 'v2' },
      { type: 'promoteVariant', familyId: 'fam', variantId: 'v2' },
      { type: 'rollbackFamily', familyId: 'fam' },
      { type: 'log', level: 'error', message: 'boom' },
    ]) {
      assert.ok(isWebviewMessage(m), JSON.stringify(m));
    }
  });

  it('refuses unknown types, missing or mistyped fields, and non-objects', () => {
    for (const m of [
      null,
      'ready',
      [],
      {},
      { type: 'deleteEverything' },
      { type: 'promoteVariant', familyId: 'fam' },
      { type: 'promoteVariant', familyId: 'fam', variantId: 42 },
      { type: 'promoteVariant', familyId: '', variantId: 'v2' },
      { type: 'selectNode', view: 'elsewhere', id: 'a' },
      { type: 'log', level: 'fatal', message: 'x' },
      { type: 'toString' },
      { type: 'constructor' },
    ]) {
      assert.equal(isWebviewMessage(m), false, JSON.stringify(m));
    }
  });

  it('refuses oversized ids, so a page cannot push megabytes through a field', () => {
    assert.equal(isWebviewMessage({ type: 'rollbackFamily', familyId: 'x'.repeat(10_000) }), false);
  });
});

describe('isHostMessage (the page ignores anything else)', () => {
  it('accepts graphs, updates, results and selections', () => {
    const ok: HostMessage[] = [
      { type: 'showRunGraph', graph },
      { type: 'showLineage', lineage },
      { type: 'update', view: { kind: 'run', graph } },
      { type: 'update', view: { kind: 'lineage', lineage } },
      { type: 'actionResult', action: 'promoteVariant', ok: true, message: 'done' },
      { type: 'select', id: 'v2' },
    ];
    for (const m of ok) assert.ok(isHostMessage(m), m.type);
  });

  it('refuses a graph with an unknown node state, edge kind or variant status', () => {
    const badState = { ...graph, nodes: [{ ...graph.nodes[0]!, state: 'exploded' }] };
    const badEdge = { ...graph, edges: [{ ...graph.edges[0]!, kind: 'teleports' }] };
    const badStatus = { ...lineage, variants: [{ ...lineage.variants[0]!, status: 'crowned' }] };
    assert.equal(isHostMessage({ type: 'showRunGraph', graph: badState }), false);
    assert.equal(isHostMessage({ type: 'showRunGraph', graph: badEdge }), false);
    assert.equal(isHostMessage({ type: 'showLineage', lineage: badStatus }), false);
    assert.equal(isHostMessage({ type: 'update', view: { kind: 'other' } }), false);
  });

  it('viewOf says which graph a message shows', () => {
    assert.deepEqual(viewOf({ type: 'showRunGraph', graph }), { kind: 'run', graph });
    assert.deepEqual(viewOf({ type: 'showLineage', lineage }), { kind: 'lineage', lineage });
    assert.equal(viewOf({ type: 'select', id: 'x' }), undefined);
  });
});
