// What the views show of a run's git worktree, against the real git CLI and a real ledger: the run graph's
// worktree (through the follower the panel uses), the runs tree's line and context value, and the package.json
// menus that put Merge and Discard on a row only while its worktree waits for a person.
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worktrees } from '../../src/controller/worktree';
import { openLedger } from '../../src/ledger/index';
import type { Ledger, StoredEvent } from '../../src/ledger/index';
import { TREE_CONTEXT } from '../../src/extension/commands';
import { RunGraphFollower } from '../../src/extension/runGraphFollower';
import { toRunWorktree } from '../../src/extension/viewModel';
import { isRunGraph, isRunGraphPatch } from '../../src/shared/protocol';
import { worktreeFields, worktreeLine } from '../../src/shared/worktree';
import { tempDir } from '../ledger/helpers';

let root: string;
let repo: string;
let ledger: Ledger;
let worktrees: Worktrees;
let heard: StoredEvent[];
let listener: { dispose(): void };

function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@localhost', ...args], { cwd, encoding: 'utf8' });
}

beforeEach(async () => {
  root = tempDir('gascity-worktree-view-');
  repo = path.join(root, 'repo');
  fs.mkdirSync(repo);
  gitIn(repo, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(repo, 'README.md'), 'hello\n');
  gitIn(repo, 'add', '-A');
  gitIn(repo, 'commit', '-q', '-m', 'first');
  // The ledger lives outside the repository, so the person's checkout holds only their own files.
  ledger = await openLedger(path.join(root, 'ledger'), { actor: 'test' });
  worktrees = new Worktrees({ ledger, workspaceDir: repo });
  heard = [];
  listener = ledger.onDidChange((c) => heard.push(...c.events));
});
afterEach(() => {
  listener.dispose();
  ledger.close();
  fs.rmSync(root, { recursive: true, force: true });
});

function take(): StoredEvent[] {
  const out = heard;
  heard = [];
  return out;
}

/** A one-node run that works in its worktree, writes `file`, reports done, and has its work committed. */
async function finishedRun(file: string): Promise<string> {
  const { runId, nodeIds } = await ledger.startRun({ title: `write ${file}`, nodes: [{ key: 'a', title: 'write' }] });
  const dir = await worktrees.ensure(runId);
  fs.writeFileSync(path.join(dir, file), 'one\ntwo\n');
  await ledger.claimNode({ nodeId: nodeIds[0], worker: 'w1' });
  await ledger.reportNode({ nodeId: nodeIds[0]!, worker: 'w1', outcome: 'done', summary: 'wrote it' });
  await worktrees.finish(runId);
  return runId;
}

/** Whether a package.json menu entry of `command` in the runs tree shows on a row with this context value. */
function menuShows(command: string, contextValue: string): boolean {
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { contributes: { menus: Record<string, { command: string; when?: string }[]> } };
  const entry = manifest.contributes.menus['view/item/context']!.find((m) => m.command === command && m.when?.includes('gascity.runs'));
  assert.ok(entry, `${command} has a menu entry in the runs tree`);
  const m = /viewItem =~ \/(.+)\/$/.exec(entry.when!);
  assert.ok(m, `${command}'s when clause matches viewItem by a regex: ${entry.when}`);
  return new RegExp(m[1]!.replace(/\\\\/g, '\\')).test(contextValue);
}

describe('a run worktree in the views', () => {
  it('shows branch, base, diff stats and "open" once the run ended, offers Merge and Discard, and says merged after the merge', async () => {
    const { runId, nodeIds } = await ledger.startRun({ title: 'write notes', nodes: [{ key: 'a', title: 'write' }] });
    const follower = new RunGraphFollower(ledger, runId, (id) => {
      const row = worktrees.get(id);
      return row ? toRunWorktree(row) : undefined;
    });
    assert.equal(follower.readAll()!.worktree, undefined, 'no worktree before the first dispatch');
    const dir = await worktrees.ensure(runId);
    const working = follower.follow(take())!;
    assert.equal(working.patch?.worktree?.state, 'working');
    assert.equal(worktreeLine(working.graph.worktree!), `gascity/${runId} · run working in it`);
    assert.equal(TREE_CONTEXT.run('running', 'working'), 'run.running', 'a working run keeps the running row\'s actions');

    fs.writeFileSync(path.join(dir, 'notes.txt'), 'one\ntwo\n');
    await ledger.claimNode({ nodeId: nodeIds[0], worker: 'w1' });
    await ledger.reportNode({ nodeId: nodeIds[0]!, worker: 'w1', outcome: 'done', summary: 'wrote it' });
    await worktrees.finish(runId);
    const finished = follower.follow(take())!;
    assert.ok(finished.patch && isRunGraphPatch(finished.patch), 'the patch passes the page\'s guard');
    const base = gitIn(repo, 'rev-parse', 'HEAD').trim();
    assert.deepEqual(finished.patch.worktree, { branch: `gascity/${runId}`, base: base.slice(0, 12), state: 'open', commits: 1, filesChanged: 1, insertions: 2, deletions: 0 });
    assert.equal(worktreeLine(finished.graph.worktree!), `gascity/${runId} · 1 file, +2 -0 · open`);
    assert.deepEqual(worktreeFields(finished.graph.worktree!), [
      ['Branch', `gascity/${runId}`], ['Base', base.slice(0, 12)], ['Commits', '1'], ['Changes', '1 file, +2 -0'], ['State', 'open'],
    ]);
    const context = TREE_CONTEXT.run('done', 'open');
    assert.ok(menuShows('gascity.mergeRunWorktree', context) && menuShows('gascity.discardRunWorktree', context));
    assert.ok(!menuShows('gascity.mergeRunWorktree', 'run.done') && !menuShows('gascity.mergeRunWorktree', 'run.running'));

    await worktrees.merge(runId);
    const merged = follower.follow(take())!;
    const head = gitIn(repo, 'rev-parse', 'HEAD').trim();
    assert.equal(merged.patch?.worktree?.state, 'merged');
    assert.equal(merged.patch?.worktree?.mergeCommit, head.slice(0, 12));
    assert.equal(fs.readFileSync(path.join(repo, 'notes.txt'), 'utf8'), 'one\ntwo\n', 'the run\'s file is in the checkout');
    assert.equal(worktreeLine(merged.graph.worktree!), `gascity/${runId} · 1 file, +2 -0 · merged`);
    assert.ok(!menuShows('gascity.mergeRunWorktree', TREE_CONTEXT.run('done', 'merged')), 'a merged row offers no second merge');
    assert.deepEqual(merged.graph, new RunGraphFollower(ledger, runId, (id) => toRunWorktree(worktrees.get(id)!)).readAll(), 'the patched graph is what a fresh panel reads');
  });

  it('says discarded after a discard and leaves the checkout as it was', async () => {
    const runId = await finishedRun('scratch.txt');
    await worktrees.discard(runId, 'test');
    const w = toRunWorktree(worktrees.get(runId)!);
    assert.equal(worktreeLine(w), `gascity/${runId} · 1 file, +2 -0 · discarded`);
    assert.ok(!fs.existsSync(path.join(repo, 'scratch.txt')));
    assert.ok(!menuShows('gascity.discardRunWorktree', TREE_CONTEXT.run('done', w.state)));
  });

  it('refuses malformed worktrees at the page boundary', () => {
    const graph = { runId: 'r-1', title: 't', nodes: [], edges: [] };
    const good = { branch: 'gascity/r-1', base: 'abc', state: 'open', filesChanged: 1, insertions: 2, deletions: 0 };
    assert.ok(isRunGraph({ ...graph, worktree: good }));
    for (const bad of [{ ...good, state: 'bogus' }, { ...good, insertions: -1 }, { ...good, filesChanged: 1.5 }, { ...good, branch: 7 }, 'gascity/r-1', null]) {
      assert.ok(!isRunGraph({ ...graph, worktree: bad }), JSON.stringify(bad));
    }
  });
});
