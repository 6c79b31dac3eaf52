// The main job on a fresh machine: `gascity demo` drives a shipped formula on a sample git repository through
// real `codex app-server` threads (node_modules) with the shipped offline model, end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.join(__dirname, '..', '..');

test('the demo runs refactor-with-tests to success: two nodes at once, the person steps, evidence, a real diff', { timeout: 180_000 }, () => {
  assert.equal(spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO }).status, 0);
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-demo-test-'));
  try {
    const r = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--workspace', ws, 'demo'], { encoding: 'utf8', timeout: 170_000 });
    const out = r.stdout + r.stderr;
    assert.equal(r.status, 0, out);
    const lines = out.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // Both refactor nodes were dispatched before either reported: they ran at once.
    const d0 = at(/▶ r-\w+\.refactor\[0\]/);
    const d1 = at(/▶ r-\w+\.refactor\[1\]/);
    const firstReport = at(/✔ r-\w+\.refactor\[\d\]/);
    assert.ok(d0 > 0 && d1 > 0 && firstReport > Math.max(d0, d1), out);
    // The model ran the sample's tests through Codex's own tool and they passed.
    assert.match(out, /✔ r-\w+\.pin-behaviour {2}reported done, now done; .* ran `node test\.js`: 3 tests passed/);
    assert.match(out, /waits for a person at its human gate/);
    assert.match(out, /\(as the person\) opened the gate of r-\w+\.review/);
    assert.match(out, /\(as the person\) approved the review of r-\w+\.review/);
    assert.match(out, /run r-\w+ is done \(success\); evidence for variant v-[0-9a-f]+: run_outcome success by controller/);
    // The run worked in its own worktree; the demo merged its branch as the person, so the diff is in the sample.
    assert.match(out, /\(as the person\) merged branch gascity\/r-\w+ \(2 file\(s\), \+2 -0\) into the sample: gascity run merge r-\w+\n/);
    assert.match(out, /src\/greet\.js \| 1 \+[\s\S]*src\/math\.js {2}\| 1 \+/);
    const sample = path.join(ws, '.gascity-demo', 'sample');
    assert.match(fs.readFileSync(path.join(sample, 'src', 'greet.js'), 'utf8'), /^\/\/ Refactored by Gas City demo: r-\w+\.refactor\[0\]/);
    const verify = spawnSync(process.execPath, [path.join(REPO, 'dist', 'cli.js'), '--workspace', sample, 'verify'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  } finally {
    fs.rmSync(ws, { recursive: true, force: true });
  }
});
