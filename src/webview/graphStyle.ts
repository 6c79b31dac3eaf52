// The Cytoscape stylesheet for both views. Node colour says state (run) or status (lineage); edge line style says
// the edge's kind, so the two stay readable without colour too.
import type { StylesheetJson } from 'cytoscape';
import { NODE_STATES, VARIANT_STATUSES } from '../shared/protocol';
import type { NodeState } from '../shared/protocol';
import type { Palette } from './theme';

/** A run node's box in model units (px at zoom 1) and its border width when neither selected nor overlaid. */
export const NODE_WIDTH = 150;
export const NODE_HEIGHT = 44;
export const NODE_BORDER_WIDTH = 2;
/** Node labels are this many px at zoom 1; below MIN_ZOOMED_FONT_SIZE px on screen Cytoscape skips them. */
export const NODE_FONT_SIZE = 11;
export const MIN_ZOOMED_FONT_SIZE = 7;
/** A node label wraps onto the next line past this width (model units): two lines of a title fit in the node. */
export const NODE_TEXT_MAX_WIDTH = 138;

/** How a run node in one state is painted: the colours and styles its `node.state-*` rules set. */
export interface RunNodeLook {
  /** The body's colour (CSS colour) and its alpha, 0-1. */
  readonly fill: string;
  readonly fillOpacity: number;
  readonly border: string;
  readonly borderStyle: 'solid' | 'dashed';
}

/**
 * The look of a run node in `state` under palette `p`. The stylesheet below is built from it, and the page's quick
 * repaint of a changed node on a big graph (nodeRepaint.ts) draws from it, so the two cannot disagree.
 */
export function runNodeLook(p: Palette, state: NodeState): RunNodeLook {
  const colour = p.state[state];
  return {
    fill: colour,
    fillOpacity: state === 'active' ? 0.4 : 0.22,
    border: state === 'blocked' ? p.edge.blocks : colour,
    borderStyle: state === 'blocked' ? 'dashed' : 'solid',
  };
}

export function graphStyle(p: Palette): StylesheetJson {
  const sheet: StylesheetJson = [
    {
      selector: 'node',
      style: {
        shape: 'round-rectangle',
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
        'background-color': p.muted,
        'background-opacity': 0.22,
        'border-width': NODE_BORDER_WIDTH,
        'border-color': p.muted,
        label: 'data(label)',
        color: p.foreground,
        'font-family': p.fontFamily,
        'font-size': NODE_FONT_SIZE,
        'text-valign': 'center',
        'text-halign': 'center',
        // Two lines of a title fit; only a longer one is cut, rather than every title past 20 characters.
        'text-wrap': 'wrap',
        'text-max-width': `${NODE_TEXT_MAX_WIDTH}px`,
        // Below this on-screen size labels are skipped: a zoomed-out 2,000-node graph stays fast and uncluttered.
        'min-zoomed-font-size': MIN_ZOOMED_FONT_SIZE,
      },
    },
    {
      selector: 'node:selected',
      style: { 'border-width': 4, 'border-color': p.focus, 'overlay-color': p.focus, 'overlay-opacity': 0.12, 'overlay-padding': 4 },
    },
    {
      selector: 'edge',
      style: {
        width: 1.5,
        'curve-style': 'straight',
        'line-color': p.edge.needs,
        'target-arrow-color': p.edge.needs,
        'target-arrow-shape': 'triangle',
        'arrow-scale': 0.9,
        opacity: 0.8,
      },
    },
    // `needs`: solid, the arrow into the node that waits.
    { selector: 'edge.needs', style: { 'line-style': 'solid' } },
    // `blocks`: dashed red with a bar, the blocked node cannot start.
    {
      selector: 'edge.blocks',
      style: { 'line-style': 'dashed', 'line-color': p.edge.blocks, 'target-arrow-color': p.edge.blocks, 'target-arrow-shape': 'tee' },
    },
    // `parent-child`: dotted, a diamond on the parent's end.
    {
      selector: 'edge.parent-child',
      style: {
        'line-style': 'dotted',
        'line-color': p.edge.parentChild,
        'target-arrow-shape': 'none',
        'source-arrow-shape': 'diamond',
        'source-arrow-color': p.edge.parentChild,
      },
    },
    // `discovered-from`: long dashes with an open arrow into the discovered node.
    {
      selector: 'edge.discovered-from',
      style: {
        'line-style': 'dashed',
        'line-dash-pattern': [8, 4],
        'line-color': p.edge.discoveredFrom,
        'target-arrow-color': p.edge.discoveredFrom,
        'target-arrow-shape': 'vee',
      },
    },
    { selector: 'edge.lineage', style: { 'curve-style': 'bezier', width: 2 } },
    // A long edge bends through the points the layout kept free for it, instead of running through the nodes between.
    {
      selector: 'edge.routed',
      style: { 'curve-style': 'round-segments', 'edge-distances': 'node-position', 'segment-weights': 'data(weights)', 'segment-distances': 'data(distances)', 'segment-radii': [24] },
    },
    // A big graph seen from far away (see OVERVIEW_ZOOM in main.ts): arrowheads and dashes are then under 3 px on
    // screen, too small to read, yet they, and edge opacity, were most of a frame's cost at 2,000 nodes (276 ms of
    // the whole-canvas redraw after a one-node change, 80 ms without them; bench/ui.patch.ts). The edges keep their
    // colours, so the kinds stay apart; zooming in past the threshold brings the arrows and dashes back.
    {
      selector: 'edge.overview',
      style: { 'line-style': 'solid', opacity: 1, 'target-arrow-shape': 'none', 'source-arrow-shape': 'none' },
    },
    {
      selector: 'node.variant',
      style: { shape: 'round-rectangle', width: 170, height: 58, 'text-wrap': 'wrap', 'text-max-width': '160px', 'font-size': 11 },
    },
    { selector: 'node.active-variant', style: { 'border-width': 5, 'border-style': 'double', 'font-weight': 'bold' } },
    { selector: 'node.trial', style: { 'border-style': 'dashed' } },
    { selector: 'node.rejected', style: { opacity: 0.45 } },
    { selector: 'node.retired', style: { opacity: 0.7 } },
  ];
  for (const state of NODE_STATES) {
    const look = runNodeLook(p, state);
    sheet.push({
      selector: `node.state-${state}`,
      style: { 'background-color': look.fill, 'background-opacity': look.fillOpacity, 'border-color': look.border, 'border-style': look.borderStyle },
    });
  }
  for (const status of VARIANT_STATUSES) {
    const colour = p.variant[status];
    sheet.push({ selector: `node.status-${status}`, style: { 'background-color': colour, 'border-color': colour } });
  }
  // Selection must win over the state colours above.
  // A node an overlay marks (claims, bids, coalitions, mail) gets an outline in the focus colour and a dotted border,
  // so it stands out without hiding its state colour; its badges are part of its label.
  sheet.push({ selector: 'node.overlaid', style: { 'border-width': 3, 'border-style': 'dotted', 'outline-width': 3, 'outline-color': p.focus, 'outline-offset': 2 } });
  sheet.push({ selector: 'node:selected', style: { 'border-color': p.focus, 'border-width': 4 } });
  return sheet;
}
