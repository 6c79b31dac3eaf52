// `gascity run FAMILY … --codex` records its run only once Codex has started: with Codex missing, or with an
// app-server that fails at once, it exits 2 naming what to fix and leaves no run behind (before, a run stayed
// "running" with nothing to drive it). What it can check without Codex (the family, the variables) it refuses
// before starting Codex at all.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO, SHIPPED_FORMULAS, tempDir } from '../mcp/helpers';

let CLI = '';

before(() => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  const dir = tempDir('gascity-cli-run-dist-');
  for (const file of ['cli.js', 'mcp.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  CLI = path.join(dir, 'cli.js');
});

interface Ran { status: number | null; stdout: string; stderr: string }

function cli(ws: string, codex: string, ...args: string[]): Ran {
  const r = spawnSync(process.execPath, [CLI, '--workspace', ws, ...args], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, GASCITY_CODEX_PATH: codex, CODEX_HOME: path.join(ws, '.codex-home') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function workspace(): string {
  const ws = tempDir('gascity-cli-run-ws-');
  const r = cli(ws, '/nonexistent/codex', 'import', SHIPPED_FORMULAS);
  assert.equal(r.status, 0, r.stderr);
  return ws;
}

function runs(ws: string): unknown[] {
  const r = cli(ws, '/nonexistent/codex', '--json', 'runs');
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as unknown[];
}

/** A stand-in for the Codex CLI that says why it fails and exits 1 at once, leaving `marker` behind when it was started. */
function failingCodex(dir: string, marker: string): string {
  const file = path.join(dir, 'codex');
  fs.writeFileSync(file, `#!/bin/sh\ntouch '${marker}'\necho "error: config.toml: invalid model_provider" >&2\nexit 1\n`, { mode: 0o755 });
  return file;
}

test('with Codex missing, run --codex exits 2 naming what to install and records no run', () => {
  const ws = workspace();
  const r = cli(ws, '/nonexistent/codex', 'run', 'implement-and-review', 'task=add a greeting', '--codex');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /install the Codex CLI .*GASCITY_CODEX_PATH/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stdout, /started/);
  assert.deepEqual(runs(ws), [], 'no run was recorded');
});

test('with an app-server that fails at once, run --codex exits 2 with what Codex said and records no run', () => {
  const ws = workspace();
  const marker = path.join(ws, 'codex-was-started');
  const r = cli(ws, failingCodex(ws, marker), 'run', 'implement-and-review', 'task=add a greeting', '--codex');
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.ok(fs.existsSync(marker), 'Codex was started');
  assert.match(r.stderr, /Codex said:[\s\S]*invalid model_provider/);
  assert.deepEqual(runs(ws), [], 'no run was recorded');
});

test('an unknown family or a bad variable is refused before Codex starts', () => {
  const ws = workspace();
  const marker = path.join(ws, 'codex-was-started');
  const codex = failingCodex(ws, marker);
  const unknown = cli(ws, codex, 'run', 'implement-and-reveiw', 'task=x', '--codex');
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr, /^gascity: family: no formula family "implement-and-reveiw"; known families: .*implement-and-review/);
  const missing = cli(ws, codex, 'run', 'implement-and-review', 'colour=blue', '--codex');
  assert.equal(missing.status, 2, missing.stderr);
  assert.match(missing.stderr, /vars\.colour: variable "colour" is not declared/);
  assert.equal(fs.existsSync(marker), false, 'Codex was never started');
  assert.deepEqual(runs(ws), [], 'no run was recorded');
});
