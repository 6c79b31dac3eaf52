// logReplayEvidence (stats.ts): the screen's evidence ratio against the incumbent's history, checked
// against a direct numerical integration of its definition on a much finer grid, and its shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logReplayEvidence } from '../../../src/ledger/promotion/stats';

/** m1 / m0 by brute force: the incumbent's rate on `n` midpoints, the failure reduction on `k`. */
function reference(s: number, f: number, hs: number, hf: number, minReduction: number, n = 4000, k = 400): number {
  let m0 = 0;
  let m1 = 0;
  let max = -Infinity;
  const logs: Array<[number, number[]]> = [];
  for (let i = 0; i < n; i++) {
    const p = (i + 0.5) / n;
    const w = hs * Math.log(p) + hf * Math.log1p(-p);
    const l0 = w + s * Math.log(p) + f * Math.log1p(-p);
    const l1: number[] = [];
    for (let j = 0; j < k; j++) {
      const r = minReduction + ((1 - minReduction) * (j + 0.5)) / k;
      const q = 1 - (1 - p) * (1 - r);
      l1.push(w + s * Math.log(q) + f * Math.log1p(-q));
    }
    max = Math.max(max, l0, ...l1);
    logs.push([l0, l1]);
  }
  for (const [l0, l1] of logs) {
    m0 += Math.exp(l0 - max);
    for (const x of l1) m1 += Math.exp(x - max) / k;
  }
  return Math.log(m1) - Math.log(m0);
}

test('matches a direct integration of its definition', () => {
  for (const [s, f, hs, hf, r] of [[24, 1, 210, 90, 0.5], [10, 5, 70, 30, 0.5], [3, 0, 2, 1, 0.4], [40, 20, 350, 150, 0.2], [0, 6, 150, 150, 0.5]] as const) {
    const got = logReplayEvidence(s, f, hs, hf, r);
    const want = reference(s, f, hs, hf, r);
    assert.ok(Math.abs(got - want) < 0.02, `(${s}, ${f}) against (${hs}, ${hf}), r ≥ ${r}: ${got} vs ${want}`);
  }
});

test('is 1 without replays, grows with the candidate\'s successes, shrinks with a better history, and refuses bad input', () => {
  assert.equal(logReplayEvidence(0, 0, 210, 90, 0.5), 0);
  assert.ok(logReplayEvidence(20, 0, 210, 90, 0.5) > logReplayEvidence(19, 1, 210, 90, 0.5));
  assert.ok(logReplayEvidence(20, 2, 210, 90, 0.5) > logReplayEvidence(20, 2, 270, 30, 0.5));
  // A candidate exactly as good as the history gathers evidence against itself.
  assert.ok(logReplayEvidence(70, 30, 210, 90, 0.5) < -Math.log(25));
  assert.throws(() => logReplayEvidence(1, 1, 1, 1, 1), /minReduction/);
  assert.throws(() => logReplayEvidence(-1, 1, 1, 1, 0.5), /candidateSuccesses/);
  assert.throws(() => logReplayEvidence(1, Number.NaN, 1, 1, 0.5), /candidateFailures/);
  assert.ok(Number.isFinite(logReplayEvidence(1e6, 0, 1e6, 1e6, 0.5)), 'huge counts stay finite');
});
