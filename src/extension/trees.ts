// The two tree views of the Gas City activity-bar container: formula families → generations → variants, and
// runs → nodes. Both re-read the ledger on every change event; the ledger's projection answers in microseconds.
import * as vscode from 'vscode';
import { explainWait, personAction } from '../controller/explain';
import type { NodeRow, RunRow } from '../ledger/index';
import { COMMANDS, TREE_CONTEXT } from './commands';
import type { LedgerModel } from './model';
import type { FamilyInfo, VariantInfo } from './viewModel';
import { trialText, variantLabel, workflowOrder } from './viewModel';

export type FamilyTreeItem =
  | { readonly kind: 'family'; readonly family: FamilyInfo }
  | { readonly kind: 'generation'; readonly familyId: string; readonly generation: number }
  | { readonly kind: 'variant'; readonly variant: VariantInfo };

export class FamiliesTree implements vscode.TreeDataProvider<FamilyTreeItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<FamilyTreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: LedgerModel) {
    this.subscription = model.onDidChange(() => {
      this.memo.clear();
      this.changed.fire(undefined);
    });
  }

  /**
   * What one refresh of the tree reads, read once: a family's variants are listed once (not once per
   * generation), and its family row and open trials once (not once per variant row). Cleared on every
   * change of the ledger.
   */
  private readonly memo = new Map<string, unknown>();

  private once<T>(key: string, read: () => T): T {
    if (!this.memo.has(key)) this.memo.set(key, read());
    return this.memo.get(key) as T;
  }

  getChildren(element?: FamilyTreeItem): FamilyTreeItem[] {
    const lineage = this.model.lineage;
    if (!element) return lineage.families().map((family) => ({ kind: 'family', family }));
    const variants = (familyId: string) => this.once(`variants:${familyId}`, () => lineage.variants(familyId));
    if (element.kind === 'family') {
      const generations = [...new Set(variants(element.family.id).map((v) => v.generation))].sort((a, b) => a - b);
      return generations.map((generation) => ({ kind: 'generation', familyId: element.family.id, generation }));
    }
    if (element.kind === 'generation') {
      return variants(element.familyId)
        .filter((v) => v.generation === element.generation)
        .map((variant) => ({ kind: 'variant', variant }));
    }
    return [];
  }

  getParent(element: FamilyTreeItem): FamilyTreeItem | undefined {
    if (element.kind === 'variant') return { kind: 'generation', familyId: element.variant.familyId, generation: element.variant.generation };
    if (element.kind === 'generation') {
      const family = this.model.lineage.family(element.familyId);
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
    const active = family.activeVariantId ? this.model.lineage.variant(family.activeVariantId) : undefined;
    item.description = active ? `active ${variantLabel(active)}` : 'no active variant';
    item.tooltip = new vscode.MarkdownString(`**${family.id}**\n\n${family.description || ''}`);
    return item;
  }

  private variantItem(v: VariantInfo): vscode.TreeItem {
    const family = this.once(`family:${v.familyId}`, () => this.model.lineage.family(v.familyId));
    const isActive = family?.activeVariantId === v.id;
    const status = isActive ? 'active' : v.status;
    const item = new vscode.TreeItem(variantLabel(v), vscode.TreeItemCollapsibleState.None);
    item.id = `variant:${v.id}`;
    item.contextValue = TREE_CONTEXT.variant(v.status, isActive);
    const evidence = this.model.lineage.evidenceSummary(v);
    const trial = this.once(`trials:${v.familyId}`, () => this.model.lineage.openTrials(v.familyId)).find((t) => t.candidateId === v.id);
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

export type RunTreeItem =
  | { readonly kind: 'needs'; readonly nodes: NodeRow[] }
  | { readonly kind: 'run'; readonly run: RunRow }
  | { readonly kind: 'node'; readonly node: NodeRow; readonly needsYou?: boolean };

/** What the runs tree shows of a node a Codex turn is working on now (thread, elapsed time, tokens, last item). */
export interface NodeActivitySource {
  activity(nodeId: string): { threadId: string; startedAt: number; tokens: number; lastItem: string | null } | undefined;
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

  constructor(private readonly model: LedgerModel, private readonly activity?: NodeActivitySource) {
    this.subscriptions.push(model.onDidChange(() => this.changed.fire(undefined)));
    // Token counts tick many times a second while Codex works: the rows are refreshed at most once a second.
    if (activity) {
      this.subscriptions.push(activity.onDidChangeActivity(() => {
        this.activityTimer ??= setTimeout(() => {
          this.activityTimer = undefined;
          this.changed.fire(undefined);
        }, 1000);
      }));
    }
  }

  getChildren(element?: RunTreeItem): RunTreeItem[] {
    if (!element) {
      // What waits for a person comes first: human gates, escalations, cancelled nodes and reviews.
      const needs = this.model.ledger.needsPerson({ limit: 100 });
      const runs: RunTreeItem[] = this.model.ledger.listRuns({ limit: 200 }).map((run) => ({ kind: 'run', run }));
      return needs.length ? [{ kind: 'needs', nodes: needs }, ...runs] : runs;
    }
    if (element.kind === 'needs') return element.nodes.map((node) => ({ kind: 'node', node, needsYou: true }));
    if (element.kind === 'run') {
      const graph = this.model.ledger.runGraph(element.run.id);
      return graph ? workflowOrder(graph.nodes, graph.edges).map((node) => ({ kind: 'node', node })) : [];
    }
    return [];
  }

  getTreeItem(element: RunTreeItem): vscode.TreeItem {
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
      item.contextValue = TREE_CONTEXT.run(r.status);
      const [icon, colour] = RUN_ICON[r.status] ?? ['circle-outline', 'descriptionForeground'];
      item.iconPath = new vscode.ThemeIcon(icon, new vscode.ThemeColor(colour));
      item.description = [r.status, r.status === 'running' ? `${r.openNodes} open` : '', r.variantId ?? ''].filter(Boolean).join(' · ');
      item.tooltip = `${r.id} — ${r.title}\nstarted ${r.createdAt}${r.familyId ? `\nfamily ${r.familyId}` : ''}${r.variantId ? `, variant ${r.variantId}` : ''}`;
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
    for (const d of this.subscriptions) d.dispose();
    this.changed.dispose();
  }
}
