// The graph webview: one Cytoscape canvas that shows either a run's workflow graph or a family's lineage, a details
// panel for the selection, and Promote / Roll back acting on the selected variant. It talks to the host only through
// src/shared/protocol.ts and keeps what it shows in getState/setState, so a hidden panel comes back as it was.
import cytoscape from 'cytoscape';
import type { CollectionReturnValue, Core, EventObject, NodeSingular } from 'cytoscape';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { GraphView, HostMessage, LineageVariant, NodeState, OverlayKind, OverlayMark, RunGraphNode, RunGraphPatch, RunOverlayView, WebviewMessage } from '../shared/protocol';
import { applyRunGraphPatch, changesStructure } from '../shared/graphPatch';
import { NODE_STATES, OVERLAY_KINDS, VARIANT_STATUSES, isHostMessage, isOverlayKind, viewOf } from '../shared/protocol';
import { renderEmpty, renderOverlayMarks, renderRunNode, renderRunSummary, renderVariant } from './details';
import { buildView, viewKey } from './elements';
import type { BuiltView } from './elements';
import { graphStyle } from './graphStyle';
import { directionOfKey, move } from './navigation';
import { NodeRepaint, canRepaint } from './nodeRepaint';
import { readPalette } from './theme';
import type { Palette } from './theme';

interface VsCodeApi {
  postMessage(message: WebviewMessage): void;
  getState(): unknown;
  setState(state: SavedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface SavedState {
  readonly version: 1;
  readonly view?: GraphView;
  readonly selectedId?: string;
  readonly viewport?: { readonly zoom: number; readonly pan: { readonly x: number; readonly y: number } };
  /** The overlay toggles that are on. */
  readonly overlaysOn?: readonly OverlayKind[];
}

function isSavedState(x: unknown): x is SavedState {
  return typeof x === 'object' && x !== null && (x as { version?: unknown }).version === 1;
}

/** Graphs above this size trade eye candy for speed: textures while panning, edges hidden while moving. */
const LARGE = 600;
/** Zoom limits after a fit (see readableZoom): labels are 11 px at zoom 1, so 0.85 keeps them above 9 px. */
const MAX_FIT_ZOOM = 1.2;
const MIN_READABLE_ZOOM = 0.85;
const READABLE_UP_TO = 60;
/**
 * Graphs of at least this many nodes, drawn below OVERVIEW_ZOOM, get the `overview` edge style (graphStyle.ts): solid
 * edges without arrowheads. Cytoscape redraws the whole canvas for a change of one node, so the cost of every frame
 * grows with what each edge draws; at 0.4 an arrowhead is under 3 px and a dash under 2.5 px, unreadable anyway.
 * Smaller graphs, and any graph zoomed in, look as before.
 */
const OVERVIEW_NODES = 200;
const OVERVIEW_ZOOM = 0.4;

/** What the button elements expose beyond HTMLElement. */
type ButtonElement = HTMLElement & { disabled: boolean };

function button(id: string, label: string, secondary: boolean, title: string): ButtonElement {
  const b = document.createElement('vscode-button') as ButtonElement;
  b.id = id;
  b.textContent = label;
  b.title = title;
  if (secondary) b.setAttribute('secondary', '');
  return b;
}

class GraphApp {
  private readonly graphHost: HTMLElement;
  private readonly details: HTMLElement;
  private readonly title: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly status: HTMLElement;
  private readonly confirmBar: HTMLElement;
  private readonly confirmText: HTMLElement;
  private readonly confirmYes: ButtonElement;
  private readonly promoteButton: ButtonElement;
  private readonly rollbackButton: ButtonElement;
  private cy: Core | undefined;
  private view: GraphView | undefined;
  private built: BuiltView | undefined;
  private selectedId: string | undefined;
  private palette: Palette;
  private pendingConfirm: (() => void) | undefined;
  private renders = 0;
  /** The run's overlay marks as the host last sent them, and the toggles a person turned on. */
  private overlays: RunOverlayView | undefined;
  private readonly overlaysOn = new Set<OverlayKind>();
  private readonly overlayBar: HTMLElement;
  /** Nodes whose label carries overlay badges now, so turning a toggle off restores exactly those. */
  private overlaid = new Set<string>();
  /** Changed nodes of a big graph painted on `repaint` and not yet handed to Cytoscape (see applyPatch). */
  private readonly repaint: NodeRepaint;
  private deferred = new Map<string, RunGraphNode>();
  /** Nodes handed to Cytoscape whose frame has not been drawn yet: its canvas does not show their classes. */
  private awaitingDraw = new Set<string>();

  constructor(
    root: HTMLElement,
    private readonly vscode: VsCodeApi,
  ) {
    this.palette = readPalette(getComputedStyle(document.documentElement));

    const toolbar = document.createElement('header');
    toolbar.id = 'toolbar';
    this.title = document.createElement('span');
    this.title.id = 'title';
    this.legend = document.createElement('span');
    this.legend.id = 'legend';
    const fit = button('fit', 'Fit', true, 'Fit the graph to the window (F)');
    this.promoteButton = button('promote', 'Promote', false, 'Make the selected variant the active one (P)');
    this.rollbackButton = button('rollback', 'Roll back', true, "Restore the family's previous active variant (R)");
    const actions = document.createElement('span');
    actions.id = 'actions';
    actions.append(fit, this.promoteButton, this.rollbackButton);
    // Overlay toggles: run graphs only (see renderOverlayBar).
    this.overlayBar = document.createElement('span');
    this.overlayBar.id = 'overlays';
    this.overlayBar.setAttribute('role', 'group');
    this.overlayBar.setAttribute('aria-label', 'Overlays');
    for (const kind of OVERLAY_KINDS) {
      const label = document.createElement('label');
      label.className = 'overlay-toggle';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.id = `overlay-${kind}`;
      box.addEventListener('change', () => this.toggleOverlay(kind, box.checked));
      label.append(box, ` ${kind}`);
      this.overlayBar.append(label);
    }
    toolbar.append(this.title, this.legend, this.overlayBar, actions);

    this.confirmBar = document.createElement('div');
    this.confirmBar.id = 'confirm';
    this.confirmBar.setAttribute('role', 'alertdialog');
    this.confirmBar.hidden = true;
    this.confirmText = document.createElement('span');
    this.confirmText.id = 'confirm-text';
    this.confirmYes = button('confirm-yes', 'Confirm', false, 'Confirm (Enter)');
    const confirmNo = button('confirm-no', 'Cancel', true, 'Cancel (Escape)');
    this.confirmBar.append(this.confirmText, this.confirmYes, confirmNo);

    this.status = document.createElement('div');
    this.status.id = 'status';
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');

    const main = document.createElement('main');
    this.graphHost = document.createElement('div');
    this.graphHost.id = 'graph';
    this.graphHost.tabIndex = 0;
    this.graphHost.setAttribute('role', 'application');
    this.repaint = new NodeRepaint(this.graphHost);
    this.details = document.createElement('aside');
    this.details.id = 'details';
    main.append(this.graphHost, this.details);
    root.replaceChildren(toolbar, this.confirmBar, this.status, main);
    renderEmpty(this.details, 'Waiting for the ledger…');
    this.hint();

    fit.addEventListener('click', () => this.fit());
    this.promoteButton.addEventListener('click', () => this.askPromote());
    this.rollbackButton.addEventListener('click', () => this.askRollback());
    this.confirmYes.addEventListener('click', () => this.confirm(true));
    confirmNo.addEventListener('click', () => this.confirm(false));
    this.confirmBar.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.confirm(false);
    });
    this.graphHost.addEventListener('keydown', (e) => this.onKey(e));
    window.addEventListener('message', (e: MessageEvent<unknown>) => this.onMessage(e.data));
    // VS Code swaps the body's theme class; re-read the colours so the canvas follows.
    new MutationObserver(() => this.applyTheme()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
    this.updateButtons();
  }

  restore(state: SavedState): void {
    for (const k of state.overlaysOn ?? []) if (isOverlayKind(k)) this.overlaysOn.add(k);
    this.renderOverlayBar();
    if (!state.view) return;
    this.show(state.view);
    if (state.viewport && this.cy) {
      this.cy.viewport({ zoom: state.viewport.zoom, pan: { ...state.viewport.pan } });
    }
    if (state.selectedId) this.select(state.selectedId, { notify: false, center: false });
  }

  private onMessage(data: unknown): void {
    if (!isHostMessage(data)) return;
    const arrived = performance.now();
    // Only a patch can be painted ahead of Cytoscape; anything else first gives Cytoscape what is still waiting.
    if (data.type !== 'patchRunGraph') this.flushDeferred();
    this.handle(data);
    if (!this.cy || !(data.type === 'patchRunGraph' || (viewOf(data) && this.renders > 0))) return;
    // A change of the graph on screen is seen only once it is drawn: say when that frame is up.
    if (this.deferred.size > 0) this.reportRepainted(this.cy, arrived);
    else this.reportPainted(this.cy, arrived);
  }

  /** Counts changes of the graph on screen, so only the latest one reports its frame. */
  private paints = 0;

  /**
   * After a change of the graph on screen: once Cytoscape has drawn its next frame (its `render` event) and the
   * browser has shown it (the animation frame after), sets `data-painted` on the body and fires `gascity:painted`
   * with the ms since the message arrived. A change that draws nothing new fires nothing until the next frame drawn.
   */
  private reportPainted(cy: Core, arrived: number): void {
    const seq = ++this.paints;
    cy.one('render', () => {
      requestAnimationFrame(() => {
        if (seq !== this.paints || this.cy !== cy) return;
        document.body.dataset.painted = String(seq);
        document.dispatchEvent(new CustomEvent('gascity:painted', { detail: { ms: performance.now() - arrived } }));
      });
    });
  }

  /**
   * After a quick repaint (applyPatch): the repaint canvas was drawn before the next animation frame, so the frame after
   * that one is up once the second animation frame starts. Then reports it as reportPainted does, and hands the waiting
   * changes to Cytoscape, whose own frame of them (drawn later) clears the repaint canvas.
   */
  private reportRepainted(cy: Core, arrived: number): void {
    const seq = ++this.paints;
    requestAnimationFrame(() => requestAnimationFrame(() => {
      if (seq === this.paints && this.cy === cy) {
        document.body.dataset.painted = String(seq);
        document.dispatchEvent(new CustomEvent('gascity:painted', { detail: { ms: performance.now() - arrived, repainted: true } }));
      }
      this.flushDeferred();
    }));
  }

  /**
   * Hands the changes painted on the repaint canvas to Cytoscape in one batch. The canvas is cleared in Cytoscape's
   * next `render` (the frame that draws them), so no frame shows a node's old look after its new one; the page then
   * sets `data-redrawn` and fires `gascity:redrawn` (bench/ui.patch.ts times it).
   */
  private flushDeferred(): void {
    const cy = this.cy;
    if (this.deferred.size === 0) return;
    const nodes = [...this.deferred.values()];
    this.deferred = new Map();
    if (!cy) {
      this.repaint.clear();
      return;
    }
    this.restyle(cy, nodes);
    for (const n of nodes) this.awaitingDraw.add(n.id);
    const seq = this.paints;
    cy.one('render', () => {
      if (this.cy !== cy) return;
      for (const n of nodes) this.awaitingDraw.delete(n.id);
      this.repaint.clear();
      // Changes that came after this hand-over are still Cytoscape's to draw: they stay painted until it does.
      for (const n of this.deferred.values()) this.repaintNode(cy, n);
      document.body.dataset.redrawn = String(seq);
      document.dispatchEvent(new CustomEvent('gascity:redrawn'));
    });
  }

  /** Paints run node `n` on the repaint canvas: from the state Cytoscape shows it in to `n.state`. */
  private repaintNode(cy: Core, n: RunGraphNode): void {
    const ele = cy.getElementById(n.id) as NodeSingular;
    const shown = (ele.classes() as string[]).map((c) => c.slice('state-'.length)).find((c): c is NodeState => (NODE_STATES as readonly string[]).includes(c));
    const layers = Array.from(this.graphHost.querySelectorAll<HTMLCanvasElement>('canvas:not(.node-repaint)'));
    this.repaint.paint(cy, ele, shown ?? n.state, n.state, this.palette, this.pixelRatio(cy), layers);
  }

  /** The pixel ratio Cytoscape draws this graph at (see replace()): 1 above LARGE nodes, the screen's otherwise. */
  private pixelRatio(cy: Core): number {
    return cy.nodes().length > LARGE ? 1 : window.devicePixelRatio || 1;
  }

  /** Gives run nodes their label and state class in Cytoscape, in one batch. */
  private restyle(cy: Core, nodes: readonly RunGraphNode[]): void {
    cy.batch(() => {
      for (const n of nodes) {
        const ele = cy.getElementById(n.id);
        if (ele.empty()) continue;
        ele.data('label', this.labelOf(n));
        ele.classes(`state-${n.state}${this.overlaid.has(n.id) ? ' overlaid' : ''}`);
      }
    });
  }

  private handle(m: HostMessage): void {
    const view = viewOf(m);
    if (view) {
      this.show(view);
      return;
    }
    if (m.type === 'patchRunGraph') {
      this.applyPatch(m.patch);
    } else if (m.type === 'runOverlays') {
      this.overlays = m.overlays;
      this.applyOverlays();
      this.refreshDetails();
    } else if (m.type === 'actionResult') {
      this.say(m.message, !m.ok);
    } else if (m.type === 'select') {
      this.select(m.id, { notify: false, center: true });
    }
  }

  private show(view: GraphView): void {
    const sameGraph = this.view !== undefined && viewKey(this.view) === viewKey(view);
    this.view = view;
    this.built = buildView(view);
    // A message for the graph already on screen patches it, whether it came as `update` or as a fresh `show*`.
    if (sameGraph && this.cy) this.patch(this.cy, this.built);
    else {
      this.replace(this.built);
      this.hint();
    }
    this.details.dataset.showing = '';
    // A new graph (or one laid out again) has plain labels: the overlays that are on are drawn again.
    this.overlaid = new Set();
    if (view.kind !== 'run' || this.overlays?.runId !== view.graph.runId) this.overlays = undefined;
    this.applyOverlays();
    this.renderOverlayBar();
    this.title.textContent = view.kind === 'run' ? `Run · ${view.graph.title || view.graph.runId}` : `Lineage · ${view.lineage.familyName}`;
    this.renderLegend();
    if (this.selectedId && !this.built.layout.positions.has(this.selectedId)) this.selectedId = undefined;
    if (this.selectedId) this.select(this.selectedId, { notify: false, center: false });
    else {
      if (view.kind === 'run') {
        renderRunSummary(this.details, view.graph, 'Select a node to see its worker and evidence.');
        renderOverlayMarks(this.details, this.marksOf(undefined));
      } else renderEmpty(this.details, 'Select a variant to see its evidence.');
      this.updateButtons();
    }
    this.save();
  }

  /** A different graph: a fresh Cytoscape instance tuned for the graph's size, fitted to the window. */
  private replace(built: BuiltView): void {
    this.flushDeferred();
    this.repaint.clear();
    this.awaitingDraw.clear();
    this.cy?.destroy();
    const nodeCount = built.layout.positions.size;
    const large = nodeCount > LARGE;
    const started = performance.now();
    const cy = cytoscape({
      container: this.graphHost,
      elements: built.elements,
      style: graphStyle(this.palette),
      // Positions come from our layered layout (src/webview/layout.ts); Cytoscape only draws them.
      layout: { name: 'preset', fit: true, padding: 30 },
      minZoom: 0.02,
      maxZoom: 3,
      boxSelectionEnabled: false,
      selectionType: 'single',
      autoungrabify: true,
      textureOnViewport: large,
      hideEdgesOnViewport: large,
      motionBlur: false,
      pixelRatio: large ? 1 : 'auto',
    });
    this.cy = cy;
    cy.on('select', 'node', (e: EventObject) => {
      // A selected node is drawn by Cytoscape with its selection border: it must have its new state by then.
      this.flushDeferred();
      this.onSelected(e.target.id() as string);
    });
    cy.on('unselect', 'node', () => {
      if (cy.$('node:selected').empty()) this.onSelected(undefined);
    });
    cy.on('dbltap', 'node', (e: EventObject) => this.open(e.target.id() as string));
    this.readableZoom(cy);
    this.overview = undefined;
    this.applyOverview(cy);
    cy.on('zoom', () => this.applyOverview(cy));
    cy.on('viewport', () => {
      // The repaint canvas is drawn for one viewport: when it moves, Cytoscape draws the waiting changes itself.
      this.flushDeferred();
      this.saveSoon();
    });
    cy.one('render', () => {
      requestAnimationFrame(() => {
        this.renders++;
        const ms = performance.now() - started;
        document.body.dataset.rendered = String(this.renders);
        document.body.dataset.view = built.key;
        // The zoom a person reads the graph at, for the end-to-end test of readable fan-outs.
        document.body.dataset.zoom = cy.zoom().toFixed(2);
        document.dispatchEvent(new CustomEvent('gascity:rendered', { detail: { ms, nodes: nodeCount } }));
      });
    });
  }

  /**
   * A change of the run on screen, as a patch from the host. One that only changes what nodes say (a state, a worker,
   * evidence) restyles those nodes in one batch and keeps every position; one that adds or removes nodes or edges
   * goes through show(), which lays the graph out again. A patch for a graph this page does not show (it was
   * reloaded in between) asks the host for the whole graph again.
   */
  private applyPatch(patch: RunGraphPatch): void {
    const view = this.view;
    const cy = this.cy;
    if (!cy || view?.kind !== 'run' || view.graph.runId !== patch.runId) {
      this.post({ type: 'ready' });
      return;
    }
    const graph = applyRunGraphPatch(view.graph, patch);
    if (changesStructure(view.graph, patch)) {
      this.show({ kind: 'run', graph });
      return;
    }
    this.view = { kind: 'run', graph };
    // On a big graph, Cytoscape's frame of any change redraws every element (see nodeRepaint.ts):
    // the changed nodes are painted on the repaint canvas now and handed to Cytoscape after that frame is up.
    const nodes = patch.upsertNodes.map((n) => ({ n, ele: cy.getElementById(n.id) })).filter(({ ele }) => ele.nonempty() && ele.isNode());
    const nodeCount = graph.nodes.length;
    const repaintable = ({ n, ele }: { n: RunGraphNode; ele: CollectionReturnValue }): boolean =>
      !this.awaitingDraw.has(n.id) && canRepaint(nodeCount, ele as NodeSingular, this.overlaid.has(n.id), this.labelOf(n));
    if (nodes.length > 0 && nodes.every(repaintable)) {
      for (const { n } of nodes) {
        this.repaintNode(cy, n);
        this.deferred.set(n.id, n);
      }
    } else {
      this.flushDeferred();
      this.restyle(cy, patch.upsertNodes);
    }
    if (patch.title !== undefined) this.title.textContent = `Run · ${graph.title || graph.runId}`;
    const selected = this.selectedId;
    if (patch.worktree !== undefined && (selected === undefined || !patch.upsertNodes.some((n) => n.id === selected))) this.refreshDetails();
    if (selected !== undefined && patch.upsertNodes.some((n) => n.id === selected)) {
      // The details panel shows the selected node: it is drawn again from the patched node.
      this.details.dataset.showing = '';
      this.select(selected, { notify: false, center: false });
    }
    this.renders++;
    document.body.dataset.rendered = String(this.renders);
    document.body.dataset.patched = String(patch.upsertNodes.length);
    document.dispatchEvent(new CustomEvent('gascity:patched', { detail: { nodes: patch.upsertNodes.length } }));
    // The whole graph goes into the saved state; a burst of patches writes it once.
    this.saveSoon();
  }

  /** Whether the edges carry the `overview` class now (undefined: not decided yet for this Cytoscape instance). */
  private overview: boolean | undefined;

  /**
   * Gives every edge the `overview` class when a big graph is zoomed out below OVERVIEW_ZOOM, and takes it away
   * when it is zoomed back in. Only a crossing of the threshold restyles the edges (one batch); zooming on either
   * side of it costs nothing here.
   */
  private applyOverview(cy: Core): void {
    const on = cy.nodes().length >= OVERVIEW_NODES && cy.zoom() < OVERVIEW_ZOOM;
    if (on === this.overview) return;
    this.overview = on;
    cy.batch(() => {
      if (on) cy.edges().addClass('overview');
      else cy.edges().removeClass('overview');
    });
    document.body.dataset.overview = String(on);
  }

  /** The marks of the overlays that are on, for one node (or, with `undefined`, for the run). */
  private marksOf(nodeId: string | undefined): OverlayMark[] {
    if (!this.overlays || this.overlaysOn.size === 0) return [];
    return this.overlays.marks.filter((m) => m.nodeId === nodeId && this.overlaysOn.has(m.kind));
  }

  /** A node's label: its title, and under it the badges of the overlays that are on. */
  private labelOf(n: RunGraphNode): string {
    const badges = this.marksOf(n.id).map((m) => m.badge).filter(Boolean);
    return badges.length ? `${n.title || n.id}\n${badges.join(' · ')}` : n.title || n.id;
  }

  private toggleOverlay(kind: OverlayKind, on: boolean): void {
    if (on) this.overlaysOn.add(kind);
    else this.overlaysOn.delete(kind);
    this.renderOverlayBar();
    this.applyOverlays();
    this.refreshDetails();
    this.save();
  }

  /** The toggles are offered on run graphs only, checked as the person left them. */
  private renderOverlayBar(): void {
    this.overlayBar.hidden = this.view?.kind !== 'run';
    for (const kind of OVERLAY_KINDS) {
      const box = this.overlayBar.querySelector<HTMLInputElement>(`#overlay-${kind}`);
      if (box) box.checked = this.overlaysOn.has(kind);
    }
    document.body.dataset.overlays = [...this.overlaysOn].join(' ');
  }

  /**
   * Draws the overlays that are on: nodes they mark get their badges under the label and the `overlaid` class;
   * nodes that had badges and have none now get their plain label back. One batch, no layout.
   */
  private applyOverlays(): void {
    const cy = this.cy;
    const view = this.view;
    if (!cy || view?.kind !== 'run') return;
    const marked = new Set<string>();
    for (const m of this.overlays?.marks ?? []) if (m.nodeId !== undefined && this.overlaysOn.has(m.kind)) marked.add(m.nodeId);
    const touched = new Set([...this.overlaid, ...marked]);
    if (touched.size === 0) return;
    this.flushDeferred();
    const byId = new Map(view.graph.nodes.map((n) => [n.id, n]));
    cy.batch(() => {
      for (const id of touched) {
        const n = byId.get(id);
        const ele = cy.getElementById(id);
        if (!n || ele.empty()) continue;
        ele.data('label', this.labelOf(n));
        ele.toggleClass('overlaid', marked.has(id));
      }
    });
    this.overlaid = marked;
    document.body.dataset.overlaid = String(marked.size);
  }

  /** Draws the details panel again for what is selected (or the run's overlay lines when nothing is). */
  private refreshDetails(): void {
    const selected = this.selectedId;
    this.details.dataset.showing = '';
    if (selected !== undefined) this.select(selected, { notify: false, center: false });
    else if (this.view?.kind === 'run') {
      renderRunSummary(this.details, this.view.graph, 'Select a node to see its worker and evidence.');
      renderOverlayMarks(this.details, this.marksOf(undefined));
    }
  }

  /** The same graph changed: patch elements in place so selection, zoom and pan stay where the person left them. */
  private patch(cy: Core, built: BuiltView): void {
    const wanted = new Map(built.elements.map((e) => [String(e.data.id), e]));
    cy.batch(() => {
      cy.elements().forEach((ele) => {
        const w = wanted.get(ele.id());
        const group = ele.isNode() ? 'nodes' : 'edges';
        if (!w || w.group !== group || (ele.isEdge() && (ele.data('source') !== w.data.source || ele.data('target') !== w.data.target))) {
          ele.remove();
        }
      });
      for (const [id, w] of wanted) {
        const existing = cy.getElementById(id);
        if (existing.nonempty()) {
          existing.data(w.data);
          existing.classes(`${w.classes ?? ''}${this.overview && existing.isEdge() ? ' overview' : ''}`);
          if (w.position && existing.isNode()) existing.position({ ...w.position });
        } else {
          const added = cy.add(w);
          if (this.overview && added.isEdge()) added.addClass('overview');
        }
      }
    });
    this.renders++;
    document.body.dataset.rendered = String(this.renders);
  }

  private fit(): void {
    const cy = this.cy;
    if (!cy) return;
    cy.fit(undefined, 30);
    this.readableZoom(cy);
  }

  /**
   * After a fit: a small graph fitted to the window would be drawn huge, and a wide one (a 9-way fan-out) so small
   * that its 11 px labels shrink below 9 px. Both are brought back to a reading size; a graph too wide for the window
   * then starts at its top, centred, and is panned (or walked with the arrow keys, which centre the selection).
   * Graphs of hundreds of nodes keep the overview, since reading them starts from the whole shape.
   */
  private readableZoom(cy: Core): void {
    if (cy.zoom() > MAX_FIT_ZOOM) {
      cy.zoom(MAX_FIT_ZOOM);
      cy.center();
    } else if (cy.zoom() < MIN_READABLE_ZOOM && cy.nodes().length <= READABLE_UP_TO) {
      // Centred on the top row, where the workflow starts: the whole graph's centre may lie beside it.
      const box = cy.elements().boundingBox();
      const top = cy.nodes().filter((n) => n.position('y') <= box.y1 + n.outerHeight());
      const topBox = (top.nonempty() ? top : cy.nodes()).boundingBox();
      cy.zoom(MIN_READABLE_ZOOM);
      cy.pan({ x: cy.width() / 2 - ((topBox.x1 + topBox.x2) / 2) * MIN_READABLE_ZOOM, y: 30 - box.y1 * MIN_READABLE_ZOOM });
    }
  }

  private applyTheme(): void {
    this.flushDeferred();
    this.palette = readPalette(getComputedStyle(document.documentElement));
    this.cy?.style(graphStyle(this.palette));
    this.renderLegend();
  }

  private renderLegend(): void {
    const items: [string, string][] =
      this.view?.kind === 'lineage'
        ? VARIANT_STATUSES.map((s) => [s, this.palette.variant[s]])
        : NODE_STATES.map((s) => [s, this.palette.state[s]]);
    this.legend.replaceChildren(
      ...items.map(([name, colour]) => {
        const item = document.createElement('span');
        item.className = 'legend-item';
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.backgroundColor = colour;
        item.append(swatch, name);
        return item;
      }),
    );
  }

  private select(id: string, opts: { notify: boolean; center: boolean }): void {
    const cy = this.cy;
    if (!cy) return;
    this.flushDeferred();
    const node = cy.getElementById(id);
    if (node.empty() || !node.isNode()) return;
    this.notifySelection = opts.notify;
    cy.$('node:selected').not(node).unselect();
    // Cytoscape fires `select` only on a change; an already selected node still needs its details shown.
    if (node.selected()) this.onSelected(id);
    else node.select();
    this.notifySelection = true;
    if (opts.center) this.reveal(cy, node);
  }

  /** Brings a node into view only when it is off screen or too small to read, so the graph does not jump around. */
  private reveal(cy: Core, node: NodeSingular): void {
    const box = node.renderedBoundingBox({});
    const visible = box.x1 >= 0 && box.y1 >= 0 && box.x2 <= cy.width() && box.y2 <= cy.height();
    const readable = cy.zoom() >= 0.5;
    if (visible && readable) return;
    cy.animate({ zoom: readable ? cy.zoom() : 0.8, center: { eles: node } }, { duration: 150 });
  }

  /** False while the host itself asked for the selection, so it is not echoed back. */
  private notifySelection = true;

  private onSelected(id: string | undefined): void {
    if (id !== undefined && this.details.dataset.showing === id) return;
    this.selectedId = id;
    this.details.dataset.showing = id ?? '';
    const view = this.view;
    if (!view || id === undefined) {
      renderEmpty(this.details, 'Nothing selected.');
    } else if (view.kind === 'run') {
      const node = view.graph.nodes.find((n: RunGraphNode) => n.id === id);
      if (node) {
        renderRunNode(this.details, view.graph, node);
        renderOverlayMarks(this.details, this.marksOf(id));
      }
    } else {
      const variant = view.lineage.variants.find((v: LineageVariant) => v.id === id);
      if (variant) renderVariant(this.details, view.lineage, variant, (p) => this.select(p, { notify: true, center: true }), (v) => this.open(v));
    }
    if (this.notifySelection && view && id !== undefined) this.post({ type: 'selectNode', view: view.kind, id });
    this.updateButtons();
    this.save();
  }

  private selectedVariant(): LineageVariant | undefined {
    if (this.view?.kind !== 'lineage' || this.selectedId === undefined) return undefined;
    const id = this.selectedId;
    return this.view.lineage.variants.find((v) => v.id === id);
  }

  private isActive(v: LineageVariant): boolean {
    return this.view?.kind === 'lineage' && (v.status === 'active' || v.id === this.view.lineage.activeVariantId);
  }

  private updateButtons(): void {
    const lineage = this.view?.kind === 'lineage';
    this.promoteButton.hidden = !lineage;
    this.rollbackButton.hidden = !lineage;
    const v = this.selectedVariant();
    this.promoteButton.disabled = !v || this.isActive(v);
    this.rollbackButton.disabled = !(this.view?.kind === 'lineage' && this.view.lineage.rollbackToId);
  }

  private askPromote(): void {
    const v = this.selectedVariant();
    if (this.view?.kind !== 'lineage') return;
    if (!v) return this.say('Select a variant to promote first.', true);
    if (this.isActive(v)) return this.say(`${v.label} is already the active variant.`, true);
    const familyId = this.view.lineage.familyId;
    // Promoting by hand skips the evidence the rule waits for; say so when there is none at all.
    const untried = v.evidence.runs === 0 ? ' It has no runs yet: nothing shows that it works.' : '';
    this.ask(`Promote ${v.label} (generation ${v.generation}, ${v.status}) to active variant of ${this.view.lineage.familyName}?${untried}`, 'Promote', () => {
      this.say(`Promoting ${v.label}…`, false);
      this.post({ type: 'promoteVariant', familyId, variantId: v.id });
    });
  }

  private askRollback(): void {
    if (this.view?.kind !== 'lineage') return;
    const { familyId, familyName, rollbackToId, activeVariantId, variants } = this.view.lineage;
    const target = variants.find((v) => v.id === rollbackToId);
    if (!target) return this.say(`${familyName} has no earlier active variant to roll back to.`, true);
    const current = variants.find((v) => v.id === activeVariantId);
    const rejected = current ? ` ${current.label} will be marked rejected.` : '';
    this.ask(`Roll ${familyName} back to ${target.label} (generation ${target.generation})?${rejected}`, 'Roll back', () => {
      this.say(`Rolling back ${familyName}…`, false);
      this.post({ type: 'rollbackFamily', familyId });
    });
  }

  private ask(text: string, yesLabel: string, onYes: () => void): void {
    this.pendingConfirm = onYes;
    this.confirmText.textContent = text;
    this.confirmYes.textContent = yesLabel;
    this.confirmBar.hidden = false;
    this.confirmYes.focus();
  }

  private confirm(yes: boolean): void {
    const action = this.pendingConfirm;
    this.pendingConfirm = undefined;
    this.confirmBar.hidden = true;
    this.graphHost.focus();
    if (yes && action) action();
  }

  private open(id: string): void {
    const view = this.view;
    if (!view) return;
    if (view.kind === 'run') this.post({ type: 'openNode', runId: view.graph.runId, nodeId: id });
    else this.post({ type: 'openVariant', familyId: view.lineage.familyId, variantId: id });
  }

  private onKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const built = this.built;
    const direction = directionOfKey(e.key);
    if (direction && built) {
      e.preventDefault();
      const next = move(this.selectedId, direction, built.layout.positions, built.flow);
      if (next) this.select(next, { notify: true, center: true });
      return;
    }
    switch (e.key) {
      case 'Enter':
        if (this.selectedId) this.open(this.selectedId);
        break;
      case 'p':
      case 'P':
        this.askPromote();
        break;
      case 'r':
      case 'R':
        this.askRollback();
        break;
      case 'f':
      case 'F':
        this.fit();
        break;
      case 'Escape':
        this.cy?.$('node:selected').unselect();
        break;
      default:
        return;
    }
    e.preventDefault();
  }

  /** The keys that work here: promote and roll back only act on a lineage, so a run graph does not offer them. */
  private hint(): void {
    const lineage = this.view?.kind === 'lineage';
    this.say(lineage
      ? '↑↓ follow edges · ←→ along the row · Enter opens the formula · P promotes · R rolls back · F fits'
      : '↑↓ follow edges · ←→ along the row · Enter opens the node · F fits', false);
    this.graphHost.setAttribute('aria-label', lineage
      ? 'Lineage graph. Arrow keys move along edges, Enter opens, P promotes, R rolls back, F fits.'
      : 'Workflow graph. Arrow keys move along edges, Enter opens, F fits.');
  }

  private say(text: string, isError: boolean): void {
    this.status.textContent = text;
    this.status.classList.toggle('error', isError);
  }

  private post(m: WebviewMessage): void {
    this.vscode.postMessage(m);
  }

  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  private saveSoon(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 300);
  }

  private save(): void {
    const cy = this.cy;
    this.vscode.setState({
      version: 1,
      ...(this.view ? { view: this.view } : {}),
      ...(this.selectedId ? { selectedId: this.selectedId } : {}),
      ...(cy ? { viewport: { zoom: cy.zoom(), pan: cy.pan() } } : {}),
      ...(this.overlaysOn.size ? { overlaysOn: [...this.overlaysOn] } : {}),
    });
  }
}

function start(): void {
  // Cytoscape adds a <style> element for its container unless one with this id exists; the page's CSP (no inline
  // styles) would refuse it, and media/webview.css already sets what it sets.
  if (!document.getElementById('__________cytoscape_stylesheet')) {
    const marker = document.createElement('meta');
    marker.id = '__________cytoscape_stylesheet';
    document.head.append(marker);
  }
  const root = document.getElementById('app') ?? document.body;
  const vscode = acquireVsCodeApi();
  const app = new GraphApp(root, vscode);
  const saved = vscode.getState();
  if (isSavedState(saved)) app.restore(saved);
  window.addEventListener('error', (e) => vscode.postMessage({ type: 'log', level: 'error', message: String(e.message).slice(0, 2000) }));
  vscode.postMessage({ type: 'ready' });
}

start();
