// Builds the three bundles: the extension host (dist/extension.js), the MCP server (dist/mcp.js) and the CLI
// (dist/cli.js) for Node, and the webview (media/webview.js) for the browser. sql.js's WASM file is copied beside them.
// `--production` (what `npm run package` builds through vscode:prepublish) minifies and writes no source maps, and
// removes maps an earlier development build left, so a package never carries them.
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const node = [
  { in: 'src/extension/main.ts', out: 'dist/extension.js' },
  { in: 'src/mcp/main.ts', out: 'dist/mcp.js' },
  { in: 'src/cli/main.ts', out: 'dist/cli.js' },
].filter((e) => existsSync(e.in));
const browser = [{ in: 'src/webview/main.ts', out: 'media/webview.js' }].filter((e) => existsSync(e.in));

// Several builds may run at once (test files each build, two at a time, and start dist/ bundles meanwhile), so no
// file is ever half-written where a reader looks: each is written beside its place and renamed over it. A test
// that copied a half-written dist/mcp.js saw its server exit at start ("Connection closed").
const temporary = (file) => `${file}.tmp-${process.pid}-${Math.random().toString(16).slice(2)}`;
function writeAtomic(file, data) {
  const tmp = temporary(file);
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}
function copyAtomic(from, to) {
  const tmp = temporary(to);
  copyFileSync(from, tmp);
  renameSync(tmp, to);
}

mkdirSync('dist', { recursive: true });
copyAtomic('node_modules/sql.js/dist/sql-wasm.wasm', 'dist/sql-wasm.wasm');

if (production) {
  for (const e of [...node, ...browser]) rmSync(`${e.out}.map`, { force: true });
}

// keepNames: error classes are told apart by name in messages and logs, which minified names would garble.
const common = {
  // Watching writes in place (one developer, one build); a single build writes through writeAtomic.
  write: watch,
  bundle: true, sourcemap: !production, minify: production, keepNames: production, logLevel: 'warning',
  define: { 'process.env.NODE_ENV': JSON.stringify(production ? 'production' : 'development') },
};
const contexts = [];
for (const e of node) {
  contexts.push(await esbuild.context({
    ...common, entryPoints: [e.in], outfile: e.out, platform: 'node', format: 'cjs', target: 'node20',
    external: ['vscode'],
    banner: e.out === 'dist/cli.js' || e.out === 'dist/mcp.js' ? { js: '#!/usr/bin/env node' } : undefined,
  }));
}
for (const e of browser) {
  contexts.push(await esbuild.context({
    ...common, entryPoints: [e.in], outfile: e.out, platform: 'browser', format: 'iife', target: 'es2022',
  }));
}
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  const results = await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
  for (const r of results) for (const f of r.outputFiles) writeAtomic(f.path, f.contents);
}
