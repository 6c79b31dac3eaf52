// The one protocol between the extension host and the graph webview. Both sides import only this module from each
// other's world: it holds plain data types (no classes, no vscode types) and the runtime guards the host runs on every
// message it receives (a webview is a browser page: its messages are untrusted input until checked).

/** Workflow node states, in the order a node normally moves through them. */
export const NODE_STATES = ['pending', 'ready', 'claimed', 'active', 'review', 'done', 'failed', 'blocked'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/**
 * Typed edges of a run's workflow graph, pointing the way work flows (the ledger's `from` → `to`): the target of
 * `needs` waits for its source; the source of `blocks` holds its target back; `parent-child` goes from the parent
 * (e.g. a node that fanned out) to a child; `discovered-from` goes from the node being worked on to the node that
 * work discovered.
 */
export const EDGE_KINDS = ['needs', 'blocks', 'parent-child', 'discovered-from'] as const;
export type EdgeKind = (typeof EDGE_KINDS)[number];

/** Lifecycle of a formula variant. */
export const VARIANT_STATUSES = ['candidate', 'trial', 'active', 'retired', 'rejected'] as const;
export type VariantStatus = (typeof VARIANT_STATUSES)[number];

/** One line of evidence shown in a details panel, already formatted by the host. */
export interface EvidenceItem {
  readonly label: string;
  readonly value: string;
}

/** The Codex thread (or other worker) a node is bound to. */
export interface WorkerBinding {
  readonly worker: string;
  readonly threadId?: string;
  readonly leaseExpiresAt?: string;
}

export interface RunGraphNode {
  readonly id: string;
  readonly title: string;
  readonly state: NodeState;
  readonly kind?: string;
  readonly worker?: WorkerBinding;
  readonly evidence: readonly EvidenceItem[];
}

export interface GraphEdge<K extends string = string> {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly kind: K;
}

export type RunGraphEdge = GraphEdge<EdgeKind>;

export interface RunGraph {
  readonly runId: string;
  readonly title: string;
  readonly familyId?: string;
  readonly variantId?: string;
  readonly nodes: readonly RunGraphNode[];
  readonly edges: readonly RunGraphEdge[];
  /** The run's git worktree (docs/replay.md), when it has one. */
  readonly worktree?: RunWorktree;
}

/** Where a run's worktree stands: the run works in it, it waits for a person, or it is closed. */
export type RunWorktreeState = 'working' | 'open' | 'merged' | 'discarded' | 'removed';

/**
 * A run's git worktree as the views show it (the ledger's run_worktrees row): its branch, the base commit it
 * started from (abbreviated to 12 hex digits), diff stats against the base once the run ended, and its state.
 */
export interface RunWorktree {
  readonly branch: string;
  readonly base: string;
  readonly state: RunWorktreeState;
  /** Commits, files changed, lines added and removed on the branch; absent while the run works. */
  readonly commits?: number;
  readonly filesChanged?: number;
  readonly insertions?: number;
  readonly deletions?: number;
  /** The merge commit (12 hex digits) once merged. */
  readonly mergeCommit?: string;
}

/** Counts behind a variant's standing, summed over its runs. */
export interface EvidenceSummary {
  readonly runs: number;
  readonly successes: number;
  readonly failures: number;
  readonly interventions: number;
  readonly tokens: number;
}

/**
 * One formula step of a variant as its runs went (issue 14; src/ledger/evidence.ts): the heat the lineage graph
 * shows. `failureRate` is failures / attempts, null before any attempt; `changedBy` names the operations of the
 * variant's own mutation (from its parent) that touched the step.
 */
export interface StepHeat {
  readonly stepId: string;
  readonly title: string;
  readonly attempts: number;
  readonly failures: number;
  readonly retries: number;
  readonly tokens: number;
  readonly failureRate: number | null;
  readonly changedBy: readonly string[];
}

export interface LineageVariant {
  readonly id: string;
  readonly label: string;
  readonly generation: number;
  readonly status: VariantStatus;
  readonly parentIds: readonly string[];
  /** Short description of the mutation that produced this variant from its parents. */
  readonly mutation?: string;
  /** Free-form trial state, e.g. "trial: 12 runs, P(better)=0.81". */
  readonly trial?: string;
  readonly evidence: EvidenceSummary;
  /** Why the mutation was proposed, in the proposer's words. */
  readonly rationale?: string;
  /** Per-step heat over the variant's recent runs, in the order the steps first ran. */
  readonly steps?: readonly StepHeat[];
}

export interface LineageGraph {
  readonly familyId: string;
  readonly familyName: string;
  readonly activeVariantId?: string;
  /** The variant a rollback returns to (the previous active one), if there is one: named in the confirmation. */
  readonly rollbackToId?: string;
  readonly variants: readonly LineageVariant[];
}

/**
 * The difference from one `RunGraph` of a run to the next: nodes and edges added or changed (`upsert*`, whole
 * elements, matched by id) and ids removed (`remove*`). `title` is present only when the run's title changed.
 */
export interface RunGraphPatch {
  readonly runId: string;
  readonly title?: string;
  readonly upsertNodes: readonly RunGraphNode[];
  readonly removeNodes: readonly string[];
  readonly upsertEdges: readonly RunGraphEdge[];
  readonly removeEdges: readonly string[];
  /** The run's worktree when it changed (it never goes away once recorded). */
  readonly worktree?: RunWorktree;
}

/**
 * The coordination overlays a run graph can draw (issue 13; docs/overlays.md): blackboard claims (and overlaps of
 * them), contract-net rounds with their bids, coalitions, and mail. Each has a toggle in the run graph's toolbar.
 */
export const OVERLAY_KINDS = ['claims', 'bids', 'coalitions', 'mail'] as const;
export type OverlayKind = (typeof OVERLAY_KINDS)[number];

/**
 * One thing an overlay says about a node (or, without `nodeId`, about the run as a whole): `badge` is the few words
 * drawn under the node's label, `lines` what its details panel lists.
 */
export interface OverlayMark {
  readonly kind: OverlayKind;
  readonly nodeId?: string;
  readonly badge: string;
  readonly lines: readonly string[];
}

/** Every overlay mark of one run, as the host read it; the page draws those of the toggles that are on. */
export interface RunOverlayView {
  readonly runId: string;
  readonly marks: readonly OverlayMark[];
}

// ---------------------------------------------------------------------------------------------------------------
// Host → webview

export interface ShowRunGraphMessage {
  readonly type: 'showRunGraph';
  readonly graph: RunGraph;
}
export interface ShowLineageMessage {
  readonly type: 'showLineage';
  readonly lineage: LineageGraph;
}
/** The same graph changed (states, evidence, new variants): re-render keeping selection and viewport. */
export interface UpdateMessage {
  readonly type: 'update';
  readonly view: GraphView;
}
/** The outcome of an action the webview asked for, so it can say what happened. */
/**
 * The run graph on screen changed: apply this patch (src/shared/graphPatch.ts) instead of re-reading the whole graph.
 * States and evidence are patched in place; the layout is computed again only when nodes or edges come or go.
 */
export interface PatchRunGraphMessage {
  readonly type: 'patchRunGraph';
  readonly patch: RunGraphPatch;
}
/** The overlays of the run on screen (sent after the graph, and again whenever they change). */
export interface RunOverlaysMessage {
  readonly type: 'runOverlays';
  readonly overlays: RunOverlayView;
}
export interface ActionResultMessage {
  readonly type: 'actionResult';
  readonly action: 'promoteVariant' | 'rollbackFamily';
  readonly ok: boolean;
  readonly message: string;
}
export interface SelectMessage {
  readonly type: 'select';
  readonly id: string;
}

export type GraphView = { readonly kind: 'run'; readonly graph: RunGraph } | { readonly kind: 'lineage'; readonly lineage: LineageGraph };

export type HostMessage = ShowRunGraphMessage | ShowLineageMessage | UpdateMessage | PatchRunGraphMessage | RunOverlaysMessage | ActionResultMessage | SelectMessage;

// ---------------------------------------------------------------------------------------------------------------
// Webview → host

export interface ReadyMessage {
  readonly type: 'ready';
}
export interface SelectNodeMessage {
  readonly type: 'selectNode';
  readonly view: 'run' | 'lineage';
  readonly id: string;
}
export interface OpenNodeMessage {
  readonly type: 'openNode';
  readonly runId: string;
  readonly nodeId: string;
}
export interface OpenVariantMessage {
  readonly type: 'openVariant';
  readonly familyId: string;
  readonly variantId: string;
}
/** Sent only after the person confirmed in the webview. */
export interface PromoteVariantMessage {
  readonly type: 'promoteVariant';
  readonly familyId: string;
  readonly variantId: string;
}
/** Sent only after the person confirmed in the webview. */
export interface RollbackFamilyMessage {
  readonly type: 'rollbackFamily';
  readonly familyId: string;
}
export interface WebviewLogMessage {
  readonly type: 'log';
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

export type WebviewMessage =
  | ReadyMessage
  | SelectNodeMessage
  | OpenNodeMessage
  | OpenVariantMessage
  | PromoteVariantMessage
  | RollbackFamilyMessage
  | WebviewLogMessage;

// ---------------------------------------------------------------------------------------------------------------
// Runtime guards

type Fields = Readonly<Record<string, unknown>>;

function isRecord(x: unknown): x is Fields {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Ids and labels are short strings: a bound keeps a misbehaving page from pushing megabytes through a field. */
const MAX_ID = 512;
const MAX_TEXT = 16_384;

function isId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= MAX_ID;
}
function isText(x: unknown): x is string {
  return typeof x === 'string' && x.length <= MAX_TEXT;
}
function isOptional<T>(x: unknown, guard: (y: unknown) => y is T): boolean {
  return x === undefined || guard(x);
}
function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}
function isOneOf<T extends string>(values: readonly T[]): (x: unknown) => x is T {
  return (x: unknown): x is T => typeof x === 'string' && (values as readonly string[]).includes(x);
}
function isArrayOf<T>(x: unknown, guard: (y: unknown) => y is T): x is T[] {
  return Array.isArray(x) && x.every((y) => guard(y));
}

export const isNodeState = isOneOf(NODE_STATES);
export const isEdgeKind = isOneOf(EDGE_KINDS);
export const isVariantStatus = isOneOf(VARIANT_STATUSES);

// Each table below is keyed by every message type of its union, so adding a message without a guard fails to compile.
const webviewGuards: { readonly [K in WebviewMessage['type']]: (m: Fields) => boolean } = {
  ready: () => true,
  selectNode: (m) => (m.view === 'run' || m.view === 'lineage') && isId(m.id),
  openNode: (m) => isId(m.runId) && isId(m.nodeId),
  openVariant: (m) => isId(m.familyId) && isId(m.variantId),
  promoteVariant: (m) => isId(m.familyId) && isId(m.variantId),
  rollbackFamily: (m) => isId(m.familyId),
  log: (m) => (m.level === 'info' || m.level === 'warn' || m.level === 'error') && isText(m.message),
};

/** True when `x` is a well-formed message from the webview; the host drops (and logs) anything else. */
export function isWebviewMessage(x: unknown): x is WebviewMessage {
  if (!isRecord(x) || typeof x.type !== 'string' || !Object.hasOwn(webviewGuards, x.type)) return false;
  return webviewGuards[x.type as WebviewMessage['type']](x);
}

export function isEvidenceItem(x: unknown): x is EvidenceItem {
  return isRecord(x) && isText(x.label) && isText(x.value);
}
function isWorkerBinding(x: unknown): x is WorkerBinding {
  return isRecord(x) && isText(x.worker) && isOptional(x.threadId, isText) && isOptional(x.leaseExpiresAt, isText);
}
export function isRunGraphNode(x: unknown): x is RunGraphNode {
  return (
    isRecord(x) &&
    isId(x.id) &&
    isText(x.title) &&
    isNodeState(x.state) &&
    isOptional(x.kind, isText) &&
    isOptional(x.worker, isWorkerBinding) &&
    isArrayOf(x.evidence, isEvidenceItem)
  );
}
export function isRunGraphEdge(x: unknown): x is RunGraphEdge {
  return isRecord(x) && isId(x.id) && isId(x.source) && isId(x.target) && isEdgeKind(x.kind);
}
export function isRunGraph(x: unknown): x is RunGraph {
  return (
    isRecord(x) &&
    isId(x.runId) &&
    isText(x.title) &&
    isOptional(x.familyId, isId) &&
    isOptional(x.variantId, isId) &&
    isArrayOf(x.nodes, isRunGraphNode) &&
    isArrayOf(x.edges, isRunGraphEdge) &&
    isOptional(x.worktree, isRunWorktree)
  );
}
const WORKTREE_STATES: readonly string[] = ['working', 'open', 'merged', 'discarded', 'removed'] satisfies readonly RunWorktreeState[];
function isWhole(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}
/** True when `x` is a well-formed run worktree (counts whole and not negative). */
export function isRunWorktree(x: unknown): x is RunWorktree {
  return (
    isRecord(x) &&
    isText(x.branch) &&
    isText(x.base) &&
    typeof x.state === 'string' &&
    WORKTREE_STATES.includes(x.state) &&
    isOptional(x.commits, isWhole) &&
    isOptional(x.filesChanged, isWhole) &&
    isOptional(x.insertions, isWhole) &&
    isOptional(x.deletions, isWhole) &&
    isOptional(x.mergeCommit, isText)
  );
}
/** True when `x` is a well-formed patch of a run graph (every upserted element is checked as in a whole graph). */
export function isRunGraphPatch(x: unknown): x is RunGraphPatch {
  return (
    isRecord(x) &&
    isId(x.runId) &&
    isOptional(x.title, isText) &&
    isArrayOf(x.upsertNodes, isRunGraphNode) &&
    isArrayOf(x.removeNodes, isId) &&
    isArrayOf(x.upsertEdges, isRunGraphEdge) &&
    isArrayOf(x.removeEdges, isId) &&
    isOptional(x.worktree, isRunWorktree)
  );
}
export const isOverlayKind = isOneOf(OVERLAY_KINDS);
/** Marks per run and lines per mark are bounded, so an overlay cannot make the page draw without end. */
const MAX_MARKS = 5000;
const MAX_LINES = 100;
function isOverlayMark(x: unknown): x is OverlayMark {
  return (
    isRecord(x) &&
    isOverlayKind(x.kind) &&
    isOptional(x.nodeId, isId) &&
    isText(x.badge) &&
    Array.isArray(x.lines) &&
    x.lines.length <= MAX_LINES &&
    isArrayOf(x.lines, isText)
  );
}
/** True when `x` is a well-formed overlay view of a run. */
export function isRunOverlayView(x: unknown): x is RunOverlayView {
  return isRecord(x) && isId(x.runId) && Array.isArray(x.marks) && x.marks.length <= MAX_MARKS && isArrayOf(x.marks, isOverlayMark);
}
function isEvidenceSummary(x: unknown): x is EvidenceSummary {
  return isRecord(x) && isCount(x.runs) && isCount(x.successes) && isCount(x.failures) && isCount(x.interventions) && isCount(x.tokens);
}
/** A variant lists at most this many steps (a formula of more is cut, not refused). */
const MAX_STEPS = 500;
function isStepHeat(x: unknown): x is StepHeat {
  return (
    isRecord(x) &&
    isId(x.stepId) &&
    isText(x.title) &&
    isCount(x.attempts) &&
    isCount(x.failures) &&
    isCount(x.retries) &&
    isCount(x.tokens) &&
    (x.failureRate === null || (isCount(x.failureRate) && x.failureRate <= 1)) &&
    Array.isArray(x.changedBy) &&
    x.changedBy.length <= 50 &&
    isArrayOf(x.changedBy, isText)
  );
}
export function isLineageVariant(x: unknown): x is LineageVariant {
  return (
    isRecord(x) &&
    isOptional(x.rationale, isText) &&
    (x.steps === undefined || (Array.isArray(x.steps) && x.steps.length <= MAX_STEPS && isArrayOf(x.steps, isStepHeat))) &&
    isId(x.id) &&
    isText(x.label) &&
    isCount(x.generation) &&
    isVariantStatus(x.status) &&
    isArrayOf(x.parentIds, isId) &&
    isOptional(x.mutation, isText) &&
    isOptional(x.trial, isText) &&
    isEvidenceSummary(x.evidence)
  );
}
export function isLineageGraph(x: unknown): x is LineageGraph {
  return (
    isRecord(x) &&
    isId(x.familyId) &&
    isText(x.familyName) &&
    isOptional(x.activeVariantId, isId) &&
    isOptional(x.rollbackToId, isId) &&
    isArrayOf(x.variants, isLineageVariant)
  );
}
function isGraphView(x: unknown): x is GraphView {
  if (!isRecord(x)) return false;
  if (x.kind === 'run') return isRunGraph(x.graph);
  if (x.kind === 'lineage') return isLineageGraph(x.lineage);
  return false;
}

const hostGuards: { readonly [K in HostMessage['type']]: (m: Fields) => boolean } = {
  showRunGraph: (m) => isRunGraph(m.graph),
  showLineage: (m) => isLineageGraph(m.lineage),
  update: (m) => isGraphView(m.view),
  patchRunGraph: (m) => isRunGraphPatch(m.patch),
  runOverlays: (m) => isRunOverlayView(m.overlays),
  actionResult: (m) => (m.action === 'promoteVariant' || m.action === 'rollbackFamily') && typeof m.ok === 'boolean' && isText(m.message),
  select: (m) => isId(m.id),
};

/** True when `x` is a well-formed message from the host; the webview ignores anything else. */
export function isHostMessage(x: unknown): x is HostMessage {
  if (!isRecord(x) || typeof x.type !== 'string' || !Object.hasOwn(hostGuards, x.type)) return false;
  return hostGuards[x.type as HostMessage['type']](x);
}

/** The view a host message shows, if it shows one. */
export function viewOf(m: HostMessage): GraphView | undefined {
  switch (m.type) {
    case 'showRunGraph':
      return { kind: 'run', graph: m.graph };
    case 'showLineage':
      return { kind: 'lineage', lineage: m.lineage };
    case 'update':
      return m.view;
    default:
      return undefined;
  }
}
