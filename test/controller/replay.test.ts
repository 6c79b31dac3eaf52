// The replay lab end to end: the real git CLI, the real Codex CLI and a scripted model that edits
// files with Codex's exec_command (the sample repository and formulas are in replayWorld.ts). The
// lab replays the incumbent's past tasks on both variants in throwaway worktrees at their base
// commit, records each pair, and the screen's rule moves the candidate on; budgets and cancel stop
// it; bad input is refused by name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseReplayInput, replayVariant } from '../../src/controller/index';
import type { ReplayProgress } from '../../src/controller/index';
import { LedgerError } from '../../src/ledger/index';
import { bundle } from '../ledger/storeBundle';
import { gitIn } from './git';
import { CODEX_BIN, cleanup } from './helpers';
import { REPO_FILES, THREAD, modelSwitches, runCli, world } from './replayWorld';

after(cleanup);

test('the replay lab drives pairs on past tasks in throwaway worktrees and the screen\'s rule promotes the candidate within the budget', { timeout: 600_000 }, async () => {
  const { s, base, past, candidate, incumbent } = await world(5);
  const c = await s.controller({ threadParams: THREAD, runIds: [] });
  const progress: ReplayProgress[] = [];
  const report = await replayVariant({ variantId: candidate, tasks: 5, budget: { runs: 10 } }, {
    ledger: s.ledger, formulas: s.formulas, promotion: s.promotion, controller: c, onProgress: (p) => progress.push(p),
  });

  // Newest past task first; each pair ran the same task (same variables) at the past run's base commit.
  assert.equal(report.startedTrial, true);
  assert.equal(report.stop, 'decided', report.summary);
  // Three replays (the policy's minimum) that all pass against a history that never did are enough.
  assert.equal(report.pairs.length, 3);
  assert.deepEqual(report.pairs.map((p) => p.pastRunId), past.slice().reverse().slice(0, 3));
  for (const p of report.pairs) {
    assert.deepEqual([p.candidateSuccess, p.incumbentSuccess, p.recorded, p.baseCommit], [true, false, true, base]);
    const cand = s.ledger.getRun(p.candidateRunId)!;
    const inc = s.ledger.getRun(p.incumbentRunId)!;
    assert.deepEqual([cand.variantId, inc.variantId, cand.taskKey, inc.taskKey, cand.arm, inc.arm], [candidate, incumbent, `replay:${p.pastRunId}`, `replay:${p.pastRunId}`, 'replay', 'replay']);
    assert.deepEqual(cand.vars, s.ledger.getRun(p.pastRunId)!.vars);
    // The candidate's run ran the fixing step; the check's output says why the incumbent's failed.
    assert.deepEqual(s.ledger.runGraph(cand.id)!.nodes.map((n) => [n.stepId, n.state]), [['investigate', 'done'], ['apply-fix', 'done']]);
    assert.match(s.ledger.evidence({ runId: inc.id }).find((e) => e.kind === 'check')!.note, /1 failing: add\(2, 3\) should be 5, got -1/);
    // Throwaway worktrees: recorded with their stats, then removed with their branches.
    for (const r of [cand.id, inc.id]) {
      const w = c.worktrees!.get(r)!;
      assert.equal(w.status, 'removed');
      assert.equal(fs.existsSync(w.path), false);
      assert.equal(w.baseCommit, base);
    }
    assert.deepEqual([c.worktrees!.get(cand.id)!.filesChanged, c.worktrees!.get(inc.id)!.filesChanged], [1, 0]);
  }
  assert.equal(gitIn(s.workspace, 'branch', '--list', 'gascity/*').split('\n').filter((l) => l.includes('replay')).length, 0);
  assert.equal(fs.existsSync(path.join(s.workspace, 'NOTES.md')), true);
  assert.equal(fs.readFileSync(path.join(s.workspace, 'calc.js'), 'utf8'), REPO_FILES['calc.js'], 'the person\'s checkout is untouched');

  // The rule promoted the candidate on its replays: it is the family's active variant, watched.
  const trial = s.promotion.trial(report.trialId)!;
  assert.deepEqual([trial.status, trial.stage, trial.candidateId, trial.incumbentId], ['open', 'watch', candidate, incumbent]);
  assert.equal(s.formulas.listFamilies().find((f) => f.id === 'fix-bug')!.activeVariantId, candidate);
  const last = s.promotion.decisions('fix-bug').at(-1)!;
  assert.equal(last.verdict, 'promote');
  assert.match(last.reason, /^The candidate should be promoted on its replays: the candidate succeeded in 3 of 3 replays against 0 of \d+ runs in the incumbent's history/);
  assert.equal(report.summary, `Replay stopped because the rule decided: 3 pair(s) recorded (candidate alone succeeded in 3, incumbent alone in 0); trial ${trial.id} is open in stage watch. The rule: ${last.reason}`);
  assert.deepEqual(progress.map((p) => p.type), ['planned', ...Array(3).fill(['pairStarted', 'pairEnded']).flat(), 'stopped']);
  await c.stop();
});

test('the run budget stops the lab before a pair that would exceed it; a cancel stops it at once and cancels its runs', { timeout: 600_000 }, async () => {
  const { s, candidate } = await world(3);
  const c = await s.controller({ threadParams: THREAD, runIds: [] });
  const deps = { ledger: s.ledger, formulas: s.formulas, promotion: s.promotion, controller: c };
  const r1 = await replayVariant({ variantId: candidate, tasks: 3, budget: { runs: 3 } }, deps);
  assert.equal(r1.stop, 'budget-runs');
  assert.equal(r1.pairs.length, 1);
  assert.equal(r1.spent.runs, 2);
  assert.match(r1.summary, /the run budget \(3\) would be exceeded by another pair: 1 pair\(s\) recorded .* trial t-[a-z0-9]+ is open in stage screen\. The rule: The screen has 1 replay of the candidate and needs 3 before it can be decided\.$/);

  // The second replay joins the open screen and skips the task already replayed; a cancel while the pair runs.
  const abort = new AbortController();
  const r2 = await replayVariant({ variantId: candidate, tasks: 3 }, {
    ...deps, signal: abort.signal, onProgress: (p) => { if (p.type === 'pairStarted') abort.abort(); },
  });
  assert.equal(r2.startedTrial, false);
  assert.equal(r2.trialId, r1.trialId);
  assert.equal(r2.stop, 'cancelled');
  assert.equal(r2.pairs.length, 1);
  assert.notEqual(r2.pairs[0]!.pastRunId, r1.pairs[0]!.pastRunId);
  assert.equal(r2.pairs[0]!.recorded, false);
  for (const id of [r2.pairs[0]!.candidateRunId, r2.pairs[0]!.incumbentRunId]) {
    assert.equal(s.ledger.getRun(id)!.status, 'cancelled');
    assert.equal(s.ledger.heldNodes().some((n) => n.runId === id), false, 'nothing of a cancelled replay stays claimed');
  }
  await c.stop();
});

test('the wall-time budget stops a pair that never ends: both runs are cancelled and nothing stays claimed', { timeout: 600_000 }, async () => {
  const { s, candidate } = await world(1);
  modelSwitches.hangOnFix = true;
  try {
    const c = await s.controller({ threadParams: THREAD, runIds: [] });
    const report = await replayVariant({ variantId: candidate, tasks: 1, budget: { wallMs: 3000 } }, {
      ledger: s.ledger, formulas: s.formulas, promotion: s.promotion, controller: c,
    });
    assert.equal(report.stop, 'budget-time');
    assert.match(report.summary, /^Replay stopped because the wall-time budget \(3 s\) was spent: 0 pair\(s\) recorded/);
    const [pair] = report.pairs;
    assert.equal(pair!.recorded, false);
    for (const id of [pair!.candidateRunId, pair!.incumbentRunId]) {
      const run = s.ledger.getRun(id)!;
      // The incumbent's one step may have ended before the budget ran out; the candidate's never does.
      if (id === pair!.candidateRunId) assert.equal(run.status, 'cancelled');
      assert.equal(s.ledger.heldNodes().some((n) => n.runId === id), false);
    }
    assert.equal(c.worktrees!.get(pair!.candidateRunId)!.status, 'removed');
    await c.stop();
  } finally {
    modelSwitches.hangOnFix = false;
  }
});

test('bad replay input is refused by name in well under a second', () => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /^input: give an object with variantId/],
    [{}, /^variantId: name the candidate variant/],
    [{ variantId: '../../x' }, /^variantId: name the candidate variant/],
    [{ variantId: 'v-1', tasks: 0 }, /^tasks: give a whole number from 1 to 200, not 0/],
    [{ variantId: 'v-1', tasks: 1.5 }, /^tasks: give a whole number/],
    [{ variantId: 'v-1', tasks: '5' }, /^tasks: give a whole number from 1 to 200, not "5"/],
    [{ variantId: 'v-1', budget: { runs: 1 } }, /^budget\.runs: give a whole number from 2 to 400, not 1/],
    [{ variantId: 'v-1', budget: { tokens: Number.POSITIVE_INFINITY } }, /^budget\.tokens: give a whole number/],
    [{ variantId: 'v-1', budget: { wallMs: 5 } }, /^budget\.wallMs: give a whole number from 1000/],
    [{ variantId: 'v-1', budget: [] }, /^budget: give an object/],
    [{ variantId: 'v-1', budget: { cost: 1 } }, /^budget\.cost: is not a budget/],
    [JSON.parse('{"variantId":"v-1","__proto__":{"tasks":1}}'), /^__proto__: is not a replay option/],
    [{ variantId: 'v'.repeat(100_000) }, /^variantId: name the candidate variant/],
  ];
  for (const [input, message] of cases) {
    const started = Date.now();
    assert.throws(() => parseReplayInput(input), (e: unknown) => e instanceof LedgerError && e.code === 'invalid_input' && message.test(e.message), JSON.stringify(input)?.slice(0, 60));
    assert.ok(Date.now() - started < 500);
  }
  assert.deepEqual(parseReplayInput({ variantId: 'v-1' }), { variantId: 'v-1', tasks: 10, budget: { runs: 20, tokens: 2_000_000, wallMs: 3_600_000 } });
});

test('gascity replay drives the lab from a terminal and prints each pair and why it stopped', { timeout: 600_000 }, async () => {
  const { s, candidate } = await world(1);
  const cli = await bundle('src/cli/main.ts');
  // Spawned without blocking: the scripted model answers from this process.
  const r = await runCli(cli, ['--ledger', s.ledgerDir, '--workspace', s.workspace, 'replay', candidate, '--tasks', '1', '--budget-runs', '2'],
    { ...process.env, GASCITY_CODEX_PATH: CODEX_BIN, CODEX_HOME: s.codexHome });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /replay: 1 past task\(s\) to replay in a new screen t-[a-z0-9]+\n/);
  assert.match(r.stdout, /pair 1\/1: task of r-[a-z0-9]+ on candidate r-[a-z0-9]+ and incumbent r-[a-z0-9]+\n/);
  assert.match(r.stdout, /pair 1\/1: candidate success, incumbent failure\n/);
  assert.match(r.stdout, /★ promotion: fix-bug recorded: The screen has 1 replay of the candidate and needs 3 before it can be decided\.\n/);
  assert.match(r.stdout, /Replay stopped because all 1 past task\(s\) asked for \(1\) were replayed: 1 pair\(s\) recorded \(candidate alone succeeded in 1, incumbent alone in 0\); trial t-[a-z0-9]+ is open in stage screen/);
});
