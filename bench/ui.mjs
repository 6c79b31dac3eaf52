/* global process, console, setTimeout, URL, window, document, performance */
// First-render time of a run graph in the real webview bundle (media/webview.js), in headless Chromium, against
// the same graph drawn with Cytoscape's built-in 'breadthfirst' layout in the same run (the peer).
// Usage: node esbuild.mjs && node bench/ui.mjs [--nodes 2000] [--runs 5] [--screenshot docs/images/run-graph-2000.png]
import * as esbuild from 'esbuild';
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const nodes = arg('nodes', 2000);
const runs = arg('runs', 5);
const shotAt = process.argv.indexOf('--screenshot');
const screenshot = shotAt >= 0 ? process.argv[shotAt + 1] : undefined;
const targetMs = 1500;
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

if (!existsSync(join(root, 'media/webview.js'))) throw new Error('media/webview.js is missing: run `node esbuild.mjs` first');
if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: run scripts/e2e/setup.sh (installs Debian's chromium)`);

const page = await esbuild.build({
  entryPoints: [join(root, 'bench/ui.page.ts')], bundle: true, write: false, format: 'iife', platform: 'browser', target: 'es2022', minify: true,
});
const pageJs = page.outputFiles[0].text;
const webviewJs = readFileSync(join(root, 'media/webview.js'));
const webviewCss = readFileSync(join(root, 'media/webview.css'));

// The stub stands in for VS Code's webview API: our bundle calls acquireVsCodeApi() at start.
const stub = `window.acquireVsCodeApi = () => ({ postMessage() {}, getState() { return undefined; }, setState() {} });`;
const html = (body) => `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="/webview.css"></head><body>${body}</body></html>`;
const routes = {
  '/ours.html': ['text/html', html(`<div id="app"></div><script src="/stub.js"></script><script src="/page.js"></script><script src="/webview.js"></script>`)],
  '/peer.html': ['text/html', html(`<div id="app"><div id="graph" style="width:100vw;height:100vh"></div></div><script src="/page.js"></script>`)],
  '/stub.js': ['text/javascript', stub],
  '/page.js': ['text/javascript', pageJs],
  '/webview.js': ['text/javascript', webviewJs],
  '/webview.css': ['text/css', webviewCss],
};
const server = createServer((req, res) => {
  const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
  if (!route) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': route[0] }).end(route[1]);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

async function measureOurs(shot) {
  const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await p.goto(`${base}/ours.html`);
  const ms = await p.evaluate(async (n) => {
    const graph = window.benchGraph(n);
    await new Promise((r) => setTimeout(r, 50));
    return await new Promise((resolve) => {
      const t0 = performance.now();
      document.addEventListener('gascity:rendered', () => resolve(performance.now() - t0), { once: true });
      window.postMessage({ type: 'showRunGraph', graph }, '*');
    });
  }, nodes);
  const shown = await p.evaluate(() => document.body.dataset.view);
  if (shot) {
    await p.waitForTimeout(300);
    await p.screenshot({ path: shot });
  }
  await p.close();
  if (shown !== `run:synthetic-${nodes}`) throw new Error(`the webview did not show the graph (view=${shown})`);
  return ms;
}

async function measurePeer() {
  const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await p.goto(`${base}/peer.html`);
  const ms = await p.evaluate(async (n) => {
    const graph = window.benchGraph(n);
    await new Promise((r) => setTimeout(r, 50));
    return await window.benchPeer(graph, document.getElementById('graph'));
  }, nodes);
  await p.close();
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ours = [];
const peer = [];
try {
  await measureOurs(screenshot); // warm-up: the first page in a fresh browser pays for process start-up
  for (let i = 0; i < runs; i++) {
    ours.push(await measureOurs());
    peer.push(await measurePeer());
  }
} finally {
  await browser.close();
  server.close();
}
const o = median(ours);
const q = median(peer);
const fmt = (xs) => xs.map((x) => x.toFixed(0)).join(', ');
console.log(`first render, ${nodes}-node run graph, headless Chromium, median of ${runs}:`);
console.log(`  ours (layered layout + preset): ${o.toFixed(0)} ms  [${fmt(ours)}]  target <= ${targetMs} ms`);
console.log(`  peer (cytoscape breadthfirst):  ${q.toFixed(0)} ms  [${fmt(peer)}]`);
console.log(`  ratio ours/peer: ${(o / q).toFixed(2)}`);
console.log(JSON.stringify({ bench: 'ui-first-render', nodes, runs, oursMs: Math.round(o), peerMs: Math.round(q), ratio: Number((o / q).toFixed(3)), targetMs, pass: o <= targetMs }));
if (o > targetMs) process.exitCode = 1;
