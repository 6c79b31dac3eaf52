import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPolicy } from '../../../src/ledger/promotion/policy';
import { seededRandom, simulateFamily, simulateMany } from '../../../src/ledger/promotion/simulate';
import type { SimulationSummary } from '../../../src/ledger/promotion/simulate';

const FAMILIES = 300;

function describeSummary(s: SimulationSummary): string {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return (
    `promote ${pct(s.promoteRate)}, reject ${pct(s.rejectRate)}, pause ${pct(s.pauseRate)}, ` +
    `mean runs to decision ${s.meanRuns.toFixed(0)} (candidate ${s.meanCandidateRuns.toFixed(0)})`
  );
}

describe('promotion rule under simulation (defaults, trial share 0.2, decision after every run)', () => {
  const policy = defaultPolicy();

  it('is reproducible from its seed', () => {
    const a = simulateFamily({ policy, candidateSuccess: 0.8, incumbentSuccess: 0.7, seed: 99 });
    const b = simulateFamily({ policy, candidateSuccess: 0.8, incumbentSuccess: 0.7, seed: 99 });
    assert.deepEqual([a.verdict, a.totalRuns, a.candidateRuns], [b.verdict, b.totalRuns, b.candidateRuns]);
    const r = seededRandom(1);
    assert.notEqual(r(), r());
  });

  it('promotes a truly better candidate (0.9 vs 0.7) most of the time', (t) => {
    const s = simulateMany({ policy, candidateSuccess: 0.9, incumbentSuccess: 0.7, families: FAMILIES, seed: 1 });
    t.diagnostic(`better 0.9 vs 0.7 (${FAMILIES} families): ${describeSummary(s)}`);
    assert.ok(s.promoteRate >= 0.8, describeSummary(s));
  });

  it('reports how often a modestly better candidate (0.8 vs 0.7) gets through', (t) => {
    // No threshold here: this is the rule's power for a ten-point gain, reported for docs/promotion.md.
    const s = simulateMany({ policy, candidateSuccess: 0.8, incumbentSuccess: 0.7, families: FAMILIES, seed: 5 });
    t.diagnostic(`modestly better 0.8 vs 0.7 (${FAMILIES} families): ${describeSummary(s)}`);
    assert.ok(s.promoteRate > 0.3, describeSummary(s));
  });

  it('almost never promotes a worse candidate (0.6 vs 0.7)', (t) => {
    const s = simulateMany({ policy, candidateSuccess: 0.6, incumbentSuccess: 0.7, families: FAMILIES, seed: 2 });
    t.diagnostic(`worse 0.6 vs 0.7 (${FAMILIES} families): ${describeSummary(s)}`);
    assert.ok(s.promoteRate <= 0.01, describeSummary(s));
  });

  it('keeps false promotion of an equal candidate (0.7 vs 0.7) near or below 5%', (t) => {
    const s = simulateMany({ policy, candidateSuccess: 0.7, incumbentSuccess: 0.7, families: FAMILIES, seed: 3 });
    t.diagnostic(`equal 0.7 vs 0.7 (${FAMILIES} families): ${describeSummary(s)}`);
    assert.ok(s.promoteRate <= 0.08, describeSummary(s));
  });

  it('holds back a better but much costlier candidate until a person decides', (t) => {
    const s = simulateMany({ policy, candidateSuccess: 0.9, incumbentSuccess: 0.7, candidateTokenFactor: 1.5, families: 50, seed: 4 });
    t.diagnostic(`better but 50% more tokens (50 families): ${describeSummary(s)}`);
    assert.equal(s.promoteRate, 0);
    assert.equal(s.pauseRate, 1);
  });
});
