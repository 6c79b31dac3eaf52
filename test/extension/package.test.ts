// What a person installs: the manifest's conventions (engines, setting scopes, trust, icon) and the file list of the
// .vsix as vsce computes it from .vscodeignore. The .vsix itself is built and installed by the end-to-end run
// (test/e2e/run.mjs); this test asks vsce only for the list, which needs no build.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface Setting {
  type: string;
  scope?: string;
  description?: string;
  markdownDescription?: string;
}
interface Manifest {
  engines: Record<string, string>;
  icon?: string;
  categories?: string[];
  keywords?: string[];
  repository?: { url?: string };
  capabilities?: { untrustedWorkspaces?: { supported: boolean | 'limited'; description?: string } };
  contributes: { configuration: { properties: Record<string, Setting> } };
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;

describe('package.json conventions', () => {
  it('needs Node 20.15 or newer (zlib.crc32)', () => {
    assert.equal(manifest.engines.node, '>=20.15');
  });

  it('describes every setting in markdown, and executable paths are machine-overridable', () => {
    for (const [name, s] of Object.entries(manifest.contributes.configuration.properties)) {
      assert.ok(s.markdownDescription && !s.description, `${name} has a markdownDescription only`);
      if (/Path$/.test(name)) assert.equal(s.scope, 'machine-overridable', `${name} names a program to run`);
    }
  });

  it('says why it does not run in untrusted workspaces', () => {
    const trust = manifest.capabilities?.untrustedWorkspaces;
    assert.ok(trust, 'capabilities.untrustedWorkspaces is declared');
    if (trust.supported !== true) assert.ok((trust.description ?? '').length > 20, 'with a reason');
  });

  it('has an icon of 128x128 pixels, categories, keywords and an https repository', () => {
    assert.ok(manifest.icon);
    const png = readFileSync(join(ROOT, manifest.icon));
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
    // The IHDR chunk holds width and height as big-endian 32-bit integers at bytes 16 and 20.
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [128, 128]);
    assert.ok((manifest.categories ?? []).length > 0);
    assert.ok((manifest.keywords ?? []).length > 0);
    assert.match(manifest.repository?.url ?? '', /^https:\/\//);
  });
});

describe('the walkthrough', () => {
  const walkthroughs = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    contributes: { walkthroughs?: Array<{ steps: Array<{ id: string; description: string; media: { markdown?: string } }> }> };
  }).contributes.walkthroughs ?? [];

  it('goes register → starters → start → Codex → graph → mutate → trial → promote, each step with its command and page', () => {
    assert.equal(walkthroughs.length, 1);
    const steps = walkthroughs[0]!.steps;
    assert.deepEqual(steps.map((s) => s.id), ['register', 'starters', 'start', 'codex', 'graph', 'mutate', 'trial', 'promote']);
    for (const s of steps) {
      assert.match(s.description, /\(command:gascity\.\w+\)/, `${s.id} links a command`);
      assert.ok(s.media.markdown && readFileSync(join(ROOT, s.media.markdown), 'utf8').startsWith('# '), `${s.id} has its page`);
    }
  });
});

describe('the .vsix file list (vsce ls)', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce'), 'ls', '--no-dependencies'], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000,
  });
  const files = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();

  it('holds the bundles, the WASM, the webview, the starter formulas and the icon, and nothing else', () => {
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(files, [
      'LICENSE',
      'README.md',
      'dist/cli.js',
      'dist/extension.js',
      'dist/mcp.js',
      'dist/sql-wasm.wasm',
      'formulas/bug-fix-with-reproduction.formula.toml',
      'formulas/evolve-formula.formula.toml',
      'formulas/implement-and-review.formula.toml',
      'formulas/refactor-with-tests.formula.toml',
      'formulas/research-then-plan.formula.toml',
      'media/gascity.svg',
      'media/icon.png',
      'media/walkthrough/codex.md',
      'media/walkthrough/graph.md',
      'media/walkthrough/mutate.md',
      'media/walkthrough/promote.md',
      'media/walkthrough/register.md',
      'media/walkthrough/start.md',
      'media/walkthrough/starters.md',
      'media/walkthrough/trial.md',
      'media/webview.css',
      'media/webview.js',
      'package.json',
    ]);
  });

  it('carries no source maps, sources, tests, dependencies or ledgers', () => {
    for (const f of files) assert.doesNotMatch(f, /\.map$|^(src|test|bench|node_modules|\.gascity|\.cache|docs)\//, f);
  });
});
