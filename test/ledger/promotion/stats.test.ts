import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  countPairs,
  expectedLoss,
  expectedLossBeta,
  expectedLossBetaNumeric,
  logGamma,
  logRegularizedIncompleteBeta,
  logTrialEvidence,
  probBBeatsA,
  probBetaGreater,
  probBetaGreaterNumeric,
  regularizedIncompleteBeta,
  sprtBounds,
  sprtLLR,
  sprtVerdict,
} from '../../../src/ledger/promotion/stats';

const close = (actual: number, expected: number, tol: number, what = ''): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected} ± ${tol}, got ${actual}`);
};

describe('logGamma and the incomplete beta', () => {
  it('matches factorials and Γ(1/2) = √π', () => {
    close(logGamma(1), 0, 1e-14);
    close(logGamma(10), Math.log(362880), 1e-12);
    close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14);
    close(logGamma(171), 706.5730622457874, 1e-9);
  });

  it('matches closed forms of I_x(a, b)', () => {
    close(regularizedIncompleteBeta(0.5, 7, 7), 0.5, 1e-14);
    close(regularizedIncompleteBeta(0.3, 1, 5), 1 - 0.7 ** 5, 1e-14);
    close(regularizedIncompleteBeta(0.3, 4, 1), 0.3 ** 4, 1e-14);
    close(logRegularizedIncompleteBeta(0.3, 5, 7), Math.log(regularizedIncompleteBeta(0.3, 5, 7)), 1e-12);
    assert.ok(Number.isFinite(logRegularizedIncompleteBeta(0.01, 500, 700)), 'the log form must not underflow');
  });
});

describe('probBBeatsA', () => {
  it('gives ≈ 0.70 for candidate 19/20 against incumbent 80/90 with the uniform prior', () => {
    // Beta(20, 2) against Beta(81, 11): the figure the design quotes comes from the uniform prior (1, 1).
    const p = probBBeatsA(80, 10, 19, 1);
    close(p, 0.7036, 5e-4, 'P(candidate better)');
    close(p, probBetaGreaterNumeric({ alpha: 81, beta: 11 }, { alpha: 20, beta: 2 }), 1e-9, 'numeric cross-check');
    // Jeffreys' prior (½, ½) gives a noticeably different answer, so the prior has to be recorded.
    close(probBBeatsA(80, 10, 19, 1, { alpha: 0.5, beta: 0.5 }), 0.786, 2e-3, 'Jeffreys prior');
  });

  it('agrees with numeric integration for arbitrary counts', () => {
    fc.assert(
      fc.property(fc.nat(150), fc.nat(150), fc.nat(150), fc.nat(150), (as, af, bs, bf) => {
        const a = { alpha: as + 1, beta: af + 1 };
        const b = { alpha: bs + 1, beta: bf + 1 };
        close(probBetaGreater(a, b), probBetaGreaterNumeric(a, b), 1e-6, `${as}/${af} vs ${bs}/${bf}`);
      }),
      { numRuns: 60, seed: 7 },
    );
  });

  it('is complementary when the arms swap and handles lopsided counts', () => {
    fc.assert(
      fc.property(fc.nat(400), fc.nat(400), fc.nat(400), fc.nat(400), (as, af, bs, bf) => {
        close(probBBeatsA(as, af, bs, bf) + probBBeatsA(bs, bf, as, af), 1, 1e-9);
      }),
      { numRuns: 200, seed: 11 },
    );
    close(probBBeatsA(30000, 1, 1, 30000), 0, 1e-12);
    close(probBBeatsA(3000, 3000, 3100, 2900), probBetaGreaterNumeric({ alpha: 3001, beta: 3001 }, { alpha: 3101, beta: 2901 }), 1e-8);
  });

  it('falls back to integration when no parameter is a whole number', () => {
    const a = { alpha: 10.5, beta: 4.5 };
    const b = { alpha: 12.5, beta: 3.5 };
    close(probBetaGreater(a, b), probBetaGreaterNumeric(a, b), 1e-12);
  });
});

describe('expectedLoss', () => {
  it('agrees with numeric integration to 1e-4', () => {
    fc.assert(
      fc.property(fc.nat(120), fc.nat(120), fc.nat(120), fc.nat(120), (as, af, bs, bf) => {
        const a = { alpha: as + 1, beta: af + 1 };
        const b = { alpha: bs + 1, beta: bf + 1 };
        close(expectedLossBeta(a, b), expectedLossBetaNumeric(a, b), 1e-4, `${as}/${af} vs ${bs}/${bf}`);
      }),
      { numRuns: 50, seed: 3 },
    );
  });

  it('satisfies loss(B) − loss(A) = mean(A) − mean(B)', () => {
    // E[max(a − b, 0)] − E[max(b − a, 0)] = E[a − b], a check that needs no integration at all.
    const lossB = expectedLoss(80, 10, 19, 1);
    const lossA = expectedLoss(19, 1, 80, 10);
    close(lossB - lossA, 81 / 92 - 20 / 22, 1e-12);
    close(lossB, 0.01618, 1e-5);
  });
});

describe('SPRT', () => {
  it('has the textbook bounds for alpha 0.05 and beta 0.2', () => {
    const b = sprtBounds(0.05, 0.2);
    close(b.upper, 2.773, 5e-4);
    close(b.lower, -1.558, 5e-4);
    assert.throws(() => sprtBounds(0, 0.2), /alpha/);
  });

  it('counts only discordant pairs and reaches a verdict', () => {
    const pairs = [
      { task: 't1', candidateSuccess: true, incumbentSuccess: false },
      { task: 't2', candidateSuccess: true, incumbentSuccess: true },
      { task: 't3', candidateSuccess: false, incumbentSuccess: true },
      { task: 't4', candidateSuccess: false, incumbentSuccess: false },
    ];
    assert.deepEqual(countPairs(pairs), { pairs: 4, wins: 1, losses: 1, ties: 2 });
    close(sprtLLR(1, 1, 0.5, 0.7), Math.log(1.4) + Math.log(0.6), 1e-12);
    const bounds = sprtBounds(0.05, 0.2);
    assert.equal(sprtVerdict(sprtLLR(9, 0, 0.5, 0.7), bounds), 'accept-h1');
    assert.equal(sprtVerdict(sprtLLR(8, 0, 0.5, 0.7), bounds), 'continue');
    assert.equal(sprtVerdict(sprtLLR(0, 4, 0.5, 0.7), bounds), 'accept-h0');
  });
});

describe('logTrialEvidence', () => {
  it('starts at 1 (log 0), grows for a better candidate and shrinks for a worse one', () => {
    close(logTrialEvidence(0, 0, 0, 0, 0.2, 20), 0, 1e-12);
    assert.ok(logTrialEvidence(90, 10, 560, 240, 0.2, 20) > Math.log(20));
    assert.ok(logTrialEvidence(40, 60, 560, 240, 0.2, 20) < 0);
  });

  it('has expectation 1 after one run when the candidate is no better', () => {
    // A test martingale: averaging the ratio over the null distribution of the first run gives 1.
    const r = 0.2;
    const p = 0.7;
    const e = (cs: number, cf: number, is: number, if_: number): number => Math.exp(logTrialEvidence(cs, cf, is, if_, r, 20));
    const mean = r * p * e(1, 0, 0, 0) + r * (1 - p) * e(0, 1, 0, 0) + (1 - r) * p * e(0, 0, 1, 0) + (1 - r) * (1 - p) * e(0, 0, 0, 1);
    close(mean, 1, 1e-12);
  });
});
