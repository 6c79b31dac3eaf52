// Follows one run's workflow graph as the ledger changes, reading as little of it as each change needs. Reading a
// 2,000-node run whole costs 50-120 ms (its nodes, edges, bindings and evidence through sql.js), while a change
// usually touches one node; so the follower keeps the graph it last produced and, for a change that names nodes
// of the run, re-reads those nodes and the ones their settling may have moved on (dependents along blocking edges,
// as the projection's `satisfy` walks them). Changes of structure (an expansion, a cancelled run) read the run whole.
// No vscode import: unit-tested against a real ledger.
import type { BindingRow, Ledger, NodeRow } from '../ledger/index';
import { diffRunGraph } from '../shared/graphPatch';
import type { RunGraph, RunGraphNode, RunGraphPatch, RunWorktree } from '../shared/protocol';
import type { ChangeEvent } from './changes';
import { toRunGraph, toRunGraphNode } from './viewModel';

/** What the follower reads from the ledger. */
export type RunGraphSource = Pick<Ledger, 'runGraph' | 'getNode' | 'evidence'>;


/** Evidence rows read per run (whole reads) or per node (node reads): the newest first. */
const EVIDENCE_LIMIT = 5000;
/**
 * Above this many single-node reads a change reads the run whole instead: one read of a node costs about 0.5 ms,
 * and a root whose settling readies hundreds of dependents is cheaper to read in one go.
 */
const MAX_NODE_READS = 200;
/** Events that add nodes or edges to a run, or change many of its nodes at once. */
const RESHAPING = new Set(['node.expanded', 'run.cancelled', 'run.started']);
/** Edge kinds whose source holds its target back: settling a source may move its targets on. */
const BLOCKING = new Set(['needs', 'blocks']);

function field(payload: unknown, name: string): string | undefined {
  if (typeof payload !== 'object' || payload === null || !Object.hasOwn(payload, name)) return undefined;
  const value = (payload as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** The graph of one run as last produced, and how to bring it up to date. */
export class RunGraphFollower {
  private graph: RunGraph | undefined;
  private nodes = new Map<string, RunGraphNode>();
  private bindings = new Map<string, Pick<BindingRow, 'workerKind' | 'threadId'>>();
  private dependents = new Map<string, string[]>();

  /** `worktreeOf` reads the run's worktree (none when omitted); events about it read the run whole. */
  constructor(private readonly ledger: RunGraphSource, readonly runId: string, private readonly worktreeOf: (runId: string) => RunWorktree | undefined = () => undefined) {}

  /** The graph as last produced (undefined before the first read or when the run is gone). */
  get current(): RunGraph | undefined {
    return this.graph;
  }

  /** Reads the run whole; undefined when the ledger does not hold it. */
  readAll(): RunGraph | undefined {
    const raw = this.ledger.runGraph(this.runId);
    if (!raw) {
      this.graph = undefined;
      return undefined;
    }
    const graph = toRunGraph(raw, this.ledger.evidence({ runId: this.runId, limit: EVIDENCE_LIMIT }), this.worktreeOf(this.runId));
    this.bindings = new Map(raw.bindings.map((b) => [b.nodeId, b]));
    this.adopt(graph);
    return graph;
  }

  private adopt(graph: RunGraph): void {
    this.graph = graph;
    this.nodes = new Map(graph.nodes.map((n) => [n.id, n]));
    this.dependents = new Map();
    for (const e of graph.edges) {
      if (!BLOCKING.has(e.kind)) continue;
      const list = this.dependents.get(e.source);
      if (list) list.push(e.target);
      else this.dependents.set(e.source, [e.target]);
    }
  }

  /**
   * Brings the graph up to date with `events` (a debounced burst; events about other runs are ignored) and says
   * what changed: the patch from the graph before, or null when nothing this run shows changed. With
   * `everything` (the Refresh command, events not known) the run is read whole. Undefined when the run is gone.
   */
  follow(events: readonly ChangeEvent[], everything = false): { graph: RunGraph; patch: RunGraphPatch | null } | undefined {
    const before = this.graph;
    if (!before || everything) return this.wholly(before);
    const named = new Set<string>();
    for (const e of events) {
      const nodeId = field(e.payload, 'nodeId');
      const runId = field(e.payload, 'runId');
      const ours = (nodeId !== undefined && this.nodes.has(nodeId)) || runId === this.runId;
      if (!ours) continue;
      // A worktree's change (created, finished, merged, discarded) is read with the run: one event per run end.
      if (RESHAPING.has(e.kind) || e.kind.startsWith('run.worktree_')) return this.wholly(before);
      if (e.kind === 'worker.bound' && nodeId !== undefined) {
        const workerKind = field(e.payload, 'workerKind');
        const threadId = field(e.payload, 'threadId');
        if (workerKind !== undefined && threadId !== undefined) this.bindings.set(nodeId, { workerKind, threadId });
      }
      if (nodeId !== undefined && this.nodes.has(nodeId)) named.add(nodeId);
    }
    if (named.size === 0) return { graph: before, patch: null };
    const changed = new Map<string, RunGraphNode>();
    const queue = [...named];
    const read = new Set<string>();
    while (queue.length) {
      const id = queue.pop()!;
      if (read.has(id)) continue;
      if (read.size >= MAX_NODE_READS) return this.wholly(before);
      read.add(id);
      const row = this.ledger.getNode(id);
      if (!row || row.runId !== this.runId) return this.wholly(before);
      const node = toRunGraphNode(row, this.bindings.get(id), this.ledger.evidence({ nodeId: id, limit: EVIDENCE_LIMIT }));
      const old = this.nodes.get(id);
      if (old && JSON.stringify(old) === JSON.stringify(node)) continue;
      changed.set(id, node);
      // A node that settled (done, or skipped, which the page shows as done) may have readied or skipped its
      // dependents; a dependent that was skipped in turn moves its own on.
      if (settled(row)) queue.push(...(this.dependents.get(id) ?? []));
    }
    if (changed.size === 0) return { graph: before, patch: null };
    const graph: RunGraph = { ...before, nodes: before.nodes.map((n) => changed.get(n.id) ?? n) };
    // Only the nodes read can differ (each was compared above), so the patch is built from them instead of a diff
    // of every node.
    const patch: RunGraphPatch = { runId: this.runId, upsertNodes: [...changed.values()], removeNodes: [], upsertEdges: [], removeEdges: [] };
    this.graph = graph;
    for (const [id, n] of changed) this.nodes.set(id, n);
    return { graph, patch };
  }

  private wholly(before: RunGraph | undefined): { graph: RunGraph; patch: RunGraphPatch | null } | undefined {
    const graph = this.readAll();
    if (!graph) return undefined;
    return { graph, patch: before ? diffRunGraph(before, graph) : null };
  }
}

function settled(row: NodeRow): boolean {
  return row.state === 'done' || row.state === 'skipped';
}
