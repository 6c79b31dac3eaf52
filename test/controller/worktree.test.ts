// Worktrees end to end: the real git CLI, the real Codex CLI and a scripted model that edits files with
// Codex's own exec_command tool. A run in a git repository works in its own worktree on gascity/<runId>
// at a recorded base commit, its checks run there, its diff stats are recorded when it ends; a person
// merges or discards it from the CLI; throwaway runs are removed; a folder without git works in place.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worktrees } from '../../src/controller/index';
import { LedgerError } from '../../src/ledger/index';
import { bundle } from '../ledger/storeBundle';
import { toolOutputs } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { gitIn, gitRepo } from './git';
import { CODEX_BIN, cleanup, nodeOf, setup } from './helpers';

after(cleanup);

/**
 * A model that, on a node's first request, runs `command(nodeId)` with Codex's exec_command (when it
 * gives one), then reports the node done; the shell's output (pwd) is kept per node in `seen`.
 */
function shellWorker(command: (nodeId: string) => string | null, seen: Map<string, string>): (request: ResponsesRequest) => ModelStep {
  return (request) => {
    const nodeId = nodeOf(request);
    const outputs = toolOutputs(request);
    const cmd = command(nodeId);
    if (outputs.length === 0 && cmd) return { call: 'exec_command', args: { cmd: `${cmd} && pwd` } };
    if (outputs.length === (cmd ? 1 : 0)) {
      if (cmd) seen.set(nodeId, outputs[0]!);
      return { call: 'report_result', args: { outcome: 'done', summary: `finished ${nodeId}` }, usage: { input: 100, output: 20 } };
    }
    return { say: `Reported ${nodeId}.` };
  };
}

const EDIT = `name = "edit"
version = 1
[vars.word]
default = "fixed"
[[steps]]
id = "write"
instructions = "Write the file."

[[checks]]
id = "written"
file_exists = "out.txt"
`;

const THREAD = { approvalPolicy: 'never', sandbox: 'workspace-write' } as const;

test('a run in a git repository works in its own worktree; its diff stats are recorded; merge brings its commit into the workspace', { timeout: 180_000 }, async () => {
  const seen = new Map<string, string>();
  const s = await setup({ edit: EDIT }, shellWorker(() => "printf 'hello\\nworld\\n' > out.txt", seen));
  const base = gitRepo(s.workspace, { 'README.md': '# sample\n', '.gitignore': '.gascity/ledger/\n' });
  const { runId } = await s.formulas.startRunFromFormula({ family: 'edit', vars: {} });
  const c = await s.controller({ threadParams: THREAD });
  const [run] = await c.waitForRuns([runId]);

  const w = c.worktrees!.get(runId)!;
  const wtPath = path.join(fs.realpathSync(s.workspace), '.gascity', 'worktrees', runId);
  assert.deepEqual({ path: w.path, branch: w.branch, base: w.baseCommit, status: w.status }, { path: wtPath, branch: `gascity/${runId}`, base, status: 'finished' });
  assert.deepEqual([w.commits, w.filesChanged, w.insertions, w.deletions], [1, 1, 2, 0]);
  // Codex's shell ran in the worktree, the check found the file there, and the workspace is untouched.
  assert.match(seen.get(`${runId}.write`) ?? '', new RegExp(`\n${wtPath}\n?$`));
  assert.deepEqual([run!.status, run!.outcome], ['done', 'success']);
  assert.equal(fs.existsSync(path.join(s.workspace, 'out.txt')), false);
  assert.equal(gitIn(wtPath, 'show', `${w.headCommit!}:out.txt`), 'hello\nworld');
  assert.equal(gitIn(s.workspace, 'status', '--porcelain'), '', 'the worktrees are excluded from the person\'s git status');
  const kinds = s.ledger.events(0).filter((e) => e.kind.startsWith('run.worktree')).map((e) => e.kind);
  assert.deepEqual(kinds, ['run.worktree_created', 'run.worktree_finished']);
  await c.stop();

  // A person merges it from the CLI: the workspace's branch gets the run's commit; the worktree and branch go.
  const cli = await bundle('src/cli/main.ts');
  const list = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'worktrees'], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${runId} finished  gascity/${runId} at ${base.slice(0, 12)}: 1 file\\(s\\), \\+2 -0, 1 commit\\(s\\)`));
  const merged = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'run', 'merge', runId], { encoding: 'utf8' });
  assert.equal(merged.status, 0, merged.stderr);
  assert.match(merged.stdout, new RegExp(`^merged run ${runId} \\(1 file\\(s\\), \\+2 -0\\) as [0-9a-f]{12}; its worktree and branch gascity/${runId} are removed`));
  assert.equal(fs.readFileSync(path.join(s.workspace, 'out.txt'), 'utf8'), 'hello\nworld\n');
  assert.equal(gitIn(s.workspace, 'log', '-1', '--format=%s'), `Merge run ${runId} (gascity/${runId})`);
  assert.equal(fs.existsSync(wtPath), false);
  assert.equal(gitIn(s.workspace, 'branch', '--list', `gascity/${runId}`), '');
  await s.ledger.refresh();
  assert.equal(new Worktrees({ ledger: s.ledger, workspaceDir: s.workspace }).get(runId)!.status, 'merged');

  // The worktree events replay into the same table (gascity verify rebuilds every table from the journal).
  const verified = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'verify'], { encoding: 'utf8' });
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /^ok: integrity check passed and replaying \d+ events rebuilds every table exactly/);

  // Merging twice is refused with what happened, and nothing changes.
  const again = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'run', 'merge', runId], { encoding: 'utf8' });
  assert.equal(again.status, 2);
  assert.match(again.stderr, new RegExp(`runId: run ${runId}'s worktree was merged already \\(merged into .* as [0-9a-f]{12}\\)`));
});

test('discard removes the worktree and branch and leaves the workspace as it was; throwaway runs are removed when they end', { timeout: 180_000 }, async () => {
  const seen = new Map<string, string>();
  const s = await setup({ edit: EDIT }, shellWorker(() => "printf 'x\\n' > out.txt && printf 'y\\n' >> README.md", seen));
  gitRepo(s.workspace, { 'README.md': '# sample\n', '.gitignore': '.gascity/ledger/\n' });
  const kept = await s.formulas.startRunFromFormula({ family: 'edit', vars: {} });
  const throwaway = await s.formulas.startRunFromFormula({ family: 'edit', vars: {}, taskKey: 'replay:r-old' });
  const c = await s.controller({ threadParams: THREAD });
  await c.waitForRuns([kept.runId, throwaway.runId]);
  const k = c.worktrees!.get(kept.runId)!;
  assert.deepEqual([k.status, k.filesChanged, k.insertions, k.deletions], ['finished', 2, 2, 0]);
  // The throwaway (a replay) kept its record, outcome and stats; its folder and branch are gone.
  const t = c.worktrees!.get(throwaway.runId)!;
  assert.deepEqual([t.status, t.filesChanged, t.note], ['removed', 2, 'a throwaway run: removed when it ended']);
  assert.equal(s.ledger.getRun(throwaway.runId)!.outcome, 'success');
  assert.equal(fs.existsSync(t.path), false);
  assert.equal(gitIn(s.workspace, 'branch', '--list', `gascity/${throwaway.runId}`), '');
  await c.stop();

  const cli = await bundle('src/cli/main.ts');
  const r = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'run', 'discard', kept.runId], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `discarded run ${kept.runId}: its worktree and branch gascity/${kept.runId} are removed\n`);
  assert.equal(fs.existsSync(k.path), false);
  assert.equal(gitIn(s.workspace, 'branch', '--list', 'gascity/*'), '');
  assert.equal(fs.readFileSync(path.join(s.workspace, 'README.md'), 'utf8'), '# sample\n');
  assert.equal(gitIn(s.workspace, 'worktree', 'list').split('\n').length, 1);
});

test('a folder without git works in place: no worktree is recorded and the file is in the workspace', { timeout: 120_000 }, async () => {
  const seen = new Map<string, string>();
  const s = await setup({ edit: EDIT }, shellWorker(() => "printf 'z\\n' > out.txt", seen));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'edit', vars: {} });
  const c = await s.controller({ threadParams: THREAD });
  const [run] = await c.waitForRuns([runId]);
  assert.deepEqual([run!.status, run!.outcome], ['done', 'success']);
  assert.equal(fs.readFileSync(path.join(s.workspace, 'out.txt'), 'utf8'), 'z\n');
  assert.equal(c.worktrees!.get(runId), undefined);
  assert.match(seen.get(`${runId}.write`) ?? '', new RegExp(`\n${fs.realpathSync(s.workspace)}\n?$`));
  await c.stop();
  const cli = await bundle('src/cli/main.ts');
  const r = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'run', 'merge', runId], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, new RegExp(`^gascity: runId: run ${runId} has no worktree \\(it ran in the workspace folder, which has no git repository, or it never started\\); there is nothing to merge\n$`));
});

test('hostile input: run ids, base commits and option values never reach git as anything but data', { timeout: 120_000 }, async () => {
  const s = await setup({ edit: EDIT }, shellWorker(() => null, new Map()));
  const base = gitRepo(s.workspace, { 'README.md': '# sample\n' });
  const w = new Worktrees({ ledger: s.ledger, workspaceDir: s.workspace });
  const bad = ['../../etc', 'r-abc; rm -rf /', '--upload-pack=touch /tmp/pwned', 'r-ABC', '', 'r-a/../../x', `r-${'a'.repeat(5000)}`, '__proto__'];
  for (const id of bad) {
    const started = Date.now();
    await assert.rejects(w.ensure(id), (e: unknown) => e instanceof LedgerError && e.field === 'runId' && /is not a run id/.test(e.message), id);
    await assert.rejects(w.merge(id), (e: unknown) => e instanceof LedgerError && e.field === 'runId', id);
    await assert.rejects(w.discard(id), (e: unknown) => e instanceof LedgerError && e.field === 'runId', id);
    assert.ok(Date.now() - started < 5000);
  }
  const { runId } = await s.formulas.startRunFromFormula({ family: 'edit', vars: {} });
  for (const b of ['HEAD~1', '--output=/tmp/x', 'main', `${base.slice(0, 6)}`, 'g'.repeat(40)]) {
    await assert.rejects(w.ensure(runId, b), (e: unknown) => e instanceof LedgerError && e.field === 'base' && /is not a commit id/.test(e.message), b);
  }
  await assert.rejects(w.ensure(runId, 'deadbeefdeadbeef'), (e: unknown) => e instanceof LedgerError && e.field === 'base' && /is not in the repository/.test(e.message));
  // A run still running is not merged or discarded; an unknown run is named.
  const dir = await w.ensure(runId, base.slice(0, 10));
  assert.equal(dir, path.join(fs.realpathSync(s.workspace), '.gascity', 'worktrees', runId));
  assert.equal(w.get(runId)!.baseCommit, base);
  await assert.rejects(w.merge(runId), /is still running; wait for it to end \(or cancel it\)/);
  await assert.rejects(w.discard(runId), /is still running; cancel it first/);
  await assert.rejects(w.merge('r-zzzzzz'), /no run r-zzzzzz in this ledger/);
  assert.equal(fs.existsSync('/tmp/pwned'), false);

  // The CLI refuses bad option values by name, before starting Codex.
  const cli = await bundle('src/cli/main.ts');
  const env = { ...process.env, GASCITY_CODEX_PATH: CODEX_BIN };
  for (const [flag, value] of [['--tasks', '0'], ['--tasks', '1e3'], ['--budget-runs', '1'], ['--budget-tokens', '-5'], ['--budget-minutes', 'soon']] as const) {
    const r = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'replay', 'v-x', `${flag}=${value}`], { encoding: 'utf8', env });
    assert.equal(r.status, 2, `${flag} ${value}`);
    assert.match(r.stderr, new RegExp(`^gascity: ${flag}: give a whole number from \\d+ to \\d+, not "${value}"\n$`));
  }
  const unknown = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'replay', 'v-nope'], { encoding: 'utf8', env });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^gascity: VARIANT: no variant v-nope; see gascity lineage FAMILY\n$/);
});

test('a merge that conflicts is aborted: the workspace is as it was, the worktree waits, and the error says what to do', { timeout: 120_000 }, async () => {
  const s = await setup({ edit: EDIT }, shellWorker(() => null, new Map()));
  const base = gitRepo(s.workspace, { 'README.md': '# sample\n', '.gitignore': '.gascity/ledger/\n' });
  const w = new Worktrees({ ledger: s.ledger, workspaceDir: s.workspace });
  const { runId } = await s.formulas.startRunFromFormula({ family: 'edit', vars: {} });
  const dir = await w.ensure(runId);
  fs.writeFileSync(path.join(dir, 'README.md'), '# the run\'s version\n');
  await s.ledger.cancelRun({ runId, reason: 'stopped by the test' });
  const finished = (await w.finish(runId))!;
  assert.deepEqual([finished.status, finished.filesChanged, finished.insertions, finished.deletions], ['finished', 1, 1, 1]);
  // Meanwhile the person changed the same line on main.
  fs.writeFileSync(path.join(s.workspace, 'README.md'), '# the person\'s version\n');
  gitIn(s.workspace, 'commit', '-q', '-am', 'person');
  const head = gitIn(s.workspace, 'rev-parse', 'HEAD');
  await assert.rejects(w.merge(runId), (e: unknown) => e instanceof LedgerError && e.field === 'runId' &&
    new RegExp(`^runId: run ${runId}'s branch gascity/${runId} could not be merged into .*; nothing was changed \\(the merge was aborted\\)\\. Commit or stash your changes, or resolve by hand with git merge gascity/${runId}\\. git said:\\n.*CONFLICT`, 's').test(e.message));
  assert.equal(gitIn(s.workspace, 'rev-parse', 'HEAD'), head);
  assert.equal(gitIn(s.workspace, 'status', '--porcelain'), '');
  assert.equal(fs.readFileSync(path.join(s.workspace, 'README.md'), 'utf8'), '# the person\'s version\n');
  assert.equal(w.get(runId)!.status, 'finished');
  assert.equal(fs.existsSync(dir), true);
  assert.notEqual(base, head);
  // Discarding it instead works.
  await w.discard(runId);
  assert.equal(fs.existsSync(dir), false);
});
