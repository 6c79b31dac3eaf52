// Two processes closing one run's worktree at once — the CLI twice, `gascity run merge RUN_ID` and
// `gascity run merge|discard RUN_ID` started together — decide inside one ledger commit: exactly one merges (or
// discards), the other exits 2 with a clear error, the workspace gets one merge commit, and the ledger's
// tables replay from the journal as they are.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worktrees } from '../../src/controller/index';
import { event } from '../../src/ledger/events';
import { ledgerProjection } from '../../src/ledger/projection';
import { PROJECTION_TABLES, dumpProjection } from '../../src/ledger/schema';
import { replay } from '../../src/ledger/store/store';
import { gitIn, gitRepo } from './git';
import { REPO, cleanup, setup, tempDir, workerScript } from './helpers';
import type { Setup } from './helpers';
import { runCli } from './replayWorld';

after(cleanup);

let CLI = '';

before(() => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  const dir = tempDir('gascity-worktree-race-dist-');
  for (const file of ['cli.js', 'mcp.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(dir, file));
  CLI = path.join(dir, 'cli.js');
});

const EDIT = `name = "edit"
version = 1
[[steps]]
id = "write"
instructions = "Write the file."
`;

/** A run that ended (cancelled) with one file written in its own worktree, its work committed on its branch. */
async function finishedRun(s: Setup, worktrees: Worktrees, file: string): Promise<string> {
  const { runId } = await s.formulas.startRunFromFormula({ family: 'edit', vars: {} });
  const dir = await worktrees.ensure(runId);
  assert.notEqual(dir, s.workspace, 'the run has its own worktree');
  fs.writeFileSync(path.join(dir, file), `${runId}\n`);
  await s.ledger.cancelRun({ runId, reason: 'ended for the test' }, 'test');
  assert.equal((await worktrees.finish(runId))?.status, 'finished');
  return runId;
}

test('the CLI twice at once on one run: exactly one merge or discard wins, the other is refused by name', { timeout: 300_000 }, async () => {
  const s = await setup({ edit: EDIT }, workerScript());
  gitRepo(s.workspace, { 'README.md': '# sample\n', '.gitignore': '.gascity/\n' });
  const worktrees = new Worktrees({ ledger: s.ledger, workspaceDir: s.workspace });
  const env = { ...process.env, GASCITY_CODEX_PATH: '/nonexistent/codex' };
  const cases: Array<['merge' | 'discard', 'merge' | 'discard']> = [['merge', 'merge'], ['merge', 'merge'], ['merge', 'discard'], ['discard', 'discard']];
  let merges = 0;
  for (const [i, [first, second]] of cases.entries()) {
    const runId = await finishedRun(s, worktrees, `out-${i}.txt`);
    const both = await Promise.all([first, second].map((what) => runCli(CLI, ['--workspace', s.workspace, 'run', what, runId], env)));
    const won = both.filter((r) => r.status === 0);
    assert.equal(won.length, 1, `${first} and ${second} of ${runId}: exactly one wins\n${both.map((r) => `${r.status} ${r.stdout}${r.stderr}`).join('\n')}`);
    const lost = both.find((r) => r.status !== 0)!;
    assert.equal(lost.status, 2, lost.stderr);
    assert.match(lost.stderr, new RegExp(`^gascity: runId: run ${runId}'s worktree (is being (merged|discarded) by process \\S+/\\d+ right now|was (merged|discarded) already)`), lost.stderr);
    assert.doesNotMatch(lost.stderr, /git said|\n\s+at /, 'no git error or stack trace');
    await s.ledger.refresh();
    const row = worktrees.get(runId)!;
    const winner = [first, second][both.indexOf(won[0]!)];
    assert.equal(row.status, winner === 'merge' ? 'merged' : 'discarded');
    if (winner === 'merge') merges++;
    assert.equal(fs.existsSync(row.path), false, 'the worktree is removed');
  }
  // One merge commit per merged run, and no other commit on the workspace's branch.
  const log = gitIn(s.workspace, 'log', '--format=%s', 'main').split('\n');
  assert.equal(log.filter((l) => l.startsWith('Merge run ')).length, merges);
  assert.ok(merges >= 2);
  const rebuilt = await replay(ledgerProjection, s.ledger.events(0, Number.MAX_SAFE_INTEGER));
  const live = dumpProjection(s.ledger.sql);
  const fresh = dumpProjection(rebuilt);
  rebuilt.close();
  assert.deepEqual(PROJECTION_TABLES.filter((t) => JSON.stringify(fresh[t]) !== JSON.stringify(live[t])), [], 'replay gives the live tables');
});

test('a closing whose process is gone is taken over; a failed merge gives the worktree back', { timeout: 120_000 }, async () => {
  const s = await setup({ edit: EDIT }, workerScript());
  gitRepo(s.workspace, { 'README.md': '# sample\n', '.gitignore': '.gascity/\n' });
  const worktrees = new Worktrees({ ledger: s.ledger, workspaceDir: s.workspace });
  const runId = await finishedRun(s, worktrees, 'out.txt');
  // A process that took the closing and died half way (kill -9): its pid is gone.
  const gone = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  await s.ledger.commit(() => ({ events: [event('run.worktree_closing', { runId, action: 'merge', from: 'finished', holder: `${os.hostname()}/${gone}` })], result: undefined }));
  assert.equal(worktrees.get(runId)!.status, 'closing');
  // A conflicting change in the workspace makes git refuse the merge: the worktree is finished again, not stuck closing.
  fs.writeFileSync(path.join(s.workspace, 'out.txt'), 'mine\n');
  gitIn(s.workspace, 'add', 'out.txt');
  gitIn(s.workspace, 'commit', '-q', '-m', 'a conflicting change');
  await assert.rejects(worktrees.merge(runId, 'person:test'), /could not be merged .*nothing was changed/s);
  assert.equal(worktrees.get(runId)!.status, 'finished');
  assert.match(worktrees.get(runId)!.note ?? '', /the merge failed and was aborted/);
  // Discarding it now works: the closing is taken again and completed.
  assert.equal((await worktrees.discard(runId, 'person:test')).status, 'discarded');
});
