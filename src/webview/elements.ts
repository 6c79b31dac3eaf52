// Turns a protocol view into Cytoscape element definitions with precomputed layered positions, plus the flow
// (top-to-bottom) adjacency that keyboard navigation walks.
import type { ElementDefinition } from 'cytoscape';
import type { EdgeKind, GraphView, LineageGraph, LineageVariant, RunGraph } from '../shared/protocol';
import { layeredLayout } from './layout';
import type { LayoutEdge, LayoutResult } from './layout';

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
    elements.push({ group: 'edges', data: { id: `${e.id}`, source: e.source, target: e.target }, classes: e.kind, selectable: false });
  }
  return { key: viewKey({ kind: 'run', graph }), elements, layout, flow: flowOf(ids, flowEdges, layout) };
}

export function variantLabel(v: LineageVariant, activeVariantId: string | undefined): string {
  const active = v.status === 'active' || v.id === activeVariantId;
  const head = `${v.label}${active ? ' ★' : ''}`;
  const standing = v.evidence.runs > 0 ? `${v.evidence.successes}/${v.evidence.runs} runs ok` : 'no runs yet';
  return `${head}\ngen ${v.generation} · ${active ? 'active' : v.status}\n${standing}`;
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
    elements.push({ group: 'edges', data: { id: `${e.source}->${e.target}`, source: e.source, target: e.target }, classes: 'lineage', selectable: false });
  }
  return { key: viewKey({ kind: 'lineage', lineage }), elements, layout, flow: flowOf(ids, flowEdges, layout) };
}
