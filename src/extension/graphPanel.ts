// The Cytoscape graph panel: one webview panel that shows a run's workflow graph or a family's lineage and
// follows the ledger as it changes. Every message from the page is checked with the protocol's guards first.
import * as vscode from 'vscode';
import type { GraphView, HostMessage, WebviewMessage } from '../shared/protocol';
import { isWebviewMessage } from '../shared/protocol';
import type { LedgerModel } from './model';
import { toLineageGraph, toRunGraph } from './viewModel';
import { graphHtml, newNonce } from './webviewHtml';

export type GraphTarget = { readonly kind: 'run'; readonly runId: string } | { readonly kind: 'lineage'; readonly familyId: string };

/** What the panel does with a person's actions in the page: the same handlers as the commands. */
export interface GraphActions {
  promote(variantId: string, confirmed: boolean): Promise<{ ok: boolean; message: string }>;
  rollback(familyId: string, confirmed: boolean): Promise<{ ok: boolean; message: string }>;
  openVariant(variantId: string): Promise<void>;
  openNode(runId: string, nodeId: string): Promise<void>;
}

export const GRAPH_VIEW_TYPE = 'gascity.graph';

export class GraphPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private target: GraphTarget | undefined;
  private ready = false;
  private readonly disposables: vscode.Disposable[] = [];
  private panelDisposables: vscode.Disposable[] = [];
  private readonly received = new vscode.EventEmitter<WebviewMessage>();
  /** Every valid message from the page, after it was handled (tests and the tree's selection sync listen). */
  readonly onDidReceiveMessage = this.received.event;
  private lastSelection: { view: 'run' | 'lineage'; id: string } | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly model: LedgerModel,
    private readonly actions: GraphActions,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(model.onDidChange(() => this.push('update')));
  }

  get current(): GraphTarget | undefined {
    return this.target;
  }

  get selection(): { view: 'run' | 'lineage'; id: string } | undefined {
    return this.lastSelection;
  }

  get isVisible(): boolean {
    return this.panel?.visible ?? false;
  }

  show(target: GraphTarget, selectId?: string): void {
    const changedTarget = JSON.stringify(target) !== JSON.stringify(this.target);
    this.target = target;
    if (!this.panel) {
      this.panel = vscode.window.createWebviewPanel(GRAPH_VIEW_TYPE, this.title(), vscode.ViewColumn.Active, {
        enableScripts: true,
        // The page loads only our bundle and stylesheet; nothing else on disk is reachable from it.
        localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media')],
      });
      this.panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'gascity.svg');
      this.ready = false;
      this.panelDisposables.push(
        this.panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
        this.panel.onDidDispose(() => this.onPanelDisposed()),
        // A hidden webview is torn down (no retainContextWhenHidden); it comes back from getState and says ready.
        this.panel.onDidChangeViewState((e) => {
          if (!e.webviewPanel.visible) this.ready = false;
        }),
      );
      this.render();
    } else {
      this.panel.title = this.title();
      this.panel.reveal(undefined, false);
      if (changedTarget) this.push('show');
    }
    if (selectId) this.post({ type: 'select', id: selectId });
  }

  /** Asks the page to select a node (e.g. the variant picked in the tree). */
  select(id: string): void {
    this.post({ type: 'select', id });
  }

  private render(): void {
    const panel = this.panel;
    if (!panel) return;
    const webview = panel.webview;
    webview.html = graphHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'webview.css')).toString(),
      title: this.title(),
      nonce: newNonce(),
    });
  }

  private title(): string {
    const t = this.target;
    if (!t) return 'Gas City';
    if (t.kind === 'lineage') return `Lineage: ${t.familyId}`;
    return `Run: ${this.model.ledger.getRun(t.runId)?.title ?? t.runId}`;
  }

  /** The current target's data as the protocol shows it, or undefined when it is gone from the ledger. */
  view(): GraphView | undefined {
    const t = this.target;
    if (!t) return undefined;
    if (t.kind === 'run') {
      const graph = this.model.ledger.runGraph(t.runId);
      if (!graph) return undefined;
      return { kind: 'run', graph: toRunGraph(graph, this.model.ledger.evidence({ runId: t.runId, limit: 5000 })) };
    }
    const lineage = this.model.lineage;
    const family = lineage.family(t.familyId);
    if (!family) return undefined;
    return {
      kind: 'lineage',
      lineage: toLineageGraph(family, lineage.variants(family.id), (v) => lineage.evidenceSummary(v), lineage.openTrials(family.id)),
    };
  }

  private push(how: 'show' | 'update'): void {
    if (!this.panel || !this.ready) return;
    const view = this.view();
    if (!view) return;
    if (how === 'update') this.post({ type: 'update', view });
    else if (view.kind === 'run') this.post({ type: 'showRunGraph', graph: view.graph });
    else this.post({ type: 'showLineage', lineage: view.lineage });
  }

  private post(message: HostMessage): void {
    if (!this.panel || !this.ready) {
      if (message.type === 'select') this.pendingSelect = message.id;
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private pendingSelect: string | undefined;

  private async onMessage(raw: unknown): Promise<void> {
    if (!isWebviewMessage(raw)) {
      this.log.warn(`graph panel: dropped a malformed message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m = raw;
    try {
      switch (m.type) {
        case 'ready':
          this.ready = true;
          this.push('show');
          if (this.pendingSelect) {
            this.post({ type: 'select', id: this.pendingSelect });
            this.pendingSelect = undefined;
          }
          break;
        case 'selectNode':
          this.lastSelection = { view: m.view, id: m.id };
          break;
        case 'openVariant':
          await this.actions.openVariant(m.variantId);
          break;
        case 'openNode':
          await this.actions.openNode(m.runId, m.nodeId);
          break;
        case 'promoteVariant': {
          const r = await this.actions.promote(m.variantId, true);
          this.post({ type: 'actionResult', action: 'promoteVariant', ok: r.ok, message: r.message });
          break;
        }
        case 'rollbackFamily': {
          const r = await this.actions.rollback(m.familyId, true);
          this.post({ type: 'actionResult', action: 'rollbackFamily', ok: r.ok, message: r.message });
          break;
        }
        case 'log':
          this.log[m.level](`graph webview: ${m.message}`);
          break;
      }
    } catch (e) {
      this.log.error(`graph panel: ${m.type} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    this.received.fire(m);
  }

  private onPanelDisposed(): void {
    for (const d of this.panelDisposables) d.dispose();
    this.panelDisposables = [];
    this.panel = undefined;
    this.ready = false;
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
    this.received.dispose();
  }
}
