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

  it('validates the false-done guardrail and the screen\'s new fields like the others, and reads a policy stored before them', () => {
    const p = parsePolicy(defaultPolicy());
    assert.deepEqual(p.guardrails.falseDoneRate, { enabled: true, kind: 'absolute', maxIncrease: 0.05 });
    assert.deepEqual(p.watch.guardrails.falseDoneRate, { enabled: true, kind: 'absolute', maxIncrease: 0.1 });
    const cases: Array<[(x: ReturnType<typeof defaultPolicy>) => void, RegExp]> = [
      [(x) => { x.guardrails.falseDoneRate = { enabled: true, kind: 'relative', maxIncrease: 0.1 }; }, /guardrails\.falseDoneRate\.kind: falseDoneRate is a rate per run/],
      [(x) => { x.watch.guardrails.falseDoneRate = { enabled: true, kind: 'absolute', maxIncrease: 2 }; }, /watch\.guardrails\.falseDoneRate\.maxIncrease/],
      [(x) => { (x.guardrails.falseDoneRate as unknown as { maxIncrease: unknown }).maxIncrease = 'lots'; }, /guardrails\.falseDoneRate\.maxIncrease/],
      [(x) => { x.guardrails.falseDoneRate = { enabled: true, kind: 'absolute', maxIncrease: -0.1 }; }, /guardrails\.falseDoneRate\.maxIncrease/],
      [(x) => { x.stages.screen.minFailureReduction = 1; }, /stages\.screen\.minFailureReduction/],
      [(x) => { x.stages.screen.rejectEvidence = 1; }, /stages\.screen\.rejectEvidence/],
      [(x) => { x.stages.screen.historyRuns = 1e9; }, /stages\.screen\.historyRuns/],
    ];
    for (const [spoil, message] of cases) {
      const bad = defaultPolicy();
      spoil(bad);
      assert.throws(() => parsePolicy(bad), (e: unknown) => e instanceof PolicyValidationError && message.test(e.message), String(message));
    }
    // A policy stored before these fields existed still reads, with the defaults.
    const old = JSON.parse(JSON.stringify(defaultPolicy())) as { guardrails: Record<string, unknown>; watch: { guardrails: Record<string, unknown> }; stages: { screen: Record<string, unknown> } };
    delete old.guardrails.falseDoneRate;
    delete old.watch.guardrails.falseDoneRate;
    delete old.stages.screen.minFailureReduction;
    delete old.stages.screen.rejectEvidence;
    delete old.stages.screen.historyRuns;
    const read = parsePolicy(old);
    assert.equal(read.guardrails.falseDoneRate, undefined);
    assert.equal(read.stages.screen.minFailureReduction, 0.5);
    assert.equal(read.stages.screen.historyRuns, 500);
  });
});
