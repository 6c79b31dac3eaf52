// The real webview bundle (media/webview.js) in headless Chromium: a 2,000-node run graph seen whole gets the
// overview edges, and a patch of one node's state is drawn: the canvas pixels change where that one node is and
// nowhere else. A 50-node graph keeps its arrows and dashes (no overview). Skipped when Chromium is missing.
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

/** The box of pixels that differ between two frames, and how many differ. */
interface Change {
  count: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * Composes the page's canvases into one frame (what the person sees of the graph), keeps it in the page as the
 * latest frame, and returns how it differs from the frame kept before. Done in the page: a frame is 4 MB of bytes.
 */
async function frame(page: Page): Promise<Change> {
  return await page.evaluate(() => {
    const layers = Array.from(document.querySelectorAll<HTMLCanvasElement>('#graph canvas'));
    const first = layers[0]!;
    const out = document.createElement('canvas');
    out.width = first.width;
    out.height = first.height;
    const cx = out.getContext('2d')!;
    // Cytoscape stacks its layers bottom-up in reverse DOM order (the node layer last in the DOM is drawn first).
    for (const c of [...layers].reverse()) cx.drawImage(c, 0, 0);
    const b = cx.getImageData(0, 0, out.width, out.height).data;
    const w = window as unknown as { lastFrame?: Uint8ClampedArray };
    const a = w.lastFrame;
    w.lastFrame = b;
    const change = { count: 0, x1: Infinity, y1: Infinity, x2: -Infinity, y2: -Infinity };
    if (!a || a.length !== b.length) return { ...change, count: -1 };
    for (let i = 0; i < a.length; i += 4) {
      const d = Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!) + Math.abs(a[i + 3]! - b[i + 3]!);
      if (d < 24) continue;
      change.count++;
      const x = (i / 4) % out.width;
      const y = Math.floor(i / 4 / out.width);
      change.x1 = Math.min(change.x1, x);
      change.y1 = Math.min(change.y1, y);
      change.x2 = Math.max(change.x2, x);
      change.y2 = Math.max(change.y2, y);
    }
    return change;
  });
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

  it('draws a one-node state change on a 2,000-node graph, and only there, with overview edges', async () => {
    const graph = syntheticRunGraph(2000);
    const page = await show(graph);
    try {
      assert.equal(await page.evaluate(() => document.body.dataset.overview), 'true');
      const zoom = Number(await page.evaluate(() => document.body.dataset.zoom));
      // Cytoscape keeps drawing sharper textures for a while after the first frame; wait until two frames agree.
      await frame(page);
      for (let i = 0; i < 40 && (await frame(page)).count !== 0; i++) await page.waitForTimeout(250);
      const index = graph.nodes.findIndex((n) => n.state !== 'failed');
      const next: RunGraph = { ...graph, nodes: graph.nodes.map((n, i) => (i === index ? { ...n, state: 'failed' } : n)) };
      const patch = diffRunGraph(graph, next);
      assert.equal(patch?.upsertNodes.length, 1);
      await page.evaluate((p) => window.postMessage({ type: 'patchRunGraph', patch: p }, '*'), patch);
      await page.waitForFunction(() => document.body.dataset.painted === '1', undefined, { timeout: 30_000 });
      const diff = await frame(page);
      assert.ok(diff.count > 0, 'the changed node looks the same after the patch');
      // A node is 150 × 44 at zoom 1 (graphStyle.ts), plus its border and a pixel of anti-aliasing each side.
      assert.ok(diff.x2 - diff.x1 <= 154 * zoom + 4 && diff.y2 - diff.y1 <= 48 * zoom + 4,
        `pixels changed beyond one node: ${JSON.stringify(diff)} at zoom ${zoom}`);
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
