// The replay lab end to end: the real git CLI, the real Codex CLI and a scripted model that edits
// files with Codex's exec_command. On a sample repository whose test fails, the incumbent's one step
// never fixes the bug (the model says "done" anyway; the check says failure); the candidate's added
// step makes the model apply the fix. The lab replays the incumbent's past tasks on both variants in
// throwaway worktrees at their base commit, records each pair, and the screen's rule moves the
// candidate on; budgets and cancel stop it; bad input is refused by name.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseReplayInput, replayVariant } from '../../src/controller/index';
import type { ReplayProgress } from '../../src/controller/index';
import { LedgerError } from '../../src/ledger/index';
import { defaultPolicy } from '../../src/ledger/promotion/index';
import type { EvolutionPolicy } from '../../src/ledger/promotion/index';
import { bundle } from '../ledger/storeBundle';
import { messages, toolOutputs } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { CODEX_BIN, cleanup, nodeOf, setup } from './helpers';
import type { Setup } from './helpers';
import { gitIn, gitRepo } from './git';

after(cleanup);

const FIX_BUG = `name = "fix-bug"
version = 1
[vars.issue]
default = "add(2, 3) is not 5"
[[steps]]
id = "investigate"
instructions = "Read the failing test and say what is wrong: {{issue}}."

[[checks]]
id = "tests"
run = "node test.js"
timeout_seconds = 30
`;

const REPO_FILES = {
  'calc.js': 'exports.add = (a, b) => a - b;\n',
  'test.js': "const { add } = require('./calc');\nif (add(2, 3) !== 5) { console.log('1 failing: add(2, 3) should be 5, got ' + add(2, 3)); process.exit(1); }\nconsole.log('all passing');\n",
  '.gitignore': '.gascity/ledger/\n',
};

/** The step the candidate adds: when the model sees it, it fixes calc.js with Codex's shell. */
const APPLY_FIX = 'APPLY THE FIX: change calc.js so that add returns a + b, then run the tests.';

/** The worker model: reports every node done; on the APPLY THE FIX step it first runs the fix in its cwd. */
function model(request: ResponsesRequest): ModelStep {
  const nodeId = nodeOf(request);
  const fixing = `${messages(request, 'developer')}\n${messages(request, 'user')}`.includes('APPLY THE FIX');
  const outputs = toolOutputs(request);
  if (fixing && outputs.length === 0) return { call: 'exec_command', args: { cmd: "sed -i 's/a - b/a + b/' calc.js && node test.js" } };
  if (outputs.length === (fixing ? 1 : 0)) return { call: 'report_result', args: { outcome: 'done', summary: `finished ${nodeId}` }, usage: { input: 100, output: 20 } };
  return { say: `Reported ${nodeId}.` };
}

/**
 * The default policy with a screen a test can finish: an SPRT of p0 0.5 against p1 0.9 (alpha 0.1,
 * beta 0.2) accepts after four discordant wins (4 ln 1.8 = 2.35 >= ln 8 = 2.08; three give 1.76).
 * The added step costs a second turn, so the token guardrail allows three times the tokens and the
 * wall-time guardrail is off (a loaded machine's seconds say nothing about the formula).
 */
function testPolicy(): EvolutionPolicy {
  const p = defaultPolicy();
  p.stages.screen = { minPairs: 3, maxPairs: 10, sprt: { p0: 0.5, p1: 0.9, alpha: 0.1, beta: 0.2 } };
  p.guardrails.tokensPerRun = { enabled: true, kind: 'relative', maxIncrease: 3 };
  p.guardrails.durationPerRun = { enabled: false, kind: 'relative', maxIncrease: 0.25 };
  return p;
}

/** Runs the CLI bundle as a child process without blocking this one; resolves with its exit status and output. */
function runCli(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const THREAD = { approvalPolicy: 'never', sandbox: 'workspace-write' } as const;

/** A repository, the incumbent's past tasks (all failing their check), and a candidate with the fixing step. */
async function world(pastTasks: number): Promise<{ s: Setup; base: string; past: string[]; candidate: string; incumbent: string }> {
  const s = await setup({ 'fix-bug': FIX_BUG }, model);
  const base = gitRepo(s.workspace, REPO_FILES);
  const incumbent = s.formulas.listFamilies().find((f) => f.id === 'fix-bug')!.activeVariantId!;
  const past: string[] = [];
  for (let i = 1; i <= pastTasks; i++) {
    past.push((await s.formulas.startRunFromFormula({ family: 'fix-bug', vars: { issue: `report #${i}: add(2, 3) is not 5` }, taskKey: `issue-${i}` })).runId);
  }
  const c = await s.controller({ threadParams: THREAD });
  await c.waitForRuns(past);
  await c.stop();
  for (const r of past) assert.deepEqual([s.ledger.getRun(r)!.status, s.ledger.getRun(r)!.outcome], ['done', 'failure'], 'the incumbent never fixes the bug');
  // A later commit on main: replays must still run at the past runs' base commit.
  fs.writeFileSync(path.join(s.workspace, 'NOTES.md'), 'later work\n');
  gitIn(s.workspace, 'add', 'NOTES.md');
  gitIn(s.workspace, 'commit', '-q', '-m', 'later');
  const m = await s.formulas.mutateVariant({
    variantId: incumbent, proposedBy: 'test',
    mutations: [{ op: 'add_step', step: { id: 'apply-fix', instructions: APPLY_FIX, needs: ['investigate'] }, after: 'investigate' }],
  });
  await s.promotion.setPolicy('fix-bug', testPolicy());
  return { s, base, past, candidate: m.variantId, incumbent };
}

test('the replay lab drives pairs on past tasks in throwaway worktrees and the screen\'s rule moves the candidate to a trial', { timeout: 600_000 }, async () => {
  const { s, base, past, candidate, incumbent } = await world(5);
  const c = await s.controller({ threadParams: THREAD, runIds: [] });
  const progress: ReplayProgress[] = [];
  const report = await replayVariant({ variantId: candidate, tasks: 5, budget: { runs: 10 } }, {
    ledger: s.ledger, formulas: s.formulas, promotion: s.promotion, controller: c, onProgress: (p) => progress.push(p),
  });

  // Newest past task first; each pair ran the same task (same variables) at the past run's base commit.
  assert.equal(report.startedTrial, true);
  assert.equal(report.stop, 'decided', report.summary);
  assert.equal(report.pairs.length, 4, 'the policy\'s SPRT decides after four discordant pairs');
  assert.deepEqual(report.pairs.map((p) => p.pastRunId), past.slice().reverse().slice(0, 4));
  for (const p of report.pairs) {
    assert.deepEqual([p.candidateSuccess, p.incumbentSuccess, p.recorded, p.baseCommit], [true, false, true, base]);
    const cand = s.ledger.getRun(p.candidateRunId)!;
    const inc = s.ledger.getRun(p.incumbentRunId)!;
    assert.deepEqual([cand.variantId, inc.variantId, cand.taskKey, inc.taskKey], [candidate, incumbent, `replay:${p.pastRunId}`, `replay:${p.pastRunId}`]);
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

  // The rule: the screen passed on the SPRT and the candidate is on trial with live runs.
  const trial = s.promotion.trial(report.trialId)!;
  assert.deepEqual([trial.status, trial.stage, trial.candidateId, trial.incumbentId], ['open', 'trial', candidate, incumbent]);
  const decisions = s.promotion.decisions('fix-bug');
  assert.match(decisions.at(-1)!.reason, /^The screen passed: 4 wins and 0 losses in 4 paired replays put the SPRT at /);
  assert.match(report.summary, /^Replay stopped because the rule decided: 4 pair\(s\) recorded \(candidate alone succeeded in 4, incumbent alone in 0\); trial t-[a-z0-9]+ is open in stage trial/);
  assert.deepEqual(progress.map((p) => p.type), ['planned', ...Array(4).fill(['pairStarted', 'pairEnded']).flat(), 'stopped']);
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
  assert.match(r1.summary, /the run budget \(3\) would be exceeded by another pair: 1 pair\(s\) recorded .* trial t-[a-z0-9]+ is open in stage screen\. The rule: .*The screen has 1 paired replay and needs 3 before it can be decided\.$/);

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
  assert.match(r.stdout, /★ promotion: fix-bug recorded: The screen has 1 paired replay and needs 3 before it can be decided\.\n/);
  assert.match(r.stdout, /Replay stopped because all 1 past task\(s\) asked for \(1\) were replayed: 1 pair\(s\) recorded \(candidate alone succeeded in 1, incumbent alone in 0\); trial t-[a-z0-9]+ is open in stage screen/);
});
