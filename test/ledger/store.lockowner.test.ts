// The lock is taken by hard-linking the process's owner record as the lock file (src/ledger/store/lock.ts):
// one link and one unlink per commit instead of creating, writing and removing a file. These tests
// check what a person or another process sees of it: the lock names its holder and its age counts
// from when it was taken, records of processes that are gone do not pile up, and a file system
// without hard links still gets a working lock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import type { FsOps } from '../../src/ledger/store/fsOps';
import { nodeFsOps } from '../../src/ledger/store/fsOps';
import { FileLock, OWNERS_DIR, ownerState, readOwner } from '../../src/ledger/store/lock';
import { LOCK_FILE } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });
const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const PIDNS = fs.readlinkSync('/proc/self/ns/pid');

/** The real file system, recording how each lock was taken: 'link' or 'create'. */
function recording(base: FsOps, refuseLinks = false): FsOps & { taken: string[] } {
  const r = {
    ...base,
    taken: [] as string[],
    open: (p: string, flags: string, mode?: number) => {
      const fd = base.open(p, flags, mode);
      if (path.basename(p) === LOCK_FILE && flags === 'wx') r.taken.push('create');
      return fd;
    },
    link: (existing: string, newPath: string) => {
      if (refuseLinks) throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
      base.link(existing, newPath);
      if (path.basename(newPath) === LOCK_FILE) r.taken.push('link');
    },
  };
  return r;
}

test('commits take the lock by linking the owner record; the lock names this process and nothing is left after close', async () => {
  const dir = tempDir('gascity-lockowner-');
  const ops = recording(nodeFsOps);
  const l = await openLedger(dir, { fsOps: ops });
  let seenDuringCommit: ReturnType<typeof readOwner>;
  let stateDuringCommit: string | undefined;
  const sub = l.store.subscribe(() => undefined);
  try {
    const takenAtOpen = ops.taken.length;
    await l.commit(() => {
      // Inside a decision the lock is held: what a waiting process would read from the lock file.
      seenDuringCommit = readOwner(path.join(dir, LOCK_FILE));
      stateDuringCommit = seenDuringCommit ? ownerState(seenDuringCommit) : undefined;
      return { events: [], result: undefined };
    });
    await l.startRun(oneNode('one'));
    await l.startRun(oneNode('two'));
    assert.deepEqual(ops.taken.slice(takenAtOpen), ['link', 'link', 'link'], 'each commit took the lock once, by a link');
    assert.ok(ops.taken.every((how) => how === 'link'), 'the lock file was never created');
    assert.equal(seenDuringCommit?.pid, process.pid);
    assert.equal(stateDuringCommit, 'alive', 'while held, the lock names a live owner');
    assert.equal(ownerState(seenDuringCommit!), 'dead', 'once released, that record no longer counts as a held lock');
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)), 'released after each commit');
    assert.equal(fs.readdirSync(path.join(dir, OWNERS_DIR)).length, 1, 'one owner record for this process');
  } finally {
    sub.dispose();
    l.close();
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, OWNERS_DIR)), [], 'close removes the owner record');
  const again = await openLedger(dir);
  try {
    assert.deepEqual(again.listRuns().map((r) => r.title).sort(), ['one', 'two']);
  } finally {
    again.close();
  }
});

test("a lock's age counts from when it was taken, not from when its owner record was written", async () => {
  const dir = tempDir('gascity-lockowner-');
  const lockPath = path.join(dir, LOCK_FILE);
  // The record's mtime is set at most every touchEveryMs (1 s by default): a process committing in a loop
  // does not pay a system call a commit for it.
  const lock = new FileLock(lockPath, { touchEveryMs: 50 });
  await lock.acquire();
  lock.release();
  // The owner record is now an hour old, as in a process that has run for an hour.
  const [record] = fs.readdirSync(path.join(dir, OWNERS_DIR));
  const hourAgo = new Date(Date.now() - 3_600_000);
  fs.utimesSync(path.join(dir, OWNERS_DIR, record!), hourAgo, hourAgo);
  await lock.acquire();
  lock.release();
  assert.ok(Date.now() - fs.statSync(path.join(dir, OWNERS_DIR, record!)).mtimeMs > 3_000_000, 'within touchEveryMs of the last take, the record is not touched');
  await new Promise((resolve) => setTimeout(resolve, 60));
  const before = Date.now();
  await lock.acquire();
  try {
    const age = before - fs.statSync(lockPath).mtimeMs;
    // A waiter that cannot check the owner breaks a lock once it is 10 s old (by its mtime).
    assert.ok(age < 5_000, `the lock file looks ${Math.round(age / 1000)} s old right after it was taken`);
  } finally {
    lock.release();
    lock.dispose();
  }
});

test('owner records of processes that are gone are removed; a live process keeps its record', async () => {
  const dir = tempDir('gascity-lockowner-');
  fs.mkdirSync(path.join(dir, OWNERS_DIR));
  const exitedChild = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  const deadPid = Number(exitedChild.stdout.trim());
  const record = (pid: number, token: string) => JSON.stringify({ pid, host: os.hostname(), token, at: Date.now(), boot: BOOT, start: 1, pidns: PIDNS });
  const deadFile = path.join(dir, OWNERS_DIR, `${LOCK_FILE}-${deadPid}-dead0`);
  fs.writeFileSync(deadFile, record(deadPid, 'dead0'));
  // pid 1 lives, but with another start time it is another process: this record is gone too.
  const reusedFile = path.join(dir, OWNERS_DIR, `${LOCK_FILE}-1-reused0`);
  fs.writeFileSync(reusedFile, record(1, 'reused0'));
  const other = new FileLock(path.join(dir, LOCK_FILE));
  await other.acquire();
  other.release();
  const l = await openLedger(dir);
  try {
    await l.startRun(oneNode('after'));
    const left = fs.readdirSync(path.join(dir, OWNERS_DIR));
    assert.ok(!left.some((f) => f.includes('dead0') || f.includes('reused0')), `records of gone processes are left: ${left.join(', ')}`);
    assert.equal(left.length, 2, 'the two live locks of this process (a FileLock and the ledger) keep theirs');
  } finally {
    l.close();
    other.dispose();
  }
  assert.deepEqual(fs.readdirSync(path.join(dir, OWNERS_DIR)), []);
});

test('an owner record removed under a running process is written again at the next commit', async () => {
  const dir = tempDir('gascity-lockowner-');
  const l = await openLedger(dir);
  try {
    await l.startRun(oneNode('first'));
    for (const f of fs.readdirSync(path.join(dir, OWNERS_DIR))) fs.rmSync(path.join(dir, OWNERS_DIR, f));
    await l.startRun(oneNode('second'));
    assert.deepEqual(l.listRuns().map((r) => r.title).sort(), ['first', 'second']);
    assert.equal(fs.readdirSync(path.join(dir, OWNERS_DIR)).length, 1);
  } finally {
    l.close();
  }
});

test('on a file system without hard links the lock file is created instead, and commits work the same', async () => {
  const dir = tempDir('gascity-lockowner-');
  const ops = recording(nodeFsOps, true);
  const l = await openLedger(dir, { fsOps: ops });
  try {
    await l.startRun(oneNode('one'));
    await l.startRun(oneNode('two'));
    assert.deepEqual(ops.taken.slice(-2), ['create', 'create']);
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
    assert.deepEqual(fs.readdirSync(path.join(dir, OWNERS_DIR)), [], 'no owner record is kept when it cannot be linked');
  } finally {
    l.close();
  }
  const again = await openLedger(dir);
  try {
    assert.deepEqual(again.listRuns().map((r) => r.title).sort(), ['one', 'two']);
  } finally {
    again.close();
  }
});

test('a holder whose lock was broken writes nothing, and its release leaves the new holder\'s lock in place', async () => {
  // The holder asks its own open record how many names it has (two while it is the lock), not the lock's path;
  // these are the cases where that count is not two, each of which must end as the path says.
  const dir = tempDir('gascity-lockowner-');
  const lockPath = path.join(dir, LOCK_FILE);
  const first = new FileLock(lockPath);
  const second = new FileLock(lockPath);
  try {
    await first.acquire();
    first.assertHeld();
    // Broken (as a waiter does once it finds the owner gone), then taken by another.
    fs.rmSync(lockPath);
    await second.acquire();
    assert.throws(() => first.assertHeld(), (e: Error & { code?: string }) => e.code === 'lock_timeout' && /taken over/.test(e.message));
    const taken = fs.statSync(lockPath).ino;
    first.release();
    assert.equal(fs.statSync(lockPath).ino, taken, "the first holder's release did not remove the second's lock");
    second.assertHeld();
    second.release();
    assert.ok(!fs.existsSync(lockPath));
    // A holder whose record was removed from the owners folder (by a process that could not check it) still
    // holds the lock, which is that record's other name: it is not told otherwise, and its release frees it.
    await first.acquire();
    for (const f of fs.readdirSync(path.join(dir, OWNERS_DIR))) if (readOwner(path.join(dir, OWNERS_DIR, f))?.pid === process.pid) fs.rmSync(path.join(dir, OWNERS_DIR, f));
    first.assertHeld();
    first.release();
    assert.ok(!fs.existsSync(lockPath), 'released');
  } finally {
    first.dispose();
    second.dispose();
  }
});
