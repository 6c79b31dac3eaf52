// The Cytoscape graph panels: a family's lineage and a run's workflow graph, each in its own webview panel (so they
// can be side by side), following the ledger as it changes and restored after a window reload. Every message from a
// page is checked with the protocol's guards first.
import * as vscode from 'vscode';
import type { GraphView, HostMessage, WebviewMessage } from '../shared/protocol';
import { isWebviewMessage } from '../shared/protocol';
import type { LedgerChangeSummary, LedgerModel } from './model';
import { toOverlayView } from './overlayView';
import { RunGraphFollower } from './runGraphFollower';
import { formulaEvidence } from '../ledger/evidence';
import type { GraphTarget, VariantHeatSource } from './viewModel';
import { targetOfState, toLineageGraph, toRunGraph } from './viewModel';

export type { GraphTarget } from './viewModel';
import { graphHtml, newNonce } from './webviewHtml';


/** What the panel does with a person's actions in the page: the same handlers as the commands. */
export interface GraphActions {
  promote(variantId: string, confirmed: boolean): Promise<{ ok: boolean; message: string }>;
  rollback(familyId: string, confirmed: boolean): Promise<{ ok: boolean; message: string }>;
  openVariant(variantId: string): Promise<void>;
  openNode(runId: string, nodeId: string): Promise<void>;
}

export const GRAPH_VIEW_TYPE = 'gascity.graph';

/** One webview panel: the lineage panel or the run panel. */
interface Slot {
  readonly panel: vscode.WebviewPanel;
  target: GraphTarget;
  ready: boolean;
  pendingSelect: string | undefined;
  /** For a run panel, the run's graph as the page was last sent it, followed change by change. */
  follower: RunGraphFollower | undefined;
  /** The overlay marks last sent (as JSON), so an unchanged overlay is not sent again. */
  overlaysSent: string | undefined;
  readonly disposables: vscode.Disposable[];
}

/**
 * The graph panels: one for a family's lineage and one for a run's workflow graph, so the two can be open side by
 * side; each follows the ledger as it changes and comes back after a window reload (a webview panel serializer).
 */
export class GraphPanel implements vscode.Disposable {
  private readonly slots = new Map<GraphTarget['kind'], Slot>();
  /** The kind of the panel shown or focused last: where `select` and `current` point. */
  private lastKind: GraphTarget['kind'] | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly received = new vscode.EventEmitter<WebviewMessage>();
  /** Every valid message from a page, after it was handled (tests and the tree's selection sync listen). */
  readonly onDidReceiveMessage = this.received.event;
  private lastSelection: { view: 'run' | 'lineage'; id: string } | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly model: LedgerModel,
    private readonly actions: GraphActions,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      model.onDidChange((change) => this.onLedgerChange(change)),
    );
  }

  /** The graph shown or focused last. */
  get current(): GraphTarget | undefined {
    return this.lastKind ? this.slots.get(this.lastKind)?.target : undefined;
  }

  get selection(): { view: 'run' | 'lineage'; id: string } | undefined {
    return this.lastSelection;
  }

  get isVisible(): boolean {
    return [...this.slots.values()].some((s) => s.panel.visible);
  }

  /** The targets of the open panels, lineage first. */
  get openTargets(): GraphTarget[] {
    return (['lineage', 'run'] as const).flatMap((k) => (this.slots.get(k) ? [this.slots.get(k)!.target] : []));
  }

  private options(): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    // The page loads only our bundle and stylesheet; nothing else on disk is reachable from it.
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media')] };
  }

  show(target: GraphTarget, selectId?: string): void {
    let slot = this.slots.get(target.kind);
    this.lastKind = target.kind;
    if (!slot) {
      // Beside the other kind's panel when it is open, so a lineage and a run can be read together.
      const other = this.slots.get(target.kind === 'run' ? 'lineage' : 'run');
      const column = other ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
      const panel = vscode.window.createWebviewPanel(GRAPH_VIEW_TYPE, this.title(target), column, this.options());
      slot = this.adopt(panel, target);
    } else {
      const changed = JSON.stringify(target) !== JSON.stringify(slot.target);
      slot.target = target;
      slot.panel.title = this.title(target);
      slot.panel.reveal(undefined, false);
      if (changed) this.push(slot, 'show');
    }
    if (selectId) this.post(slot, { type: 'select', id: selectId });
  }

  /** Asks the page of the graph shown last to select a node (e.g. the variant picked in the tree). */
  select(id: string): void {
    const slot = this.lastKind ? this.slots.get(this.lastKind) : undefined;
    if (slot) this.post(slot, { type: 'select', id });
  }

  /**
   * A panel VS Code kept across a window reload: shown again with what its page saved, if that is still there.
   * activate() registers the serializer that calls this (before the ledger opens), so a reload restores the panel.
   */
  async restore(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const target = targetOfState(state);
    const exists = target && (target.kind === 'run' ? this.model.ledger.getRun(target.runId) : this.model.lineage.family(target.familyId));
    if (!target || !exists || this.slots.has(target.kind)) {
      this.log.info(`graph panel: not restoring ${target ? JSON.stringify(target) : 'a panel without a saved graph'}`);
      panel.dispose();
      return;
    }
    panel.webview.options = this.options();
    panel.title = this.title(target);
    this.adopt(panel, target);
    this.lastKind ??= target.kind;
    this.log.info(`graph panel: restored ${JSON.stringify(target)} after a reload`);
  }

  private adopt(panel: vscode.WebviewPanel, target: GraphTarget): Slot {
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'gascity.svg');
    const slot: Slot = { panel, target, ready: false, pendingSelect: undefined, follower: undefined, overlaysSent: undefined, disposables: [] };
    this.slots.set(target.kind, slot);
    slot.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(slot, m)),
      panel.onDidDispose(() => this.onPanelDisposed(slot)),
      // A hidden webview is torn down (no retainContextWhenHidden); it comes back from getState and says ready.
      panel.onDidChangeViewState((e) => {
        if (!e.webviewPanel.visible) slot.ready = false;
        if (e.webviewPanel.active) this.lastKind = slot.target.kind;
      }),
    );
    this.render(slot);
    return slot;
  }

  private render(slot: Slot): void {
    const webview = slot.panel.webview;
    webview.html = graphHtml({
      cspSource: webview.cspSource,
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'webview.css')).toString(),
      title: this.title(slot.target),
      nonce: newNonce(),
    });
  }

  private title(t: GraphTarget): string {
    if (t.kind === 'lineage') return `Lineage: ${t.familyId}`;
    return `Run: ${this.model.ledger.getRun(t.runId)?.title ?? t.runId}`;
  }

  /** A target's data as the protocol shows it, or undefined when it is gone from the ledger. */
  viewOf(t: GraphTarget): GraphView | undefined {
    if (t.kind === 'run') {
      const graph = this.model.ledger.runGraph(t.runId);
      if (!graph) return undefined;
      return { kind: 'run', graph: toRunGraph(graph, this.model.ledger.evidence({ runId: t.runId, limit: 5000 }), this.model.worktreeOf(t.runId)) };
    }
    const lineage = this.model.lineage;
    const family = lineage.family(t.familyId);
    if (!family) return undefined;
    const heat = this.heatOf(family.id);
    return {
      kind: 'lineage',
      lineage: toLineageGraph(family, lineage.variants(family.id), (v) => lineage.evidenceSummary(v), lineage.openTrials(family.id), lineage.previousActive(family.id),
        (variantId) => heat.get(variantId)),
    };
  }

  /**
   * Each variant's step heat and rationale (issue 14), from the ledger's formulaEvidence over its newest runs. A
   * failure here (an older ledger in another process's hands) leaves the lineage without heat, not unshown.
   */
  private heatOf(familyId: string): Map<string, VariantHeatSource> {
    try {
      const e = formulaEvidence(this.model.ledger, { familyId, variants: 100, runs: 200, failures: 0 });
      return new Map(e.variants.map((v) => [v.variantId, v]));
    } catch (err) {
      this.log.warn(`graph panel: no step heat for ${familyId}: ${err instanceof Error ? err.message : String(err)}`);
      return new Map();
    }
  }

  /** The data of the graph shown last. */
  view(): GraphView | undefined {
    const t = this.current;
    return t ? this.viewOf(t) : undefined;
  }

  /**
   * A run panel follows only its own run: a change of another run (or of the families alone) costs it nothing, and
   * a change of its run sends the page a patch of what changed (nothing when nothing it shows changed). A lineage
   * panel reads again on every change, since run outcomes are its evidence.
   */
  private onLedgerChange(change: LedgerChangeSummary): void {
    for (const slot of this.slots.values()) {
      const t = slot.target;
      if (t.kind === 'lineage') {
        if (this.touchesFamily(change, t.familyId)) this.push(slot, 'update');
        continue;
      }
      if (!slot.ready) continue;
      // Overlay events (bids, coalition mail) may name no run: the overlays are read again, the graph is not.
      if (!change.everything && !change.runIds.has(t.runId)) {
        if (change.otherThanRuns) this.postOverlays(slot);
        continue;
      }
      const follower = slot.follower;
      if (!follower || follower.runId !== t.runId || !follower.current) {
        this.push(slot, 'update');
        continue;
      }
      const followed = follower.follow(change.events, change.everything);
      if (followed?.patch) this.post(slot, { type: 'patchRunGraph', patch: followed.patch });
      this.postOverlays(slot);
    }
  }

  /**
   * Whether a change can alter a family's lineage: events about families, variants, trials or decisions, evidence,
   * or a run of the family that started or ended. A node moving in a running run does not (reading a lineage of 500
   * variants again costs hundreds of milliseconds).
   */
  private touchesFamily(change: LedgerChangeSummary, familyId: string): boolean {
    if (change.everything || change.otherThanRuns || change.events.some((e) => e.kind === 'evidence.recorded')) return true;
    for (const runId of change.runIds) {
      const run = this.model.ledger.getRun(runId);
      if (run?.familyId === familyId && (run.status !== 'running' || change.runsStarted)) return true;
    }
    return false;
  }

  /** Sends a panel its whole graph: on `show` as a new graph, on `update` as a change of the graph on screen. */
  private push(slot: Slot, how: 'show' | 'update'): void {
    if (!slot.ready) return;
    const t = slot.target;
    let view: GraphView | undefined;
    if (t.kind === 'run') {
      // The whole run is read once here; later changes of it are followed node by node (RunGraphFollower).
      slot.follower = new RunGraphFollower(this.model.ledger, t.runId, (runId) => this.model.worktreeOf(runId));
      const graph = slot.follower.readAll();
      view = graph ? { kind: 'run', graph } : undefined;
    } else {
      view = this.viewOf(t);
    }
    if (!view) return;
    if (how === 'update') this.post(slot, { type: 'update', view });
    else if (view.kind === 'run') this.post(slot, { type: 'showRunGraph', graph: view.graph });
    else this.post(slot, { type: 'showLineage', lineage: view.lineage });
    if (view.kind === 'run') {
      slot.overlaysSent = undefined;
      this.postOverlays(slot);
    }
  }

  /** The overlays of the run a panel shows, sent when they differ from what the page has. */
  private postOverlays(slot: Slot): void {
    const graph = slot.follower?.current;
    if (slot.target.kind !== 'run' || !graph) return;
    let overlays;
    try {
      overlays = toOverlayView(graph.runId, this.model.overlays.runOverlays(graph.runId), new Set(graph.nodes.map((n) => n.id)));
    } catch (e) {
      // The ledger may predate the overlay tables' migration in another process's view; the graph still shows.
      this.log.warn(`graph panel: could not read the overlays of ${graph.runId}: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const json = JSON.stringify(overlays);
    if (json === slot.overlaysSent) return;
    slot.overlaysSent = json;
    this.post(slot, { type: 'runOverlays', overlays });
  }

  private post(slot: Slot, message: HostMessage): void {
    if (!slot.ready) {
      if (message.type === 'select') slot.pendingSelect = message.id;
      return;
    }
    void slot.panel.webview.postMessage(message);
  }

  private async onMessage(slot: Slot, raw: unknown): Promise<void> {
    if (!isWebviewMessage(raw)) {
      this.log.warn(`graph panel: dropped a malformed message: ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const m = raw;
    try {
      switch (m.type) {
        case 'ready':
          slot.ready = true;
          this.push(slot, 'show');
          if (slot.pendingSelect) {
            this.post(slot, { type: 'select', id: slot.pendingSelect });
            slot.pendingSelect = undefined;
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
          this.post(slot, { type: 'actionResult', action: 'promoteVariant', ok: r.ok, message: r.message });
          break;
        }
        case 'rollbackFamily': {
          const r = await this.actions.rollback(m.familyId, true);
          this.post(slot, { type: 'actionResult', action: 'rollbackFamily', ok: r.ok, message: r.message });
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

  private onPanelDisposed(slot: Slot): void {
    for (const d of slot.disposables) d.dispose();
    if (this.slots.get(slot.target.kind) === slot) this.slots.delete(slot.target.kind);
    if (this.lastKind === slot.target.kind) this.lastKind = this.slots.keys().next().value;
  }

  dispose(): void {
    for (const slot of [...this.slots.values()]) slot.panel.dispose();
    for (const d of this.disposables) d.dispose();
    this.received.dispose();
  }
}
