import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, defaultPolicy, evolutionPolicySchema, parsePolicy, policyHash, PolicyValidationError } from '../../../src/ledger/promotion/policy';

describe('evolution policy', () => {
  it('has defaults that validate and match the design', () => {
    const p = parsePolicy(defaultPolicy());
    assert.equal(p.decision.promoteProbability, 0.95);
    assert.equal(p.decision.maxExpectedLoss, 0.01);
    assert.equal(p.decision.minCandidateRuns, 20);
    assert.equal(p.decision.rejectProbability, 0.05);
    assert.equal(p.decision.maxCandidateRuns, 200);
    assert.deepEqual(p.decision.prior, { alpha: 1, beta: 1 });
    assert.equal(p.stages.trial.candidateShare, 0.2);
    assert.equal(p.guardrails.tokensPerRun.kind, 'relative');
    assert.equal(p.guardrails.interventionRate.kind, 'absolute');
    assert.equal(p.watch.runs, 20);
  });

  it('hashes the same policy alike whatever the key order, and differently when a value changes', () => {
    const p = defaultPolicy();
    const reverseKeys = (v: unknown): unknown =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]))
        : v;
    const reordered = reverseKeys(p);
    assert.notEqual(JSON.stringify(reordered), JSON.stringify(p));
    assert.equal(canonicalJson(reordered), canonicalJson(p));
    assert.equal(policyHash(p), policyHash(defaultPolicy()));
    assert.match(policyHash(p), /^[0-9a-f]{64}$/);
    const changed = defaultPolicy();
    changed.decision.promoteProbability = 0.97;
    assert.notEqual(policyHash(changed), policyHash(p));
  });

  it('names the field in validation errors', () => {
    const bad = defaultPolicy() as unknown as { stages: { screen: { sprt: { p1: number } } }; version: number };
    bad.stages.screen.sprt.p1 = 0.4;
    assert.throws(() => parsePolicy(bad), (e: unknown) => e instanceof PolicyValidationError && /stages\.screen\.sprt\.p1/.test(e.message));
    const badShare = defaultPolicy();
    badShare.stages.trial.candidateShare = 1;
    assert.throws(() => parsePolicy(badShare), /stages\.trial\.candidateShare/);
    const badVersion = { ...defaultPolicy(), version: 1.5 };
    assert.throws(() => parsePolicy(badVersion), /version/);
    assert.equal(evolutionPolicySchema.safeParse({}).success, false);
  });
});
