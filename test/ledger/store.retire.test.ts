// A checkpoint's renames replace a snapshot as large as the tables; a rename over a file's last name
// frees its blocks inside the rename, under the ledger lock (6-16 ms at 25 MiB on ext4). The replaced
// files keep a second name until the lock is released (issue 11: other writers stall while a process
// checkpoints). These tests check that the second names exist at the renames, never outlive the
// checkpoint, are cleaned up after a killed process, and that a file system without links still works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import type { FsOps } from '../../src/ledger/store/fsOps';
import { nodeFsOps } from '../../src/ledger/store/fsOps';
import { JOURNAL_FILE, SNAPSHOT_FILE } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

/** Names in `dir` that a checkpoint must not leave: temporaries and second names. */
function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => /\.(?:tmp|old)-/.test(f));
}

async function ledgerWithRuns(dir: string, fsOps: FsOps, runs: number) {
  const ledger = await openLedger(dir, { actor: 'main', fsOps, checkpointEvery: 1_000_000, retentionDays: null });
  for (let i = 0; i < runs; i++) await ledger.startRun({ title: `run-${i}`, nodes: [{ key: 'a', title: 'A' }] });
  return ledger;
}

test('the snapshot and journal a checkpoint replaces still have a second name at the renames, and none is left after', async () => {
  const dir = tempDir('gascity-retire-');
  // What the replaced file's link count is as each rename over the snapshot or the journal starts.
  const seen: Array<{ target: string; nlink: number }> = [];
  const ops: FsOps = {
    ...nodeFsOps,
    rename: (from, to) => {
      const target = path.basename(to);
      if ((target === SNAPSHOT_FILE || target === JOURNAL_FILE) && fs.existsSync(to)) seen.push({ target, nlink: fs.statSync(to).nlink });
      nodeFsOps.rename(from, to);
    },
  };
  const ledger = await ledgerWithRuns(dir, ops, 3);
  try {
    await ledger.store.checkpoint();
    await ledger.startRun({ title: 'after-1', nodes: [{ key: 'a', title: 'A' }] });
    await ledger.store.checkpoint();
    await ledger.startRun({ title: 'after-2', nodes: [{ key: 'a', title: 'A' }] });
  } finally {
    ledger.close();
  }
  // The first checkpoint replaces the journal only (no snapshot yet); the second replaces both.
  assert.deepEqual(seen, [
    { target: JOURNAL_FILE, nlink: 2 },
    { target: SNAPSHOT_FILE, nlink: 2 },
    { target: JOURNAL_FILE, nlink: 2 },
  ]);
  assert.deepEqual(leftovers(dir), [], 'files left behind');
  const reader = await openLedger(dir, { retentionDays: null });
  try {
    assert.deepEqual(reader.listRuns({ limit: 100 }).map((r) => r.title).sort(), ['after-1', 'after-2', 'run-0', 'run-1', 'run-2']);
  } finally {
    reader.close();
  }
});

test('second names left by a killed checkpoint are removed by the next one; a live process keeps its own', async () => {
  const dir = tempDir('gascity-retire-');
  const ledger = await ledgerWithRuns(dir, nodeFsOps, 2);
  try {
    await ledger.store.checkpoint();
    // A process that has exited: its pid exists no more (pids are not reused this fast).
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout);
    assert.ok(Number.isInteger(deadPid) && deadPid > 0);
    const snapshot = path.join(dir, SNAPSHOT_FILE);
    const dead = `${snapshot}.old-${deadPid}-0badf00d`;
    const deadJournal = path.join(dir, `${JOURNAL_FILE}.old-${deadPid}-0badf00e`);
    // The parent of this test process is alive for as long as the test runs.
    const live = `${snapshot}.old-${process.ppid}-0badf00f`;
    for (const f of [dead, deadJournal, live]) {
      fs.copyFileSync(snapshot, f);
      const old = new Date(Date.now() - 10 * 60_000);
      fs.utimesSync(f, old, old);
    }
    await ledger.startRun({ title: 'more', nodes: [{ key: 'a', title: 'A' }] });
    await ledger.store.checkpoint();
    assert.deepEqual(leftovers(dir), [path.basename(live)]);
  } finally {
    ledger.close();
  }
});

test('on a file system that cannot link, checkpoints still replace the snapshot and lose nothing', async () => {
  const dir = tempDir('gascity-retire-');
  // The lock links too; only the second names are refused, as a file system without hard links would.
  const ops: FsOps = {
    ...nodeFsOps,
    link: (existing, newPath) => {
      if (/\.old-/.test(newPath)) throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
      nodeFsOps.link(existing, newPath);
    },
  };
  const ledger = await ledgerWithRuns(dir, ops, 2);
  try {
    await ledger.store.checkpoint();
    await ledger.startRun({ title: 'between', nodes: [{ key: 'a', title: 'A' }] });
    await ledger.store.checkpoint();
    assert.equal(ledger.store.describe().lastCheckpointError, undefined);
    assert.equal(ledger.store.describe().base, ledger.seq, 'the second checkpoint did not replace the journal');
  } finally {
    ledger.close();
  }
  assert.deepEqual(leftovers(dir), []);
  const reader = await openLedger(dir, { retentionDays: null });
  try {
    assert.deepEqual(reader.listRuns({ limit: 100 }).map((r) => r.title).sort(), ['between', 'run-0', 'run-1']);
  } finally {
    reader.close();
  }
});
