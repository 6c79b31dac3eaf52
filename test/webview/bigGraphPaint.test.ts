// The real webview bundle (media/webview.js) in headless Chromium, its canvases composed over the page's background
// as a person sees them. A 2,000-node run graph seen whole gets the overview edges, and a patch of one node's state
// is shown in the frame the page reports painted (the quick repaint, src/webview/nodeRepaint.ts): pixels change where
// that node is and nowhere else, and Cytoscape's own frame after it shows the same colour in the same place with the
// repaint canvas cleared. A 12-node graph's patch is drawn by Cytoscape itself; a 50-node graph keeps its arrows and
// dashes (no overview). Skipped when Chromium is missing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { diffRunGraph } from '../../src/shared/graphPatch';
import type { RunGraph } from '../../src/shared/protocol';
import { syntheticRunGraph } from '../../bench/ui.data';

const root = path.join(__dirname, '..', '..');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = fs.existsSync(chromiumPath);

/** The box of pixels that differ between two frames, how many differ, and the new frame's colour at the probe. */
interface Change {
  count: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** RGBA at the probe point given to frame(), if any. */
  probe?: number[];
}

/**
 * Installs in the page `composeFrame()`: the page's canvases composed over its background into one frame (what the
 * person sees of the graph), and keeps in `paintedFrame` the frame composed when the page fires `gascity:painted`, that is the frame
 * the page says shows the change (composed in that moment, since the page may draw again right after).
 */
async function watchFrames(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { composeFrame: () => Uint8ClampedArray; paintedFrame?: Uint8ClampedArray };
    w.composeFrame = () => {
      const layers = Array.from(document.querySelectorAll<HTMLCanvasElement>('#graph canvas'));
      const first = layers.find((c) => !c.classList.contains('node-repaint'))!;
      const out = document.createElement('canvas');
      out.width = first.width;
      out.height = first.height;
      const cx = out.getContext('2d')!;
      // Cytoscape's canvases are transparent where nothing is drawn: the page's background shows through them.
      cx.fillStyle = getComputedStyle(document.body).backgroundColor;
      cx.fillRect(0, 0, out.width, out.height);
      // Stacked bottom-up in reverse DOM order: Cytoscape's node layer (last in the DOM) first, and the page's repaint
      // canvas (first in the DOM, above Cytoscape's layers) last.
      for (const c of [...layers].reverse()) cx.drawImage(c, 0, 0);
      return cx.getImageData(0, 0, out.width, out.height).data;
    };
    document.addEventListener('gascity:painted', () => {
      w.paintedFrame = w.composeFrame();
    });
  });
}

/**
 * Compares a frame with the one kept before it and keeps it as the latest: the frame on screen now, or with
 * `source: 'painted'` the one kept at the last `gascity:painted` (or `'baseline'`: the baseline itself). With `keep` the frame is also kept as the baseline, and with
 * `againstBaseline` it is compared with the baseline instead of the latest. A pixel differs when its channels differ by
 * `threshold` or more in all (24 unless given: anti-aliasing and texture scaling stay below it). Done in the page: a frame is 4 MB.
 */
async function frame(
  page: Page,
  opts: { probe?: { x: number; y: number }; source?: 'now' | 'painted' | 'baseline'; keep?: boolean; againstBaseline?: boolean; threshold?: number } = {},
): Promise<Change> {
  return await page.evaluate(({ probe, source, keep, againstBaseline, threshold = 24 }) => {
    const w = window as unknown as { composeFrame: () => Uint8ClampedArray; paintedFrame?: Uint8ClampedArray; lastFrame?: Uint8ClampedArray; baseline?: Uint8ClampedArray };
    const width = document.querySelector<HTMLCanvasElement>('#graph canvas:not(.node-repaint)')!.width;
    const b = source === 'painted' ? w.paintedFrame! : source === 'baseline' ? w.baseline! : w.composeFrame();
    const a = againstBaseline ? w.baseline : w.lastFrame;
    w.lastFrame = b;
    if (keep) w.baseline = b;
    const p = probe ? (Math.round(probe.y) * width + Math.round(probe.x)) * 4 : -1;
    const change = { count: 0, x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity, ...(probe ? { probe: [b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!] } : {}) };
    if (!a || a.length !== b.length) return { ...change, count: -1 };
    for (let i = 0; i < a.length; i += 4) {
      const d = Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) + Math.abs(a[i + 3]! - b[i + 3]!);
      if (d < threshold) continue;
      change.count++;
      const x = (i / 4) % width;
      const y = Math.floor(i / 4 / width);
      change.x1 = Math.min(change.x1, x);
      change.y1 = Math.min(change.y1, y);
      change.x2 = Math.max(change.x2, x);
      change.y2 = Math.max(change.y2, y);
    }
    return change;
  }, opts);
}

/**
 * Waits until Cytoscape stops drawing differently: it draws sharper textures for a while after a first frame, and
 * element by element for a while after a change before going back to its cached layer. Settled is three frames in a
 * row that agree, looked at 250 ms apart; with `keep` the settled frame becomes the baseline.
 */
async function settle(page: Page, keep = false): Promise<void> {
  await frame(page);
  for (let i = 0, agreeing = 0; i < 80 && agreeing < 3; i++) {
    await page.waitForTimeout(250);
    agreeing = (await frame(page, { keep })).count === 0 ? agreeing + 1 : 0;
  }
}

describe('run graph canvas after a patch (headless Chromium)', { skip: haveChromium ? false : `${chromiumPath} is missing (scripts/e2e/setup.sh)` }, () => {
  let server: Server;
  let browser: Browser;
  let base = '';

  before(async () => {
    if (!fs.existsSync(path.join(root, 'media/webview.js'))) {
      const r = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    const stub = 'window.acquireVsCodeApi = () => ({ postMessage() {}, getState() { return undefined; }, setState() {} });';
    const html = '<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/webview.css"></head><body>'
      + '<div id="app"></div><script src="/stub.js"></script><script src="/webview.js"></script></body></html>';
    const routes: Record<string, [string, string | Buffer]> = {
      '/page.html': ['text/html', html],
      '/stub.js': ['text/javascript', stub],
      '/webview.js': ['text/javascript', fs.readFileSync(path.join(root, 'media/webview.js'))],
      '/webview.css': ['text/css', fs.readFileSync(path.join(root, 'media/webview.css'))],
    };
    server = createServer((req, res) => {
      const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
      if (!route) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': route[0] }).end(route[1]);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  async function show(graph: RunGraph): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${base}/page.html`);
    await page.evaluate((g) => window.postMessage({ type: 'showRunGraph', graph: g }, '*'), graph);
    await page.waitForFunction((key) => document.body.dataset.view === key, `run:${graph.runId}`, { timeout: 60_000 });
    return page;
  }

  /**
   * Patches node `index` of `graph` (shown on `page`, settled, with the baseline kept) to failed and checks what the
   * person sees at `zoom`: the frame reported painted differs from the one before only within that node's box; then
   * Cytoscape's own frame (once `data-redrawn` says it drew the change) differs there too, in the same place, with
   * the node's colour at `probe` (a point of the changed box, in its frame: 0-1 of its width and height) as in the
   * painted frame and unlike before. Returns how many pixels the painted and Cytoscape's frames differ in by a glyph or
   * an edge.
   */
  async function checkQuickPatch(page: Page, graph: RunGraph, index: number, zoom: number, probe: { x: number; y: number }): Promise<number> {
    const next: RunGraph = { ...graph, nodes: graph.nodes.map((n, i) => (i === index ? { ...n, state: 'failed' } : n)) };
    const patch = diffRunGraph(graph, next);
    assert.equal(patch?.upsertNodes.length, 1);
    const seq = Number(await page.evaluate(() => document.body.dataset.painted ?? '0')) + 1;
    await page.evaluate((p) => window.postMessage({ type: 'patchRunGraph', patch: p }, '*'), patch);
    await page.waitForFunction((s) => document.body.dataset.painted === String(s), seq, { timeout: 30_000 });
    // A node is 150 × 44 at zoom 1 (graphStyle.ts), plus its border and a pixel of anti-aliasing each side.
    const withinNode = (c: Change): boolean => c.x2 - c.x1 <= 154 * zoom + 4 && c.y2 - c.y1 <= 48 * zoom + 4;
    // The frame the page reported as showing the change (the quick repaint above Cytoscape's unchanged canvas).
    const shown = await frame(page, { source: 'painted', againstBaseline: true });
    assert.ok(shown.count > 0, 'the changed node looks the same in the frame reported painted');
    assert.ok(withinNode(shown), `pixels changed beyond one node in the painted frame: ${JSON.stringify(shown)} at zoom ${zoom}`);
    const at = { x: shown.x1 + (shown.x2 - shown.x1) * probe.x, y: shown.y1 + (shown.y2 - shown.y1) * probe.y };
    const before = await frame(page, { source: 'baseline', probe: at });
    const painted = await frame(page, { source: 'painted', probe: at });
    // Then Cytoscape draws the change itself and the repaint is cleared: the same change, in the same place.
    await page.waitForFunction((s) => document.body.dataset.redrawn === String(s), seq, { timeout: 30_000 });
    // Pixels that differ by a whole glyph or edge (a light label pixel against the node's fill is 300 or more apart),
    // not by the tint the repaint leaves on label pixels (see nodeRepaint.ts) or by anti-aliasing.
    const againstPainted = await frame(page, { threshold: 120 });
    const drawn = await frame(page, { probe: at, againstBaseline: true });
    assert.ok(drawn.count > 0 && withinNode(drawn), `Cytoscape's frame differs from the one before beyond one node: ${JSON.stringify(drawn)}`);
    assert.ok(Math.abs(drawn.x1 - shown.x1) <= 2 && Math.abs(drawn.y2 - shown.y2) <= 2, `the repaint is not where Cytoscape drew the node: ${JSON.stringify({ shown, drawn })}`);
    const close = (a: number[], b: number[]): boolean => a.every((v, i) => Math.abs(v - b[i]!) <= 12);
    assert.ok(close(painted.probe!, drawn.probe!), `the repaint's colour ${painted.probe} is not Cytoscape's ${drawn.probe}`);
    assert.ok(!close(before.probe!, drawn.probe!), `the node's colour ${drawn.probe} did not change from ${before.probe}`);
    return againstPainted.count;
  }

  it('shows a one-node state change on a 2,000-node graph in the first frame, only there, and Cytoscape draws the same', async () => {
    const graph = syntheticRunGraph(2000);
    const page = await show(graph);
    try {
      await watchFrames(page);
      assert.equal(await page.evaluate(() => document.body.dataset.overview), 'true');
      const zoom = Number(await page.evaluate(() => document.body.dataset.zoom));
      await settle(page, true);
      await checkQuickPatch(page, graph, graph.nodes.findIndex((n) => n.state !== 'failed'), zoom, { x: 0.5, y: 0.5 });
    } finally {
      await page.close();
    }
  });

  it('shows a state change with its label on a 2,000-node graph zoomed in to read', async () => {
    const graph = syntheticRunGraph(2000);
    const page = await show(graph);
    try {
      await watchFrames(page);
      // The host selects a node: the page zooms to 0.8 (labels drawn) around it. Arrow right moves the selection to
      // the next node of the row, so the first one is on screen, unselected, with its label.
      const index = graph.nodes.findIndex((n, i) => i >= 1000 && n.state !== 'failed');
      await page.evaluate((id) => window.postMessage({ type: 'select', id }, '*'), graph.nodes[index]!.id);
      await page.focus('#graph');
      await page.keyboard.press('ArrowRight');
      await settle(page, true);
      const differing = await checkQuickPatch(page, graph, index, 0.8, { x: 0.08, y: 0.5 });
      // The repaint keeps the label and the edges under the node as Cytoscape drew them.
      assert.ok(differing < 20, `the repaint and Cytoscape's frame differ in ${differing} pixels by a glyph or an edge`);
    } finally {
      await page.close();
    }
  });

  it('hands two quick patches to Cytoscape and leaves nothing painted over the graph', async () => {
    const graph = syntheticRunGraph(2000);
    const page = await show(graph);
    try {
      await watchFrames(page);
      await settle(page, true);
      const first = graph.nodes.findIndex((n) => n.state !== 'failed');
      const second = graph.nodes.length - 1 - [...graph.nodes].reverse().findIndex((n) => n.state !== 'failed');
      assert.ok(second > first);
      const once: RunGraph = { ...graph, nodes: graph.nodes.map((n, i) => (i === first ? { ...n, state: 'failed' } : n)) };
      const twice: RunGraph = { ...once, nodes: once.nodes.map((n, i) => (i === second ? { ...n, state: 'failed' } : n)) };
      const patches = [diffRunGraph(graph, once), diffRunGraph(once, twice)];
      await page.evaluate((ps) => { for (const p of ps) window.postMessage({ type: 'patchRunGraph', patch: p }, '*'); }, patches);
      await page.waitForFunction(() => document.body.dataset.painted === '2' && document.body.dataset.redrawn === '2', undefined, { timeout: 30_000 });
      // Cytoscape has drawn both: the repaint canvas is empty, and the frame differs from the one before at both nodes.
      const left = await page.evaluate(() => {
        const c = document.querySelector<HTMLCanvasElement>('#graph canvas.node-repaint')!;
        const d = c.width && c.height ? c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data : new Uint8ClampedArray();
        return d.filter((_, i) => i % 4 === 3 && d[i] !== 0).length;
      });
      assert.equal(left, 0, 'pixels are left on the repaint canvas after Cytoscape drew the changes');
      const zoom = Number(await page.evaluate(() => document.body.dataset.zoom));
      const drawn = await frame(page, { againstBaseline: true });
      assert.ok(drawn.count > 0 && (drawn.x2 - drawn.x1 > 154 * zoom + 4 || drawn.y2 - drawn.y1 > 48 * zoom + 4),
        `the frame does not show two changed nodes: ${JSON.stringify(drawn)} at zoom ${zoom}`);
    } finally {
      await page.close();
    }
  });

  it('has Cytoscape draw a patch of a 12-node graph itself (two rows of six, all on screen)', async () => {
    const graph = syntheticRunGraph(12);
    const page = await show(graph);
    try {
      await watchFrames(page);
      await settle(page, true);
      const index = graph.nodes.findIndex((n) => n.state !== 'failed');
      const next: RunGraph = { ...graph, nodes: graph.nodes.map((n, i) => (i === index ? { ...n, state: 'failed' } : n)) };
      const repainted = page.evaluate(() => new Promise<boolean>((resolve) => {
        document.addEventListener('gascity:painted', (e) => resolve((e as CustomEvent<{ repainted?: boolean }>).detail.repainted === true), { once: true });
      }));
      await page.evaluate((p) => window.postMessage({ type: 'patchRunGraph', patch: p }, '*'), diffRunGraph(graph, next));
      assert.equal(await repainted, false, 'a small graph was repainted instead of drawn by Cytoscape');
      const shown = await frame(page, { source: 'painted', againstBaseline: true });
      const zoom = Number(await page.evaluate(() => document.body.dataset.zoom));
      assert.ok(shown.count > 0, 'the changed node looks the same in the frame reported painted');
      assert.equal(await page.evaluate(() => document.body.dataset.redrawn), undefined);
      // Cytoscape draws the first frames after a change element by element (a little sharper than its cached layer at
      // this zoom), then its layer again: once it settled, only the changed node differs from before.
      await settle(page);
      const settled = await frame(page, { againstBaseline: true });
      assert.ok(settled.count > 0, 'the changed node looks the same once Cytoscape settled');
      assert.ok(settled.x2 - settled.x1 <= 154 * zoom + 4 && settled.y2 - settled.y1 <= 48 * zoom + 4,
        `pixels changed beyond one node: ${JSON.stringify(settled)} at zoom ${zoom}`);
    } finally {
      await page.close();
    }
  });

  it('keeps arrows and dashes on a 50-node graph', async () => {
    const page = await show(syntheticRunGraph(50));
    try {
      assert.equal(await page.evaluate(() => document.body.dataset.overview), 'false');
    } finally {
      await page.close();
    }
  });
});
