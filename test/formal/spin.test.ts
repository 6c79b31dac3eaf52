import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';

// The Promela models in formal/ are checked by spin: every reachable state of the correct model keeps
// its invariants, and each deliberately broken variant (a -D flag in the model) is caught, so the
// check can fail. spin is the Debian package `spin`; .ci/run installs it.

const FORMAL = path.join(__dirname, '..', '..', 'formal');

interface Verdict {
  errors: number;
  states: number;
  output: string;
}

function hasSpin(): boolean {
  return spawnSync('spin', ['-V'], { encoding: 'utf8' }).status === 0;
}

/** Generates the verifier for `model` with `flags`, compiles it and runs an exhaustive safety search. */
function verify(model: string, flags: string[]): Verdict {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-spin-'));
  try {
    fs.copyFileSync(path.join(FORMAL, model), path.join(dir, model));
    const gen = spawnSync('spin', [...flags, '-a', model], { cwd: dir, encoding: 'utf8' });
    assert.equal(gen.status, 0, `spin -a ${model} failed:\n${gen.stdout}${gen.stderr}`);
    assert.doesNotMatch(gen.stdout + gen.stderr, /Error/, `spin -a ${model}:\n${gen.stdout}${gen.stderr}`);
    const cc = spawnSync('gcc', ['-O2', '-w', '-DSAFETY', '-DCOLLAPSE', '-DMEMLIM=2048', '-o', 'pan', 'pan.c'], { cwd: dir, encoding: 'utf8' });
    assert.equal(cc.status, 0, `compiling the verifier of ${model} failed:\n${cc.stderr}`);
    const run = spawnSync('./pan', ['-m200000', '-w22'], { cwd: dir, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const output = run.stdout + run.stderr;
    const errors = /errors: (\d+)/.exec(output);
    assert.ok(errors, `pan printed no verdict:\n${output}`);
    return { errors: Number(errors[1]), states: Number(/(\d+) states, stored/.exec(output)?.[1] ?? 0), output };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const MODELS: Array<{ model: string; bugs: string[] }> = [
  { model: 'journal.pml', bugs: ['BUG_IGNORE_SHORT_WRITE', 'BUG_NO_CUT_ON_SYNC_FAIL', 'BUG_JOURNAL_FIRST', 'BUG_BREAK_LIVE_LOCK'] },
  { model: 'promotion.pml', bugs: ['BUG_ROLLBACK_TO_PREVIOUS', 'BUG_PROMOTE_KEEPS_OLD'] },
];

for (const { model, bugs } of MODELS) {
  test(`spin: ${model} keeps its invariants in every reachable state, and each known bug in it is caught`, (t) => {
    assert.ok(hasSpin(), 'spin is not installed: apt-get install spin (.ci/run installs it)');
    const good = verify(model, []);
    assert.equal(good.errors, 0, `${model} violates an invariant:\n${good.output}`);
    assert.doesNotMatch(good.output, /max search depth too small/, `${model}: the search was cut short`);
    assert.ok(good.states > 1000, `${model}: only ${good.states} states were explored`);
    const caught: string[] = [];
    for (const bug of bugs) {
      const bad = verify(model, [`-D${bug}`]);
      assert.ok(bad.errors > 0, `${model} with ${bug}: spin found no error, so the model does not check what it claims`);
      assert.match(bad.output, /assertion violated/, `${model} with ${bug}:\n${bad.output}`);
      caught.push(`${bug}: ${/assertion violated (.*) \(at depth/.exec(bad.output)?.[1] ?? '?'}`);
    }
    t.diagnostic(`${model}: ${good.states} states, 0 errors; caught ${caught.join('; ')}`);
  });
}
