import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FormulaService, PromotionService, openLedger } from '../../../src/ledger/index';
import type { DecisionDetail, Ledger } from '../../../src/ledger/index';
import { decide, seededRandom } from '../../../src/ledger/promotion/index';
import type { ArmStats } from '../../../src/ledger/promotion/index';
import { armStats, entered } from '../../../src/ledger/promotion/measurement';
import type { RawTrial } from '../../../src/ledger/promotion/measurement';
import { ledgerProjection } from '../../../src/ledger/projection';
import { migrate } from '../../../src/ledger/schema';
import { replay } from '../../../src/ledger/store/store';
import type { Sql } from '../../../src/ledger/store/sql';
import { dumpTables, tempDir } from '../helpers';

const SHIPPED = path.join(__dirname, '..', '..', '..', 'formulas');
const FAMILY = 'implement-and-review';
const FAST = { stages: { trial: { candidateShare: 0.5 } }, decision: { minCandidateRuns: 10, minIncumbentRuns: 10 }, watch: { runs: 10 } };

interface World { ledger: Ledger; formulas: FormulaService; promotion: PromotionService; incumbent: string; candidate: string }

async function setup(): Promise<World> {
  const workspace = tempDir('gascity-arms-');
  const ledger = await openLedger(path.join(workspace, '.gascity', 'ledger'), { actor: 'test' });
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  await formulas.importFormulas(SHIPPED);
  const promotion = new PromotionService(ledger, formulas);
  const incumbent = formulas.getFamily(FAMILY)!.activeVariantId!;
  const stepId = formulas.variantFormula(incumbent).steps[0]!.id;
  const m = await formulas.mutateVariant({ variantId: incumbent, proposedBy: 'codex', mutations: [{ op: 'edit_instructions', stepId, instructions: 'Read twice.' }] });
  await promotion.setPolicy(FAMILY, FAST);
  return { ledger, formulas, promotion, incumbent, candidate: m.variantId };
}

let task = 0;

/**
 * One task: a run whose outcome and costs arrive in several pieces (a derived outcome from working the
 * nodes, or evidence with tokens, an intervention and sometimes a corrected outcome), then the hook.
 */
async function arrive(w: World, truth: Record<string, number>, random: () => number) {
  const before = w.ledger.seq;
  const run = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: `t${++task}` }, taskKey: `k${task}` });
  const success = random() < (truth[run.variantId] ?? 0);
  if (task % 4 === 0) {
    // Work the first ready node: its report adds tokens and time to the run before any outcome.
    const ready = w.ledger.readyWork({ runId: run.runId })[0];
    if (ready) {
      await w.ledger.claimNode({ nodeId: ready.id, worker: 'w' });
      await w.ledger.reportNode({ nodeId: ready.id, worker: 'w', outcome: 'done', tokens: 300, durationMs: 40 });
    }
  }
  await w.ledger.recordEvidence({ runId: run.runId, kind: 'run_outcome', success, tokens: 100 + (task % 7), interventions: task % 5 === 0 ? 1 : 0 });
  // Now and then the outcome is corrected afterwards: the arm must move the run from one count to the other.
  if (task % 6 === 0) await w.ledger.recordEvidence({ runId: run.runId, kind: 'run_outcome', success: !success, reviewRejections: 1 });
  return w.promotion.evaluateAndRecord(before);
}

function kept(sql: Sql, trialId: string, variantId: string): ArmStats | undefined {
  const r = sql.get<{ runs: number; successes: number; interventions: number; review_rejections: number; tokens: number; duration_ms: number; false_done: number }>(
    'SELECT * FROM trial_arms WHERE trial_id = ? AND variant_id = ?', [trialId, variantId]);
  return r && {
    runs: r.runs, successes: r.successes, interventions: r.interventions, reviewRejections: r.review_rejections, tokens: r.tokens, durationMs: r.duration_ms,
    falseDone: r.false_done,
  };
}

/**
 * The kept counts equal the sums over the runs table the service used to compute (the reference), and
 * the rule given those sums says exactly what the service says now.
 */
async function assertSameAsSums(w: World): Promise<void> {
  const sql = w.ledger.sql;
  const t = sql.get<RawTrial>("SELECT * FROM trials WHERE family_id = ? AND status IN ('open', 'paused')", [FAMILY]);
  if (!t || t.stage === 'screen') return;
  const policy = w.promotion.policyFor(FAMILY).policy;
  const a = await w.promotion.assess(t.candidate_id);
  if (t.stage === 'trial') {
    const from = entered(sql, t, 'trial')?.seq ?? t.started_seq;
    const cand = armStats(sql, t.candidate_id, from);
    const inc = armStats(sql, t.incumbent_id, from);
    assert.deepEqual(kept(sql, t.id, t.candidate_id), cand);
    assert.deepEqual(kept(sql, t.id, t.incumbent_id), inc);
    const ref = decide({ policy, incumbent: inc, candidate: cand, stage: 'trial' });
    assert.deepEqual([a.verdict, a.reason, a.missing], [ref.verdict, ref.reason, [...ref.missing]]);
  } else {
    const promotion = entered(sql, t, 'watch')!;
    const cand = armStats(sql, t.candidate_id, promotion.seq + 1);
    assert.deepEqual(kept(sql, t.id, t.candidate_id), cand);
    const ref = decide({ policy, incumbent: promotion.detail.baseline!, candidate: cand, stage: 'watch' });
    assert.deepEqual([a.verdict, a.reason], [ref.verdict, ref.reason]);
  }
}

/** A fresh replay of the journal equals the live tables, and so does migrating a schema-2 copy of them. */
async function assertRebuilds(ledger: Ledger): Promise<void> {
  const rebuilt = await replay(ledgerProjection, ledger.events(0, 1_000_000));
  try {
    const live = dumpTables(ledger.sql);
    assert.deepEqual(dumpTables(rebuilt), live);
    // The same tables as a ledger written before schema 3 has them, then its migrations: the same rows.
    rebuilt.exec(`DROP INDEX runs_archived; -- migration 10, before the column it reads
      DROP TABLE trial_arms; DROP TABLE trial_runs; DROP INDEX decisions_trial; DROP INDEX runs_created; DROP INDEX runs_family;
      DROP INDEX evidence_node; DROP INDEX nodes_worker; ALTER TABLE runs DROP COLUMN awaits_checks;
      ALTER TABLE nodes DROP COLUMN review_rejections; ALTER TABLE nodes DROP COLUMN interventions; ALTER TABLE runs DROP COLUMN false_done;
      DROP TABLE run_worktrees; -- branch replay: migration 7
      ALTER TABLE bids DROP COLUMN person; -- migration 8 (the overlay tables of migration 5 are created only if missing)
      DROP INDEX runs_archivable; DROP INDEX handoffs_node; DROP INDEX mail_members_mail; ALTER TABLE runs DROP COLUMN archive; -- migration 9
      DROP TABLE archive_files; DROP TABLE archived_runs; DROP TABLE variant_archived; -- migration 10`);
    migrate(rebuilt, 2);
    assert.deepEqual(dumpTables(rebuilt), live, 'a ledger migrated from schema 2 gets the same rows');
  } finally {
    rebuilt.close();
  }
}

test('kept arm counts equal the runs they count through a trial, a promotion and a watch, and replay exactly', async () => {
  const w = await setup();
  try {
    const random = seededRandom(11);
    // History before the trial: it must count for nothing.
    for (let i = 0; i < 8; i++) await arrive(w, { [w.incumbent]: 0.6 }, random);
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    assert.deepEqual(kept(w.ledger.sql, trial.id, w.candidate)?.runs, 0);
    const truth = { [w.candidate]: 0.95, [w.incumbent]: 0.35 };
    const actions: string[] = [];
    for (let i = 0; i < 200 && !actions.includes('confirmed') && !actions.includes('rolled_back'); i++) {
      const results = await arrive(w, truth, random);
      actions.push(...results.map((r) => r.action));
      await assertSameAsSums(w);
      if (i % 15 === 0) await assertRebuilds(w.ledger);
    }
    assert.ok(actions.includes('promoted'), `the better candidate was promoted (${actions.join(' ')})`);
    assert.ok(actions.includes('confirmed') || actions.includes('rolled_back'));
    // The trial ended: nothing is kept for it any more.
    assert.equal(w.ledger.sql.get<{ c: number }>('SELECT count(*) AS c FROM trial_arms')!.c, 0);
    assert.equal(w.ledger.sql.get<{ c: number }>('SELECT count(*) AS c FROM trial_runs')!.c, 0);
    await assertRebuilds(w.ledger);
  } finally {
    w.ledger.close();
  }
});

test('a continue is recorded only when the verdict or its reason changes, never twice in a row for the same reason', async () => {
  const w = await setup();
  try {
    const trial = await w.promotion.startTrial({ variantId: w.candidate });
    const random = seededRandom(12);
    // Even arms: the trial runs long without a verdict, through several reasons to go on.
    let tasks = 0;
    for (; tasks < 60; tasks++) {
      const results = await arrive(w, { [w.candidate]: 0.5, [w.incumbent]: 0.5 }, random);
      if (results.some((r) => r.action !== 'recorded')) break;
    }
    const decisions = w.promotion.decisions(FAMILY, { trialId: trial.id });
    const continues = decisions.filter((d) => d.verdict === 'continue');
    assert.ok(continues.length >= 2, `more than one reason was seen (${continues.map((d) => (d.detail as DecisionDetail).basis).join(', ')})`);
    assert.ok(continues.length < tasks / 3, `${continues.length} continues for ${tasks} tasks`);
    for (let i = 1; i < decisions.length; i++) {
      const [a, b] = [decisions[i - 1]!, decisions[i]!];
      if (a.verdict === 'continue' && b.verdict === 'continue' && a.stage === b.stage) {
        assert.notEqual((a.detail as DecisionDetail).basis, (b.detail as DecisionDetail).basis, `decisions ${a.id} and ${b.id} repeat one reason`);
      }
    }
    await assertRebuilds(w.ledger);
  } finally {
    w.ledger.close();
  }
});

test('a screen keeps no live-run counts; advancing to the trial starts them from nothing', async () => {
  const w = await setup();
  try {
    // A short screen that reaches its cap of replays undecided, so the candidate moves on to a trial.
    await w.promotion.setPolicy(FAMILY, { stages: { screen: { minPairs: 2, maxPairs: 4 } } });
    const screen = await w.promotion.startTrial({ variantId: w.candidate, stage: 'screen' });
    const random = seededRandom(13);
    // Live runs during the screen go to the active variant and must not count for the trial that follows.
    for (let i = 0; i < 3; i++) await arrive(w, { [w.incumbent]: 0.5 }, random);
    assert.equal(w.ledger.sql.get<{ c: number }>('SELECT count(*) AS c FROM trial_runs')!.c, 0);
    let advanced = false;
    for (let i = 0; i < 4 && !advanced; i++) {
      const r = await w.promotion.recordReplay({ trialId: screen.id, taskKey: `s${i}`, candidateSuccess: i % 2 === 0, incumbentSuccess: i % 3 === 0 });
      advanced = r.action === 'advanced';
    }
    assert.ok(advanced, 'the screen reached its cap and moved on');
    assert.equal(w.promotion.trial(screen.id)!.stage, 'trial');
    assert.deepEqual(kept(w.ledger.sql, screen.id, w.incumbent), { runs: 0, successes: 0, interventions: 0, reviewRejections: 0, tokens: 0, durationMs: 0, falseDone: 0 });
    for (let i = 0; i < 6; i++) {
      await arrive(w, { [w.candidate]: 0.7, [w.incumbent]: 0.5 }, random);
      await assertSameAsSums(w);
    }
    await assertRebuilds(w.ledger);
  } finally {
    w.ledger.close();
  }
});
