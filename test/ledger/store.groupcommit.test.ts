// Group commit (issue 11): writes issued at once by one process share one lock, one append and one
// fdatasync, and each is acknowledged only after that sync. A decision that throws fails alone; an
// append that fails fails every write of its batch, and none of them is recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError, openLedger } from '../../src/ledger/index';
import type { FsOps } from '../../src/ledger/store/fsOps';
import { nodeFsOps, withFault } from '../../src/ledger/store/fsOps';
import { LOCK_FILE } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

/** The real file system, counting fdatasyncs and the times the lock was taken (a lock file created or linked). */
function counting(base: FsOps = nodeFsOps): FsOps & { syncs: number; locks: number } {
  const c = {
    ...base,
    syncs: 0,
    locks: 0,
    fdatasync: (fd: number) => {
      base.fdatasync(fd);
      c.syncs++;
    },
    open: (p: string, flags: string, mode?: number) => {
      if (path.basename(p) === LOCK_FILE && flags === 'wx') c.locks++;
      return base.open(p, flags, mode);
    },
    // The lock is taken by hard-linking the process's owner record as the lock file (lock.ts).
    link: (existing: string, newPath: string) => {
      base.link(existing, newPath);
      if (path.basename(newPath) === LOCK_FILE) c.locks++;
    },
  };
  return c;
}

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });

test('16 writes issued at once share one lock and one fdatasync, and each is acknowledged after it', async () => {
  const dir = tempDir('gascity-group-');
  const ops = counting();
  const ledger = await openLedger(dir, { fsOps: ops });
  try {
    await ledger.startRun(oneNode('warm-up'));
    const syncsBefore = ops.syncs;
    const locksBefore = ops.locks;
    const acked: Array<{ title: string; syncsWhenAcked: number }> = [];
    const titles = Array.from({ length: 16 }, (_, i) => `w${i}`);
    await Promise.all(titles.map((t) => ledger.startRun(oneNode(t)).then(() => acked.push({ title: t, syncsWhenAcked: ops.syncs }))));
    assert.equal(ops.syncs - syncsBefore, 1, 'one fdatasync for the 16 commits');
    assert.equal(ops.locks - locksBefore, 1, 'one lock file for the 16 commits');
    assert.ok(acked.every((a) => a.syncsWhenAcked > syncsBefore), 'no write acknowledged before the sync');
    // Another process sees all 16, each its own commit (journal line), with contiguous seqs.
    const reader = await openLedger(dir);
    try {
      const runs = reader.listRuns({ limit: 100 }).map((r) => r.title).sort();
      assert.deepEqual(runs, ['warm-up', ...titles].sort());
      const seqs = reader.events(0, 1000).map((e) => e.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
    } finally {
      reader.close();
    }
    const lines = fs.readFileSync(path.join(dir, 'journal.ndjson'), 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 1 + 1 + 16, 'a header and one line per commit');
  } finally {
    ledger.close();
  }
});

test('a decision that throws in a batch fails alone; the others are recorded', async () => {
  const dir = tempDir('gascity-group-');
  const ledger = await openLedger(dir);
  try {
    const results = await Promise.allSettled([
      ledger.startRun(oneNode('a')),
      // A decision that changed the tables before it threw: its change must go with it.
      ledger.store.write('t', ({ sql }) => {
        sql.run("INSERT INTO meta(key, value) VALUES ('probe', 'half-decided')");
        throw new Error('decided against it');
      }),
      ledger.startRun(oneNode('c')),
    ]);
    assert.equal(results[0]!.status, 'fulfilled');
    assert.equal(results[1]!.status, 'rejected');
    assert.match(String((results[1] as PromiseRejectedResult).reason), /decided against it/);
    assert.equal(results[2]!.status, 'fulfilled');
    assert.equal(ledger.sql.get("SELECT value FROM meta WHERE key = 'probe'"), undefined, 'the failed decision left a change behind');
    const reader = await openLedger(dir);
    try {
      assert.deepEqual(reader.listRuns({ limit: 10 }).map((r) => r.title).sort(), ['a', 'c']);
    } finally {
      reader.close();
    }
  } finally {
    ledger.close();
  }
});

test('when the batch fdatasync fails, every write of the batch fails and none is recorded', async () => {
  const dir = tempDir('gascity-group-');
  const first = await openLedger(dir);
  await first.startRun(oneNode('before'));
  first.close();
  // The first fdatasync after opening is the batch's.
  const ops = withFault(nodeFsOps, 'fsync-error', 1);
  const ledger = await openLedger(dir, { fsOps: ops });
  try {
    const results = await Promise.allSettled(['x', 'y', 'z'].map((t) => ledger.startRun(oneNode(t))));
    assert.ok(ops.fired());
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      const err = (r as PromiseRejectedResult).reason as unknown;
      assert.ok(err instanceof LedgerError);
      assert.match(err.message, /fdatasync failed: EIO.*Nothing was recorded/);
    }
    // The same ledger object takes the next commit; nothing of the failed batch appears.
    await ledger.startRun(oneNode('after'));
    const reader = await openLedger(dir);
    try {
      assert.deepEqual(reader.listRuns({ limit: 10 }).map((r) => r.title).sort(), ['after', 'before']);
      const seqs = reader.events(0, 1000).map((e) => e.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
    } finally {
      reader.close();
    }
  } finally {
    ledger.close();
  }
});
