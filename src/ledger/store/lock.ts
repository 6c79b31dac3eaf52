import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LedgerError } from '../errors';
import { describeFsError } from './atomicWrite';
import type { FsOps } from './fsOps';
import { nodeFsOps, writeFully } from './fsOps';

/**
 * A cross-process lock on a ledger folder: a file created with O_EXCL that names its owner.
 *
 * O_EXCL creation is atomic on local file systems, so exactly one process holds the file at a time.
 * A process that dies while holding it leaves the file behind, and the next writer breaks it once the
 * owner is shown to be gone. The rule (docs/decisions/0002-lock-file.md):
 *
 * - An owner is identified by pid, the process's start time (/proc/PID/stat field 22, in clock ticks
 *   since boot), the kernel's boot id (/proc/sys/kernel/random/boot_id), its pid namespace and host.
 * - Same boot and same pid namespace: the owner is alive exactly when /proc/PID/stat exists with the
 *   same start time. A pid reused by another process has another start time, so its lock is broken.
 * - Same host name, other boot id: the machine restarted since, so the owner is gone.
 * - Anything that cannot be checked (another pid namespace, another host or machine, a system without
 *   /proc): the owner cannot be proven alive, so the lock is broken once it is older than
 *   `unprovenStaleMs` — a live writer holds the lock for milliseconds, and it checks that the lock is
 *   still its own right before it appends (see `assertHeld`).
 * - A live owner that is stopped (SIGSTOP, Ctrl-Z, a debugger) is never broken, since it would go on
 *   writing when resumed; waiters give up after `stoppedHolderMs` with an error naming it.
 *
 * Breaking is guarded by a second O_EXCL file so that two waiters cannot both break the lock and then
 * remove each other's fresh one. Every wait is bounded by `timeoutMs`.
 *
 * Taking the lock is one `link(2)`: each process writes its owner record once, to its own file in the
 * `owners` folder beside the lock, and takes the lock by hard-linking that file as the lock file, which
 * fails with EEXIST exactly where O_EXCL creation does. Creating, writing and removing a fresh file per
 * commit (an inode allocated and freed, a data block written) cost 45-115 us a commit on ext4 here,
 * against 10-25 us for a link and an unlink (bench/ledger.ts). Readers see the same record either way.
 * Before each link the record's modification time is set to now, so the lock file's age (its mtime,
 * which the staleness rule reads) counts from when it was taken. Where the file system has no hard
 * links, the lock file is created with O_EXCL as before. Owner records of processes that are gone are
 * removed by the next process that writes its own.
 *
 * Waiters queue fairly: a waiter leaves a ticket whose name sorts after every ticket already queued
 * (the millisecond it joined, and a number within it), and a process takes a free lock only when no older
 * live ticket exists (or when the lock has stayed free
 * for `handoverMs` with the folder unchanged, so a slow or stopped head of the queue cannot hold
 * everyone up). Without the queue a process committing in a loop takes the lock again the moment it
 * releases it, and others starve. A ticket is a folder in the queue folder beside the lock (`<lock>.queue`)
 * holding the waiter's owner record, so that a process about to take the lock learns that nobody is
 * queued from one stat of the queue folder, whose link count is two plus its subfolders, instead of
 * reading the ledger folder: 3 us against 13 us a commit (one readdir is an open, two getdents and a
 * close). Where a file system does not count subfolders that way (btrfs says 1), the queue folder is read.
 */
export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  /** When the lock was taken, in ms since the epoch. */
  at: number;
  /** The kernel's boot id; absent where /proc is not available. */
  boot?: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22). */
  start?: number;
  /** The pid namespace (the link text of /proc/self/ns/pid), since pids mean nothing outside it. */
  pidns?: string;
}

export interface LockOptions {
  /** Give up after this long; the error says who holds the lock. Default 30 s. */
  timeoutMs?: number;
  /**
   * A place in the queue taken earlier with `FileLock.queue` (the wait then counts from then); the
   * wait removes it whatever happens.
   */
  ticket?: LockTicket;
  /** Called with the time (ms since the epoch) when the wait writes a ticket of its own, i.e. joins the queue. */
  onQueued?: (at: number) => void;
}

/**
 * How a process took a lock, counted since it opened it: `alone` with no other waiter queued, `inTurn`
 * from the head of the queue, `outOfTurn` past an older waiter that left the lock free for `handoverMs`
 * (a head of the queue that is off the CPU, stopped, or busy with other work).
 */
export interface LockTakes {
  alone: number;
  inTurn: number;
  outOfTurn: number;
}

/** A waiter's place in a lock's queue: its ticket file and when it started waiting (ms since the epoch). */
export interface LockTicket {
  readonly file: string;
  readonly started: number;
}

export interface FileLockOptions {
  /** The file operations used to create the lock file. */
  ops?: FsOps;
  /** A lock whose owner cannot be proven alive is broken once it is this old. Default 10 s. */
  unprovenStaleMs?: number;
  /** Waiters give up this soon when the holder is a stopped process. Default 2 s. */
  stoppedHolderMs?: number;
  /** A free lock is taken out of turn after it stayed free this long (the folder unchanged meanwhile). Default 20 ms. */
  handoverMs?: number;
  /** The lock's mtime is set before a take at most this often (see TOUCH_EVERY_MS). Default 1 s. */
  touchEveryMs?: number;
}

/** What a waiter can know about a lock's owner. */
export type OwnerState = 'alive' | 'stopped' | 'dead' | 'unproven';

const BREAKER_STALE_MS = 5_000;
/** The folder beside the lock that holds each process's owner record (see `FileLock.linkOwner`). */
export const OWNERS_DIR = 'owners';
/** The folder beside the lock (`<lock>.queue`) that holds the waiters' tickets, one folder each (see `FileLock.takeTicket`). */
export const QUEUE_SUFFIX = '.queue';
/** A ticket's name starts with this, then its place (`TICKET_PLACE`) and token. */
const TICKET_PREFIX = 'wait-';
/** The name of the folder `queueLinksCount` makes and removes at once in the queue folder. */
const PROBE_PREFIX = 'probe-';
/** The owner record inside a ticket's folder. */
const TICKET_OWNER = 'owner';
/** An owner record whose process cannot be checked is removed once unused for this long. */
const OWNER_UNUSED_MS = 3_600_000;

/**
 * This process's owner record of one lock (see `FileLock.linkOwner`): the file, kept open, its inode, the
 * record written into it, and when its mtime was last set (ms since the epoch).
 */
interface OwnerFile {
  file: string;
  fd: number;
  token: string;
  ino: bigint;
  record: LockOwner;
  touchedAt: number;
}

/**
 * A lock's mtime (its age, for the staleness rule) is set before a link at most this often (ms): a
 * process committing in a loop set it on every commit, a system call a commit. The lock then looks up to
 * this much older than it is, which only brings forward by as much the breaking of a lock whose owner
 * cannot be proven alive (`unprovenStaleMs`, 10 s), and `assertHeld` catches that before a write.
 */
const TOUCH_EVERY_MS = 1_000;

interface SelfIdentity {
  pid: number;
  host: string;
  boot: string | undefined;
  start: number | undefined;
  pidns: string | undefined;
}

let selfIdentity: SelfIdentity | undefined;

/** Tokens of the locks and tickets this process holds now; a record of this process with another token is stale. */
const liveTokens = new Set<string>();

/** Tokens of this process's owner records (one per FileLock in use), which no cleanup may remove. */
const ownerTokens = new Set<string>();

/** This process's identity, read once (the host name is read each time: a container can be renamed). */
function self(): SelfIdentity {
  selfIdentity ??= {
    pid: process.pid,
    host: os.hostname(),
    boot: readText('/proc/sys/kernel/random/boot_id')?.trim(),
    start: procStat(process.pid)?.start,
    pidns: readLink('/proc/self/ns/pid'),
  };
  return { ...selfIdentity, host: os.hostname() };
}

/** This process's owner record with `token`, timed now. */
function ownRecord(token: string): LockOwner {
  const me = self();
  return { pid: me.pid, host: me.host, token, at: Date.now(), boot: me.boot, start: me.start, pidns: me.pidns };
}

/**
 * Lock tokens: a random prefix drawn once per process and a counter. A token only has to differ from
 * every other token of the same lock, and drawing random bytes per commit showed in profiles.
 */
const tokenPrefix = randomBytes(6).toString('hex');
let tokenCounter = 0;

function nextToken(): string {
  return `${tokenPrefix}${(tokenCounter++).toString(36)}`;
}

/**
 * The identity of a file on disk: its inode and change time (ns). A new file at the same path differs.
 * A lock taken by linking this process's owner record is identified by the inode alone (`ctimeNs`
 * undefined): this process keeps that record open, so its inode number cannot be freed and reused.
 */
interface FileIdentity {
  ino: bigint;
  ctimeNs: bigint | undefined;
}

function identityOf(st: fs.BigIntStats | undefined): FileIdentity | undefined {
  return st ? { ino: st.ino, ctimeNs: st.ctimeNs } : undefined;
}

/** Whether `current` (what the path holds now) is the file `held` names. */
function sameIdentity(held: FileIdentity | undefined, current: FileIdentity | undefined): boolean {
  return held !== undefined && current !== undefined && held.ino === current.ino && (held.ctimeNs === undefined || held.ctimeNs === current.ctimeNs);
}

export class FileLock {
  private held: LockOwner | undefined;
  /**
   * The lock file this process created. Checking it by inode and change time costs one stat, where
   * reading and parsing the owner record cost an open, a read and a close on every commit; a file
   * that another process created after breaking this one has another inode or (if the inode number
   * is reused) another change time, since breaking needs the lock to be seconds old.
   */
  private heldFile: FileIdentity | undefined;
  /** This lock's owner record on disk (see `linkOwner`), written on first use; undefined once disposed. */
  private owner: OwnerFile | undefined;
  /** Set when the file system refused a hard link: the lock file is then created with O_EXCL. */
  private noLinks = false;
  private readonly ops: FsOps;
  private readonly unprovenStaleMs: number;
  private readonly stoppedHolderMs: number;
  private readonly handoverMs: number;
  private readonly touchEveryMs: number;
  private readonly counts: LockTakes = { alone: 0, inTurn: 0, outOfTurn: 0 };
  /** The folder of waiters' tickets beside the lock. */
  private readonly queueDir: string;
  /** Whether the queue folder's link count was shown to count its subfolders (see `queueLinksCount`); undefined until probed. */
  private queueLinks: boolean | undefined;

  constructor(readonly path: string, options: FileLockOptions = {}) {
    this.ops = options.ops ?? nodeFsOps;
    this.unprovenStaleMs = options.unprovenStaleMs ?? 10_000;
    this.stoppedHolderMs = options.stoppedHolderMs ?? 2_000;
    this.handoverMs = options.handoverMs ?? 20;
    this.touchEveryMs = options.touchEveryMs ?? TOUCH_EVERY_MS;
    this.queueDir = `${path}${QUEUE_SUFFIX}`;
  }

  /** How this process has taken the lock so far (a copy; see LockTakes). */
  get takes(): LockTakes {
    return { ...this.counts };
  }

  get isHeld(): boolean {
    return this.held !== undefined;
  }

  /**
   * Takes the lock, waiting in turn behind earlier waiters. Throws a LedgerError: `lock_timeout` when
   * the lock stays taken for `timeoutMs` or its holder is stopped, naming the holder (pid, host, since
   * when, and whether it is stopped); `io` when the lock file cannot be written (a full disk).
   * Between this promise settling and the caller's next step, other queued work of this process may
   * run while the lock is held; the store uses `runExclusive`, which leaves no such gap.
   */
  async acquire(options: LockOptions = {}): Promise<void> {
    await this.waitAndTake(options, () => undefined);
  }

  /**
   * Waits for this process's turn, then takes the lock, runs `critical` and releases the lock, all
   * in one synchronous step: nothing else of this process (a callback, another promise's
   * continuation) can run while the lock is held, so the hold lasts exactly as long as `critical`.
   * Holding the lock across an `await` let unrelated work of the process (archiving after a
   * checkpoint, listeners) stretch a 1 ms hold to 50-100 ms while other processes waited.
   * Throws what `acquire` throws (nothing ran then) or what `critical` throws (the lock is released).
   */
  runExclusive<T>(critical: () => T, options: LockOptions = {}): Promise<T> {
    return this.waitAndTake(options, () => {
      try {
        return critical();
      } finally {
        this.release();
      }
    });
  }

  /**
   * Queues this process for the lock now, before work it does ahead of taking it (the store applies
   * what others appended first): a process that only queued once that work was done let another
   * process, committing in a loop, take the free lock many times in a row meanwhile (six and more on
   * a loaded machine, test/ledger/store.lock.test.ts). Pass the ticket to `runExclusive`; hand it to
   * `leaveQueue` if the wait never comes. Undefined when no ticket could be written (a full disk):
   * the wait then queues as usual. Never throws.
   */
  queue(): LockTicket | undefined {
    const started = Date.now();
    const file = this.takeTicket(started);
    return file ? { file, started } : undefined;
  }

  /** Removes a ticket taken with `queue` whose wait never came. Never throws. */
  leaveQueue(ticket: LockTicket | undefined): void {
    if (!ticket) return;
    rmTicket(ticket.file);
    liveTokens.delete(ticketToken(ticket.file));
  }

  /** The wait of `acquire`; `taken` runs synchronously right after the lock was taken, before any await. */
  private async waitAndTake<T>(options: LockOptions, taken: () => T): Promise<T> {
    let ticket: string | undefined = options.ticket?.file;
    if (this.held) {
      this.leaveQueue(options.ticket);
      throw new LedgerError(`lock ${this.path} is already held by this process`, 'conflict');
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    const started = options.ticket?.started ?? Date.now();
    let freeSince: number | undefined;
    let folderStamp: bigint | undefined;
    let stoppedSince: number | undefined;
    let delay = 0.5;
    try {
      for (;;) {
        const now = Date.now();
        const ahead = this.waitersAhead(ticket);
        if (!ahead || (freeSince !== undefined && now - freeSince >= this.handoverMs)) {
          if (this.tryAcquire()) {
            if (ahead) this.counts.outOfTurn++;
            else if (ticket) this.counts.inTurn++;
            else this.counts.alone++;
            ticket = dropTicket(ticket);
            return taken();
          }
        }
        if (ticket === undefined) {
          ticket = this.takeTicket(started);
          if (ticket) options.onQueued?.(Date.now());
        }
        const owner = readOwner(this.path);
        const state = owner ? ownerState(owner) : undefined;
        // A lock seen free at two looks may have been taken and released in between (a whole commit
        // fits between two polls), and that is not a lock left idle by a slow head of the queue. Every
        // take and release, and every ticket, changes the folder's mtime, so the lock counts as free
        // since the first look only while the folder stays unchanged.
        const free = !fs.existsSync(this.path);
        const stamp = folderMtime(path.dirname(this.path));
        if (!free || stamp === undefined || stamp !== folderStamp) freeSince = free ? now : undefined;
        folderStamp = stamp;
        this.breakIfStale(owner, state);
        if (state === 'stopped') stoppedSince ??= now;
        else stoppedSince = undefined;
        const stoppedTooLong = stoppedSince !== undefined && now - stoppedSince >= Math.min(this.stoppedHolderMs, timeoutMs);
        if (stoppedTooLong || now - started > timeoutMs) throw this.timeoutError(owner, state, now - started);
        // The head of the queue polls fast so that the lock changes hands within a millisecond or so;
        // the others back off a little (with jitter, so that they do not retry in step), never for
        // long: when the head is slow to take a free lock (descheduled on a loaded machine), the next
        // in line must notice within a few milliseconds, since its wait is what the bound is about
        // (issue 11: no writer waits over 100 ms; with a 10-20 ms backoff on top of the 20 ms handover,
        // a waiter sat up to 40 ms beside a free lock).
        await sleep(ahead ? delay + Math.random() * delay : 0.5);
        delay = Math.min(delay * 2, 2);
      }
    } finally {
      dropTicket(ticket);
    }
  }

  /** Removes the lock file if this process still holds it. Never throws: the commit it guarded is done. */
  release(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    liveTokens.delete(held.token);
    const file = this.heldFile;
    this.heldFile = undefined;
    if (!this.linkedStill(file) && !sameIdentity(file, identityOf(statQuietly(this.path)))) return;
    try {
      this.ops.unlink(this.path);
    } catch {
      // The file names this process with a token it no longer holds, which breakIfStale recognises
      // as stale, so nobody waits on it for long.
    }
  }

  /**
   * Removes this process's owner record (when the lock is not held): called when the ledger is closed.
   * A process that exits without it leaves the record, which the next process recognises as dead.
   */
  dispose(): void {
    const own = this.owner;
    if (!own || this.held) return;
    this.owner = undefined;
    ownerTokens.delete(own.token);
    try {
      fs.closeSync(own.fd);
    } catch {
      // Closed already.
    }
    rmQuietly(own.file);
  }

  /** Whether another live process has queued for this lock (a holder then releases it soon). */
  othersWaiting(): boolean {
    return this.waitersAhead(undefined);
  }

  /**
   * Throws unless the lock file still names this holder: a last check before a write, so that a
   * holder whose lock was broken (it was stopped for longer than `unprovenStaleMs` in a namespace
   * that others cannot see into) does not write beside the new holder.
   */
  assertHeld(): void {
    if (!this.held || (!this.linkedStill(this.heldFile) && !sameIdentity(this.heldFile, identityOf(statQuietly(this.path))))) {
      throw new LedgerError(`the ledger lock ${this.path} was taken over while this process held it; nothing was recorded`, 'lock_timeout');
    }
  }

  /**
   * Whether the lock file is still this process's owner record, linked by `linkOwner`, asked of the open
   * record (an fstat) rather than of the lock's path (a stat, a path lookup): the record has exactly two
   * names, its own in `owners` and the lock's, while the lock is this process's, since no other code ever
   * links it. False means "not shown": a lock taken otherwise (O_EXCL), or a record with another count
   * (the lock broken, or the record removed by a process that could not check this one); the caller then
   * asks the path.
   */
  private linkedStill(file: FileIdentity | undefined): boolean {
    const own = this.owner;
    if (!own || file === undefined || file.ctimeNs !== undefined || file.ino !== own.ino) return false;
    try {
      return fs.fstatSync(own.fd).nlink === 2;
    } catch {
      return false;
    }
  }

  private timeoutError(owner: LockOwner | undefined, state: OwnerState | undefined, waitedMs: number): LedgerError {
    if (!owner) {
      return new LedgerError(`could not take the ledger lock ${this.path} within ${waitedMs} ms; nothing was recorded`, 'lock_timeout');
    }
    // The lock file's mtime is when it was taken (an owner record linked as the lock file was written
    // earlier, when its process first took the lock); a record without a file to stat gives its own time.
    const since = mtimeOf(this.path) ?? owner.at;
    const who = `pid ${owner.pid} on ${owner.host} since ${new Date(since).toISOString()}`;
    if (state === 'stopped') {
      return new LedgerError(
        `the ledger lock ${this.path} is held by ${who}, and that process is stopped (SIGSTOP, Ctrl-Z or a debugger). ` +
          `Resume it (kill -CONT ${owner.pid}) or end it; nothing was recorded.`,
        'lock_timeout',
      );
    }
    return new LedgerError(
      `could not take the ledger lock ${this.path} within ${waitedMs} ms: held by ${who}` +
        `${state === 'unproven' ? ' (a process this one cannot check; the lock is broken once it is ' + this.unprovenStaleMs / 1000 + ' s old)' : ''}. ` +
        'Nothing was recorded; try again when that process has finished.',
      'lock_timeout',
    );
  }

  private tryAcquire(): boolean {
    if (!this.noLinks) {
      const taken = this.linkOwner();
      if (taken !== undefined) return taken;
    }
    return this.createLockFile();
  }

  /**
   * Takes the lock by hard-linking this process's owner record as the lock file. Returns whether it
   * was taken, or undefined when the file system cannot link (the caller then creates the file).
   * Throws a LedgerError (`io`) when the owner record cannot be written or the link fails otherwise.
   */
  private linkOwner(): boolean | undefined {
    const own = this.owner ?? this.writeOwner();
    const now = Date.now();
    if (now - own.touchedAt >= this.touchEveryMs) {
      try {
        // The lock's age is its mtime (breakIfStale, and other versions of this code): it starts now.
        fs.futimesSync(own.fd, now / 1000, now / 1000);
        own.touchedAt = now;
      } catch {
        // An mtime from the record's writing only makes an unprovable owner's lock look older.
      }
    }
    try {
      this.ops.link(own.file, this.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code === 'ENOENT') {
        // Our record was removed (by a process that could not see this one and found it old): write it again.
        this.dropOwner();
        return false;
      }
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EXDEV' || code === 'EMLINK' || code === 'ENOSYS') {
        this.noLinks = true;
        this.dropOwner();
        return undefined;
      }
      throw new LedgerError(`could not create the ledger lock ${this.path}: ${describeFsError(e)}; nothing was recorded`, 'io');
    }
    this.heldFile = { ino: own.ino, ctimeNs: undefined };
    this.held = { ...own.record, at: now };
    liveTokens.add(own.token);
    return true;
  }

  /**
   * Writes this process's owner record to `owners/<lock name>-<pid>-<token>` beside the lock and keeps
   * it open (its mtime is set before each link). First removes the records of processes that are gone.
   * Throws a LedgerError (`io`) naming the lock when the record cannot be written (a full disk); no
   * partial record is left.
   */
  private writeOwner(): OwnerFile {
    const folder = path.join(path.dirname(this.path), OWNERS_DIR);
    this.removeDeadOwners(folder);
    const token = nextToken();
    const file = path.join(folder, `${path.basename(this.path)}-${process.pid}-${token}`);
    let fd: number | undefined;
    let ino: bigint;
    const record = ownRecord(token);
    try {
      // Not recursive: a ledger folder that was removed must not come back because a writer was waiting.
      mkdirQuietly(folder);
      fd = this.ops.open(file, 'wx');
      writeFully(this.ops, fd, Buffer.from(JSON.stringify(record)));
      ino = fs.fstatSync(fd, { bigint: true }).ino;
    } catch (e) {
      if (fd !== undefined) {
        try {
          this.ops.close(fd);
        } catch {
          // Nothing more to release.
        }
      }
      rmQuietly(file);
      throw new LedgerError(`could not write the ledger lock ${this.path} (its owner record ${file}): ${describeFsError(e)}; nothing was recorded`, 'io');
    }
    this.owner = { file, fd, token, ino, record, touchedAt: record.at };
    ownerTokens.add(token);
    return this.owner;
  }

  /** Forgets the owner record (closing it, removing the file if it is still there). */
  private dropOwner(): void {
    const own = this.owner;
    this.owner = undefined;
    if (!own) return;
    ownerTokens.delete(own.token);
    try {
      fs.closeSync(own.fd);
    } catch {
      // Closed already.
    }
    rmQuietly(own.file);
  }

  /**
   * Removes owner records of this lock whose process is provably gone, and those of processes this
   * one cannot check once they were not used for an hour (such a process writes its record again
   * when its next link finds it missing).
   */
  private removeDeadOwners(folder: string): void {
    const prefix = `${path.basename(this.path)}-`;
    for (const name of readdirQuietly(folder)) {
      if (!name.startsWith(prefix)) continue;
      const file = path.join(folder, name);
      const owner = readOwner(file);
      if (owner && ownerTokens.has(owner.token)) continue;
      const state = owner ? ownerState(owner) : 'unproven';
      if (state === 'dead') rmQuietly(file);
      else if (state === 'unproven' && (fileAge(file) ?? 0) > OWNER_UNUSED_MS) rmQuietly(file);
    }
  }

  /** Takes the lock by creating the lock file with O_EXCL and writing the owner record into it. */
  private createLockFile(): boolean {
    const owner: LockOwner = { ...ownRecord(nextToken()), at: Date.now() };
    let fd: number;
    try {
      fd = this.ops.open(this.path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new LedgerError(`could not create the ledger lock ${this.path}: ${describeFsError(e)}; nothing was recorded`, 'io');
    }
    try {
      writeFully(this.ops, fd, Buffer.from(JSON.stringify(owner)));
    } catch (e) {
      // An empty or half-written lock file would make everyone wait: remove it before reporting.
      try {
        this.ops.close(fd);
      } finally {
        rmQuietly(this.path);
      }
      throw new LedgerError(`could not write the ledger lock ${this.path}: ${describeFsError(e)}; nothing was recorded`, 'io');
    }
    let file: FileIdentity | undefined;
    try {
      file = identityOf(fs.fstatSync(fd, { bigint: true }));
    } finally {
      this.ops.close(fd);
    }
    this.heldFile = file;
    this.held = owner;
    liveTokens.add(owner.token);
    return true;
  }

  /**
   * Whether a live waiter that started before `ticket` (or any live waiter, without a ticket) is
   * queued. Tickets of dead waiters are removed; those of waiters that cannot be checked count
   * only while younger than `unprovenStaleMs`. Without a ticket of its own (a process about to take
   * the lock), an empty queue is seen from the queue folder's link count alone.
   */
  private waitersAhead(ticket: string | undefined): boolean {
    const dir = this.queueDir;
    if (ticket === undefined && this.queueLinksCount()) {
      const links = linkCount(dir);
      // No queue folder: nobody queued with this version (an older one queued beside the lock, not here).
      if (links === undefined || links === 2) return false;
    }
    const mine = ticket ? path.basename(ticket) : undefined;
    for (const name of readdirQuietly(dir)) {
      if (name.startsWith(PROBE_PREFIX)) {
        // A probe left by a process killed between its mkdir and rmdir would keep every holder reading the folder.
        if ((fileAge(path.join(dir, name)) ?? 0) > BREAKER_STALE_MS) rmTicket(path.join(dir, name));
        continue;
      }
      if (!name.startsWith(TICKET_PREFIX) || name === mine) continue;
      if (mine !== undefined && name > mine) continue;
      const file = path.join(dir, name);
      const owner = readOwner(path.join(file, TICKET_OWNER));
      const state = owner ? ownerState(owner) : 'unproven';
      if (state === 'dead') {
        rmTicket(file);
        continue;
      }
      if (state === 'unproven') {
        // A ticket whose record is not written yet is as old as its folder.
        const age = fileAge(file);
        if (age === undefined || age > this.unprovenStaleMs) continue;
      }
      return true;
    }
    return false;
  }

  /**
   * Whether the queue folder's link count is two plus its subfolders here, probed once per lock: a
   * folder made in it must raise the count (ext4, xfs, tmpfs do; btrfs always says 1). Creates the
   * queue folder when missing. False when the probe cannot be made (a read-only or full disk): the
   * queue folder is then read each time.
   */
  private queueLinksCount(): boolean {
    if (this.queueLinks !== undefined) return this.queueLinks;
    this.queueLinks = false;
    // Not a ticket's name: other processes' reads of the queue skip it.
    const probe = path.join(this.queueDir, `${PROBE_PREFIX}${nextToken()}`);
    try {
      mkdirQuietly(this.queueDir);
      const before = linkCount(this.queueDir);
      fs.mkdirSync(probe);
      const after = linkCount(this.queueDir);
      this.queueLinks = before !== undefined && after !== undefined && before >= 2 && after > before;
    } catch {
      // Probed again by the next lock object; this one reads the folder.
    } finally {
      try {
        fs.rmdirSync(probe);
      } catch {
        // Never made.
      }
    }
    return this.queueLinks;
  }

  /**
   * Queues this waiter: a folder in the queue folder whose name sorts by when it joined the queue,
   * after every ticket already there, holding its owner record. Undefined when it cannot be made (a
   * full disk, a ledger folder removed meanwhile).
   */
  private takeTicket(started: number): string | undefined {
    const me = self();
    const owner: LockOwner = { pid: me.pid, host: me.host, token: randomBytes(4).toString('hex'), at: started, boot: me.boot, start: me.start, pidns: me.pidns };
    // Tickets sort by name. Two named by the same millisecond would sort by their random tokens, and a writer
    // committing in a loop (a commit takes under a millisecond) then queued ahead of one that was there first,
    // again and again: three commits in a row while the other waited, in store.lock.test.ts. So a ticket goes
    // after the last one in the queue when that one is not older: its millisecond, with the next number.
    let ms = started;
    let n = 0;
    for (const name of readdirQuietly(this.queueDir)) {
      if (!name.startsWith(TICKET_PREFIX)) continue;
      const m = TICKET_PLACE.exec(name.slice(TICKET_PREFIX.length));
      if (!m) continue;
      const t = Number(m[1]);
      const k = Number(m[2]);
      if (t > ms || (t === ms && k >= n)) {
        ms = t;
        n = k + 1;
      }
    }
    const file = path.join(this.queueDir, `${TICKET_PREFIX}${String(ms).padStart(15, '0')}-${String(n).padStart(6, '0')}-${owner.token}`);
    try {
      liveTokens.add(owner.token);
      mkdirQuietly(this.queueDir);
      fs.mkdirSync(file);
      fs.writeFileSync(path.join(file, TICKET_OWNER), JSON.stringify(owner), { flag: 'wx' });
      return file;
    } catch {
      // Without a ticket (a full disk) this waiter still gets the lock, only out of turn.
      liveTokens.delete(owner.token);
      rmTicket(file);
      return undefined;
    }
  }

  /** Removes the lock file when its owner is shown to be gone (see the rule above). */
  private breakIfStale(owner: LockOwner | undefined, state: OwnerState | undefined): void {
    if (owner === undefined) {
      // The file exists but says nothing yet: its creator is between open and write, or died there.
      const age = fileAge(this.path);
      if (age === undefined || age < BREAKER_STALE_MS) return;
    } else if (state === 'unproven') {
      const age = fileAge(this.path);
      if (age === undefined || age < this.unprovenStaleMs) return;
    } else if (state !== 'dead') {
      return;
    }
    const breaker = `${this.path}.break`;
    let fd: number;
    try {
      fd = fs.openSync(breaker, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return;
      // A breaker left by a process killed while breaking would block everyone forever.
      const age = fileAge(breaker);
      if (age !== undefined && age > BREAKER_STALE_MS) rmQuietly(breaker);
      return;
    }
    try {
      const again = readOwner(this.path);
      const same = owner === undefined ? again === undefined : again?.token === owner.token;
      if (same) rmQuietly(this.path);
    } finally {
      fs.closeSync(fd);
      rmQuietly(breaker);
    }
  }
}

/**
 * Whether `owner` is provably alive, stopped, provably gone, or beyond what this process can check.
 * A record from this very process whose token is not held any more counts as dead: it is a lock that
 * this process failed to remove.
 */
export function ownerState(owner: LockOwner): OwnerState {
  const me = self();
  if (owner.pid === me.pid && owner.host === me.host && owner.boot === me.boot && owner.start === me.start && owner.pidns === me.pidns) {
    return liveTokens.has(owner.token) ? 'alive' : 'dead';
  }
  if (me.boot === undefined || owner.boot === undefined) {
    // No /proc (macOS, Windows) or a record from an older version: pid liveness is all there is.
    if (owner.host !== me.host) return 'unproven';
    return isAlive(owner.pid) ? 'alive' : 'dead';
  }
  if (owner.boot !== me.boot) return owner.host === me.host ? 'dead' : 'unproven';
  if (owner.pidns === undefined || owner.pidns !== me.pidns || owner.start === undefined) return 'unproven';
  const stat = procStat(owner.pid);
  if (!stat || stat.start !== owner.start) return 'dead';
  return stat.state === 'T' || stat.state === 't' ? 'stopped' : 'alive';
}

/** Fields 3 (state) and 22 (start time, clock ticks since boot) of /proc/PID/stat; see proc(5). */
export function procStat(pid: number): { state: string; start: number } | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const text = readText(`/proc/${pid}/stat`);
  if (!text) return undefined;
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return fields[0] && Number.isFinite(start) ? { state: fields[0], start } : undefined;
}

/** Reads a lock or ticket file; undefined when it is missing, empty or not an owner record. */
export function readOwner(file: string): LockOwner | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8');
    if (!text) return undefined;
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid !== 'number' || typeof v.token !== 'string' || typeof v.host !== 'string') return undefined;
    return {
      pid: v.pid,
      host: v.host,
      token: v.token,
      at: Number(v.at ?? 0),
      boot: typeof v.boot === 'string' ? v.boot : undefined,
      start: typeof v.start === 'number' ? v.start : undefined,
      pidns: typeof v.pidns === 'string' ? v.pidns : undefined,
    };
  } catch {
    return undefined;
  }
}

/** A ticket's place in its name (after `wait-`): the millisecond, and its number within that millisecond. */
const TICKET_PLACE = /^(\d{15})-(\d{6})-/;

/** The names in `dir`, or none when it cannot be read (a ledger folder removed meanwhile). */
function readdirQuietly(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Leaves the queue: removes `ticket`, if any, and forgets its token. Returns undefined, the ticket
 * the caller holds now. A function of the module, not a closure per wait: the bundle keeps function
 * names (esbuild keepNames), which costs a defineProperty for each closure made.
 */
function dropTicket(ticket: string | undefined): undefined {
  if (ticket) {
    rmTicket(ticket);
    liveTokens.delete(ticketToken(ticket));
  }
  return undefined;
}

/** Removes a ticket (its folder and the owner record in it). Never throws. */
function rmTicket(ticket: string): void {
  try {
    fs.rmSync(ticket, { recursive: true, force: true });
  } catch {
    // What could not be removed is recognised as stale by the next waiter.
  }
}

/** Makes `dir` unless it exists. Not recursive: a ledger folder that was removed must not come back. Throws other errors. */
function mkdirQuietly(dir: string): void {
  try {
    fs.mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** The link count of `file`, or undefined when it cannot be stat'ed. */
function linkCount(file: string): number | undefined {
  try {
    return fs.statSync(file, { throwIfNoEntry: false })?.nlink;
  } catch {
    return undefined;
  }
}

/** The token at the end of a ticket's file name. */
function ticketToken(ticket: string): string {
  return ticket.slice(ticket.lastIndexOf('-') + 1);
}

function statQuietly(file: string): fs.BigIntStats | undefined {
  try {
    return fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function readLink(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

function rmQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // What could not be removed is recognised as stale by the next waiter.
  }
}

/** The folder's modification time in ns, which changes whenever an entry is added or removed. */
function folderMtime(dir: string): bigint | undefined {
  try {
    return fs.statSync(dir, { bigint: true }).mtimeNs;
  } catch {
    return undefined;
  }
}

function mtimeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function fileAge(file: string): number | undefined {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
