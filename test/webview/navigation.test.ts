import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildView } from '../../src/webview/elements';
import { directionOfKey, firstNode, move } from '../../src/webview/navigation';
import type { RunGraph } from '../../src/shared/protocol';

// plan → code, plan → docs, code → test, docs → test
const graph: RunGraph = {
  runId: 'r',
  title: 'r',
  nodes: ['plan', 'code', 'docs', 'test'].map((id) => ({ id, title: id, state: 'pending' as const, evidence: [] })),
  edges: [
    { id: '1', source: 'plan', target: 'code', kind: 'needs' },
    { id: '2', source: 'plan', target: 'docs', kind: 'needs' },
    { id: '3', source: 'code', target: 'test', kind: 'needs' },
    { id: '4', source: 'docs', target: 'test', kind: 'needs' },
  ],
};

describe('keyboard navigation', () => {
  const built = buildView({ kind: 'run', graph });
  const { positions } = built.layout;
  const go = (from: string | undefined, key: string) => move(from, directionOfKey(key)!, positions, built.flow);

  it('starts at the top node when nothing is selected', () => {
    assert.equal(firstNode(positions), 'plan');
    assert.equal(go(undefined, 'ArrowDown'), 'plan');
  });

  it('ArrowDown and ArrowUp follow edges', () => {
    const child = go('plan', 'ArrowDown');
    assert.ok(child === 'code' || child === 'docs');
    assert.equal(go(child, 'ArrowDown'), 'test');
    assert.equal(go('test', 'ArrowUp') === 'code' || go('test', 'ArrowUp') === 'docs', true);
    assert.equal(go(child, 'ArrowUp'), 'plan');
  });

  it('ArrowLeft and ArrowRight move along the row, and stop at its ends', () => {
    const [left, right] = ['code', 'docs'].sort((a, b) => positions.get(a)!.x - positions.get(b)!.x) as [string, string];
    assert.equal(go(left, 'ArrowRight'), right);
    assert.equal(go(right, 'ArrowLeft'), left);
    assert.equal(go(right, 'ArrowRight'), right);
  });

  it('stays put at the bottom and the top', () => {
    assert.equal(go('test', 'ArrowDown'), 'test');
    assert.equal(go('plan', 'ArrowUp'), 'plan');
  });

  it('ignores keys that are not arrows', () => {
    assert.equal(directionOfKey('Enter'), undefined);
  });
});

describe('buildView', () => {
  it('gives every node a position and a state class, and every edge its kind as class', () => {
    const built = buildView({ kind: 'run', graph });
    const nodes = built.elements.filter((e) => e.group === 'nodes');
    const edges = built.elements.filter((e) => e.group === 'edges');
    assert.equal(nodes.length, 4);
    assert.ok(nodes.every((n) => n.position && n.classes === 'state-pending'));
    assert.ok(edges.every((e) => e.classes === 'needs'));
  });

  it('draws a lineage by generation and marks the active variant and trials', () => {
    const evidence = { runs: 0, successes: 0, failures: 0, interventions: 0, tokens: 0 };
    const built = buildView({
      kind: 'lineage',
      lineage: {
        familyId: 'f',
        familyName: 'f',
        activeVariantId: 'a',
        variants: [
          { id: 'a', label: 'g1', generation: 1, status: 'active', parentIds: [], evidence },
          { id: 'b', label: 'g2', generation: 2, status: 'trial', parentIds: ['a'], evidence },
          { id: 'c', label: 'g2b', generation: 2, status: 'rejected', parentIds: ['a'], evidence },
        ],
      },
    });
    const cls = (id: string) => String(built.elements.find((e) => e.data.id === id)?.classes);
    assert.match(cls('a'), /active-variant/);
    assert.match(cls('b'), /trial/);
    assert.match(cls('c'), /rejected/);
    assert.ok(built.layout.positions.get('b')!.y > built.layout.positions.get('a')!.y);
    assert.equal(built.layout.positions.get('b')!.y, built.layout.positions.get('c')!.y);
  });
});
