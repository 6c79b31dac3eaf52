// A hostile user at the built CLI (dist/cli.js): worktree commands without their argument, repeated
// options, a worktree closed before its run ended, and a replay with nothing to replay. Each refusal
// names what to fix, exits 2 and writes nothing to the ledger.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worktrees } from '../../src/controller/index';
import { FormulaService, OverlayService, PromotionService, openLedger } from '../../src/ledger/index';
import { REPO, SHIPPED_FORMULAS, tempDir } from '../mcp/helpers';

let CLI = '';

before(() => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  // A private copy, so that another build cannot swap the bundle under the test.
  const dir = tempDir('gascity-cli-hostile-dist-');
  for (const file of ['cli.js', 'mcp.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  CLI = path.join(dir, 'cli.js');
});

interface Ran { status: number | null; stdout: string; stderr: string }

function cli(workspace: string, ...args: string[]): Ran {
  const r = spawnSync(process.execPath, [CLI, '--workspace', workspace, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GASCITY_CODEX_PATH: '/nonexistent/codex' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@localhost', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A git repository with the shipped formulas imported into its ledger. */
function workspace(): string {
  const ws = tempDir('gascity-cli-hostile-ws-');
  git(ws, 'init', '-q');
  fs.writeFileSync(path.join(ws, 'README.md'), 'hello\n');
  git(ws, 'add', '-A');
  git(ws, 'commit', '-q', '-m', 'init');
  const r = cli(ws, 'import', SHIPPED_FORMULAS);
  assert.equal(r.status, 0, r.stderr);
  return ws;
}

/** The ledger's last event sequence number, as `gascity events` prints it. */
function lastSeq(ws: string): number {
  const r = cli(ws, '--json', 'events');
  assert.equal(r.status, 0, r.stderr);
  const events = JSON.parse(r.stdout) as Array<{ seq: number }>;
  return events.at(-1)?.seq ?? 0;
}

test('run merge and run discard without a run id ask for RUN_ID instead of reading "merge" as a family', () => {
  const ws = workspace();
  const seq = lastSeq(ws);
  for (const cmd of ['merge', 'discard']) {
    const r = cli(ws, 'run', cmd);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`missing argument: RUN_ID \\(gascity run ${cmd} RUN_ID`));
    assert.doesNotMatch(r.stderr, /--codex|family/);
  }
  assert.equal(lastSeq(ws), seq, 'nothing was written');
});

test('an option given twice is refused by name rather than silently keeping the last value', () => {
  const ws = workspace();
  const seq = lastSeq(ws);
  for (const args of [['replay', 'v-00000000', '--tasks', '3', '--tasks', '40'], ['--workers', '2', '--workers', '9', 'runs'], ['--json', '--json', 'runs']]) {
    const r = cli(ws, ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}`);
    const name = args.find((a, i) => a.startsWith('--') && args.indexOf(a) !== i)!;
    assert.match(r.stderr, new RegExp(`${name}: given twice; give it once`), args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.equal(lastSeq(ws), seq, 'nothing was written');
});

test('gascity worktrees does not call a worktree discarded before its run ended "running"', async () => {
  const ws = workspace();
  const started = cli(ws, '--json', 'start', 'research-then-plan', 'question=why');
  assert.equal(started.status, 0, started.stderr);
  const runId = (JSON.parse(started.stdout) as { runId: string }).runId;
  // The controller makes a run's worktree when it dispatches the run; here the same class makes it directly.
  const ledger = await openLedger(path.join(ws, '.gascity', 'ledger'), { actor: 'test' });
  try {
    await new Worktrees({ ledger, workspaceDir: ws, actor: 'test' }).ensure(runId);
  } finally {
    ledger.close();
  }
  assert.match(cli(ws, 'worktrees').stdout, new RegExp(`${runId} open .*in use by its run`));
  assert.equal(cli(ws, 'cancel', runId).status, 0);
  const discarded = cli(ws, 'run', 'discard', runId);
  assert.equal(discarded.status, 0, discarded.stderr);
  const listed = cli(ws, 'worktrees').stdout;
  assert.match(listed, new RegExp(`${runId} discarded .*no diff stats \\(closed before its run ended\\)`));
  assert.doesNotMatch(listed, /running/);
  const again = cli(ws, 'run', 'merge', runId);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /worktree was discarded already/);
});

test('gascity replay of a candidate whose incumbent has no past task refuses, and opens no screen trial', async () => {
  const ws = workspace();
  const mutated = cli(ws, '--json', 'mutate', 'v-7ecaea40', '[{"op":"edit_instructions","stepId":"plan","instructions":"Plan in one line."}]');
  assert.equal(mutated.status, 0, mutated.stderr);
  const candidate = (JSON.parse(mutated.stdout) as { variantId: string }).variantId;
  const seq = lastSeq(ws);
  const r = cli(ws, 'replay', candidate);
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stderr, /variantId: the incumbent v-7ecaea40 of implement-and-review has no finished past run with a task key to replay, so no screen trial was opened/);
  assert.equal(lastSeq(ws), seq, 'nothing was written');
  const ledger = await openLedger(path.join(ws, '.gascity', 'ledger'), { actor: 'test' });
  try {
    const promotion = new PromotionService(ledger, new FormulaService(ledger, { workspaceDir: ws }));
    assert.equal(promotion.liveTrialOf('implement-and-review'), undefined);
    promotion.dispose();
  } finally {
    ledger.close();
  }
});

test('a Codex that cannot start is reported with what to fix, not a stack trace', () => {
  const ws = workspace();
  const started = cli(ws, '--json', 'start', 'research-then-plan', 'question=why');
  assert.equal(started.status, 0, started.stderr);
  const runId = (JSON.parse(started.stdout) as { runId: string }).runId;
  // cli() points GASCITY_CODEX_PATH at a file that does not exist.
  const r = cli(ws, 'run', runId, '--codex');
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stderr, /could not start the Codex app-server \(\/nonexistent\/codex\)/);
  assert.match(r.stderr, /point GASCITY_CODEX_PATH at it/);
  assert.doesNotMatch(r.stderr, /\n\s+at .*cli\.js/, 'no stack trace');
  assert.equal((r.stderr.match(/could not start the Codex app-server/g) ?? []).length, 1, 'said once');
});

test('a --workspace that does not exist is refused, not created with an empty ledger in it', () => {
  const missing = path.join(tempDir('gascity-cli-hostile-missing-'), 'typo', 'ws');
  const r = spawnSync(process.execPath, [CLI, '--workspace', missing, 'runs'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stderr, /--workspace: .*typo\/ws is not a folder; give the folder of your workspace/);
  assert.equal(fs.existsSync(path.dirname(missing)), false, 'nothing was created');
});

test('run variables: a repeated name and __proto__ are refused by name; events AFTER_SEQ must be a number', () => {
  const ws = workspace();
  const seq = lastSeq(ws);
  const twice = cli(ws, 'start', 'research-then-plan', 'question=a', 'question=b');
  assert.equal(twice.status, 2, twice.stdout);
  assert.match(twice.stderr, /vars\.question: given twice; give each variable once/);
  const proto = cli(ws, 'start', 'research-then-plan', 'question=a', '__proto__=x');
  assert.equal(proto.status, 2, proto.stdout);
  assert.match(proto.stderr, /vars\.__proto__: "__proto__" cannot be used as a key/);
  assert.equal(lastSeq(ws), seq, 'no run was started');
  for (const after of ['abc', '1e400', '1.5']) {
    const r = cli(ws, 'events', after);
    assert.equal(r.status, 2, `events ${after}: ${r.stdout}`);
    assert.match(r.stderr, /AFTER_SEQ: give a whole number of 0 or more/);
  }
});

test('gascity evidence takes its own options after the common ones (--workspace DIR evidence X --runs N)', () => {
  const ws = workspace();
  const ok = cli(ws, 'evidence', 'v-af153442', '--runs', '5');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /family research-then-plan/);
  const json = cli(ws, '--json', 'evidence', 'research-then-plan', '--variants', '1');
  assert.equal(json.status, 0, json.stderr);
  assert.equal((JSON.parse(json.stdout) as { familyId: string }).familyId, 'research-then-plan');
  const bad = cli(ws, 'evidence', 'v-af153442', '--runs', 'abc');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--runs: give a whole number, not "abc"/);
});

test('run merge of a run whose worktree folder was deleted by hand refuses instead of reporting a merge of nothing', async () => {
  const ws = workspace();
  const started = cli(ws, '--json', 'start', 'research-then-plan', 'question=why');
  const runId = (JSON.parse(started.stdout) as { runId: string }).runId;
  const ledger = await openLedger(path.join(ws, '.gascity', 'ledger'), { actor: 'test' });
  let dir: string;
  try {
    dir = await new Worktrees({ ledger, workspaceDir: ws, actor: 'test' }).ensure(runId);
  } finally {
    ledger.close();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(cli(ws, 'cancel', runId).status, 0);
  const head = git(ws, 'rev-parse', 'HEAD');
  const r = cli(ws, 'run', 'merge', runId);
  assert.equal(r.status, 2, r.stdout);
  assert.match(r.stderr, new RegExp(`runId: run ${runId}'s worktree .* is gone \\(the worktree folder was gone when the run ended\\); there is nothing to merge`));
  assert.equal(git(ws, 'rev-parse', 'HEAD'), head, 'no merge commit');
  assert.match(cli(ws, 'worktrees').stdout, new RegExp(`${runId} removed `));
});

test('gascity claim and ready close a round past its deadline, so without a controller an announced node is not held forever', async () => {
  const ws = workspace();
  const ledger = await openLedger(path.join(ws, '.gascity', 'ledger'), { actor: 'test' });
  let nodeId: string;
  try {
    const { nodeIds } = await ledger.startRun({ title: 'bids', nodes: [{ key: 'a', title: 'A' }] });
    nodeId = nodeIds[0]!;
    await new OverlayService(ledger).announce({ nodeId, announcedBy: 'lead', deadlineSeconds: 1, quorum: 2 });
  } finally {
    ledger.close();
  }
  // Wait on the condition (the deadline passing), not a fixed time: until then the node is held for bids.
  const until = Date.now() + 30_000;
  let r = cli(ws, 'claim', 'solo', nodeId);
  while (r.status !== 0) {
    assert.match(r.stderr, /is announced for bids/, 'refused only while the round is open');
    assert.ok(Date.now() < until, `never freed: ${r.stderr}`);
    r = cli(ws, 'claim', 'solo', nodeId);
  }
  assert.match(r.stdout, new RegExp(`claimed ${nodeId.replace('.', '\\.')} until`));
});
