// A checkpoint writes and fsyncs its new journal before it takes the lock, with the lines other processes
// appended while its snapshot was written; under the lock it adds only the lines appended since (usually
// none), renames the snapshot and the journal and fsyncs the folder after each (issue 11: writing and
// fsyncing the journal under the lock held the other writers 1-9 ms more per checkpoint).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import { JOURNAL_FILE, LOCK_FILE } from '../../src/ledger/store/store';
import type { FsOps } from '../../src/ledger/store/fsOps';
import { nodeFsOps } from '../../src/ledger/store/fsOps';
import { WRITER, tempDir } from './helpers';

/** One file operation as the recording FsOps saw it: its name, its file, and whether the ledger lock existed then. */
interface Seen {
  op: string;
  file: string;
  locked: boolean;
}

/**
 * The real file operations, recorded in `seen`; `onOpen(file)` runs at each open before it, so that a test can
 * commit from another process at a chosen step of the checkpoint.
 */
function recording(dir: string, seen: Seen[], onOpen: (file: string) => void): FsOps {
  const names = new Map<number, string>();
  const lock = path.join(dir, LOCK_FILE);
  const note = (op: string, file: string) => seen.push({ op, file: path.basename(file), locked: fs.existsSync(lock) });
  return {
    ...nodeFsOps,
    open: (p, flags, mode) => {
      onOpen(p);
      const fd = nodeFsOps.open(p, flags, mode);
      names.set(fd, p);
      note(`open ${flags}`, p);
      return fd;
    },
    write: (fd, buffer, offset, length, position) => {
      note('write', names.get(fd) ?? '');
      return nodeFsOps.write(fd, buffer, offset, length, position);
    },
    fsync: (fd) => {
      note('fsync', names.get(fd) ?? '');
      nodeFsOps.fsync(fd);
    },
    fdatasync: (fd) => {
      note('fdatasync', names.get(fd) ?? '');
      nodeFsOps.fdatasync(fd);
    },
    rename: (from, to) => {
      note('rename', `${path.basename(from)}>${path.basename(to)}`);
      nodeFsOps.rename(from, to);
    },
  };
}

/** Commits one run titled `<name>-0` from another process (test/fixtures/ledger-writer.ts) and waits for it. */
function commitElsewhere(dir: string, name: string): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', WRITER, dir, name, '1'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('a checkpoint writes its new journal before the lock, with the commits made while its snapshot was written', async () => {
  const dir = tempDir('gascity-ckjournal-');
  const seen: Seen[] = [];
  let during: 'snapshot' | 'done' = 'snapshot';
  const ops = recording(dir, seen, (file) => {
    // Another process commits while this one writes its snapshot, without the lock.
    if (during === 'snapshot' && path.basename(file).startsWith('ledger.sqlite.tmp-')) {
      during = 'done';
      commitElsewhere(dir, 'during-snapshot');
    }
  });
  const l = await openLedger(dir, { fsOps: ops, checkpointEvery: 1_000_000, retentionDays: null });
  try {
    for (let i = 0; i < 3; i++) await l.startRun({ title: `before-${i}`, nodes: [{ key: 'a', title: 'A' }] });
    seen.length = 0;
    await l.store.checkpoint();
    assert.equal(during, 'done', 'the other process committed during the checkpoint');
    const underLock = seen.filter((s) => s.locked);
    const journalTmp = underLock.filter((s) => s.file.startsWith(`${JOURNAL_FILE}.tmp-`) && s.op !== 'rename');
    assert.deepEqual(journalTmp, [], 'the new journal was written or synced under the lock');
    assert.deepEqual(underLock.filter((s) => s.op === 'fsync' || s.op === 'fdatasync').map((s) => s.file), [path.basename(dir), path.basename(dir)],
      'under the lock: one folder fsync after each rename, nothing else');
    assert.ok(seen.some((s) => !s.locked && s.op === 'fsync' && s.file.startsWith(`${JOURNAL_FILE}.tmp-`)), 'the journal was fsynced before the lock');
  } finally {
    l.close();
  }
  const again = await openLedger(dir, { retentionDays: null });
  try {
    const titles = again.listRuns({ limit: 100 }).map((r) => r.title).sort();
    assert.deepEqual(titles, ['before-0', 'before-1', 'before-2', 'during-snapshot-0']);
    const journal = fs.readFileSync(path.join(dir, JOURNAL_FILE), 'utf8');
    assert.match(journal, /during-snapshot-0/, 'the commit made during the snapshot was carried into the new journal');
  } finally {
    again.close();
  }
});

test('a commit made after the new journal was written before the lock is added to it under the lock, synced, and kept', async () => {
  const dir = tempDir('gascity-ckjournal-');
  const seen: Seen[] = [];
  let committed = false;
  const ops = recording(dir, seen, (file) => {
    // Another process commits once the new journal is written, before this one takes the lock.
    if (!committed && path.basename(file).startsWith(`${JOURNAL_FILE}.tmp-`) && !fs.existsSync(path.join(dir, LOCK_FILE))) {
      committed = true;
      commitElsewhere(dir, 'after-journal');
    }
  });
  const l = await openLedger(dir, { fsOps: ops, checkpointEvery: 1_000_000, retentionDays: null });
  try {
    await l.startRun({ title: 'before-0', nodes: [{ key: 'a', title: 'A' }] });
    seen.length = 0;
    await l.store.checkpoint();
    assert.ok(committed, 'the new journal was written before the lock was taken');
    const syncedUnderLock = seen.filter((s) => s.locked && s.op === 'fdatasync' && s.file.startsWith(`${JOURNAL_FILE}.tmp-`));
    assert.equal(syncedUnderLock.length, 1, 'the late line was appended to the new journal and synced under the lock');
    // This process goes on appending to the new journal.
    await l.startRun({ title: 'after-checkpoint', nodes: [{ key: 'a', title: 'A' }] });
  } finally {
    l.close();
  }
  const again = await openLedger(dir, { retentionDays: null });
  try {
    assert.deepEqual(again.listRuns({ limit: 100 }).map((r) => r.title).sort(), ['after-checkpoint', 'after-journal-0', 'before-0']);
  } finally {
    again.close();
  }
});
