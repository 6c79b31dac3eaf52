import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide } from '../../../src/ledger/promotion/decide';
import type { ArmStats } from '../../../src/ledger/promotion/decide';
import { defaultPolicy, policyHash } from '../../../src/ledger/promotion/policy';
import type { PairedResult } from '../../../src/ledger/promotion/stats';

// The worked example in docs/promotion.md.
const incumbent: ArmStats = { runs: 200, successes: 140, interventions: 10, reviewRejections: 6, tokens: 2_400_000, durationMs: 200 * 90_000 };
const candidate: ArmStats = { runs: 50, successes: 46, interventions: 3, reviewRejections: 2, tokens: 640_000, durationMs: 50 * 95_000 };

function arm(runs: number, successes: number, over: Partial<ArmStats> = {}): ArmStats {
  return { runs, successes, interventions: 0, reviewRejections: 0, tokens: runs * 1000, durationMs: runs * 60_000, ...over };
}

function pairs(wins: number, losses: number, ties: number): PairedResult[] {
  const out: PairedResult[] = [];
  for (let i = 0; i < wins; i++) out.push({ task: `w${i}`, candidateSuccess: true, incumbentSuccess: false });
  for (let i = 0; i < losses; i++) out.push({ task: `l${i}`, candidateSuccess: false, incumbentSuccess: true });
  for (let i = 0; i < ties; i++) out.push({ task: `t${i}`, candidateSuccess: true, incumbentSuccess: true });
  return out;
}

describe('decide in the trial', () => {
  it('promotes the worked example and records why', () => {
    const policy = defaultPolicy();
    const d = decide({ policy, incumbent, candidate, stage: 'trial' });
    assert.equal(d.verdict, 'promote');
    assert.equal(d.ruleVerdict, 'promote');
    assert.equal(d.nextStage, 'watch');
    assert.ok(d.statistics.probBetter > 0.999);
    assert.ok(d.statistics.expectedLoss < 1e-4);
    assert.ok((d.statistics.trialLogEvidence ?? 0) >= d.statistics.trialEvidenceBound);
    assert.deepEqual(
      d.guardrails.map((r) => [r.name, r.status]),
      [
        ['interventionRate', 'pass'],
        ['reviewRejectionRate', 'pass'],
        ['tokensPerRun', 'pass'],
        ['durationPerRun', 'pass'],
        ['falseDoneRate', 'pass'],
      ],
    );
    const tokens = d.guardrails.find((r) => r.name === 'tokensPerRun');
    assert.equal(tokens?.incumbent, 12_000);
    assert.equal(tokens?.candidate, 12_800);
    assert.ok(Math.abs((tokens?.worsening ?? 0) - 0.0667) < 1e-3);
    assert.match(d.reason, /46 of 50 runs against 140 of 200/);
    assert.deepEqual(d.missing, []);
    assert.equal(d.policyVersion, 1);
    assert.equal(d.policyHash, policyHash(policy));
    assert.deepEqual(d.arms, { incumbent, candidate });
  });

  it('pauses a promotion for a person when the policy asks for approval', () => {
    const policy = { ...defaultPolicy(), requireHumanApproval: true };
    const d = decide({ policy, incumbent, candidate, stage: 'trial' });
    assert.equal(d.verdict, 'pause');
    assert.equal(d.ruleVerdict, 'promote');
    assert.equal(d.nextStage, null);
    assert.match(d.reason, /^Awaiting approval/);
    assert.deepEqual(d.missing, ['approval by a person']);
  });

  it('says how many more runs it needs before deciding', () => {
    const d = decide({ policy: defaultPolicy(), incumbent: arm(15, 10), candidate: arm(8, 8), stage: 'trial' });
    assert.equal(d.verdict, 'continue');
    assert.deepEqual(d.missing, [
      '12 more candidate runs before a promotion can be decided',
      '5 more incumbent runs of the same period before a promotion can be decided',
    ]);
  });

  it('holds back a better candidate that breaks a guardrail', () => {
    const costly = { ...candidate, tokens: 50 * 16_000 };
    const d = decide({ policy: defaultPolicy(), incumbent, candidate: costly, stage: 'trial' });
    assert.equal(d.verdict, 'continue');
    const row = d.guardrails.find((r) => r.name === 'tokensPerRun');
    assert.equal(row?.status, 'fail');
    assert.equal(row?.pass, false);
    assert.match(d.reason, /tokensPerRun is worse by 0.333 of the incumbent, beyond the bound of 0.2/);
    assert.ok(d.missing.some((m) => m.startsWith('tokensPerRun back within its bound')));
    const off = defaultPolicy();
    off.guardrails.tokensPerRun.enabled = false;
    assert.equal(decide({ policy: off, incumbent, candidate: costly, stage: 'trial' }).verdict, 'promote');
  });

  it('rejects a candidate that is very likely worse', () => {
    const d = decide({ policy: defaultPolicy(), incumbent: arm(200, 140), candidate: arm(25, 10), stage: 'trial' });
    assert.equal(d.verdict, 'reject');
    assert.ok(d.statistics.probBetter <= 0.05);
    assert.match(d.reason, /very likely worse/);
  });

  it('rejects when paired replays accept "no better"', () => {
    const d = decide({ policy: defaultPolicy(), incumbent: arm(50, 35), candidate: arm(10, 8), pairs: pairs(0, 4, 6), stage: 'trial' });
    assert.equal(d.verdict, 'reject');
    assert.equal(d.statistics.sprtVerdict, 'accept-h0');
  });

  it('pauses for a person at the inconclusive cap', () => {
    const d = decide({ policy: defaultPolicy(), incumbent: arm(800, 560), candidate: arm(200, 142), stage: 'trial' });
    assert.equal(d.verdict, 'pause');
    assert.match(d.reason, /cap of 200 candidate runs/);
  });
});

describe('decide in the screen', () => {
  const policy = defaultPolicy();
  // The incumbent's history: 300 runs at 0.7.
  const history = arm(300, 210);

  it('waits for the minimum number of replays', () => {
    const d = decide({ policy, incumbent: history, candidate: arm(3, 3), stage: 'screen' });
    assert.equal(d.verdict, 'continue');
    assert.deepEqual(d.missing, ['2 more replays of the candidate before the screen can be decided']);
  });

  it('promotes on replays alone once their evidence against the incumbent\'s history reaches 1 / falsePromotionRate', () => {
    const d = decide({ policy, incumbent: history, candidate: arm(25, 24), stage: 'screen' });
    assert.equal(d.verdict, 'promote');
    assert.equal(d.nextStage, 'watch');
    assert.ok((d.statistics.replayLogEvidence ?? 0) >= Math.log(20));
    assert.match(d.reason, /promoted on its replays: the candidate succeeded in 24 of 25 replays against 210 of 300 runs in the incumbent's history/);
    // The same replays against a history as good as the candidate are no evidence.
    const level = decide({ policy, incumbent: arm(300, 288), candidate: arm(25, 24), stage: 'screen' });
    assert.notEqual(level.verdict, 'promote');
  });

  it('rejects a candidate no better than the incumbent\'s history, and when paired replays say "no better"', () => {
    const d = decide({ policy, incumbent: history, candidate: arm(30, 20), stage: 'screen' });
    assert.equal(d.verdict, 'reject');
    assert.ok((d.statistics.replayLogEvidence ?? 0) <= -Math.log(25));
    assert.match(d.reason, /no better than the incumbent on replays/);
    const paired = decide({ policy, incumbent: history, candidate: arm(10, 6), pairs: pairs(0, 4, 6), stage: 'screen' });
    assert.equal(paired.verdict, 'reject');
  });

  it('moves on to a trial on live runs at its cap of replays, and holds a candidate that breaks a guardrail', () => {
    const capped = { ...policy, stages: { ...policy.stages, screen: { ...policy.stages.screen, maxPairs: 12 } } };
    const d = decide({ policy: capped, incumbent: history, candidate: arm(12, 10), stage: 'screen' });
    assert.equal(d.verdict, 'continue');
    assert.equal(d.nextStage, 'trial');
    assert.match(d.reason, /cap of 12 replays/);
    const costly = decide({ policy, incumbent: history, candidate: arm(25, 24, { tokens: 25 * 2000 }), stage: 'screen' });
    assert.equal(costly.verdict, 'continue');
    assert.match(costly.reason, /tokensPerRun is worse by 1/);
  });
});

describe('the false-done guardrail', () => {
  const policy = defaultPolicy();

  it('blocks a promotion when the candidate\'s model says "done" more often where its checks failed', () => {
    const inc = { ...incumbent, falseDone: 4 };
    const ok = decide({ policy, incumbent: inc, candidate: { ...candidate, falseDone: 2 }, stage: 'trial' });
    assert.equal(ok.verdict, 'promote', ok.reason);
    const d = decide({ policy, incumbent: inc, candidate: { ...candidate, falseDone: 6 }, stage: 'trial' });
    assert.equal(d.verdict, 'continue');
    const row = d.guardrails.find((r) => r.name === 'falseDoneRate')!;
    assert.deepEqual([row.status, row.incumbent, row.candidate], ['fail', 0.02, 0.12]);
    assert.match(d.reason, /falseDoneRate is worse by 0.1, beyond the bound of 0.05/);
    assert.ok(d.missing.some((m) => m.startsWith('falseDoneRate back within its bound')));
  });

  it('rolls a promotion back when false "done" rises in the watch window, and applies the default bound to an older policy', () => {
    const baseline = arm(200, 140, { falseDone: 4 });
    const d = decide({ policy, incumbent: baseline, candidate: arm(20, 16, { falseDone: 3 }), stage: 'watch' });
    assert.equal(d.verdict, 'rollback');
    assert.match(d.reason, /falseDoneRate is worse by 0.13/);
    const older = defaultPolicy();
    delete (older.guardrails as { falseDoneRate?: unknown }).falseDoneRate;
    const o = decide({ policy: older, incumbent, candidate: { ...candidate, falseDone: 6 }, stage: 'trial' });
    assert.equal(o.guardrails.find((r) => r.name === 'falseDoneRate')!.bound, 0.05);
    assert.equal(o.verdict, 'continue');
  });

  it('refuses impossible false-done counts naming the field', () => {
    assert.throws(() => decide({ policy, incumbent, candidate: { ...candidate, falseDone: 51 }, stage: 'trial' }), /candidate\.falseDone/);
    assert.throws(() => decide({ policy, incumbent: { ...incumbent, falseDone: -1 }, candidate, stage: 'trial' }), /incumbent\.falseDone/);
    assert.throws(() => decide({ policy, incumbent: { ...incumbent, falseDone: 0.5 }, candidate, stage: 'trial' }), /incumbent\.falseDone/);
  });
});

describe('decide in the watch window', () => {
  const baseline = arm(200, 140, { interventions: 10 });

  it('settles the promotion when nothing regressed, without asking for approval again', () => {
    const policy = { ...defaultPolicy(), requireHumanApproval: true };
    const d = decide({ policy, incumbent: baseline, candidate: arm(20, 15, { interventions: 1 }), stage: 'watch' });
    assert.equal(d.verdict, 'promote');
    assert.equal(d.nextStage, 'done');
    assert.equal(d.guardrails[0]?.name, 'successRate');
  });

  it('rolls back on a guardrail regression at the end of the window', () => {
    const d = decide({ policy: defaultPolicy(), incumbent: baseline, candidate: arm(20, 15, { interventions: 5 }), stage: 'watch' });
    assert.equal(d.verdict, 'rollback');
    assert.match(d.reason, /interventionRate is worse by 0.2/);
  });

  it('rolls back early only once the window can no longer pass', () => {
    const policy = defaultPolicy();
    const early = decide({ policy, incumbent: baseline, candidate: arm(5, 5, { interventions: 4 }), stage: 'watch' });
    assert.equal(early.verdict, 'rollback');
    assert.match(early.reason, /even if the remaining 15 watched runs went perfectly/);
    assert.equal(decide({ policy, incumbent: baseline, candidate: arm(10, 2), stage: 'watch' }).verdict, 'continue');
    assert.equal(decide({ policy, incumbent: baseline, candidate: arm(10, 1), stage: 'watch' }).verdict, 'rollback');
    const watching = decide({ policy, incumbent: baseline, candidate: arm(5, 3), stage: 'watch' });
    assert.deepEqual(watching.missing, ['15 more watched runs before the promotion is settled']);
  });
});

describe('decide on any input', () => {
  it('rejects impossible arm counts naming the field', () => {
    assert.throws(() => decide({ policy: defaultPolicy(), incumbent: arm(10, 5), candidate: arm(3, 4), stage: 'trial' }), /candidate\.successes/);
    assert.throws(() => decide({ policy: defaultPolicy(), incumbent: arm(10, 5, { tokens: -1 }), candidate: arm(3, 2), stage: 'trial' }), /incumbent\.tokens/);
    const bad = defaultPolicy();
    bad.decision.promoteProbability = 2;
    assert.throws(() => decide({ policy: bad, incumbent: arm(10, 5), candidate: arm(3, 2), stage: 'trial' }), /decision\.promoteProbability/);
  });

  it('always gives a consistent verdict, so it is safe after every run', () => {
    const policy = defaultPolicy();
    const armArb = fc
      .record({ runs: fc.nat(400), rate: fc.double({ min: 0, max: 1, noNaN: true }), interventions: fc.nat(40), tokens: fc.nat(1_000_000) })
      .map(({ runs, rate, interventions, tokens }) => arm(runs, Math.floor(runs * rate), { interventions, tokens }));
    fc.assert(
      fc.property(armArb, armArb, fc.constantFrom('screen' as const, 'trial' as const, 'watch' as const), fc.nat(30), fc.nat(30), (inc, cand, stage, w, l) => {
        const d = decide({ policy, incumbent: inc, candidate: cand, pairs: pairs(w, l, 3), stage });
        if (d.verdict === 'rollback') assert.equal(stage, 'watch');
        // Moving on to the next stage needs nothing more; staying put always says what is missing.
        if (d.verdict === 'continue' && d.nextStage === null) assert.ok(d.missing.length > 0, d.reason);
        else assert.deepEqual(d.missing, []);
        assert.ok(d.reason.endsWith('.'));
        assert.ok(d.statistics.probBetter >= 0 && d.statistics.probBetter <= 1);
        assert.ok(d.statistics.expectedLoss >= 0);
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
