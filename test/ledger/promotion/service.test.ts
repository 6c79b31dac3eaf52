import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FormulaService, PromotionService, openLedger } from '../../../src/ledger/index';
import type { DecisionDetail, EvaluationResult, Ledger } from '../../../src/ledger/index';
import { assignArm, seededRandom } from '../../../src/ledger/promotion/index';
import { ledgerProjection } from '../../../src/ledger/projection';
import { replay } from '../../../src/ledger/store/store';
import { dumpTables, tempDir } from '../helpers';

const SHIPPED = path.join(__dirname, '..', '..', '..', 'formulas');
const FAMILY = 'implement-and-review';

/** Smaller numbers than the defaults so a whole loop runs in a test; the rule is the same. */
const FAST = {
  stages: { trial: { candidateShare: 0.5 } },
  decision: { minCandidateRuns: 10, minIncumbentRuns: 10 },
  watch: { runs: 10 },
};

// The simulator's seeded generator (mulberry32), so every run of the test sees the same outcomes.
const rng = seededRandom;

interface World {
  workspace: string;
  ledger: Ledger;
  formulas: FormulaService;
  promotion: PromotionService;
  incumbent: string;
  candidate: string;
  mutation: unknown[];
  clock: { t: number };
}

async function setup(policy?: object, dir?: string): Promise<World> {
  const workspace = dir ?? tempDir('gascity-promotion-');
  const clock = { t: Date.parse('2026-03-01T10:00:00Z') };
  const ledger = await openLedger(path.join(workspace, '.gascity', 'ledger'), { actor: 'test', now: () => new Date(clock.t) });
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  await formulas.importFormulas(SHIPPED);
  const promotion = new PromotionService(ledger, formulas);
  const incumbent = formulas.getFamily(FAMILY)!.activeVariantId!;
  const stepId = formulas.variantFormula(incumbent).steps[0]!.id;
  const mutation = [{ op: 'edit_instructions', stepId, instructions: 'Read the task twice and write down the acceptance criteria before planning.' }];
  const m = await formulas.mutateVariant({ variantId: incumbent, proposedBy: 'codex', mutations: mutation });
  if (policy) await promotion.setPolicy(FAMILY, policy);
  return { workspace, ledger, formulas, promotion, incumbent, candidate: m.variantId, mutation, clock };
}

let taskCounter = 0;

/**
 * One task arriving: a run from the family (the trial's chooser picks the variant), its outcome drawn
 * from the variant's true success rate, then the evaluation hook on the events that were written.
 */
async function arrive(w: World, truth: Record<string, number>, random: () => number, options: { taskKey?: string; tokens?: number } = {}) {
  const taskKey = options.taskKey ?? `task-${++taskCounter}`;
  const before = w.ledger.seq;
  w.clock.t += 60_000;
  const run = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: `do ${taskKey}` }, taskKey });
  const success = random() < (truth[run.variantId] ?? 0);
  if (success && taskCounter % 3 === 0) {
    await completeRun(w.ledger, run.runId);
  } else {
    await w.ledger.recordEvidence({ runId: run.runId, kind: 'run_outcome', success, tokens: options.tokens ?? 1000 });
  }
  const results = await w.promotion.evaluateAffected(w.ledger.events(before));
  return { run, success, results };
}

/** The tables a fresh replay of the journal builds must equal the live ones (trials and decisions included). */
async function assertReplays(ledger: Ledger): Promise<void> {
  const rebuilt = await replay(ledgerProjection, ledger.events(0, 1_000_000));
  assert.deepEqual(dumpTables(rebuilt), dumpTables(ledger.sql));
  rebuilt.close();
}

/** Works a run to the end the way workers would: claim, report, approve reviews, open gates. */
async function completeRun(ledger: Ledger, runId: string): Promise<void> {
  for (let guard = 0; guard < 50; guard++) {
    const graph = ledger.runGraph(runId)!;
    if (graph.run.status !== 'running') return;
    const review = graph.nodes.find((n) => n.state === 'review');
    if (review) { await ledger.reviewNode({ nodeId: review.id, verdict: 'approve' }); continue; }
    const blocked = graph.nodes.find((n) => n.state === 'blocked');
    if (blocked) { await ledger.openGate({ nodeId: blocked.id }); continue; }
    const ready = ledger.readyWork({ runId })[0];
    if (!ready) return;
    await ledger.claimNode({ nodeId: ready.id, worker: 'w' });
    await ledger.reportNode({ nodeId: ready.id, worker: 'w', outcome: 'done', tokens: 200 });
  }
}

/** Tasks arrive until a result with one of `actions` appears (or `max` tasks have arrived). */
async function until(w: World, truth: Record<string, number>, random: () => number, actions: string[], max = 400) {
  for (let i = 1; i <= max; i++) {
    const { results } = await arrive(w, truth, random);
    const hit = results.find((r) => actions.includes(r.action));
    if (hit) return { result: hit, tasks: i };
  }
  throw new Error(`no ${actions.join('/')} after ${max} tasks`);
}

function counted(w: World, variantId: string, fromSeq: number): { runs: number; successes: number } {
  return w.ledger.sql.get<{ runs: number; successes: number }>(
    "SELECT count(*) AS runs, coalesce(sum(outcome = 'success'), 0) AS successes FROM runs WHERE variant_id = ? AND created_seq >= ? AND outcome IS NOT NULL",
    [variantId, fromSeq])!;
}

test('a truly better candidate is promoted by the rule with a full decision record, watched, then confirmed', async (t: TestContext) => {
  const w = await setup(FAST);
  try {
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    assert.equal(trial.stage, 'trial');
    assert.equal(trial.share, 0.5);
    assert.equal(trial.incumbentId, w.incumbent);
    assert.equal(w.formulas.getVariant(w.candidate)!.status, 'trial');
    const random = rng(1);
    const truth = { [w.candidate]: 0.95, [w.incumbent]: 0.4 };
    const { result, tasks } = await until(w, truth, random, ['promoted', 'rejected', 'paused']);
    assert.equal(result.action, 'promoted');

    const promo = w.promotion.decisions(FAMILY).at(-1)!;
    const detail = promo.detail as DecisionDetail;
    const policy = w.promotion.policyFor(FAMILY);
    assert.equal(promo.verdict, 'promote');
    assert.equal(promo.actor, 'rule');
    assert.equal(promo.stage, 'trial');
    assert.equal(promo.policyVersion, 2, 'the defaults are version 1, the family policy version 2');
    assert.equal(promo.policyHash, policy.hash);
    assert.match(promo.reason, /should be promoted/);
    assert.equal(detail.period.fromSeq, trial.startedSeq);
    const cand = counted(w, w.candidate, trial.startedSeq);
    const inc = counted(w, w.incumbent, trial.startedSeq);
    // Both arms' counts are exactly the runs of the trial period with an outcome.
    assert.equal(detail.arms.candidate.runs, cand.runs);
    assert.equal(detail.arms.candidate.successes, cand.successes);
    assert.equal(detail.arms.incumbent.runs, inc.runs);
    assert.equal(detail.arms.incumbent.successes, inc.successes);
    assert.ok(detail.statistics.probBetter >= 0.95);
    assert.ok(detail.statistics.expectedLoss <= 0.01);
    assert.ok((detail.statistics.trialLogEvidence ?? 0) >= detail.statistics.trialEvidenceBound);
    assert.equal(detail.guardrails.length, 5);
    assert.ok(detail.guardrails.every((g) => g.pass));
    assert.deepEqual(detail.baseline, detail.arms.incumbent);
    t.diagnostic(`promoted after ${tasks} tasks: candidate ${cand.successes}/${cand.runs}, incumbent ${inc.successes}/${inc.runs}, P(better) ${detail.statistics.probBetter.toFixed(4)}, evidence ratio ${Math.exp(detail.statistics.trialLogEvidence!).toFixed(1)}`);

    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.candidate);
    assert.equal(w.formulas.getVariant(w.incumbent)!.status, 'retired', 'the previous variant is kept warm');
    assert.equal(w.promotion.trial(trial.id)!.stage, 'watch');

    // In the watch, every run uses the promoted variant; a clean window confirms the promotion.
    const watched = await until(w, truth, random, ['confirmed', 'rolled_back']);
    assert.equal(watched.result.action, 'confirmed');
    assert.equal(watched.tasks, 10);
    assert.equal(w.promotion.trial(trial.id)!.status, 'confirmed');
    const confirm = w.promotion.decisions(FAMILY).at(-1)!;
    assert.equal(confirm.verdict, 'confirm');
    assert.equal((confirm.detail as DecisionDetail).arms.candidate.runs, 10);
    assert.deepEqual((confirm.detail as DecisionDetail).arms.incumbent, detail.baseline, 'the watch compares with the recorded baseline');
    t.diagnostic(`decisions: ${w.promotion.decisions(FAMILY).map((d) => d.verdict).join(' ')}`);
  } finally {
    w.ledger.close();
  }
});

test('a truly worse candidate is rejected by the rule, and the same mutation is refused afterwards', async (t: TestContext) => {
  const w = await setup(FAST);
  try {
    await w.promotion.startTrial({ variantId: w.candidate });
    const { result, tasks } = await until(w, { [w.candidate]: 0.2, [w.incumbent]: 0.9 }, rng(2), ['promoted', 'rejected', 'paused']);
    assert.equal(result.action, 'rejected');
    const d = w.promotion.decisions(FAMILY).at(-1)!;
    const detail = d.detail as DecisionDetail;
    assert.equal(d.verdict, 'reject');
    assert.match(d.reason, /very likely worse/);
    assert.ok(detail.statistics.probBetter <= 0.05);
    assert.ok(detail.arms.candidate.runs >= 10 && detail.arms.incumbent.runs >= 10);
    t.diagnostic(`rejected after ${tasks} tasks: candidate ${detail.arms.candidate.successes}/${detail.arms.candidate.runs}, incumbent ${detail.arms.incumbent.successes}/${detail.arms.incumbent.runs}, P(better) ${detail.statistics.probBetter.toExponential(2)}`);
    assert.equal(w.formulas.getVariant(w.candidate)!.status, 'rejected');
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.incumbent);
    assert.equal(w.promotion.trials(FAMILY)[0]!.status, 'rejected');
    await assert.rejects(w.formulas.mutateVariant({ variantId: w.incumbent, mutations: w.mutation }), /proposed before as variant .* and rejected/);
    await assert.rejects(w.promotion.startTrial({ variantId: w.candidate }), /was rejected .*not trialled again/);
    // After the trial ended, runs go to the active variant again.
    const after = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: 'x' }, taskKey: 'after' });
    assert.equal(after.variantId, w.incumbent);
    assert.equal(after.arm, null);
  } finally {
    w.ledger.close();
  }
});

test('a regression in the watch window rolls back automatically to the previous variant, which was kept', async (t: TestContext) => {
  const w = await setup(FAST);
  try {
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    const random = rng(3);
    const promoted = await until(w, { [w.candidate]: 0.95, [w.incumbent]: 0.4 }, random, ['promoted', 'rejected', 'paused']);
    assert.equal(promoted.result.action, 'promoted');
    const baseline = (w.promotion.decisions(FAMILY).at(-1)!.detail as DecisionDetail).baseline!;
    // The promoted variant now fails every run.
    const rolled = await until(w, { [w.candidate]: 0, [w.incumbent]: 0.4 }, random, ['rolled_back', 'confirmed']);
    assert.equal(rolled.result.action, 'rolled_back');
    assert.ok(rolled.tasks < 10, 'rolled back before the window closed, once the end could no longer pass');
    const d = w.promotion.decisions(FAMILY).at(-1)!;
    assert.equal(d.verdict, 'rollback');
    assert.equal(d.actor, 'rule');
    assert.equal(d.stage, 'watch');
    assert.match(d.reason, /Roll back to the previous variant/);
    t.diagnostic(`rolled back after ${rolled.tasks} watched runs: ${(d.detail as DecisionDetail).arms.candidate.successes}/${rolled.tasks} against a baseline of ${baseline.successes}/${baseline.runs}`);
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.incumbent);
    assert.equal(w.formulas.getVariant(w.incumbent)!.status, 'active');
    assert.equal(w.formulas.getVariant(w.candidate)!.status, 'rejected');
    assert.equal(w.promotion.trial(trial.id)!.status, 'rolled_back');
    const lineage = w.formulas.lineage(FAMILY)!;
    assert.ok(lineage.variants.some((v) => v.id === w.candidate), 'the rolled-back variant is kept, never deleted');
    assert.deepEqual(lineage.selections.map((s) => s.variantId), [w.incumbent, w.candidate, w.incumbent]);
    // The first variant's activation at import is a decision too: every change of the active variant has one.
    assert.deepEqual(w.promotion.decisions(FAMILY).filter((x) => x.verdict !== 'continue').map((x) => x.verdict), ['select', 'promote', 'rollback']);
    await assertReplays(w.ledger);
  } finally {
    w.ledger.close();
  }
});

test('requireHumanApproval pauses a winning trial; the person\'s promotion is recorded with their name', async () => {
  const w = await setup({ ...FAST, requireHumanApproval: true });
  try {
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    const random = rng(1);
    const truth = { [w.candidate]: 0.95, [w.incumbent]: 0.4 };
    const { result } = await until(w, truth, random, ['promoted', 'rejected', 'paused']);
    assert.equal(result.action, 'paused');
    const pause = w.promotion.decisions(FAMILY).at(-1)!;
    assert.equal(pause.verdict, 'pause');
    assert.match(pause.reason, /^Awaiting approval: /);
    assert.equal((pause.detail as DecisionDetail).ruleVerdict, 'promote');
    assert.equal(w.promotion.trial(trial.id)!.status, 'paused');
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.incumbent, 'nothing changes without the person');

    // While paused nothing is routed to the candidate, and evaluating writes nothing.
    const keyForCandidate = Array.from({ length: 50 }, (_, i) => `k${i}`).find((k) => assignArm(k, w.candidate, 0.5) === 'candidate')!;
    const seq = w.ledger.seq;
    assert.equal((await w.promotion.evaluate(FAMILY)).action, 'none');
    assert.equal(w.ledger.seq, seq);
    const run = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: 'x' }, taskKey: keyForCandidate });
    assert.equal(run.variantId, w.incumbent);

    const assessed = await w.promotion.assess(w.candidate);
    assert.equal(assessed.ruleVerdict, 'promote');
    assert.equal(assessed.verdict, 'pause');
    assert.match(assessed.missing[0]!, /a person's decision/);

    await assert.rejects(w.promotion.promote(w.candidate, { actor: 'alice', reason: '' }), (e: Error & { field?: string }) => e.field === 'reason');
    const r = await w.promotion.promote(w.candidate, { actor: 'alice', reason: 'numbers look right and the diff is small' });
    assert.equal(r.action, 'promoted');
    const d = w.promotion.decisions(FAMILY).at(-1)!;
    assert.equal(d.verdict, 'promote');
    assert.equal(d.actor, 'alice');
    assert.equal(d.reason, 'numbers look right and the diff is small');
    assert.equal(d.policyHash, w.promotion.policyFor(FAMILY).hash);
    assert.equal((d.detail as DecisionDetail).ruleVerdict, 'promote');
    assert.ok((d.detail as DecisionDetail).arms.candidate.runs >= 10);
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.candidate);
    const after = w.promotion.trial(trial.id)!;
    assert.equal(after.stage, 'watch');
    assert.equal(after.status, 'open');
    await assertReplays(w.ledger);
  } finally {
    w.ledger.close();
  }
});

test('assignment is sticky by task: the same task key always lands on the same arm', async () => {
  const w = await setup(FAST);
  try {
    await w.promotion.startTrial({ variantId: w.candidate });
    let toCandidate = 0;
    for (let i = 0; i < 40; i++) {
      const key = `issue-${i}`;
      const a = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: key }, taskKey: key });
      const b = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: key }, taskKey: key });
      assert.equal(a.variantId, b.variantId);
      assert.equal(a.arm, b.arm);
      assert.equal(a.arm, assignArm(key, w.candidate, 0.5));
      assert.equal(a.variantId, a.arm === 'candidate' ? w.candidate : w.incumbent);
      if (a.arm === 'candidate') toCandidate++;
    }
    assert.ok(toCandidate > 8 && toCandidate < 32, `about half the tasks go to the candidate (${toCandidate} of 40)`);
    // Without a task key the run still gets an arm, drawn from a fresh random key.
    const free = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: 'no key' } });
    assert.ok(free.arm === 'candidate' || free.arm === 'incumbent');
  } finally {
    w.ledger.close();
  }
});

test('only runs of the same period count: incumbent runs from before the trial are left out', async () => {
  const w = await setup(FAST);
  try {
    const random = rng(4);
    for (let i = 0; i < 15; i++) await arrive(w, { [w.incumbent]: 1 }, random);
    assert.equal(counted(w, w.incumbent, 0).runs, 15);
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    let a = await w.promotion.assess(w.candidate);
    assert.equal(a.stage, 'trial');
    assert.deepEqual([a.arms.incumbent.runs, a.arms.candidate.runs], [0, 0]);
    assert.equal(a.period.fromSeq, trial.startedSeq);
    assert.match(a.missing.join('\n'), /10 more candidate runs .*\n10 more incumbent runs of the same period/);
    for (let i = 0; i < 6; i++) await arrive(w, { [w.incumbent]: 0.5, [w.candidate]: 0.5 }, random);
    a = await w.promotion.assess(w.candidate);
    assert.equal(a.arms.incumbent.runs + a.arms.candidate.runs, 6);
    assert.equal(a.arms.incumbent.runs, counted(w, w.incumbent, trial.startedSeq).runs);
  } finally {
    w.ledger.close();
  }
});

test('evaluating twice on unchanged evidence records nothing new, even from two processes at once', async () => {
  const w = await setup(FAST);
  try {
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    // Evidence arrives with no evaluation yet: the trial has no decision at all.
    const run = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: 'x' }, taskKey: 'race' });
    await w.ledger.recordEvidence({ runId: run.runId, kind: 'run_outcome', success: true });
    assert.deepEqual(w.promotion.decisions(FAMILY, { trialId: trial.id }), []);

    // A second process (its own Ledger on the same files) evaluates at the same time: one continue between them.
    const other = await openLedger(path.join(w.workspace, '.gascity', 'ledger'), { actor: 'other' });
    try {
      const otherPromotion = new PromotionService(other, new FormulaService(other, { workspaceDir: w.workspace }));
      const both: EvaluationResult[] = await Promise.all([w.promotion.evaluate(FAMILY), otherPromotion.evaluate(FAMILY)]);
      assert.deepEqual(both.map((r) => r.action).sort(), ['none', 'recorded']);
    } finally {
      other.close();
    }
    await w.ledger.refresh();
    const recorded = w.promotion.decisions(FAMILY, { trialId: trial.id });
    assert.deepEqual(recorded.map((d) => d.verdict), ['continue']);
    assert.match(recorded[0]!.reason, /not yet enough runs/);
    assert.equal((recorded[0]!.detail as DecisionDetail).basis, 'trial:too-few-runs');

    const seq = w.ledger.seq;
    const again = await w.promotion.evaluate(FAMILY);
    assert.equal(again.action, 'none');
    assert.match(again.reason, /no new evidence/);
    assert.equal(w.ledger.seq, seq);

    // New runs that leave the verdict and its reason as they were ("not yet enough runs") record nothing.
    const random = rng(5);
    for (let i = 0; i < 3; i++) {
      const { results } = await arrive(w, { [w.incumbent]: 0.5, [w.candidate]: 0.5 }, random);
      assert.deepEqual(results.map((r) => [r.action, r.reason.replace(/:.*/, '')]), [['none', 'the verdict and its reason are unchanged since the last decision']]);
    }
    assert.equal(w.promotion.decisions(FAMILY, { trialId: trial.id }).length, 1);
    // Nothing open anywhere: the hook returns at once.
    assert.deepEqual(await w.promotion.evaluateAffected([]), []);
  } finally {
    w.ledger.close();
  }
});

test('a screen of replays promotes a winning candidate straight into the watch and rejects a losing one', async () => {
  const w = await setup(FAST);
  try {
    const screen = await w.promotion.startTrial({ variantId: w.candidate, stage: 'screen' });
    assert.equal(screen.share, 0);
    const routed = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: 'x' }, taskKey: 'live' });
    assert.equal(routed.variantId, w.incumbent, 'the screen sends no live runs to the candidate');
    let last: EvaluationResult | undefined;
    let replays = 0;
    for (let i = 0; i < 20 && last?.action !== 'promoted'; i++) {
      last = await w.promotion.recordReplay({ trialId: screen.id, taskKey: `replay-${i}`, candidateSuccess: true, incumbentSuccess: i % 4 === 0 });
      replays++;
    }
    assert.equal(last!.action, 'promoted');
    assert.ok(replays >= 5, 'not before the screen\'s minimum of replays');
    const promoted = w.promotion.decisions(FAMILY).at(-1)!;
    assert.deepEqual([promoted.verdict, promoted.stage], ['promote', 'screen']);
    const detail = promoted.detail as DecisionDetail;
    assert.ok((detail.statistics.replayLogEvidence ?? 0) >= Math.log(20));
    assert.deepEqual(detail.arms.candidate.runs, replays, 'the candidate\'s replays are what the screen counted');
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.candidate);
    assert.equal(w.promotion.trial(screen.id)!.stage, 'watch');
    await w.promotion.reject(w.candidate, { actor: 'bob', reason: 'changed my mind' });
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.incumbent, 'rolled back');

    // A second candidate that fails every replay the incumbent passes is rejected.
    const stepId = w.formulas.variantFormula(w.incumbent).steps[0]!.id;
    const m = await w.formulas.mutateVariant({ variantId: w.incumbent, mutations: [{ op: 'edit_instructions', stepId, instructions: 'Skip planning.' }] });
    const s2 = await w.promotion.startTrial({ variantId: m.variantId, stage: 'screen' });
    for (let i = 0; i < 10 && last?.action !== 'rejected'; i++) last = await w.promotion.recordReplay({ trialId: s2.id, taskKey: `r2-${i}`, candidateSuccess: false, incumbentSuccess: true });
    assert.equal(last!.action, 'rejected');
    assert.match(w.promotion.decisions(FAMILY).at(-1)!.reason, /no better than the incumbent on (paired )?replays/);
  } finally {
    w.ledger.close();
  }
});

test('policies are validated and versioned; trials refuse what they cannot compare', async () => {
  const w = await setup();
  try {
    const def = w.promotion.policyFor(FAMILY);
    assert.equal(def.custom, false);
    assert.equal(def.version, 1);
    await assert.rejects(w.promotion.setPolicy(FAMILY, { decision: { promoteProbability: 1.5 } }),
      (e: Error & { field?: string }) => e.field === 'policy.decision.promoteProbability' && /decision\.promoteProbability/.test(e.message));
    await assert.rejects(w.promotion.setPolicy('nope', {}), /no family with id "nope"/);
    const v2 = await w.promotion.setPolicy(FAMILY, { requireHumanApproval: true });
    const v3 = await w.promotion.setPolicy(FAMILY, { watch: { runs: 5 } });
    assert.deepEqual([v2.version, v3.version], [2, 3]);
    assert.notEqual(v2.hash, v3.hash);
    assert.equal(w.promotion.policyFor(FAMILY).policy.requireHumanApproval, true, 'a partial policy keeps the other fields');
    assert.equal(w.formulas.getFamily(FAMILY)!.policyHash, v3.hash);

    await assert.rejects(w.promotion.startTrial({ variantId: w.incumbent }), /already the active variant/);
    await w.promotion.startTrial({ variantId: w.candidate });
    await assert.rejects(w.promotion.startTrial({ variantId: w.candidate }), /already has a open trial/);
    await assert.rejects(w.promotion.setPolicy(FAMILY, { stages: { trial: { candidateShare: 0.3 } } }), /candidateShare cannot change/);
    await assert.rejects(w.promotion.promote(w.incumbent, { actor: 'alice', reason: 'x' }), /live trial of/);

    // A person rejects the candidate: recorded with their name, and the trial ends.
    const r = await w.promotion.reject(w.candidate, { actor: 'carol', reason: 'the new step is redundant' });
    assert.equal(r.action, 'rejected');
    const d = w.promotion.decisions(FAMILY).at(-1)!;
    assert.deepEqual([d.verdict, d.actor, d.reason, d.policyVersion], ['reject', 'carol', 'the new step is redundant', 3]);
    assert.equal(w.promotion.liveTrialOf(FAMILY), undefined);
  } finally {
    w.ledger.close();
  }
});

test('a person can promote a candidate that had no trial: it is watched, and their rejection in the watch rolls it back', async () => {
  const w = await setup(FAST);
  try {
    const random = rng(6);
    for (let i = 0; i < 5; i++) await arrive(w, { [w.incumbent]: 0.8 }, random);
    const before = await w.promotion.assess(w.candidate);
    assert.match(before.missing[0]!, /^a trial: /);
    const p = await w.promotion.promote(w.candidate, { actor: 'dana', reason: 'urgent fix to the plan step' });
    assert.equal(p.action, 'promoted');
    const d = w.promotion.decisions(FAMILY).at(-1)!;
    assert.deepEqual([d.verdict, d.actor, d.stage, d.trialId], ['promote', 'dana', 'manual', p.trialId]);
    assert.equal((d.detail as DecisionDetail).baseline!.runs, 5, 'the watch compares with the previous variant\'s recent runs');
    const t = w.promotion.trial(p.trialId!)!;
    assert.deepEqual([t.stage, t.status, t.incumbentId], ['watch', 'open', w.incumbent]);
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.candidate);
    await arrive(w, { [w.candidate]: 1 }, random);
    const r = await w.promotion.reject(w.candidate, { actor: 'erin', reason: 'reviewers dislike the new plans' });
    assert.equal(r.action, 'rolled_back');
    const back = w.promotion.decisions(FAMILY).at(-1)!;
    assert.deepEqual([back.verdict, back.actor, back.stage], ['rollback', 'erin', 'watch']);
    assert.equal(w.formulas.getFamily(FAMILY)!.activeVariantId, w.incumbent);
    assert.equal(w.formulas.getVariant(w.candidate)!.status, 'rejected');
    await assertReplays(w.ledger);
  } finally {
    w.ledger.close();
  }
});
