// A quick repaint of changed run nodes on a big graph, drawn on a canvas of its own above Cytoscape's.
//
// Why: Cytoscape keeps no dirty regions. A style change of one node invalidates its texture of the whole graph, and
// the next frame draws every node and edge again (2,000 nodes and 2,645 edges: 90-170 ms seen whole, 90-230 ms
// zoomed in to read, on the 2-core machine in headless Chromium; a CPU profile put a third of it in per-element
// bounding boxes and most of the rest in edges; bench/ui.patch.ts). A person watching a run wants the node that
// changed to change now. So on a big graph the page repaints the changed node here at once, and hands the change to
// Cytoscape after that frame is up; when Cytoscape has drawn it, this canvas is cleared.
//
// How, so that both frames show the same thing: the node's body and border are translucent over what lies under
// them (edges, the page), and its label lies on top. Over the node's box, the page takes the pixels Cytoscape shows
// now (P, opaque over the page's background) and draws the node's old look (O) and new look (N) alone on a
// transparent canvas, from the look the stylesheet is built from (graphStyle.ts). What lies under the node is then
// U = (P - O) / (1 - αO) (premultiplied colours; O is "over" U), and the repaint is N over U. Where the old look was
// opaque, U is taken to be the page's background. A label pixel, which this takes for part of U, is off by its
// coverage × (N - O): a fifth of the colour change at most, on the glyphs, for one frame.
import type { Core, NodeSingular } from 'cytoscape';
import type { NodeState } from '../shared/protocol';
import { NODE_BORDER_WIDTH, NODE_HEIGHT, NODE_WIDTH, runNodeLook } from './graphStyle';
import type { Palette } from './theme';

/**
 * Graphs of at least this many nodes get the quick repaint (the size from which they also get the overview edges);
 * smaller ones are restyled in Cytoscape as before, whose whole redraw of them is a frame or two.
 */
export const REPAINT_MIN_NODES = 200;

/**
 * Whether `node` of a graph of `nodeCount` nodes can be repainted here as Cytoscape will draw it: the
 * graph is big, the node wears only its state's look (not selected, not marked by an overlay: both change its
 * border) at the size the stylesheet gives run nodes, and its label stays `label` (the repaint keeps the label
 * Cytoscape drew).
 */
export function canRepaint(nodeCount: number, node: NodeSingular, overlaid: boolean, label: string): boolean {
  return nodeCount >= REPAINT_MIN_NODES
    && !overlaid
    && node.data('label') === label
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

  /**
   * Repaints `node`, which Cytoscape shows now in state `from`, as it looks in state `to` (see the top of this file).
   * `layers` are Cytoscape's canvases in DOM order (drawn bottom-up in reverse), over the page's background
   * (`palette.background`); `pixelRatio` is the one Cytoscape draws at. A node off screen is skipped: nothing of it
   * shows.
   */
  paint(cy: Core, node: NodeSingular, from: NodeState, to: NodeState, palette: Palette, pixelRatio: number, layers: readonly HTMLCanvasElement[]): void {
    const width = Math.round(cy.width() * pixelRatio);
    const height = Math.round(cy.height() * pixelRatio);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    const zoom = cy.zoom();
    const pan = cy.pan();
    const { x, y } = node.position();
    const scale = zoom * pixelRatio;
    // The node's centre on this canvas, and its box there with its border and a pixel of anti-aliasing each side.
    const cX = (x * zoom + pan.x) * pixelRatio;
    const cY = (y * zoom + pan.y) * pixelRatio;
    const half = { w: (NODE_WIDTH + NODE_BORDER_WIDTH) * scale / 2 + 1, h: (NODE_HEIGHT + NODE_BORDER_WIDTH) * scale / 2 + 1 };
    const x1 = Math.max(0, Math.floor(cX - half.w));
    const y1 = Math.max(0, Math.floor(cY - half.h));
    const x2 = Math.min(width, Math.ceil(cX + half.w));
    const y2 = Math.min(height, Math.ceil(cY + half.h));
    const w = x2 - x1;
    const h = y2 - y1;
    if (w <= 0 || h <= 0) return;
    const shown = region(w, h);
    shown.fillStyle = palette.background;
    shown.fillRect(0, 0, w, h);
    for (const layer of [...layers].reverse()) shown.drawImage(layer, x1, y1, w, h, 0, 0, w, h);
    const p = shown.getImageData(0, 0, w, h).data;
    const o = drawLook(w, h, cX - x1, cY - y1, scale, palette, from);
    const n = drawLook(w, h, cX - x1, cY - y1, scale, palette, to);
    const bg = rgbOf(shown, palette.background);
    const out = new ImageData(w, h);
    const d = out.data;
    for (let i = 0; i < d.length; i += 4) {
      const ao = o[i + 3]! / 255;
      const an = n[i + 3]! / 255;
      for (let c = 0; c < 3; c++) {
        // Premultiplied: O over U is O·αO + U·(1 - αO).
        const under = ao < 0.98 ? (p[i + c]! - o[i + c]! * ao) / (1 - ao) : bg[c]!;
        d[i + c] = Math.round(n[i + c]! * an + Math.min(255, Math.max(0, under)) * (1 - an));
      }
      d[i + 3] = 255;
    }
    this.canvas.getContext('2d')?.putImageData(out, x1, y1);
    this.drawn = true;
  }

  /** Clears what was painted: Cytoscape's own frame shows it now. */
  clear(): void {
    if (!this.drawn) return;
    this.drawn = false;
    this.canvas.getContext('2d')?.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }
}

/** A scratch 2D context of w × h px; one canvas is reused, since a patch repaints a node or a few. */
let scratch: HTMLCanvasElement | undefined;
function region(w: number, h: number): CanvasRenderingContext2D {
  scratch ??= document.createElement('canvas');
  scratch.width = w;
  scratch.height = h;
  return scratch.getContext('2d', { willReadFrequently: true })!;
}

/** The colour `css` as 0-255 RGB, as `cx` resolves it. */
function rgbOf(cx: CanvasRenderingContext2D, css: string): number[] {
  cx.save();
  cx.setTransform(1, 0, 0, 1, 0, 0);
  cx.clearRect(0, 0, 1, 1);
  cx.fillStyle = css;
  cx.fillRect(0, 0, 1, 1);
  const [r = 0, g = 0, b = 0] = cx.getImageData(0, 0, 1, 1).data;
  cx.restore();
  return [r, g, b];
}

/**
 * A run node's body and border alone in `state`, on a transparent w × h canvas with the node's centre at (cx, cy) and
 * `scale` canvas px per model unit, as Cytoscape draws a round rectangle (corners: a quarter of the shorter side, at
 * most 8 units; the border centred on the outline). Returns the pixels, RGBA not premultiplied.
 */
function drawLook(w: number, h: number, cx: number, cy: number, scale: number, palette: Palette, state: NodeState): Uint8ClampedArray {
  const c = region(w, h);
  const look = runNodeLook(palette, state);
  const bw = NODE_BORDER_WIDTH * scale;
  const width = NODE_WIDTH * scale;
  const height = NODE_HEIGHT * scale;
  c.beginPath();
  c.roundRect(cx - width / 2, cy - height / 2, width, height, Math.min(NODE_WIDTH / 4, NODE_HEIGHT / 4, 8) * scale);
  c.globalAlpha = look.fillOpacity;
  c.fillStyle = look.fill;
  c.fill();
  c.globalAlpha = 1;
  c.lineWidth = bw;
  c.strokeStyle = look.border;
  c.setLineDash(look.borderStyle === 'dashed' ? [bw * 3, bw * 3] : []);
  c.stroke();
  return c.getImageData(0, 0, w, h).data;
}
