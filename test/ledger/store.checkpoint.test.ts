// Checkpoints off the writers' path (issue 11): a process writing its snapshot holds no lock, so other
// processes commit meanwhile; their commits are carried into the fresh journal, and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import type { FsOps } from '../../src/ledger/store/fsOps';
import { nodeFsOps } from '../../src/ledger/store/fsOps';
import { SNAPSHOT_FILE } from '../../src/ledger/store/store';
import { WRITER, leftovers, tempDir } from './helpers';

/**
 * The real file system, with a hook run synchronously in the middle of writing the snapshot's
 * temporary file (at its fsync): this process is then blocked exactly where a large checkpoint spends
 * its time, so whatever the hook sees is what other processes see during a checkpoint.
 */
function duringSnapshotWrite(hook: () => void): FsOps {
  const tmpFds = new Set<number>();
  return {
    ...nodeFsOps,
    open: (p, flags, mode) => {
      const fd = nodeFsOps.open(p, flags, mode);
      if (path.basename(p).startsWith(`${SNAPSHOT_FILE}.tmp-`)) tmpFds.add(fd);
      return fd;
    },
    fsync: (fd) => {
      nodeFsOps.fsync(fd);
      if (tmpFds.delete(fd)) hook();
    },
  };
}

for (const how of ['automatic', 'explicit'] as const) {
  test(`another process commits while this one writes its snapshot (${how} checkpoint); every commit survives`, { timeout: 120_000 }, async () => {
    const dir = tempDir('gascity-ckpt-');
    let other: ReturnType<typeof spawnSync> | undefined;
    const ops = duringSnapshotWrite(() => {
      // Were the lock held here, the child would wait for it while this process is blocked, and be
      // killed at the timeout: the test would fail.
      other = spawnSync(process.execPath, ['--import', 'tsx', WRITER, dir, 'other', '3'], { encoding: 'utf8', timeout: 30_000 });
    });
    const ledger = await openLedger(dir, { actor: 'main', fsOps: ops, checkpointEvery: how === 'automatic' ? 5 : 1_000_000 });
    try {
      for (let i = 0; i < (how === 'automatic' ? 5 : 4); i++) await ledger.startRun({ title: `main-${i}`, nodes: [{ key: 'a', title: 'A' }] });
      if (how === 'explicit') await ledger.store.checkpoint();
      assert.ok(other, 'the checkpoint did not write a snapshot');
      assert.equal(other.status, 0, `the other writer could not commit during the checkpoint: ${String(other.stderr)}`);
      assert.equal(String(other.stdout).trim().split('\n').length, 3, 'the other writer acknowledged 3 commits');
      const d = ledger.store.describe();
      assert.equal(d.lastCheckpointError, undefined);
      assert.ok(d.base >= 4, `the journal was not replaced after the checkpoint (base ${d.base})`);
      // This process goes on committing after the checkpoint, and reads the other's commits.
      await ledger.startRun({ title: 'main-after', nodes: [{ key: 'a', title: 'A' }] });
      assert.equal(ledger.listRuns({ limit: 100 }).length, (how === 'automatic' ? 5 : 4) + 3 + 1);
    } finally {
      ledger.close();
    }
    // A fresh process (snapshot plus the fresh journal) sees every acknowledged commit, seqs contiguous.
    const reader = await openLedger(dir);
    try {
      const titles = reader.listRuns({ limit: 100 }).map((r) => r.title).sort();
      const mine = Array.from({ length: how === 'automatic' ? 5 : 4 }, (_, i) => `main-${i}`);
      assert.deepEqual(titles, [...mine, 'main-after', 'other-0', 'other-1', 'other-2'].sort());
      const seqs = reader.events(0, 1000).map((e) => e.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
      assert.deepEqual(reader.sql.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    } finally {
      reader.close();
    }
    assert.deepEqual(leftovers(dir), [], 'files left behind');
  });
}
