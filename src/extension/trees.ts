// The two tree views of the Gas City activity-bar container: formula families → generations → variants, and
// runs → nodes. The families tree keeps what it read until a change touches it; the runs tree refreshes the runs a change touched
// (a workspace holds tens of thousands of runs) and pages what is large.
import * as vscode from 'vscode';
import { explainWait, personAction } from '../controller/explain';
import type { NodeRow, RunRow } from '../ledger/index';
import { COMMANDS, TREE_CONTEXT } from './commands';
import type { LedgerChangeSummary, LedgerModel } from './model';
import type { EvidenceSummary } from '../shared/protocol';
import { worktreeFields, worktreeLine } from '../shared/worktree';
import type { FamilyInfo, TrialInfo, VariantInfo } from './viewModel';
import { trialText, variantLabel, workflowOrder } from './viewModel';

export type FamilyTreeItem =
  | { readonly kind: 'family'; readonly family: FamilyInfo }
  | { readonly kind: 'generation'; readonly familyId: string; readonly generation: number }
  | { readonly kind: 'variant'; readonly variant: VariantInfo };

export class FamiliesTree implements vscode.TreeDataProvider<FamilyTreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<FamilyTreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  // What the tree shows, read once and kept until a change touches it: listing a family's variants with their
  // figures costs tens of milliseconds at 500 variants, so a refresh that read them all again grew with the family
  // on every change of the ledger (issue 11). A variant's evidence dropped alone is read again alone.
  private families: FamilyInfo[] | undefined;
  private readonly variantsOf = new Map<string, VariantInfo[]>();
  private readonly trialsOf = new Map<string, TrialInfo[]>();
  private readonly evidenceOf = new Map<string, EvidenceSummary>();

  constructor(private readonly model: LedgerModel) {
    this.subscription = model.onDidChange((change) => {
      if (this.forget(change)) this.changed.fire(undefined);
    });
  }

  /**
   * Drops what a change may have changed and says whether the tree must be drawn again: events about families,
   * variants, trials or decisions drop the family lists; evidence drops its variant's figures; a run that started
   * or ended (its variant's counts) drops its family's variants. Changes of running runs leave the tree alone.
   */
  private forget(change: LedgerChangeSummary): boolean {
    if (change.everything) {
      this.families = undefined;
      this.variantsOf.clear();
      this.trialsOf.clear();
      this.evidenceOf.clear();
      return true;
    }
    let dirty = false;
    if (change.otherThanRuns) {
      this.families = undefined;
      this.variantsOf.clear();
      this.trialsOf.clear();
      dirty = true;
    }
    for (const e of change.events) {
      if (e.kind !== 'evidence.recorded' || typeof e.payload !== 'object' || e.payload === null) continue;
      const variantId = (e.payload as { variantId?: unknown }).variantId;
      if (typeof variantId === 'string' && this.evidenceOf.delete(variantId)) dirty = true;
    }
    for (const runId of change.runIds) {
      const run = this.model.ledger.getRun(runId);
      if (!run?.familyId || !this.variantsOf.has(run.familyId)) continue;
      // A run counts for its variant when it starts (runs) and when it ends (finished runs, successes).
      if (run.status !== 'running' || change.runsStarted) {
        this.variantsOf.delete(run.familyId);
        this.trialsOf.delete(run.familyId);
        dirty = true;
      }
    }
    return dirty;
  }

  private allFamilies(): FamilyInfo[] {
    return (this.families ??= this.model.lineage.families());
  }

  private familyOf(familyId: string): FamilyInfo | undefined {
    return this.allFamilies().find((f) => f.id === familyId);
  }

  private variants(familyId: string): VariantInfo[] {
    let list = this.variantsOf.get(familyId);
    if (!list) {
      // One read gives the rows and their figures: the evidence of each variant is kept beside it, so drawing the
      // family costs one query whatever its size rather than one more query per variant (issue 11).
      const standings = this.model.lineage.standings(familyId);
      list = standings.map((s) => s.variant);
      for (const s of standings) this.evidenceOf.set(s.variant.id, s.evidence);
      this.variantsOf.set(familyId, list);
    }
    return list;
  }

  private trials(familyId: string): TrialInfo[] {
    let list = this.trialsOf.get(familyId);
    if (!list) {
      list = this.model.lineage.openTrials(familyId);
      this.trialsOf.set(familyId, list);
    }
    return list;
  }

  /** A variant's standing: run counts from its row as read last, tokens and interventions from its evidence. */
  private evidence(v: VariantInfo): EvidenceSummary {
    let e = this.evidenceOf.get(v.id);
    if (!e) {
      e = this.model.lineage.evidenceSummary(v);
      this.evidenceOf.set(v.id, e);
    }
    return { ...e, runs: v.finishedRuns, successes: v.successes, failures: v.finishedRuns - v.successes };
  }

  getChildren(element?: FamilyTreeItem): FamilyTreeItem[] {
    if (!element) return this.allFamilies().map((family) => ({ kind: 'family', family }));
    if (element.kind === 'family') {
      const generations = [...new Set(this.variants(element.family.id).map((v) => v.generation))].sort((a, b) => a - b);
      return generations.map((generation) => ({ kind: 'generation', familyId: element.family.id, generation }));
    }
    if (element.kind === 'generation') {
      return this.variants(element.familyId)
        .filter((v) => v.generation === element.generation)
        .map((variant) => ({ kind: 'variant', variant }));
    }
    return [];
  }

  getParent(element: FamilyTreeItem): FamilyTreeItem | undefined {
    if (element.kind === 'variant') return { kind: 'generation', familyId: element.variant.familyId, generation: element.variant.generation };
    if (element.kind === 'generation') {
      const family = this.familyOf(element.familyId);
      return family ? { kind: 'family', family } : undefined;
    }
    return undefined;
  }

  getTreeItem(element: FamilyTreeItem): vscode.TreeItem {
    if (element.kind === 'family') return this.familyItem(element.family);
    if (element.kind === 'generation') {
      const item = new vscode.TreeItem(`Generation ${element.generation}`, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `gen:${element.familyId}:${element.generation}`;
      item.iconPath = new vscode.ThemeIcon('layers');
      return item;
    }
    return this.variantItem(element.variant);
  }

  private familyItem(family: FamilyInfo): vscode.TreeItem {
    const item = new vscode.TreeItem(family.id, vscode.TreeItemCollapsibleState.Expanded);
    item.id = `family:${family.id}`;
    item.contextValue = TREE_CONTEXT.family;
    item.iconPath = new vscode.ThemeIcon('symbol-class');
    const active = family.activeVariantId ? this.variants(family.id).find((v) => v.id === family.activeVariantId) : undefined;
    item.description = active ? `active ${variantLabel(active)}` : 'no active variant';
    item.tooltip = new vscode.MarkdownString(`**${family.id}**\n\n${family.description || ''}`);
    return item;
  }

  private variantItem(v: VariantInfo): vscode.TreeItem {
    const family = this.familyOf(v.familyId);
    const isActive = family?.activeVariantId === v.id;
    const status = isActive ? 'active' : v.status;
    const item = new vscode.TreeItem(variantLabel(v), vscode.TreeItemCollapsibleState.None);
    item.id = `variant:${v.id}`;
    item.contextValue = TREE_CONTEXT.variant(v.status, isActive);
    const evidence = this.evidence(v);
    const trial = this.trials(v.familyId).find((t) => t.candidateId === v.id);
    const standing = evidence.runs > 0 ? `${evidence.successes}/${evidence.runs} ok` : '';
    item.description = [isActive ? '★ active' : status, trial ? trialText(trial, evidence) : '', standing, v.summary && v.generation > 0 ? v.summary : '']
      .filter(Boolean)
      .join(' · ');
    item.iconPath = variantIcon(status);
    item.tooltip = new vscode.MarkdownString(
      [`**${variantLabel(v)}** — ${status}`, '', `id \`${v.id}\``, `generation ${v.generation}`, v.summary ? `mutation: ${v.summary}` : '', `hash \`${v.contentHash.slice(0, 16)}\``]
        .filter((l) => l !== undefined)
        .join('\n\n'),
    );
    item.command = { command: COMMANDS.openVariant.id, title: COMMANDS.openVariant.title, arguments: [v.id] };
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

function variantIcon(status: string): vscode.ThemeIcon {
  switch (status) {
    case 'active':
      return new vscode.ThemeIcon('star-full', new vscode.ThemeColor('charts.green'));
    case 'trial':
      return new vscode.ThemeIcon('beaker', new vscode.ThemeColor('charts.orange'));
    case 'candidate':
      return new vscode.ThemeIcon('circle-outline', new vscode.ThemeColor('charts.blue'));
    case 'retired':
      return new vscode.ThemeIcon('history', new vscode.ThemeColor('descriptionForeground'));
    default:
      // Rejected variants stay visible (they are not proposed again) but dimmed.
      return new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground'));
  }
}

/**
 * A row of the runs tree. Run and needs rows are kept (one object per run for the tree's life) and updated in place,
 * so a change of one run refreshes that row alone (VS Code matches `onDidChangeTreeData(element)` by identity).
 * `olderRuns` and `moreNodes` are lazy pages: their children are read when a person expands them.
 */
export type RunTreeItem =
  | { readonly kind: 'needs'; nodes: NodeRow[] }
  | { readonly kind: 'run'; run: RunRow }
  | { readonly kind: 'node'; readonly node: NodeRow; readonly needsYou?: boolean }
  | { readonly kind: 'olderRuns'; readonly offset: number }
  | { readonly kind: 'moreNodes'; readonly runId: string; readonly offset: number };

type RunItem = Extract<RunTreeItem, { kind: 'run' }>;
type NeedsItem = Extract<RunTreeItem, { kind: 'needs' }>;

/** Runs per page of the tree: the newest page at the top level, older ones in nested "Older runs" rows. */
export const RUNS_PAGE = 200;
/** Nodes of one run listed before a "More nodes" row (a 2,000-node run opens without 2,000 rows at once). */
export const NODES_PAGE = 500;
/** Rows of the "Needs you" group. */
const NEEDS_LIMIT = 100;

/** What the runs tree shows of a node a Codex turn is working on now (thread, elapsed time, tokens, last item). */
export interface NodeActivitySource {
  activity(nodeId: string): { threadId: string; startedAt: number; tokens: number; lastItem: string | null } | undefined;
  /** The nodes a turn is working on now. */
  activeNodeIds(): string[];
  readonly onDidChangeActivity: vscode.Event<void>;
}

const STATE_ICON: Record<string, [string, string]> = {
  pending: ['circle-outline', 'descriptionForeground'],
  ready: ['circle-large-outline', 'charts.blue'],
  claimed: ['lock', 'charts.yellow'],
  active: ['sync', 'charts.orange'],
  review: ['eye', 'charts.purple'],
  done: ['pass-filled', 'charts.green'],
  failed: ['error', 'charts.red'],
  blocked: ['debug-pause', 'disabledForeground'],
  skipped: ['debug-step-over', 'disabledForeground'],
};
const RUN_ICON: Record<RunRow['status'], [string, string]> = {
  running: ['play-circle', 'charts.orange'],
  done: ['pass-filled', 'charts.green'],
  failed: ['error', 'charts.red'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

export class RunsTree implements vscode.TreeDataProvider<RunTreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunTreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  private activityTimer: ReturnType<typeof setTimeout> | undefined;
  /** The top-level rows as last read; undefined when they must be read again. */
  private roots: RunTreeItem[] | undefined;
  /** The row of each run shown (on any page), so a change of that run refreshes it alone. */
  private readonly runItems = new Map<string, RunItem>();
  private needsItem: NeedsItem | undefined;

  constructor(private readonly model: LedgerModel, private readonly activity?: NodeActivitySource) {
    this.subscriptions.push(model.onDidChange((change) => this.onLedgerChange(change)));
    // Token counts tick many times a second while Codex works: the rows of the runs at work are refreshed at most
    // once a second.
    if (activity) {
      this.subscriptions.push(activity.onDidChangeActivity(() => {
        this.activityTimer ??= setTimeout(() => {
          this.activityTimer = undefined;
          this.refreshRuns(new Set(activity.activeNodeIds().map((id) => this.model.ledger.getNode(id)?.runId ?? '')));
        }, 1000);
      }));
    }
  }

  /**
   * Refreshes what a change touched: the rows of the runs it names (each re-read by id), the "Needs you" group when
   * its nodes changed, and the whole top level only when a run started (the newest page changes) or anything may have
   * changed (the Refresh command).
   */
  private onLedgerChange(change: LedgerChangeSummary): void {
    if (change.everything || change.runsStarted || this.roots === undefined) {
      this.roots = undefined;
      this.changed.fire(undefined);
      return;
    }
    if (change.runIds.size === 0) return;
    const needs = this.model.ledger.needsPerson({ limit: NEEDS_LIMIT });
    const had = this.needsItem;
    if (!had !== !needs.length) {
      // The group comes or goes: the top level changes, but the runs in it are the same rows.
      this.needsItem = needs.length ? { kind: 'needs', nodes: needs } : undefined;
      this.roots = [...(this.needsItem ? [this.needsItem] : []), ...this.roots.filter((r) => r.kind !== 'needs')];
      this.refreshRuns(change.runIds, false);
      this.changed.fire(undefined);
      return;
    }
    if (had && !sameNodes(had.nodes, needs)) {
      had.nodes = needs;
      this.changed.fire(had);
    }
    this.refreshRuns(change.runIds);
  }

  /** Re-reads the rows of these runs that are shown and refreshes each (with its children, when expanded). */
  private refreshRuns(runIds: ReadonlySet<string>, fire = true): void {
    for (const runId of runIds) {
      const item = this.runItems.get(runId);
      if (!item) continue;
      const run = this.model.ledger.getRun(runId);
      if (!run) continue;
      item.run = run;
      if (fire) this.changed.fire(item);
    }
  }

  /** The row of a run, the same object each time, holding the run as last read. */
  private runItem(run: RunRow): RunItem {
    const item = this.runItems.get(run.id);
    if (item) {
      item.run = run;
      return item;
    }
    const fresh: RunItem = { kind: 'run', run };
    this.runItems.set(run.id, fresh);
    return fresh;
  }

  /** One page of runs, newest first, followed by a row that holds the next page when there may be one. */
  private runsPage(offset: number): RunTreeItem[] {
    // The ledger pages by a limit from the newest run; older pages read the newer ones too, but only when a person
    // opens them.
    const rows = this.model.ledger.listRuns({ limit: offset + RUNS_PAGE }).slice(offset);
    const page: RunTreeItem[] = rows.map((run) => this.runItem(run));
    if (rows.length === RUNS_PAGE && offset + RUNS_PAGE < 10_000) page.push({ kind: 'olderRuns', offset: offset + RUNS_PAGE });
    return page;
  }

  getChildren(element?: RunTreeItem): RunTreeItem[] {
    if (!element) {
      if (this.roots) return this.roots;
      // What waits for a person comes first: human gates, escalations, cancelled nodes and reviews.
      const needs = this.model.ledger.needsPerson({ limit: NEEDS_LIMIT });
      this.needsItem = needs.length ? { kind: 'needs', nodes: needs } : undefined;
      this.roots = [...(this.needsItem ? [this.needsItem] : []), ...this.runsPage(0)];
      return this.roots;
    }
    if (element.kind === 'needs') return element.nodes.map((node) => ({ kind: 'node', node, needsYou: true }));
    if (element.kind === 'olderRuns') return this.runsPage(element.offset);
    if (element.kind === 'run' || element.kind === 'moreNodes') {
      const runId = element.kind === 'run' ? element.run.id : element.runId;
      const offset = element.kind === 'run' ? 0 : element.offset;
      const graph = this.model.ledger.runGraph(runId);
      if (!graph) return [];
      const ordered = workflowOrder(graph.nodes, graph.edges);
      const page: RunTreeItem[] = ordered.slice(offset, offset + NODES_PAGE).map((node) => ({ kind: 'node', node }));
      if (ordered.length > offset + NODES_PAGE) page.push({ kind: 'moreNodes', runId, offset: offset + NODES_PAGE });
      return page;
    }
    return [];
  }

  getTreeItem(element: RunTreeItem): vscode.TreeItem {
    if (element.kind === 'olderRuns') {
      const item = new vscode.TreeItem(`Older runs (from the ${ordinal(element.offset + 1)})`, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `older:${element.offset}`;
      item.iconPath = new vscode.ThemeIcon('history');
      item.tooltip = `Runs ${element.offset + 1} to ${element.offset + RUNS_PAGE}, newest first; read when opened.`;
      return item;
    }
    if (element.kind === 'moreNodes') {
      const item = new vscode.TreeItem(`More nodes (from the ${ordinal(element.offset + 1)})`, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `more:${element.runId}:${element.offset}`;
      item.iconPath = new vscode.ThemeIcon('ellipsis');
      item.tooltip = `Nodes ${element.offset + 1} to ${element.offset + NODES_PAGE} of this run in workflow order; read when opened.`;
      return item;
    }
    if (element.kind === 'needs') {
      const item = new vscode.TreeItem(`Needs you (${element.nodes.length})`, vscode.TreeItemCollapsibleState.Expanded);
      item.id = 'needs';
      item.contextValue = TREE_CONTEXT.needsGroup;
      item.iconPath = new vscode.ThemeIcon('bell-dot', new vscode.ThemeColor('charts.yellow'));
      item.tooltip = 'Nodes that wait for a person: open a gate, approve, or request changes.';
      return item;
    }
    if (element.kind === 'run') {
      const r = element.run;
      const item = new vscode.TreeItem(r.title, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `run:${r.id}`;
      // The worktree is read with the row: a merge or discard names the run, so its row is read again then.
      const worktree = this.model.worktreeOf(r.id);
      item.contextValue = TREE_CONTEXT.run(r.status, worktree?.state);
      const [icon, colour] = RUN_ICON[r.status] ?? ['circle-outline', 'descriptionForeground'];
      item.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
      item.description = [r.status, r.status === 'running' ? `${r.openNodes} open` : '', r.variantId ?? '', worktree ? worktreeLine(worktree) : ''].filter(Boolean).join(' · ');
      item.tooltip = `${r.id} — ${r.title}\nstarted ${r.createdAt}${r.familyId ? `\nfamily ${r.familyId}` : ''}${r.variantId ? `, variant ${r.variantId}` : ''}` +
        (worktree ? `\nworktree: ${worktreeFields(worktree).map(([k, v]) => `${k.toLowerCase()} ${v}`).join(', ')}` : '');
      item.command = { command: COMMANDS.openRunGraph.id, title: COMMANDS.openRunGraph.title, arguments: [r.id] };
      return item;
    }
    const n = element.node;
    const item = new vscode.TreeItem(n.title, vscode.TreeItemCollapsibleState.None);
    const action = element.needsYou ? personAction(n) : null;
    item.id = `${element.needsYou ? 'needs' : 'node'}:${n.id}`;
    item.contextValue = action ? TREE_CONTEXT.needs(action) : TREE_CONTEXT.node(n.state);
    const [icon, colour] = STATE_ICON[n.state] ?? ['circle-outline', 'descriptionForeground'];
    item.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
    const turn = this.activity?.activity(n.id);
    const doing = turn
      ? [`${Math.round((Date.now() - turn.startedAt) / 1000)} s`, `${turn.tokens.toLocaleString('en')} tokens`, turn.lastItem ?? '', `thread ${turn.threadId.slice(0, 8)}`]
      : [];
    const why = explainWait(n)?.text;
    item.description = element.needsYou
      ? (action === 'review' ? 'review' : n.attempts > 0 && n.attempts >= n.maxAttempts ? 'escalated' : 'gate') + ` · ${n.runId}`
      : [n.state, n.worker ?? '', ...doing].filter(Boolean).join(' · ');
    item.tooltip = `${n.id}\n${n.state}${n.worker ? ` — ${n.worker}` : ''}${why ? `\n${why}` : ''}`;
    item.command = { command: COMMANDS.openRunGraph.id, title: COMMANDS.openRunGraph.title, arguments: [n.runId, n.id] };
    return item;
  }

  dispose(): void {
    clearTimeout(this.activityTimer);
    this.runItems.clear();
    for (const d of this.subscriptions) d.dispose();
    this.changed.dispose();
  }
}

/** 1st, 2nd, 3rd, 4th, … 11th, 12th, 13th, 21st: the position of the first row of a page. */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n.toLocaleString('en-US')}${suffix}`;
}

/** Whether two lists of nodes show the same rows (id, state, attempts and worker, in order). */
function sameNodes(a: readonly NodeRow[], b: readonly NodeRow[]): boolean {
  return a.length === b.length && a.every((n, i) => {
    const m = b[i]!;
    return n.id === m.id && n.state === m.state && n.attempts === m.attempts && n.worker === m.worker && n.updatedAt === m.updatedAt;
  });
}
