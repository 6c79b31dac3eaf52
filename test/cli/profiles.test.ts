// `gascity run … --codex --profile NAME=MODEL[,key=value…]` (issue 13, branch overlays-2): a bad profile is refused
// by field, with exit code 2, before any run is started or Codex is spawned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.join(__dirname, '..', '..');

test('bad --profile flags are refused naming the flag and the key; nothing is started', { timeout: 60_000 }, () => {
  assert.equal(spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO }).status, 0);
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-profile-test-'));
  try {
    const cases: Array<[string, RegExp]> = [
      ['gpt-5', /--profile 1: write NAME=MODEL\[,key=value…\]/],
      ['fast=gpt-5,temperature=1', /--profile\.0\.temperature: unknown key; a profile has name, model/],
      ['a b=gpt-5', /--profile\.0\.name: name is 1 to 40 letters/],
      ['fast=gpt-5,effort=max', /--profile\.0\.effort: effort is one of minimal, low, medium, high, xhigh/],
      ['a=m,__proto__=x', /--profile\.0\.__proto__: unknown key/],
    ];
    for (const [flag, message] of cases) {
      const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--workspace', ws, 'run', 'nothing', '--codex', '--profile', flag], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 2, `${flag}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /started/);
    }
    // A second profile's mistake names its position.
    const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--workspace', ws, 'run', 'nothing', '--codex', '--profile', 'a=m', '--profile', 'a=n'], { encoding: 'utf8' });
    assert.match(r.stderr, /--profile\.1\.name: "a" is named twice/);
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
