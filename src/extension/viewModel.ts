// Turns ledger rows into what the trees and the graph webview show. Pure (no vscode import), so the mapping a
// person sees (labels, states, evidence lines) is unit-tested without an editor.
import type { WorktreeRow } from '../controller/worktree';
import { formatVariant } from '../ledger/families';
import type { BindingRow, EdgeRow, EvidenceRow, NodeRow, RunRow } from '../ledger/index';
import type { EdgeKind, EvidenceItem, EvidenceSummary, LineageGraph, NodeState, RunGraph, RunGraphNode, RunWorktree, StepHeat, VariantStatus } from '../shared/protocol';
import { isEdgeKind, isNodeState, isVariantStatus } from '../shared/protocol';

export { workflowOrder } from '../shared/workflowOrder';

/** A formula family as the views need it. */
export interface FamilyInfo {
  readonly id: string;
  readonly description: string;
  readonly activeVariantId: string | null;
}

/** A formula variant as the views need it. */
export interface VariantInfo {
  readonly id: string;
  readonly familyId: string;
  readonly generation: number;
  readonly parents: readonly string[];
  readonly summary: string;
  readonly status: VariantStatus;
  readonly contentHash: string;
  readonly createdAt: string;
  /** Runs that ran this variant, those that finished, and how many of those succeeded. */
  readonly runs: number;
  readonly finishedRuns: number;
  readonly successes: number;
}

/** An open promotion trial of a candidate against the incumbent. */
export interface TrialInfo {
  readonly id: string;
  readonly familyId: string;
  readonly candidateId: string;
  readonly incumbentId: string;
  readonly stage: string;
  readonly share: number;
  readonly status: string;
}

/** A variant as every surface shows it: its generation and the id commands and tools accept (`g3·v-7ecaea40`). */
export function variantLabel(v: Pick<VariantInfo, 'generation' | 'id'>): string {
  return formatVariant(v);
}

export function trialText(t: TrialInfo, evidence: EvidenceSummary): string {
  return `${t.stage} vs ${t.incumbentId}: ${Math.round(t.share * 100)}% of new runs, ${evidence.successes}/${evidence.runs} succeeded`;
}

/** What the lineage shows of a variant's formula evidence (the ledger's `formulaEvidence`, issue 14). */
export interface VariantHeatSource {
  readonly rationale: string | null;
  readonly steps: readonly StepHeat[];
}

/** A variant's steps as the page draws their heat; text is cut so that a long title cannot crowd the table. */
export function toStepHeat(source: VariantHeatSource): StepHeat[] {
  return source.steps.slice(0, 500).map((s) => ({
    stepId: s.stepId.slice(0, 200),
    title: s.title.slice(0, 200),
    attempts: s.attempts,
    failures: s.failures,
    retries: s.retries,
    tokens: s.tokens,
    failureRate: s.failureRate === null ? null : Math.min(1, Math.max(0, s.failureRate)),
    changedBy: s.changedBy.slice(0, 50).map((c) => c.slice(0, 200)),
  }));
}

export function toLineageGraph(
  family: FamilyInfo,
  variants: readonly VariantInfo[],
  evidenceOf: (variant: VariantInfo) => EvidenceSummary,
  trials: readonly TrialInfo[],
  rollbackToId?: string,
  heatOf?: (variantId: string) => VariantHeatSource | undefined,
): LineageGraph {
  const known = new Set(variants.map((v) => v.id));
  return {
    familyId: family.id,
    familyName: family.id,
    ...(family.activeVariantId ? { activeVariantId: family.activeVariantId } : {}),
    ...(rollbackToId && known.has(rollbackToId) ? { rollbackToId } : {}),
    variants: variants.map((v) => {
      const evidence = evidenceOf(v);
      const trial = trials.find((t) => t.candidateId === v.id && t.status === 'open');
      return {
        id: v.id,
        label: variantLabel(v),
        generation: v.generation,
        status: v.id === family.activeVariantId ? 'active' : v.status,
        parentIds: v.parents.filter((p) => known.has(p)),
        ...(v.summary ? { mutation: v.summary } : {}),
        ...(trial ? { trial: trialText(trial, evidence) } : {}),
        evidence,
        ...heatFields(heatOf?.(v.id)),
      };
    }),
  };
}

function heatFields(heat: VariantHeatSource | undefined): { rationale?: string; steps?: StepHeat[] } {
  if (!heat) return {};
  return {
    ...(heat.rationale ? { rationale: heat.rationale.slice(0, 4000) } : {}),
    ...(heat.steps.length ? { steps: toStepHeat(heat) } : {}),
  };
}

function nodeState(state: string): NodeState {
  // The ledger also knows `skipped` (a step whose condition was false): it is as settled as done.
  if (isNodeState(state)) return state;
  return state === 'skipped' ? 'done' : 'pending';
}

function edgeKind(kind: string): EdgeKind {
  return isEdgeKind(kind) ? kind : 'needs';
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

export function nodeEvidence(node: NodeRow, evidence: readonly EvidenceRow[]): EvidenceItem[] {
  const items: EvidenceItem[] = [];
  if (node.state === 'skipped') items.push({ label: 'skipped', value: 'its condition was false when the run started' });
  items.push({ label: 'attempts', value: attemptsText(node) });
  if (node.tokens) items.push({ label: 'tokens', value: node.tokens.toLocaleString('en-US') });
  if (node.durationMs) items.push({ label: 'duration', value: formatMs(node.durationMs) });
  if (node.review) items.push({ label: 'review', value: 'required' });
  if (node.gate) items.push({ label: 'gate', value: `${node.gate.kind}${node.gateOpen ? ' (open)' : ''}` });
  if (node.result) items.push({ label: 'result', value: node.result });
  for (const e of evidence) {
    if (e.nodeId !== node.id) continue;
    const verdict = e.success === null ? '' : e.success ? 'success' : 'failure';
    items.push({ label: e.kind, value: [verdict, e.note].filter(Boolean).join(' · ') || e.actor });
  }
  return items;
}

/**
 * A run's worktree row as the views show it: `finished` (the run ended, the branch waits for a person) reads
 * `open`, and `open` (the run works in it) reads `working`; commits are abbreviated to 12 hex digits.
 */
export function toRunWorktree(row: WorktreeRow): RunWorktree {
  // branch leftovers: a worktree being merged or discarded this moment still reads open until it is closed.
  const state = row.status === 'open' ? 'working' : row.status === 'finished' || row.status === 'closing' ? 'open' : row.status;
  return {
    branch: row.branch,
    base: row.baseCommit.slice(0, 12),
    state,
    ...(row.commits !== null ? { commits: row.commits } : {}),
    ...(row.filesChanged !== null ? { filesChanged: row.filesChanged } : {}),
    ...(row.insertions !== null ? { insertions: row.insertions } : {}),
    ...(row.deletions !== null ? { deletions: row.deletions } : {}),
    ...(row.mergeCommit ? { mergeCommit: row.mergeCommit.slice(0, 12) } : {}),
  };
}

export function toRunGraph(
  graph: { run: RunRow; nodes: readonly NodeRow[]; edges: readonly EdgeRow[]; bindings: readonly BindingRow[] },
  evidence: readonly EvidenceRow[] = [],
  worktree?: RunWorktree,
): RunGraph {
  const { run } = graph;
  const threadOf = new Map<string, BindingRow>();
  for (const b of graph.bindings) threadOf.set(b.nodeId, b); // later bindings win: they are ordered by time
  // Evidence grouped by node once: scanning every row for every node costs nodes × rows (10M steps for a
  // 2,000-node run with 5,000 rows) on each change of the graph.
  const evidenceOf = new Map<string, EvidenceRow[]>();
  for (const e of evidence) {
    if (e.nodeId === null) continue;
    const rows = evidenceOf.get(e.nodeId);
    if (rows) rows.push(e);
    else evidenceOf.set(e.nodeId, [e]);
  }
  return {
    runId: run.id,
    title: run.title,
    ...(run.familyId ? { familyId: run.familyId } : {}),
    ...(run.variantId ? { variantId: run.variantId } : {}),
    nodes: graph.nodes.map((n) => toRunGraphNode(n, threadOf.get(n.id), evidenceOf.get(n.id) ?? [])),
    edges: graph.edges.map((e, i) => ({ id: `e${i}:${e.from}>${e.to}`, source: e.from, target: e.to, kind: edgeKind(e.kind) })),
    ...(worktree ? { worktree } : {}),
  };
}

/**
 * One node of a run graph as the page shows it: its row, the thread bound to it last (if any) and its evidence rows
 * (those of other nodes are ignored).
 */
export function toRunGraphNode(n: NodeRow, binding: Pick<BindingRow, 'workerKind' | 'threadId'> | undefined, evidence: readonly EvidenceRow[]): RunGraphNode {
  const worker = n.worker ?? binding?.workerKind;
  return {
    id: n.id,
    title: n.title,
    state: nodeState(n.state),
    kind: n.stepId,
    ...(worker
      ? {
          worker: {
            worker,
            ...(binding ? { threadId: binding.threadId } : {}),
            ...(n.leaseExpires ? { leaseExpiresAt: n.leaseExpires } : {}),
          },
        }
      : {}),
    evidence: nodeEvidence(n, evidence),
  };
}

export function variantStatus(status: string): VariantStatus {
  return isVariantStatus(status) ? status : 'candidate';
}

/** Which graph a panel shows: a run's workflow graph or a family's lineage. */
export type GraphTarget = { readonly kind: 'run'; readonly runId: string } | { readonly kind: 'lineage'; readonly familyId: string };

/**
 * The graph a restored panel showed, from the state its page saved with setState (src/webview/main.ts keeps the
 * GraphView it shows as `view`); undefined for any other shape, since the state comes back from disk as it was.
 */
export function targetOfState(state: unknown): GraphTarget | undefined {
  if (typeof state !== 'object' || state === null) return undefined;
  const view = (state as { view?: unknown }).view;
  if (typeof view !== 'object' || view === null) return undefined;
  const v = view as { kind?: unknown; graph?: { runId?: unknown } | null; lineage?: { familyId?: unknown } | null };
  if (v.kind === 'run' && typeof v.graph?.runId === 'string' && v.graph.runId) return { kind: 'run', runId: v.graph.runId };
  if (v.kind === 'lineage' && typeof v.lineage?.familyId === 'string' && v.lineage.familyId) return { kind: 'lineage', familyId: v.lineage.familyId };
  return undefined;
}

/**
 * A node's attempts in words. The ledger counts failed attempts (`attempts`) against those allowed (`maxAttempts`):
 * a node done on its first try has 0 failures, which "0 of 1" misreads as "never tried".
 */
export function attemptsText(node: Pick<NodeRow, 'state' | 'attempts' | 'maxAttempts'>): string {
  const { attempts, maxAttempts: max } = node;
  const failed = `${attempts} failed attempt${attempts === 1 ? '' : 's'}`;
  switch (node.state) {
    case 'done':
      return `done on attempt ${attempts + 1} of ${max}`;
    case 'skipped':
      return 'not run (skipped)';
    case 'failed':
      return `${failed} of ${max} allowed`;
    case 'claimed':
    case 'active':
    case 'review':
      return `attempt ${attempts + 1} of ${max}`;
    default:
      return attempts ? `${failed}; ${Math.max(0, max - attempts)} of ${max} left` : `${max} attempt${max === 1 ? '' : 's'} allowed`;
  }
}
