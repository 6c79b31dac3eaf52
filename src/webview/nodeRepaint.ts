// A quick repaint of changed run nodes on a big graph, drawn on a canvas of its own above Cytoscape's.
//
// Why: Cytoscape keeps no dirty regions. A style change of one node invalidates its texture of the whole graph, and
// the next frame draws every node and edge again (2,000 nodes and 2,645 edges: 90-170 ms on the 2-core machine in
// headless Chromium; a CPU profile put a third of it in per-element bounding boxes and most of the rest in edges;
// bench/ui.patch.ts). A person watching a run wants the node that changed to change now. So on a big graph seen from
// far away, where a node is a small box without a label, the page paints the changed node's new look here at once,
// and hands the change to Cytoscape after that frame is up; when Cytoscape has drawn it, this canvas is cleared.
// Both frames show the same thing: the node is drawn from the same look the stylesheet is built from (graphStyle.ts).
import type { Core, NodeSingular } from 'cytoscape';
import type { NodeState } from '../shared/protocol';
import { MIN_ZOOMED_FONT_SIZE, NODE_BORDER_WIDTH, NODE_FONT_SIZE, NODE_HEIGHT, NODE_WIDTH, runNodeLook } from './graphStyle';
import type { Palette } from './theme';

/** Graphs of at least this many nodes get the quick repaint; smaller ones redraw whole fast enough (21 ms at 500). */
export const REPAINT_MIN_NODES = 200;

/**
 * Whether `node` of the graph in `cy` (of `nodeCount` nodes) can be repainted here exactly: the graph is big, the
 * node's label is not drawn at this zoom (NODE_FONT_SIZE × zoom under MIN_ZOOMED_FONT_SIZE px, so Cytoscape skips it),
 * and the node wears only its state's look (not selected, not marked by an overlay, which change its border).
 */
export function canRepaint(cy: Core, nodeCount: number, node: NodeSingular, overlaid: boolean): boolean {
  return nodeCount >= REPAINT_MIN_NODES
    && cy.zoom() * NODE_FONT_SIZE < MIN_ZOOMED_FONT_SIZE
    && !overlaid
    && !node.selected()
    && node.width() === NODE_WIDTH
    && node.height() === NODE_HEIGHT;
}

/**
 * The canvas above Cytoscape's layers (pointer events pass through) that shows nodes whose change Cytoscape has not
 * drawn yet. Coordinates are Cytoscape's rendered ones (CSS px of the container) times `pixelRatio`, the ratio the
 * Cytoscape instance draws at, so the two canvases line up pixel for pixel.
 */
export class NodeRepaint {
  private readonly canvas: HTMLCanvasElement;
  private drawn = false;

  constructor(host: HTMLElement) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'node-repaint';
    this.canvas.setAttribute('aria-hidden', 'true');
    host.append(this.canvas);
  }

  /** Whether anything is painted here now (Cytoscape's frame does not yet show it). */
  get active(): boolean {
    return this.drawn;
  }

  /**
   * Paints `node` as it looks in `state`: the page's background over its old box (its border and a pixel of
   * anti-aliasing each side), then the body and the border as Cytoscape draws a round rectangle.
   */
  paint(cy: Core, node: NodeSingular, state: NodeState, palette: Palette, pixelRatio: number): void {
    const width = Math.round(cy.width() * pixelRatio);
    const height = Math.round(cy.height() * pixelRatio);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const cx = this.canvas.getContext('2d');
    if (!cx) return;
    const zoom = cy.zoom();
    const pan = cy.pan();
    const { x, y } = node.position();
    const scale = zoom * pixelRatio;
    // The node's centre on this canvas, and its size there.
    const cxX = (x * zoom + pan.x) * pixelRatio;
    const cxY = (y * zoom + pan.y) * pixelRatio;
    const w = NODE_WIDTH * scale;
    const h = NODE_HEIGHT * scale;
    const bw = NODE_BORDER_WIDTH * scale;
    const look = runNodeLook(palette, state);
    cx.save();
    cx.fillStyle = palette.background;
    cx.fillRect(Math.floor(cxX - w / 2 - bw / 2 - 1), Math.floor(cxY - h / 2 - bw / 2 - 1), Math.ceil(w + bw + 2), Math.ceil(h + bw + 2));
    // Cytoscape's round rectangle: corners of a quarter of the shorter side, at most 8 model units.
    const radius = Math.min(Math.min(NODE_WIDTH, NODE_HEIGHT) / 4, 8) * scale;
    cx.beginPath();
    cx.roundRect(cxX - w / 2, cxY - h / 2, w, h, radius);
    cx.globalAlpha = look.fillOpacity;
    cx.fillStyle = look.fill;
    cx.fill();
    cx.globalAlpha = 1;
    cx.lineWidth = bw;
    cx.strokeStyle = look.border;
    cx.setLineDash(look.borderStyle === 'dashed' ? [bw * 3, bw * 3] : []);
    cx.stroke();
    cx.restore();
    this.drawn = true;
  }

  /** Clears what was painted: Cytoscape's own frame shows it now. */
  clear(): void {
    if (!this.drawn) return;
    this.drawn = false;
    this.canvas.getContext('2d')?.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}
