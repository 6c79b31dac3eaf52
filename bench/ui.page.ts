// Browser side of bench/ui.mjs: synthetic data for both arms, and the peer arm itself (the same elements and style
// drawn by Cytoscape's built-in 'breadthfirst' layout instead of our layered layout + 'preset').
import cytoscape from 'cytoscape';
import { buildView } from '../src/webview/elements';
import { graphStyle } from '../src/webview/graphStyle';
import { readPalette } from '../src/webview/theme';
import type { RunGraph } from '../src/shared/protocol';
import { NODE_STATES } from '../src/shared/protocol';
import { diffRunGraph } from '../src/shared/graphPatch';
import { syntheticRunGraph } from './ui.data';

interface BenchWindow {
  benchGraph: (n: number) => RunGraph;
  /** The graph with one node's state moved to the next state (bench/ui.patch.ts). */
  benchFlip: (graph: RunGraph, index: number) => RunGraph;
  benchDiff: typeof diffRunGraph;
  benchPeer: (graph: RunGraph, container: HTMLElement) => Promise<number>;
}

const w = window as unknown as BenchWindow;
w.benchGraph = (n) => syntheticRunGraph(n);
w.benchFlip = (graph, index) => ({
  ...graph,
  nodes: graph.nodes.map((node, i) =>
    i === index ? { ...node, state: NODE_STATES[(NODE_STATES.indexOf(node.state) + 1) % NODE_STATES.length]! } : node),
});
w.benchDiff = diffRunGraph;
w.benchPeer = (graph, container) =>
  new Promise((resolve) => {
    const started = performance.now();
    const built = buildView({ kind: 'run', graph });
    const elements = built.elements.map(({ position: _position, ...rest }) => rest);
    const large = graph.nodes.length > 600;
    const cy = cytoscape({
      container,
      elements,
      style: graphStyle(readPalette(getComputedStyle(document.documentElement))),
      layout: { name: 'breadthfirst', directed: true, fit: true, padding: 30 },
      textureOnViewport: large,
      hideEdgesOnViewport: large,
      pixelRatio: large ? 1 : 'auto',
      autoungrabify: true,
    });
    cy.one('render', () => requestAnimationFrame(() => resolve(performance.now() - started)));
  });
