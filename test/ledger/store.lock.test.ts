import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { LedgerError, openLedger } from '../../src/ledger/index';
import type { LockOwner } from '../../src/ledger/store/lock';
import { FileLock, QUEUE_SUFFIX, ownerState, procStat, readOwner } from '../../src/ledger/store/lock';
import { EventStore, LOCK_FILE } from '../../src/ledger/store/store';
import { ledgerProjection } from '../../src/ledger/projection';
import { collectAcks, exited, runStartedEvent, spawnWriter, tempDir, writerReady } from './helpers';

/** The queue folder beside the ledger's lock, and the waiters' tickets in it. */
const QUEUE = `${LOCK_FILE}${QUEUE_SUFFIX}`;
function tickets(dir: string): string[] {
  const queue = path.join(dir, QUEUE);
  return fs.existsSync(queue) ? fs.readdirSync(queue).filter((f) => f.startsWith('wait-')) : [];
}

// A lock must name an owner that can be proven alive; anything else is broken, and every wait ends.
// The forged lock files below are what the real ones look like after a pid was reused, a container
// was renamed, or the machine rebooted.

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });
const BOOT = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const PIDNS = fs.readlinkSync('/proc/self/ns/pid');

function forge(dir: string, owner: Partial<LockOwner>, ageMs = 0): string {
  const file = path.join(dir, LOCK_FILE);
  const full: LockOwner = { pid: 1, host: os.hostname(), token: 'forged', at: Date.now() - ageMs, boot: BOOT, start: 1, pidns: PIDNS, ...owner };
  fs.writeFileSync(file, JSON.stringify(full));
  const t = new Date(Date.now() - ageMs);
  fs.utimesSync(file, t, t);
  return file;
}

function spawnSleeper(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 60000)'], { stdio: 'ignore' });
}

async function commitTime(dir: string, title: string, lockTimeoutMs = 20_000): Promise<number> {
  const l = await openLedger(dir, { lockTimeoutMs });
  try {
    const t0 = Date.now();
    await l.startRun(oneNode(title));
    return Date.now() - t0;
  } finally {
    l.close();
  }
}

test('a lock whose pid now belongs to another live process is broken at once', async () => {
  const dir = tempDir();
  const sleeper = spawnSleeper();
  try {
    await new Promise((r) => setTimeout(r, 100));
    const stat = procStat(sleeper.pid!);
    assert.ok(stat, 'the sleeper runs');
    // The lock's owner had this pid, but started at another time: the pid was reused.
    forge(dir, { pid: sleeper.pid!, start: stat.start - 1 });
    assert.equal(ownerState(readOwner(path.join(dir, LOCK_FILE))!), 'dead');
    const ms = await commitTime(dir, 'after reuse');
    assert.ok(ms < 5_000, `the writer waited ${ms} ms for a lock whose owner is gone`);
    // The same record with the right start time is a live owner and is not broken.
    forge(dir, { pid: sleeper.pid!, start: stat.start });
    assert.equal(ownerState(readOwner(path.join(dir, LOCK_FILE))!), 'alive');
    await assert.rejects(commitTime(dir, 'never', 1_000), (e: Error) =>
      e instanceof LedgerError && e.code === 'lock_timeout' && new RegExp(`held by pid ${sleeper.pid} on ${os.hostname()} since \\d{4}-`).test(e.message));
  } finally {
    sleeper.kill('SIGKILL');
  }
});

test('locks naming another host: a rebooted machine\'s is broken at once, one that cannot be checked once it is old', async () => {
  const dir = tempDir();
  // Same host name, another boot: every process of that boot is gone.
  forge(dir, { host: os.hostname(), boot: '00000000-0000-0000-0000-000000000000' });
  assert.ok(await commitTime(dir, 'after reboot') < 5_000);
  // Another host name on this kernel (a renamed container) whose pid is gone: gone.
  forge(dir, { host: 'old-container-name', pid: 999_999_999 });
  assert.equal(ownerState(readOwner(path.join(dir, LOCK_FILE))!), 'dead');
  assert.ok(await commitTime(dir, 'after rename') < 5_000);
  // Another host and another boot (another machine, or a container from before a reboot), or another
  // pid namespace: nothing can be checked, so the lock counts once it is older than a commit can take.
  for (const owner of [{ host: 'elsewhere', boot: 'other-boot' }, { pidns: 'pid:[1]' }, { host: 'elsewhere', boot: undefined }]) {
    forge(dir, owner, 60_000);
    assert.equal(ownerState(readOwner(path.join(dir, LOCK_FILE))!), 'unproven');
    assert.ok(await commitTime(dir, `after ${JSON.stringify(owner)}`) < 5_000, `an old unprovable lock ${JSON.stringify(owner)} was not broken`);
  }
  // A fresh one from a writer that cannot be checked is waited for, but not for ever.
  forge(dir, { host: 'elsewhere', boot: 'other-boot' });
  const l = await openLedger(dir, { lockTimeoutMs: 30_000 });
  try {
    const t0 = Date.now();
    await l.startRun(oneNode('after a fresh unprovable lock'));
    const ms = Date.now() - t0;
    assert.ok(ms >= 8_000 && ms < 25_000, `waited ${ms} ms; the rule is: broken once 10 s old`);
  } finally {
    l.close();
  }
  const check = await openLedger(dir);
  assert.equal(check.listRuns().length, 6);
  check.close();
});

test('a stopped (SIGSTOP) lock holder: writers get a clear error naming it within seconds, and can write once it is gone', async () => {
  const dir = tempDir();
  const l = await openLedger(dir, { lockTimeoutMs: 30_000 });
  const holder = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'storeLockHolder.ts'), path.join(dir, LOCK_FILE)], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on('data', (d: Buffer) => { if (d.toString().startsWith('held')) resolve(); });
      holder.once('exit', () => reject(new Error('the holder exited')));
    });
    holder.kill('SIGSTOP');
    try {
      const t0 = Date.now();
      await assert.rejects(l.startRun(oneNode('blocked')), (e: Error) => {
        assert.ok(e instanceof LedgerError && e.code === 'lock_timeout');
        assert.match(e.message, new RegExp(`held by pid ${holder.pid} on ${os.hostname()} since \\d{4}-\\d\\d-\\d\\dT`));
        assert.match(e.message, new RegExp(`stopped .*kill -CONT ${holder.pid}.*nothing was recorded`));
        return true;
      });
      const ms = Date.now() - t0;
      assert.ok(ms < 10_000, `the writer waited ${ms} ms for a stopped holder`);
      holder.kill('SIGKILL');
      await exited(holder);
      await l.startRun(oneNode('after the holder is gone'));
      assert.deepEqual(l.listRuns().map((r) => r.title), ['after the holder is gone']);
    } finally {
      l.close();
    }
  } finally {
    holder.kill('SIGKILL');
  }
});

test('a holder that keeps the lock: the wait ends at lockTimeoutMs with the holder named', async () => {
  const dir = tempDir();
  const l = await openLedger(dir, { lockTimeoutMs: 800 });
  const holder = new FileLock(path.join(dir, LOCK_FILE));
  await holder.acquire();
  try {
    await assert.rejects(l.startRun(oneNode('never')), (e: Error) =>
      e instanceof LedgerError && e.code === 'lock_timeout' && /within \d+ ms: held by pid \d+ .* since .*Nothing was recorded/.test(e.message));
  } finally {
    holder.release();
    l.close();
  }
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.lock') && f !== QUEUE), [], 'no lock is left behind');
  assert.deepEqual(tickets(dir), [], 'and no queue ticket');
});

test('a process that finds others\' commits queues for the lock before it applies them', async () => {
  // Applying what others committed takes a while (a fresh process, a long idle one); a process that queued only
  // afterwards left the lock to a writer committing in a loop for all that time.
  const dir = tempDir();
  const a = await EventStore.open(dir, ledgerProjection);
  const queuedWhileApplying: boolean[] = [];
  const b = await EventStore.open(dir, {
    ...ledgerProjection,
    apply(sql, e) {
      if (e.actor === 'writer:a') queuedWhileApplying.push(tickets(dir).length > 0);
      ledgerProjection.apply(sql, e);
    },
  });
  try {
    await a.write('writer:a', () => ({ events: [runStartedEvent('r-a1'), runStartedEvent('r-a2')], result: null }));
    await b.write('writer:b', () => ({ events: [runStartedEvent('r-b1')], result: null }));
    assert.deepEqual(queuedWhileApplying, [true, true], "b's ticket was in the queue while it applied a's two runs");
    assert.deepEqual(tickets(dir), [], 'and it left the queue when it took the lock');
    // With no one else's commits to apply, a commit writes no ticket: the lock is taken at once.
    const before = b.describe().lockTakes;
    await b.write('writer:b', () => ({ events: [runStartedEvent('r-b2')], result: null }));
    assert.deepEqual(b.describe().lockTakes, { ...before, alone: before.alone + 1 });
  } finally {
    a.close();
    b.close();
  }
});

/**
 * Two warm writer processes commit `n` runs each into a fresh ledger, starting together; returns their
 * commits in order (writer, how it took the lock, how many of the other's commits it waited behind), where
 * both were writing (from the later first commit to the earlier last one), and the ledger folder.
 */
async function twoWritersInterleaved(n: number): Promise<{ commits: Array<{ writer: string; take: string; behind: number }>; overlap: { first: number; last: number }; dir: string }> {
  const dir = tempDir();
  // No checkpoints: a checkpoint holds the lock only to rename now, and while one writer writes its
  // snapshot it does not wait for the lock, so the other rightly commits many times in a row then
  // (test/ledger/store.checkpoint.test.ts); that is not a turn taken out of order.
  // Both start committing at once (a go file), whatever the machine's load does to their start-up.
  const go = path.join(tempDir(), 'go');
  const writers = [spawnWriter(dir, 'a', n, undefined, go), spawnWriter(dir, 'b', n, undefined, go)];
  const acks = writers.map((w) => collectAcks(w));
  await Promise.all(writers.map(writerReady));
  fs.writeFileSync(go, '');
  const codes = await Promise.all(writers.map(exited));
  codes.forEach((c, i) => assert.equal(c, 0, acks[i]!.stderr()));
  const l = await openLedger(dir);
  try {
    const commits = l
      .events(0, 100_000)
      .filter((e) => e.kind === 'run.started' && !String((e.payload as { title?: unknown }).title).endsWith('-warmup'))
      .map((e) => {
        const runId = (e.payload as { runId: string }).runId;
        const ack = acks[0]!.takes.get(runId) ?? acks[1]!.takes.get(runId) ?? { take: 'unknown', behind: Number.NaN };
        return { writer: e.actor, ...ack };
      });
    const actors = commits.map((c) => c.writer);
    const first = Math.max(actors.indexOf('writer:a'), actors.indexOf('writer:b'));
    const last = Math.min(actors.lastIndexOf('writer:a'), actors.lastIndexOf('writer:b'));
    return { commits, overlap: { first, last }, dir };
  } finally {
    l.close();
  }
}

test('two writers committing in a loop take turns: neither commits many times in a row while the other waits', async (t) => {
  const N = 150;
  // The writers must write at the same time for the turns to mean anything. On a loaded machine the
  // scheduler can keep one process off the CPU until the other is done (seen at load 5 on 2 cores);
  // such a round says nothing about the lock, so it is run again, at most three times in all.
  let round: Awaited<ReturnType<typeof twoWritersInterleaved>> | undefined;
  for (let attempt = 1; attempt <= 3; attempt++) {
    round = await twoWritersInterleaved(N);
    assert.equal(round.commits.length, 2 * N);
    t.diagnostic(`attempt ${attempt}: ${round.overlap.last - round.overlap.first + 1} commits while both wrote`);
    if (round.overlap.last - round.overlap.first + 1 > N / 2) break;
  }
  const { commits, overlap: { first, last }, dir } = round!;
  const overlap = commits.slice(first, last + 1);
  assert.ok(overlap.length > N / 2, `the writers barely overlapped in three attempts (${overlap.length} commits in the last)`);
  // What a fair queue promises: while a writer is queued for the lock, the other commits about once (the commit
  // under way when it queued), unless the lock went to the other out of turn, past this writer left at the head of
  // the queue for 20 ms (off the CPU on a loaded machine, or busy) - by design, and each writer says which of its
  // takes those were. So for each commit: how many commits of the other came while it was queued (the writer
  // counts them from when it joined the queue), less the other's takes out of turn since: at most 1 in ten runs at
  // load 10 on 2 cores. Without the queue (waitersAhead always false) the longest were 25, 39 and 40; the queue
  // joined only after catching up (before 337e1d7) has a test of its own above.
  const waits: Array<{ behind: number; at: number }> = [];
  const outOfTurnSince = new Map<string, number>();
  for (let i = 0; i < commits.length; i++) {
    const c = commits[i]!;
    const other = c.writer === 'writer:a' ? 'writer:b' : 'writer:a';
    if (c.take === 'out-of-turn') outOfTurnSince.set(c.writer, (outOfTurnSince.get(c.writer) ?? 0) + 1);
    if (i >= first && i <= last) waits.push({ behind: c.behind - (outOfTurnSince.get(other) ?? 0), at: i });
    outOfTurnSince.set(other, 0);
  }
  const worst = waits.reduce((w, x) => (x.behind > w.behind ? x : w));
  let longest = 0;
  for (let i = 0, streak = 0; i < overlap.length; i++) {
    streak = i > 0 && overlap[i]!.writer === overlap[i - 1]!.writer ? streak + 1 : 1;
    longest = Math.max(longest, streak);
  }
  const outOfTurn = overlap.filter((c) => c.take === 'out-of-turn').length;
  const around = commits.slice(Math.max(first, worst.at - 6), worst.at + 1).map((c) => `${c.writer.slice(-1)} ${c.take} behind ${c.behind}`).join(', ');
  t.diagnostic(`longest wait behind the other's commits in turn: ${worst.behind} (${around}); out of turn: ${outOfTurn} of ${overlap.length}; longest streak of one writer: ${longest}`);
  assert.ok(commits.every((c) => c.take !== 'unknown' && Number.isInteger(c.behind)), 'every commit was acknowledged with how it took the lock');
  assert.ok(worst.behind <= 3, `a writer waited in the queue while the other committed ${worst.behind} times in turn: ${around}`);
  assert.deepEqual(tickets(dir), []);
});
