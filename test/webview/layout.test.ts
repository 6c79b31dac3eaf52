import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countAdjacentCrossings, layeredLayout, routeKey } from '../../src/webview/layout';
import { segmentsOf } from '../../src/webview/elements';
import type { LayoutEdge } from '../../src/webview/layout';
import { syntheticRunGraph } from '../../bench/ui.data';

const e = (source: string, target: string): LayoutEdge => ({ source, target });

function assertEdgesPointDown(result: ReturnType<typeof layeredLayout>, edges: readonly LayoutEdge[]): void {
  for (const { source, target } of edges) {
    assert.ok(result.layerOf.get(source)! < result.layerOf.get(target)!, `${source} → ${target} should point down`);
  }
}

describe('layeredLayout', () => {
  it('puts every node of a chain on its own layer, top to bottom', () => {
    const edges = [e('a', 'b'), e('b', 'c'), e('c', 'd')];
    const r = layeredLayout(['d', 'c', 'b', 'a'], edges);
    assert.deepEqual(r.layers, [['a'], ['b'], ['c'], ['d']]);
    const ys = ['a', 'b', 'c', 'd'].map((id) => r.positions.get(id)!.y);
    assert.deepEqual([...ys].sort((x, y) => x - y), ys);
    assert.equal(r.reversedEdges, 0);
  });

  it('layers by longest path: a node waits for its deepest prerequisite', () => {
    const edges = [e('a', 'b'), e('b', 'c'), e('a', 'c')];
    const r = layeredLayout(['a', 'b', 'c'], edges);
    assert.equal(r.layerOf.get('c'), 2);
    assertEdgesPointDown(r, edges);
  });

  it('honours fixed ranks such as generations, while keeping edges downward', () => {
    const edges = [e('v1', 'v2'), e('v1', 'v4')];
    const generation: Record<string, number> = { v1: 1, v2: 2, v4: 4 };
    const r = layeredLayout(['v1', 'v2', 'v4'], edges, { rankOf: (id) => generation[id] });
    assert.equal(r.layerOf.get('v1'), 1);
    assert.equal(r.layerOf.get('v4'), 4);
    assertEdgesPointDown(r, edges);
  });

  it('breaks cycles instead of looping, and still places every node', () => {
    const edges = [e('a', 'b'), e('b', 'c'), e('c', 'a'), e('c', 'd')];
    const r = layeredLayout(['a', 'b', 'c', 'd'], edges);
    assert.equal(r.reversedEdges, 1);
    assert.equal(r.positions.size, 4);
  });

  it('ignores self loops, duplicate edges and edges to unknown nodes', () => {
    const r = layeredLayout(['a', 'b'], [e('a', 'a'), e('a', 'b'), e('a', 'b'), e('a', 'ghost')]);
    assert.deepEqual(r.layers, [['a'], ['b']]);
  });

  it('keeps nodes of a row apart by at least the node separation', () => {
    const edges = ['b', 'c', 'd', 'e'].map((t) => e('a', t)).concat([e('b', 'f'), e('e', 'f'), e('c', 'g')]);
    const r = layeredLayout(['a', 'b', 'c', 'd', 'e', 'f', 'g'], edges, { nodeSep: 100 });
    for (const row of r.layers) {
      const xs = row.map((id) => r.positions.get(id)!.x);
      for (let i = 1; i < xs.length; i++) assert.ok(xs[i]! - xs[i - 1]! >= 100 - 1e-9, `row ${row.join(',')} is too tight`);
    }
  });

  it('untangles a crossed bipartite graph with barycenter sweeps', () => {
    // Top a,b,c; bottom z,y,x listed in the reverse order of their parents: the input order crosses every pair.
    const edges = [e('a', 'x'), e('b', 'y'), e('c', 'z')];
    const r = layeredLayout(['a', 'b', 'c', 'z', 'y', 'x'], edges);
    assert.equal(countAdjacentCrossings(r, edges), 0);
  });

  it('centres a single child under its parent', () => {
    const r = layeredLayout(['p', 'c'], [e('p', 'c')]);
    assert.equal(r.positions.get('c')!.x, r.positions.get('p')!.x);
  });

  it('lets weak edges order rows but not decide layers, so an expansion does not form a cycle', () => {
    // A parent fans out into children (parent-child, weak) that block the parent as their join (strong).
    const edges: LayoutEdge[] = [
      { source: 'p', target: 'c1', weak: true },
      { source: 'p', target: 'c2', weak: true },
      e('c1', 'p'),
      e('c2', 'p'),
    ];
    const r = layeredLayout(['p', 'c1', 'c2'], edges);
    assert.equal(r.reversedEdges, 0);
    assert.equal(r.layerOf.get('c1'), 0);
    assert.equal(r.layerOf.get('p'), 1);
  });

  it('wraps a very wide layer onto several rows', () => {
    const children = Array.from({ length: 25 }, (_, i) => `c${i}`);
    const r = layeredLayout(['root', ...children], children.map((c) => e('root', c)), { maxRowSize: 10, rankSep: 50 });
    const rows = new Set(children.map((c) => r.positions.get(c)!.y));
    assert.equal(rows.size, 3);
    assert.ok(Math.min(...rows) > r.positions.get('root')!.y);
  });

  it('lays out a 2,000-node run graph quickly, downward, with fewer crossings than the input order', () => {
    const graph = syntheticRunGraph(2000);
    const edges = graph.edges.map((x) => e(x.source, x.target));
    const ids = graph.nodes.map((n) => n.id);
    const t0 = performance.now();
    const r = layeredLayout(ids, edges);
    const ms = performance.now() - t0;
    assert.equal(r.positions.size, 2000);
    assert.equal(r.reversedEdges, 0);
    assertEdgesPointDown(r, edges);
    const unsorted = layeredLayout(ids, edges, { sweeps: 0 });
    assert.ok(countAdjacentCrossings(r, edges) < countAdjacentCrossings(unsorted, edges));
    assert.ok(ms < 500, `layout took ${ms.toFixed(0)} ms`);
  });
});

describe('long edges are routed around the nodes between their ends', () => {
  // plan → code → test → review, and a direct edge plan → review that a straight line would draw through code and test.
  const ids = ['plan', 'code', 'test', 'review'];
  const edges = [
    { source: 'plan', target: 'code' }, { source: 'code', target: 'test' }, { source: 'test', target: 'review' }, { source: 'plan', target: 'review' },
  ];

  it('gives the direct edge one bend per layer it crosses, clear of every node there', () => {
    const r = layeredLayout(ids, edges);
    const route = r.routes.get(routeKey('plan', 'review'));
    assert.ok(route, 'the long edge has a route');
    assert.equal(route.length, 2);
    for (const p of route) {
      for (const id of ids) {
        const n = r.positions.get(id)!;
        if (n.y !== p.y) continue;
        assert.ok(Math.abs(n.x - p.x) >= 150, `the bend at y=${p.y} keeps clear of ${id}`);
      }
    }
    assert.ok(route[0]!.y < route[1]!.y, 'from the source end to the target end');
    assert.equal(r.routes.size, 1, 'short edges need no route');
    assert.deepEqual(r.layers.flat().sort(), [...ids].sort(), 'bends are not nodes');
  });

  it('routes a reversed edge of a cycle in the edge\'s own direction', () => {
    const r = layeredLayout(['a', 'b', 'c'], [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }, { source: 'c', target: 'a' }]);
    const route = r.routes.get(routeKey('c', 'a'));
    if (route) assert.ok(route[0]!.y >= route.at(-1)!.y, 'starts at c, which sits lower');
  });

  it('turns bends into Cytoscape segment weights and distances that land on the same points', () => {
    const s = { x: 10, y: 0 };
    const t = { x: 50, y: 300 };
    const points = [{ x: -160, y: 100 }, { x: -160, y: 200 }];
    const seg = segmentsOf(s, t, points)!;
    const dx = t.x - s.x;
    const dy = t.y - s.y;
    const l = Math.hypot(dx, dy);
    seg.weights.forEach((w, i) => {
      // Cytoscape: point = source + w·(target − source) + d·(−dy, dx)/|d|.
      const x = s.x + w * dx + seg.distances[i]! * (-dy / l);
      const y = s.y + w * dy + seg.distances[i]! * (dx / l);
      assert.ok(Math.abs(x - points[i]!.x) < 0.5 && Math.abs(y - points[i]!.y) < 0.5, `point ${i}: ${x},${y}`);
    });
    assert.equal(segmentsOf(s, s, points), undefined);
  });
});
