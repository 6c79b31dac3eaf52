// What changed between two versions of one run's workflow graph, as a patch the host sends instead of the whole
// graph. The host diffs (src/extension/graphPanel.ts) and the page applies (src/webview/main.ts); both use this
// module, so the graph the page keeps in its saved state is the one the host diffed against. Pure data, no DOM and no
// vscode, so the diff is unit-tested in Node.
import type { RunGraph, RunGraphEdge, RunGraphNode, RunGraphPatch } from './protocol';

export type { RunGraphPatch } from './protocol';

/** A node's or edge's content as one comparable string; key order is fixed by the host's mapping (viewModel.ts). */
function fingerprint(x: RunGraphNode | RunGraphEdge): string {
  return JSON.stringify(x);
}

/**
 * The patch that turns `prev` into `next`, or null when they show the same thing. Linear in the graph's size
 * (one map per side, one string per element). Throws when the two graphs are of different runs: a different run is
 * a new graph to show, not a patch.
 */
export function diffRunGraph(prev: RunGraph, next: RunGraph): RunGraphPatch | null {
  if (prev.runId !== next.runId) throw new Error(`diffRunGraph: runId ${next.runId} is not the run ${prev.runId} shown; show it instead`);
  const before = new Map(prev.nodes.map((n) => [n.id, n]));
  const upsertNodes: RunGraphNode[] = [];
  for (const n of next.nodes) {
    const old = before.get(n.id);
    if (!old || fingerprint(old) !== fingerprint(n)) upsertNodes.push(n);
  }
  const nextNodeIds = new Set(next.nodes.map((n) => n.id));
  const removeNodes = prev.nodes.filter((n) => !nextNodeIds.has(n.id)).map((n) => n.id);
  const edgesBefore = new Map(prev.edges.map((e) => [e.id, e]));
  const upsertEdges: RunGraphEdge[] = [];
  for (const e of next.edges) {
    const old = edgesBefore.get(e.id);
    if (!old || fingerprint(old) !== fingerprint(e)) upsertEdges.push(e);
  }
  const nextEdgeIds = new Set(next.edges.map((e) => e.id));
  const removeEdges = prev.edges.filter((e) => !nextEdgeIds.has(e.id)).map((e) => e.id);
  const titleChanged = prev.title !== next.title;
  // A worktree is recorded once and then only changes state (finished, merged, discarded), never goes away.
  const worktreeChanged = next.worktree !== undefined && JSON.stringify(prev.worktree) !== JSON.stringify(next.worktree);
  if (!titleChanged && !worktreeChanged && !upsertNodes.length && !removeNodes.length && !upsertEdges.length && !removeEdges.length) return null;
  return {
    runId: next.runId, ...(titleChanged ? { title: next.title } : {}), upsertNodes, removeNodes, upsertEdges, removeEdges,
    ...(worktreeChanged ? { worktree: next.worktree } : {}),
  };
}

/**
 * True when applying `patch` to `graph` adds or removes a node or an edge, or moves an edge to other ends: the
 * layout must then be computed again. A patch that only changes what nodes say (state, worker, evidence, title)
 * keeps every position.
 */
export function changesStructure(graph: RunGraph, patch: RunGraphPatch): boolean {
  if (patch.removeNodes.length || patch.removeEdges.length) return true;
  const nodeIds = new Set(graph.nodes.map((n) => n.id));
  if (patch.upsertNodes.some((n) => !nodeIds.has(n.id))) return true;
  const edges = new Map(graph.edges.map((e) => [e.id, e]));
  return patch.upsertEdges.some((e) => {
    const old = edges.get(e.id);
    return !old || old.source !== e.source || old.target !== e.target || old.kind !== e.kind;
  });
}

/**
 * The graph after `patch`: changed elements replaced where they were, new ones appended in the patch's order,
 * removed ones dropped. Throws when the patch is for another run (the page then asks for the whole graph).
 */
export function applyRunGraphPatch(graph: RunGraph, patch: RunGraphPatch): RunGraph {
  if (graph.runId !== patch.runId) throw new Error(`applyRunGraphPatch: the patch is for run ${patch.runId}, not ${graph.runId}`);
  const merge = <T extends { readonly id: string }>(items: readonly T[], upserts: readonly T[], removes: readonly string[]): T[] => {
    const gone = new Set(removes);
    const changed = new Map(upserts.map((x) => [x.id, x]));
    const out: T[] = [];
    for (const x of items) {
      if (gone.has(x.id)) continue;
      const y = changed.get(x.id);
      out.push(y ?? x);
      changed.delete(x.id);
    }
    for (const y of changed.values()) if (!gone.has(y.id)) out.push(y);
    return out;
  };
  return {
    ...graph,
    ...(patch.title !== undefined ? { title: patch.title } : {}),
    ...(patch.worktree !== undefined ? { worktree: patch.worktree } : {}),
    nodes: merge(graph.nodes, patch.upsertNodes, patch.removeNodes),
    edges: merge(graph.edges, patch.upsertEdges, patch.removeEdges),
  };
}
