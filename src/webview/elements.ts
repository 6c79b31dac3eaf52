// Turns a protocol view into Cytoscape element definitions with precomputed layered positions, plus the flow
// (top-to-bottom) adjacency that keyboard navigation walks.
import type { ElementDefinition } from 'cytoscape';
import type { EdgeKind, GraphView, LineageGraph, LineageVariant, RunGraph, StepHeat } from '../shared/protocol';
import { layeredLayout, routeKey } from './layout';
import type { LayoutEdge, LayoutResult, Point } from './layout';

export interface Flow {
  /** Nodes below (after) each node. */
  readonly down: ReadonlyMap<string, readonly string[]>;
  /** Nodes above (before) each node. */
  readonly up: ReadonlyMap<string, readonly string[]>;
}

export interface BuiltView {
  readonly key: string;
  readonly elements: ElementDefinition[];
  readonly layout: LayoutResult;
  readonly flow: Flow;
}

/**
 * Edges point the way work flows, so sources sit above targets. Only `needs` and `blocks` hold work back, so only
 * they decide layers; `parent-child` and `discovered-from` are weak (an expansion's children block their parent,
 * which would otherwise form a cycle with the parent-child edges).
 */
export function layoutEdge(kind: EdgeKind, source: string, target: string): LayoutEdge {
  return kind === 'needs' || kind === 'blocks' ? { source, target } : { source, target, weak: true };
}

/** Identifies which graph a view shows, so an update of the same graph keeps selection and viewport. */
export function viewKey(view: GraphView): string {
  return view.kind === 'run' ? `run:${view.graph.runId}` : `lineage:${view.lineage.familyId}`;
}

export function buildView(view: GraphView): BuiltView {
  return view.kind === 'run' ? buildRun(view.graph) : buildLineage(view.lineage);
}

/** Neighbours above and below each node, by where the layout put them (a weak edge may point upward). */
function flowOf(ids: readonly string[], edges: readonly LayoutEdge[], layout: LayoutResult): Flow {
  const down = new Map<string, string[]>(ids.map((id) => [id, []]));
  const up = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of edges) {
    const ys = layout.positions.get(e.source)?.y;
    const yt = layout.positions.get(e.target)?.y;
    if (ys === undefined || yt === undefined || ys === yt) continue;
    const [a, b] = ys < yt ? [e.source, e.target] : [e.target, e.source];
    down.get(a)?.push(b);
    up.get(b)?.push(a);
  }
  return { down, up };
}

/**
 * A long edge's bends as Cytoscape's `segments` edge wants them (with 'edge-distances': 'node-position'): each point
 * as a weight along the line from the source's centre to the target's (0 at the source, 1 at the target) and a
 * distance from that line along its normal (-dy, dx)/|d|, the normal Cytoscape's edge-control-points code uses.
 */
export function segmentsOf(source: Point, target: Point, points: readonly Point[]): { weights: number[]; distances: number[] } | undefined {
  const dx = target.x - source.x;
  const dy = target.y - source.y;
  const length2 = dx * dx + dy * dy;
  if (points.length === 0 || length2 === 0) return undefined;
  const length = Math.sqrt(length2);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    weights: points.map((p) => round(((p.x - source.x) * dx + (p.y - source.y) * dy) / length2)),
    distances: points.map((p) => round(((p.x - source.x) * -dy + (p.y - source.y) * dx) / length)),
  };
}

/** An edge element, drawn around the nodes between its ends when the layout routed it. */
function edgeElement(id: string, source: string, target: string, classes: string, layout: LayoutResult): ElementDefinition {
  const route = layout.routes.get(routeKey(source, target));
  const s = layout.positions.get(source);
  const t = layout.positions.get(target);
  const segments = route && s && t ? segmentsOf(s, t, route) : undefined;
  if (!segments) return { group: 'edges', data: { id, source, target }, classes, selectable: false };
  return {
    group: 'edges', data: { id, source, target, weights: segments.weights, distances: segments.distances },
    classes: `${classes} routed`, selectable: false,
  };
}

function buildRun(graph: RunGraph): BuiltView {
  const ids = graph.nodes.map((n) => n.id);
  const known = new Set(ids);
  const edges = graph.edges.filter((e) => known.has(e.source) && known.has(e.target));
  const flowEdges = edges.map((e) => layoutEdge(e.kind, e.source, e.target));
  const layout = layeredLayout(ids, flowEdges);
  const elements: ElementDefinition[] = [];
  for (const n of graph.nodes) {
    elements.push({
      group: 'nodes',
      data: { id: n.id, label: n.title || n.id },
      position: { ...layout.positions.get(n.id)! },
      classes: `state-${n.state}`,
    });
  }
  for (const e of edges) {
    elements.push(edgeElement(`${e.id}`, e.source, e.target, e.kind, layout));
  }
  return { key: viewKey({ kind: 'run', graph }), elements, layout, flow: flowOf(ids, flowEdges, layout) };
}

/**
 * One character per step for how often it failed (failures / attempts): `·` not tried, `▁` under 10 %, `▃` under
 * 25 %, `▅` under 50 %, `▇` from 50 %. A step the variant's own mutation changed is followed by `*`.
 */
export function heatStrip(steps: readonly StepHeat[]): string {
  return steps
    .map((s) => {
      const r = s.failureRate;
      const bar = r === null ? '·' : r < 0.1 ? '▁' : r < 0.25 ? '▃' : r < 0.5 ? '▅' : '▇';
      return s.changedBy.length ? `${bar}*` : bar;
    })
    .join('');
}

export function variantLabel(v: LineageVariant, activeVariantId: string | undefined): string {
  const active = v.status === 'active' || v.id === activeVariantId;
  const head = `${v.label}${active ? ' ★' : ''}`;
  const standing = v.evidence.runs > 0 ? `${v.evidence.successes}/${v.evidence.runs} runs ok` : 'no runs yet';
  // Long formulas are cut to the first 24 steps in the label; the details panel lists them all.
  const heat = v.steps?.some((s) => s.attempts > 0) ? `\nheat ${heatStrip(v.steps.slice(0, 24))}` : '';
  return `${head}\ngen ${v.generation} · ${active ? 'active' : v.status}\n${standing}${heat}`;
}

function buildLineage(lineage: LineageGraph): BuiltView {
  const ids = lineage.variants.map((v) => v.id);
  const known = new Set(ids);
  const flowEdges: LayoutEdge[] = [];
  for (const v of lineage.variants) for (const p of v.parentIds) if (known.has(p)) flowEdges.push({ source: p, target: v.id });
  const generation = new Map(lineage.variants.map((v) => [v.id, v.generation]));
  const layout = layeredLayout(ids, flowEdges, { rankOf: (id) => generation.get(id), nodeSep: 200, rankSep: 110 });
  const elements: ElementDefinition[] = [];
  for (const v of lineage.variants) {
    const active = v.status === 'active' || v.id === lineage.activeVariantId;
    elements.push({
      group: 'nodes',
      data: { id: v.id, label: variantLabel(v, lineage.activeVariantId) },
      position: { ...layout.positions.get(v.id)! },
      classes: ['variant', `status-${active ? 'active' : v.status}`, active ? 'active-variant' : '', v.status === 'trial' ? 'trial' : '', v.status]
        .filter(Boolean)
        .join(' '),
    });
  }
  for (const e of flowEdges) {
    elements.push(edgeElement(`${e.source}->${e.target}`, e.source, e.target, 'lineage', layout));
  }
  return { key: viewKey({ kind: 'lineage', lineage }), elements, layout, flow: flowOf(ids, flowEdges, layout) };
}
