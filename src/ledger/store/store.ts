import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LedgerError } from '../errors';
import { FileLock, type LockOptions, type LockTakes, type LockTicket } from './lock';
import type { ReadResult, StoredEvent } from './journal';
import { appendLine, encodeCommitLine, encodeLine, readJournal, scanCommitLines, writeFreshJournal } from './journal';
import { describeFsError, discardTemporary, prepareFileAtomic, renameIntoPlace, writeFileAtomic } from './atomicWrite';
import type { FsOps } from './fsOps';
import { nodeFsOps, readFully, writeFully } from './fsOps';
import { Sql, loadSqlJs } from './sql';
import type { SqlJsStatic } from './sql';
import type { LedgerEvent } from '../events';
import { encodeEvents, readLog, writeSegment } from './eventLog';

/**
 * Any event the store can hold: a kind naming it and a payload. The ledger narrows it to the union
 * of src/ledger/events.ts, so that an event with a misspelt kind or a wrong payload does not compile.
 */
export interface EventShape {
  kind: string;
  payload: unknown;
}

/**
 * What the store needs from the domain: a schema with migrations, and a pure function that applies
 * one event to the tables (Emmett's `evolve`). `apply` may read only the event and the tables, never
 * the clock, so that replaying the journal rebuilds the same tables. It receives events as read back
 * from disk (`StoredEvent`, kind a string), since a journal may hold kinds that this version does not
 * know; it throws for those, which stops the open with a `corrupt` error.
 */
export interface Projection {
  readonly schemaVersion: number;
  /** Brings the tables from `fromVersion` (0 for an empty database) to `schemaVersion`. */
  migrate(sql: Sql, fromVersion: number): void;
  apply(sql: Sql, event: StoredEvent): void;
}

/** An event that `decide` returns, before the store gives it a seq, timestamp and actor: one of `E`. */
export type NewEvent<E extends EventShape = LedgerEvent> = E;

/**
 * What `decide` returns (Emmett's `decide`, with the state being the tables it reads): the events to
 * commit, all of the union `E`, and the result the caller gets once they are durable.
 */
export interface Decision<T, E extends EventShape = LedgerEvent> {
  events: E[];
  result: T;
}

export interface WriteContext {
  /** The commit's timestamp, the same one its events carry. */
  now: Date;
  sql: Sql;
}

export interface StoreOptions {
  /** Fold the journal into a new snapshot after this many commits since the last one. */
  checkpointEvery?: number;
  /** Fold the journal after it grows past this many bytes. */
  checkpointBytes?: number;
  lockTimeoutMs?: number;
  /** The clock, replaceable in tests. */
  now?: () => Date;
  /** The file operations that change files; tests pass one that injects faults (see fsOps.ts). */
  fsOps?: FsOps;
  /** Called after this process folded the journal into a new snapshot (the ledger archives due runs then). */
  onCheckpoint?: () => void;
  /**
   * Called without the lock and outside any batch before this process's first write, and again every
   * RESERVE_CHECK_EVERY batches until it returns true: runs, in a transaction it rolls back, the statements
   * that applying other processes' commits will run under the lock, so that their first run (preparing the
   * statements, V8 compiling sql.js's code for them) is not paid while other writers wait. It must leave the
   * tables as they were; what it throws is ignored (it only costs the warm-up). The ledger rehearses an
   * archive batch (Ledger.rehearseArchive).
   */
  warmUp?: (sql: Sql) => boolean;
}

export interface StoreChange {
  events: StoredEvent[];
  /** True when the change came from this store's own write. */
  local: boolean;
}

/** Where each commit line of one journal generation starts, and its first event's seq (see EventStore.journalEvents). */
interface JournalLineIndex {
  journal: string | undefined;
  ino: number | undefined;
  /** Byte offsets of the lines' starts, ascending. */
  starts: number[];
  firstSeqs: number[];
  /** The index covers the lines before this byte offset. */
  end: number;
}

/** A write waiting for its group commit (see `EventStore.runBatches`). */
interface PendingWrite<E extends EventShape> {
  actor: string;
  decide: (ctx: WriteContext) => Decision<unknown, E>;
  resolve: (value: { result: unknown; events: Array<StoredEvent & E> }) => void;
  reject: (err: unknown) => void;
}

/** At most this many writes share one append and fdatasync, so that one line stays a sane size. */
const MAX_BATCH = 256;
/** At most this many batches are committed under one taking of the lock (MAX_BATCH writes each). */
const KEEP_LOCK_ROUNDS = 4;

export const SNAPSHOT_FILE = 'ledger.sqlite';
export const JOURNAL_FILE = 'journal.ndjson';
/** How many write batches pass between two checks of the in-memory file's free pages. */
const RESERVE_CHECK_EVERY = 64;

export const LOCK_FILE = 'ledger.lock';

const STORE_DDL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  ts TEXT NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, seq);
`;

/**
 * The durable, multi-writer event store: a sql.js snapshot plus an append-only journal in one folder.
 * `E` is the union of events that `write` accepts (the ledger's own by default): a decision returning
 * an event of another kind, or a payload of the wrong shape, does not compile.
 *
 * Writers take the folder's lock, catch up on what other processes appended, decide their events
 * against the current tables, append one fsynced journal line and release. Readers catch up without
 * the lock. The database in memory always equals the snapshot plus the journal lines applied so far.
 */
export class EventStore<E extends EventShape = LedgerEvent> {
  readonly sql: Sql;
  private seqValue: number;
  private journalFd: number | undefined;
  private appendFd: number | undefined;
  private appendIno: number | undefined;
  private journalIno: number | undefined;
  private journalId: string | undefined;
  private journalBase = 0;
  /** Where the journal's header line ends: the closed segment a checkpoint writes starts there. */
  private headerEnd = 0;
  /**
   * Events at or below this seq are in the log (eventLog.ts); the events table holds only what a
   * snapshot of an earlier version left above it, and the journal holds every event committed since.
   */
  private tableBase: number;
  private offset = 0;
  private commitsSinceCheckpoint = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Writes waiting for the next group commit, in the order they were called. */
  private pending: PendingWrite<E>[] = [];
  private batchScheduled = false;
  private listeners = new Set<(change: StoreChange) => void>();
  /** While the lock is held: the changes to tell the listeners once it is released (see withLock). */
  private deferred: StoreChange[] | undefined;
  private watcher: fs.FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether every journal line read so far was read under the lock (or written by this process): none of those is ever cut back. */
  private readUnderLock = false;
  /** Where the last line read starts, and its bytes: a reader checks that it is still there (see catchUp). */
  private lastLine: { start: number; bytes: Buffer } | undefined;
  /** Automatic checkpoints wait until this many commits since the last one after one failed. */
  private checkpointRetryAt = 0;
  /** Set under the lock when the journal is long enough; the checkpoint runs after the lock is released. */
  private checkpointDue = false;
  private lastCheckpointError: string | undefined;
  /** The longest time this process held the lock (ms), and the last checkpoint's hold: what other writers waited for at most. */
  private longestHoldMs = 0;
  /** Write batches since the last check of the in-memory file's free pages (see reserveFreePages); due at the first. */
  private batchesSinceReserve = RESERVE_CHECK_EVERY;
  /** Whether the options' warmUp has done its work (or there is none); tried again with each reserve until then. */
  private warm = false;
  /** When the current write's wait joined the lock's queue (ms since the epoch), if it did. */
  private queuedAt: number | undefined;
  /**
   * The wait's `onQueued`, made once: a closure per write would cost a defineProperty in the bundle
   * (esbuild keepNames names every closure assigned to a property).
   */
  private readonly noteQueued = (at: number): void => {
    this.queuedAt ??= at;
  };
  /** Events other processes committed while this one waited for the lock for a write: the last write's, and the most. */
  private behind = { last: 0, most: 0 };
  private lastHoldMs = 0;
  private lastCheckpointHoldMs: number | undefined;
  /**
   * The journal's length as this process last saw it under the lock it holds now (its catch-up's stat,
   * then its own appends); undefined when unknown. Cleared when a commit takes the lock.
   */
  private sizeSeenUnderLock: number | undefined;
  private journalFile: string | undefined;
  /** Where the journal's lines read so far start, for serving their events (see journalEvents). */
  private lineIndex: JournalLineIndex | undefined;
  private readonly lock: FileLock;
  private readonly clock: () => Date;
  private readonly ops: FsOps;

  private constructor(
    readonly dir: string,
    private readonly projection: Projection,
    private readonly engine: SqlJsStatic,
    sql: Sql,
    seq: number,
    tableBase: number,
    private readonly options: StoreOptions,
  ) {
    this.sql = sql;
    this.seqValue = seq;
    this.tableBase = tableBase;
    this.ops = options.fsOps ?? nodeFsOps;
    this.lock = new FileLock(path.join(dir, LOCK_FILE), { ops: this.ops });
    this.clock = options.now ?? (() => new Date());
  }

  static async open<E extends EventShape = LedgerEvent>(dir: string, projection: Projection, options: StoreOptions = {}): Promise<EventStore<E>> {
    fs.mkdirSync(dir, { recursive: true });
    const engine = await loadSqlJs();
    const { sql, seq, tableBase } = openSnapshot(engine, dir, projection);
    const store = new EventStore<E>(dir, projection, engine, sql, seq, tableBase, options);
    store.moveTableToLog();
    if (!fs.existsSync(store.journalPath)) {
      await store.withLock(() => {
        if (!fs.existsSync(store.journalPath)) store.createJournal();
      });
    }
    store.catchUp(false);
    return store;
  }

  get seq(): number {
    return this.seqValue;
  }

  get snapshotPath(): string {
    return path.join(this.dir, SNAPSHOT_FILE);
  }

  /** The journal's path, joined once: a commit asks for it three times. */
  get journalPath(): string {
    return (this.journalFile ??= path.join(this.dir, JOURNAL_FILE));
  }

  /**
   * Decides and commits events atomically. `decide` sees the tables after catching up with every
   * other writer; if it throws, nothing is written and the error reaches the caller.
   */
  write<T>(actor: string, decide: (ctx: WriteContext) => Decision<T, E>): Promise<{ result: T; events: Array<StoredEvent & E> }> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new LedgerError('the ledger is closed', 'io'));
        return;
      }
      // The caller's own resolve, not a wrapper: a closure per write costs a defineProperty in the bundle
      // (esbuild keepNames names every closure assigned to a property).
      this.pending.push({ actor, decide, resolve: resolve as PendingWrite<E>['resolve'], reject });
      if (!this.batchScheduled) {
        this.batchScheduled = true;
        void this.serialize(() => this.runBatches());
      }
    });
  }

  /**
   * Group commit: takes every write queued so far, decides and applies each in turn under one lock,
   * appends their lines with one write and one fdatasync, and acknowledges each only after that sync.
   * Concurrent writes of one process (the controller's workers, an MCP server's overlapping calls)
   * thus share one lock file, one catch-up and one sync.
   */
  private async runBatches(): Promise<void> {
    this.batchScheduled = false;
    if (this.pending.length === 0) return;
    if (this.closed) {
      for (const w of this.pending.splice(0)) w.reject(new LedgerError('the ledger is closed', 'io'));
      return;
    }
    // The writes queued now form the batch; if the lock or the catch-up fails, they get that error.
    let batch: PendingWrite<E>[] = this.pending.splice(0, MAX_BATCH);
    // Acknowledgements of durable commits, given after a due checkpoint so that a command (`gascity
    // start`) that exits once acknowledged leaves no checkpoint half-done; other processes never wait
    // for it, since it holds the lock only to rename.
    const acks: Array<() => void> = [];
    try {
      // Off the lock, before a process's first write and every RESERVE_CHECK_EVERY batches after: free
      // pages for the next commits, so that none of them grows the in-memory file under the lock
      // (Sql.reserveFreePages). A process that only reads never pays for it.
      if (this.batchesSinceReserve >= RESERVE_CHECK_EVERY) {
        this.reserveFreePages();
        if (!this.warm) {
          // The warm-up judges by the tables as the other processes left them, so they are caught up first,
          // queued for the lock as below (a writer committing in a loop must not take the free lock again
          // and again meanwhile); the queue is left for the warm-up itself, which no one should wait for.
          if (this.options.warmUp && this.journalChanged()) {
            const early = this.lock.queue();
            try {
              this.catchUp(false);
            } finally {
              this.lock.leaveQueue(early);
            }
          }
          this.warmUp();
        }
      }
      this.batchesSinceReserve++;
      // What other processes appended since this one last looked is applied before taking the lock,
      // so that the lock is held for the few lines that arrive meanwhile, not for all of them (a
      // process idle while others committed thousands of events, or a fresh one whose first statements
      // and code paths are still cold: 35-75 ms under the lock in the stall bench).
      // The process queues for the lock first, so that one committing in a loop meanwhile does not
      // take the free lock again and again while this one catches up (FileLock.queue).
      let ticket: LockTicket | undefined;
      this.queuedAt = undefined;
      if (this.journalChanged()) {
        ticket = this.lock.queue();
        this.queuedAt = ticket?.started;
        try {
          this.catchUp(false);
        } catch (err) {
          this.lock.leaveQueue(ticket);
          throw err;
        }
      }
      await this.withLock(() => {
        this.assertOpen();
        this.sizeSeenUnderLock = undefined;
        const applied = this.catchUp(true);
        // Others' commits since this process joined the queue (by their timestamps, same clock): not the ones it
        // only missed while it was off the CPU before it queued.
        const queuedAt = this.queuedAt;
        this.behind.last = queuedAt === undefined ? 0 : applied.filter((e) => Date.parse(e.ts) >= queuedAt).length;
        this.behind.most = Math.max(this.behind.most, this.behind.last);
        // Writes that arrived while this one waited for the lock join under the same lock; the lock is
        // never kept across a turn of the event loop, since a caller may then block it (spawnSync, a
        // long loop) while other processes wait.
        for (let round = 0; ; round++) {
          const current = batch;
          batch = [];
          this.commitBatch(current, acks);
          if (this.pending.length === 0 || round + 1 >= KEEP_LOCK_ROUNDS) break;
          batch = this.pending.splice(0, MAX_BATCH);
        }
      }, { ticket, onQueued: this.noteQueued });
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
    if (this.checkpointDue && !this.closed) {
      this.checkpointDue = false;
      try {
        if (await this.checkpointOffLock()) this.options.onCheckpoint?.();
      } catch (err) {
        // Try again after a while rather than after every commit: on a full disk each try writes a
        // whole snapshot before it fails. The temporary files are gone already (prepareFileAtomic).
        this.lastCheckpointError = err instanceof Error ? err.message : String(err);
        this.checkpointRetryAt = this.commitsSinceCheckpoint + Math.max(1, Math.ceil((this.options.checkpointEvery ?? 5_000) / 10));
      }
    }
    for (const ack of acks) ack();
    if (this.pending.length > 0 && !this.batchScheduled) {
      this.batchScheduled = true;
      void this.serialize(() => this.runBatches());
    }
  }

  /**
   * Decides, applies and appends `batch` (the lock held, the tables caught up). A decision that throws
   * is rolled back alone (a savepoint) and its caller gets the error; when the append fails, every
   * decision of the batch is rolled back and every caller gets the append's error, so nothing of the
   * batch is recorded and each caller was told so. Rejects the failed writes at once and pushes the
   * acknowledgements of the durable ones onto `acks`.
   */
  private commitBatch(batch: PendingWrite<E>[], acks: Array<() => void>): void {
    const done: Array<{ w: PendingWrite<E>; result: unknown; stored: Array<StoredEvent & E> }> = [];
    const lines: string[] = [];
    let seq = this.seqValue;
    // A batch of one write needs no savepoint of its own: the batch's rollback undoes exactly it.
    const alone = batch.length === 1;
    this.sql.enterBatch();
    // Whether the batch's savepoint is still open, so that an unexpected failure below rolls it back.
    let open = true;
    try {
      for (const w of batch) {
        if (!alone) this.sql.run('SAVEPOINT one_write');
        try {
          const now = this.clock();
          const ts = now.toISOString();
          const decision = w.decide({ now, sql: this.sql });
          // Only these five fields are stored, whatever else the caller's objects carry.
          const stored = decision.events.map((e, i) => ({ seq: seq + 1 + i, ts, actor: w.actor, kind: e.kind, payload: e.payload }) as StoredEvent & E);
          const payloads = stored.map((e) => this.applyOne(e));
          if (stored.length > 0) lines.push(payloads.every((p) => p !== undefined) ? encodeCommitLine(stored, payloads as string[]) : encodeLine({ events: stored }));
          if (!alone) this.sql.run('RELEASE one_write');
          seq += stored.length;
          done.push({ w, result: decision.result, stored });
        } catch (err) {
          if (alone) {
            open = false;
            this.sql.rollbackBatch();
          } else {
            this.sql.run('ROLLBACK TO one_write');
            this.sql.run('RELEASE one_write');
          }
          w.reject(err);
        }
      }
      if (done.length === 0) {
        // Every write failed (a lone one was rolled back with its batch already).
        if (open) this.sql.rollbackBatch();
        open = false;
        return;
      }
      try {
        // The append is the commit point: once it returns, the lines are durable and are acknowledged.
        if (lines.length > 0) this.append(lines);
      } catch (err) {
        open = false;
        this.sql.rollbackBatch();
        for (const d of done) d.w.reject(err);
        return;
      }
    } catch (err) {
      // SQLite itself failed before the append (a savepoint that cannot be taken or released): nothing
      // of the batch stays in the tables, and every write of it not yet answered gets the error (a
      // promise answers once). After the append the writes are durable and are never refused.
      if (open) this.sql.rollbackBatch();
      for (const w of batch) w.reject(err);
      return;
    }
    this.sql.releaseBatch();
    this.seqValue = seq;
    this.commitsSinceCheckpoint += lines.length;
    for (const d of done) {
      if (d.stored.length > 0) this.emit({ events: d.stored, local: true });
      acks.push(() => d.w.resolve({ result: d.result, events: d.stored }));
    }
    // A checkpoint only saves reading time later; the commits are durable already, so a failed
    // checkpoint (a full disk) must not turn them into errors that a client would retry.
    if (lines.length > 0) this.maybeCheckpoint();
  }

  /** Reads what other processes appended since the last look, without taking the lock. */
  refresh(): Promise<StoredEvent[]> {
    return this.serialize(async () => (this.closed ? [] : this.catchUp(false)));
  }

  /** Folds the journal into a new snapshot now. */
  checkpoint(): Promise<void> {
    return this.serialize(async () => {
      this.assertOpen();
      // Another process may checkpoint between our export and our rename; then ours is older than
      // the snapshot on disk and is dropped, and we try again from the newer state.
      for (let attempt = 0; attempt < 3; attempt++) {
        if (this.journalChanged()) this.catchUp(false);
        await this.withLock(() => this.catchUp(true));
        if (await this.checkpointOffLock()) {
          this.options.onCheckpoint?.();
          return;
        }
      }
      await this.withLock(() => {
        this.catchUp(true);
        this.writeCheckpoint();
      });
    });
  }

  /**
   * Calls `listener` with every change, from this process or another. Other processes' changes are
   * noticed by watching the folder, with a slow poll as a safety net where file events are missed.
   */
  subscribe(listener: (change: StoreChange) => void): { dispose(): void } {
    this.listeners.add(listener);
    this.startWatching();
    return { dispose: () => this.listeners.delete(listener) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher?.close();
    if (this.poller) clearInterval(this.poller);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
    if (this.appendFd !== undefined) fs.closeSync(this.appendFd);
    this.journalFd = undefined;
    this.appendFd = undefined;
    this.listeners.clear();
    this.lock.dispose();
    this.sql.close();
  }

  // ---- internals -------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new LedgerError('the ledger is closed', 'io');
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Runs `critical` under the lock in one synchronous step (FileLock.runExclusive): the lock is held
   * for exactly as long as `critical` runs, never across an await during which other work of this
   * process could run. Changes that `critical` emits reach the listeners once the lock is released,
   * in order, so that a listener's work (a view refreshing, the promotion rule) never holds it either.
   */
  private async withLock<T>(critical: () => T, queue: Pick<LockOptions, 'ticket' | 'onQueued'> = {}): Promise<T> {
    const deferred: StoreChange[] = [];
    try {
      return await this.lock.runExclusive(() => {
        this.deferred = deferred;
        const t0 = performance.now();
        try {
          return critical();
        } finally {
          this.deferred = undefined;
          this.lastHoldMs = performance.now() - t0;
          this.longestHoldMs = Math.max(this.longestHoldMs, this.lastHoldMs);
        }
      }, { timeoutMs: this.options.lockTimeoutMs, ...queue });
    } finally {
      for (const change of deferred) this.deliver(change);
    }
  }

  /**
   * Applies `e` to the tables; returns its payload as JSON text for its journal line. The event is not
   * copied into the events table: the journal holds it until a checkpoint moves it into the log, and
   * `iterateEvents` reads it there (an INSERT into the table and its index was a tenth of a commit).
   */
  private applyOne(e: StoredEvent): string | undefined {
    const payload = JSON.stringify(e.payload) as string | undefined;
    this.projection.apply(this.sql, e);
    return payload;
  }

  /** Appends encoded commit lines with one write and one fdatasync; throws (nothing recorded) on failure. */
  private append(lines: string[]): void {
    const text = lines.length === 1 ? lines[0]! : lines.join('');
    // catchUp ran under this same lock, so the journal is the file read so far and ends on a line boundary.
    if (this.appendFd === undefined || this.appendIno !== this.journalIno) {
      if (this.appendFd !== undefined) fs.closeSync(this.appendFd);
      this.appendFd = undefined;
      const fd = this.ops.open(this.journalPath, 'a');
      this.appendFd = fd;
      this.appendIno = fs.fstatSync(fd).ino;
      if (this.appendIno !== this.journalIno) throw new LedgerError(`journal ${this.journalPath} changed under the lock; nothing was recorded`, 'io');
    }
    // A journal longer than what was read means someone wrote without the lock: appending would bury it.
    // The catch-up under this lock saw the file's length already (and this process's own appends since
    // moved it), so the file is asked again only when that is not the length about to be appended at.
    if (this.sizeSeenUnderLock !== this.offset) {
      const size = fs.fstatSync(this.appendFd).size;
      if (size !== this.offset) {
        throw new LedgerError(`journal ${this.journalPath} is ${size} bytes, not the ${this.offset} read under the lock; nothing was recorded`, 'io');
      }
    }
    this.lock.assertHeld();
    // Encoded once: the same bytes are written and kept as the last line (see lastLineStillThere).
    const bytes = Buffer.from(text, 'utf8');
    this.offset = appendLine(this.ops, this.appendFd, this.journalPath, bytes, this.offset);
    this.sizeSeenUnderLock = this.offset;
    const lastLength = lines.length === 1 ? bytes.length : Buffer.byteLength(lines[lines.length - 1]!, 'utf8');
    this.lastLine = { start: this.offset - lastLength, bytes: bytes.subarray(bytes.length - lastLength, bytes.length - 1) };
  }

  /**
   * Applies journal lines this process has not seen. With the lock held, a torn tail left by a
   * killed writer is cut off so that the next append starts on a line boundary.
   */
  private catchUp(holdingLock: boolean): StoredEvent[] {
    const applied: StoredEvent[] = [];
    for (let attempt = 0; ; attempt++) {
      let st: fs.Stats;
      try {
        st = fs.statSync(this.journalPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        if (!holdingLock) return applied;
        this.createJournal();
        continue;
      }
      // The size just seen bounds the read, unless the journal is (re)opened now: it may be another file.
      let knownSize: number | undefined = st.size;
      if (this.journalFd === undefined || st.ino !== this.journalIno) {
        this.drainReplacedJournal(applied);
        if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
        this.journalFd = fs.openSync(this.journalPath, 'r');
        this.journalIno = fs.fstatSync(this.journalFd).ino;
        this.offset = 0;
        this.lastLine = undefined;
        this.readUnderLock = false;
        // The file is read again from its start; its lines may not be those indexed before (a cut-back line).
        this.lineIndex = undefined;
        knownSize = undefined;
      } else if (holdingLock && this.readUnderLock && st.size === this.offset) {
        // Nothing was appended since this process last read or wrote, and every line it read was read
        // under the lock, where no line is ever cut back (a writer cuts its own line back before it
        // releases the lock): the usual case of a writer committing on its own, which now costs one stat.
        this.sizeSeenUnderLock = st.size;
        return applied;
      } else if (!this.lastLineStillThere(st.size)) {
        // A writer whose write or sync failed cut back a line this process had already read (it read
        // it between the write and the failed sync). That commit was never acknowledged: forget it by
        // starting over from the snapshot, so this process never acts on a commit that does not exist.
        if (attempt > 5) throw new LedgerError(`journal ${this.journalPath} keeps changing under this reader`, 'io');
        this.restartFromSnapshot();
        continue;
      }
      const read = readJournal(this.journalFd, this.journalPath, this.offset, knownSize);
      if (this.offset === 0) {
        if (!read.header) {
          // A journal is created with its header in one atomic rename, so an empty one was never valid.
          if (holdingLock) throw new LedgerError(`journal ${this.journalPath} has no header line`, 'corrupt');
          return applied;
        }
        this.journalId = read.header.journal;
        this.journalBase = read.header.base;
        this.headerEnd = read.headerEnd ?? 0;
        this.commitsSinceCheckpoint = 0;
        if (read.header.base > this.seqValue) {
          // Another process checkpointed events this process never read: start over from the new snapshot,
          // and tell the listeners about the events it folded in (the events table holds them), so that
          // views and the promotion rule hear every event whether it came by journal or by snapshot.
          if (attempt > 5) throw new LedgerError(`journal ${this.journalPath} starts after the snapshot ends`, 'corrupt');
          const before = this.seqValue;
          this.restartFromSnapshot();
          if (this.seqValue > before) applied.push(...this.readEvents(before, Number.MAX_SAFE_INTEGER));
          continue;
        }
      }
      this.applyCommits(read.commits, applied);
      if (read.lastLineStart !== undefined) {
        this.lastLine = { start: read.lastLineStart, bytes: readBytes(this.journalFd, read.lastLineStart, read.end - 1 - read.lastLineStart) };
      }
      // Lines read without the lock may still be cut back by their writer (see lastLineStillThere).
      if (holdingLock) this.readUnderLock = true;
      else if (read.end !== this.offset) this.readUnderLock = false;
      this.offset = read.end;
      if (holdingLock && read.pendingBytes > 0) {
        // A writer killed mid-line left bytes that no one acknowledged: cut them off before appending.
        const fd = this.ops.open(this.journalPath, 'r+');
        try {
          this.ops.ftruncate(fd, this.offset);
          this.ops.fsync(fd);
        } catch (err) {
          throw new LedgerError(`could not cut the unfinished last line off ${this.journalPath}: ${describeFsError(err)}; nothing was recorded`, 'io');
        } finally {
          this.ops.close(fd);
        }
      }
      // Under the lock the file now ends where the read ended, when the read reached the length seen
      // (the torn bytes after it were cut off above).
      const seen = knownSize ?? read.end + read.pendingBytes;
      if (holdingLock && read.end + read.pendingBytes === seen) this.sizeSeenUnderLock = this.offset;
      if (applied.length > 0) this.emit({ events: applied, local: false });
      return applied;
    }
  }

  /** Runs the options' warmUp (see there) off the lock; a failure costs only the warm-up. */
  private warmUp(): void {
    try {
      this.warm = this.options.warmUp?.(this.sql) ?? true;
    } catch {
      // The warm-up rolled its transaction back; the first catch-up of that kind is then cold, as before.
    }
  }

  /** Keeps free pages in the in-memory file (Sql.reserveFreePages); a failure costs only the reserve. */
  private reserveFreePages(): void {
    this.batchesSinceReserve = 0;
    try {
      this.sql.reserveFreePages();
    } catch {
      // Nothing was changed (rolled back); commits then grow the file as before.
    }
  }

  /**
   * Applies the commits of a journal read that this process has not applied (seq above its own) in one
   * transaction, appending their events to `applied`. Throws a LedgerError (`corrupt`) when the seqs skip or an
   * event cannot be applied; nothing of the read is applied then.
   */
  private applyCommits(commits: ReadResult['commits'], applied: StoredEvent[]): void {
    // All lines read now are applied in one transaction: per line, SQLite's commit rewrote the changed
    // pages in sql.js's in-memory file system, which made opening a journal of 3,200 commits cost
    // seconds. A line that cannot be applied stops the open anyway, so nothing of the read is kept.
    const fresh = commits.map((c) => c.events.filter((e) => e.seq > this.seqValue)).filter((evs) => evs.length > 0);
    if (fresh.length > 0) {
      let next = this.seqValue + 1;
      this.sql.enterBatch();
      try {
        for (const evs of fresh) {
          if (evs[0]!.seq !== next) {
            throw new LedgerError(`journal ${this.journalPath} skips from seq ${next - 1} to ${evs[0]!.seq}`, 'corrupt');
          }
          for (const e of evs) {
            try {
              this.projection.apply(this.sql, e);
            } catch (err) {
              throw new LedgerError(`event ${e.seq} in ${this.journalPath} cannot be applied: ${(err as Error).message}`, 'corrupt');
            }
          }
          next += evs.length;
        }
        this.sql.releaseBatch();
      } catch (err) {
        this.sql.rollbackBatch();
        throw err;
      }
      for (const evs of fresh) {
        this.seqValue += evs.length;
        this.commitsSinceCheckpoint++;
        applied.push(...evs);
      }
    }
  }

  /**
   * Applies what this process had not yet read of its journal once another process's checkpoint replaced it
   * (the old file stays readable through the open descriptor, and it holds every commit up to the new
   * journal's base). Without it a process that was a commit behind at the checkpoint (the checkpointer's own
   * archive batch, say) started over from the new snapshot: reading and loading 25 MiB took a writer 150-250
   * ms in the stall bench, and it grows with the ledger. Leaves the state as it was when the old journal
   * cannot be read cleanly to its end (a line cut back or damaged): the caller then starts over from the
   * snapshot as before.
   */
  private drainReplacedJournal(applied: StoredEvent[]): void {
    const fd = this.journalFd;
    if (fd === undefined || this.offset === 0) return;
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.offset || !this.lastLineStillThere(size)) return;
      this.applyCommits(readJournal(fd, this.journalPath, this.offset, size).commits, applied);
    } catch {
      // applyCommits applied nothing; the new snapshot has it all.
    }
  }

  /** Starts the journal of a new ledger (or one whose journal was removed), continuing from the snapshot. */
  private createJournal(): void {
    try {
      writeFreshJournal(this.journalPath, { journal: newJournalId(), base: this.seqValue, format: 1 }, this.ops);
    } catch (err) {
      throw new LedgerError(`could not start the journal of the ledger in ${this.dir}; nothing was recorded. ${(err as Error).message}`, 'io');
    }
  }

  /**
   * Whether the journal may hold something this process has not read: another file at its path, or
   * another length than what was read. One stat; the catch-up itself checks the rest.
   */
  private journalChanged(): boolean {
    try {
      const st = fs.statSync(this.journalPath);
      return this.journalFd === undefined || st.ino !== this.journalIno || st.size !== this.offset;
    } catch {
      return true;
    }
  }

  /** True when the last line this process read is still where and what it was. */
  private lastLineStillThere(size: number): boolean {
    if (size < this.offset) return false;
    if (this.lastLine === undefined || this.journalFd === undefined) return true;
    const { start, bytes } = this.lastLine;
    return readBytes(this.journalFd, start, bytes.length).equals(bytes);
  }

  /** Drops what was read and loads the snapshot again; the journal is then read from its start. */
  private restartFromSnapshot(): void {
    const fresh = openSnapshot(this.engine, this.dir, this.projection);
    this.sql.close();
    this.sql.db = fresh.sql.db;
    this.seqValue = fresh.seq;
    this.tableBase = fresh.tableBase;
    this.moveTableToLog();
    if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
    this.journalFd = undefined;
    this.lastLine = undefined;
  }

  /** Marks a checkpoint due once the journal is long enough; `runBatches` runs it after releasing the lock. */
  private maybeCheckpoint(): void {
    const every = this.options.checkpointEvery ?? 5_000;
    const bytes = this.options.checkpointBytes ?? 8 * 1024 * 1024;
    if (this.commitsSinceCheckpoint < this.checkpointRetryAt) return;
    if (this.commitsSinceCheckpoint >= every || this.offset >= bytes) this.checkpointDue = true;
  }

  /**
   * A checkpoint that keeps other writers waiting only for two renames (issue 11: 0.2-0.9 s at 62 MiB
   * when the whole snapshot was written under the lock). Must be called, without the lock, when the
   * tables are exactly the state read or written under the lock last (nothing applied since):
   *
   * 1. Without the lock, export the tables (the state at seq S, journal offset O) and write and fsync
   *    them to a temporary file beside the snapshot. Other processes go on committing meanwhile.
   * 2. Under the lock, catch up; if the journal is still the generation read at S (no other checkpoint
   *    came between), rename the temporary file over the snapshot and replace the journal by a fresh
   *    one with base S that carries, byte for byte, the lines after O (the commits made during step 1).
   *
   * A crash or failure anywhere leaves a snapshot at or behind the journal's content (readers skip
   * lines at or below the snapshot's seq), as before. Returns false when another checkpoint came
   * between (nothing changed then); throws a LedgerError (`io`) when a file operation fails.
   */
  private async checkpointOffLock(): Promise<boolean> {
    const seq = this.seqValue;
    const journalId = this.journalId;
    const offset = this.offset;
    this.closeSegment();
    this.sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(seq)]);
    const tmp = prepareFileAtomic(this.snapshotPath, this.sql.export(), { ops: this.ops });
    let renamed = false;
    // Second names of the snapshot and journal that the renames replace, removed once the lock is released.
    const retired: string[] = [];
    // The new journal, written and fsynced without the lock with the lines read after O so far (see below).
    let early: { file: string; carried: Buffer } | undefined;
    try {
      // What other processes committed while the snapshot was written is applied before taking the lock,
      // so that the lock is held for the renames and the few lines after this read, not for applying
      // every commit made meanwhile (hundreds, in the stall bench).
      this.catchUp(false);
      this.removeStaleTemporaries();
      const id = newJournalId();
      const header = Buffer.from(encodeLine({ journal: id, base: seq, format: 1 }), 'utf8');
      // The new journal (its header and the lines after O read so far) is written and fsynced here too: under
      // the lock that write and its fsync held the other writers 1-9 ms more per checkpoint (bench/ledger.ts,
      // BENCH_STALL_PHASES=1); there only the lines appended since are added to it, usually none.
      if (this.journalId === journalId && this.journalFd !== undefined && this.offset >= offset) {
        const carried = readBytes(this.journalFd, offset, this.offset - offset);
        early = { file: prepareFileAtomic(this.journalPath, Buffer.concat([header, carried]), { ops: this.ops }), carried };
      }
      const swapped = await this.withLock(() => {
        this.assertOpen();
        this.catchUp(true);
        if (this.journalId !== journalId || this.journalFd === undefined || this.offset < offset) return false;
        const carried = readBytes(this.journalFd, offset, this.offset - offset);
        // The file written before the lock is used when it holds exactly the start of what is there now: a line
        // read then may since have been cut back by a writer whose sync failed (see lastLineStillThere).
        let journalTmp: string;
        const prepared = early;
        if (prepared && carried.length >= prepared.carried.length && carried.subarray(0, prepared.carried.length).equals(prepared.carried)) {
          early = undefined;
          journalTmp = prepared.file;
          appendToTemporary(this.journalPath, journalTmp, carried.subarray(prepared.carried.length), this.ops);
        } else {
          journalTmp = prepareFileAtomic(this.journalPath, Buffer.concat([header, carried]), { ops: this.ops });
        }
        renamed = true;
        try {
          // A rename over the last name of a 25 MiB snapshot frees its blocks inside the rename, under the
          // lock (6-16 ms on ext4, 0.05 ms with a second name kept): the old files keep a second name until
          // the lock is released, and their blocks are freed then (see retireName).
          retireName(this.snapshotPath, retired, this.ops);
          renameIntoPlace(tmp, this.snapshotPath, { ops: this.ops });
          retireName(this.journalPath, retired, this.ops);
        } catch (err) {
          discardTemporary(journalTmp, this.ops);
          throw err;
        }
        // The snapshot's rename is durable (its folder fsynced) before the journal that starts after it replaces
        // the old one: in no crash is a journal found whose base is past the snapshot's end.
        renameIntoPlace(journalTmp, this.journalPath, { ops: this.ops });
        const lastStart = this.lastLine !== undefined && this.lastLine.start >= offset ? header.length + this.lastLine.start - offset : undefined;
        const last = this.lastLine;
        if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
        this.journalFd = fs.openSync(this.journalPath, 'r');
        this.journalIno = fs.fstatSync(this.journalFd).ino;
        this.offset = header.length + carried.length;
        this.lastLine = lastStart !== undefined && last !== undefined ? { start: lastStart, bytes: last.bytes } : undefined;
        this.journalId = id;
        this.journalBase = seq;
        this.headerEnd = header.length;
        let lines = 0;
        for (let i = carried.indexOf(10); i >= 0; i = carried.indexOf(10, i + 1)) lines++;
        this.commitsSinceCheckpoint = lines;
        this.checkpointRetryAt = 0;
        this.lastCheckpointError = undefined;
        return true;
      });
      if (swapped) this.lastCheckpointHoldMs = this.lastHoldMs;
      return swapped;
    } finally {
      if (!renamed) discardTemporary(tmp, this.ops);
      if (early) discardTemporary(early.file, this.ops);
      for (const name of retired) discardTemporary(name, this.ops);
    }
  }

  /**
   * Removes temporary snapshot and journal files left by processes that were killed while writing
   * them (a checkpoint's can be as large as the snapshot), and the second names of replaced ones that a
   * killed checkpoint had not removed yet (retireName): those of a pid that no longer exists, once a
   * minute old, so that a live writer in a pid namespace this process cannot see keeps its own.
   */
  private removeStaleTemporaries(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = /^(?:ledger\.sqlite|journal\.ndjson)\.(?:tmp|old)-(\d+)-[0-9a-f]+$/.exec(name);
      if (!m || Number(m[1]) === process.pid || pidExists(Number(m[1]))) continue;
      const file = path.join(this.dir, name);
      try {
        if (Date.now() - fs.statSync(file).mtimeMs > 60_000) fs.rmSync(file, { force: true });
      } catch {
        // Gone already, or not ours to remove: the next checkpoint tries again.
      }
    }
  }

  /**
   * Writes the tables as the new snapshot, then a fresh journal that continues from it. A crash or a
   * failure between the two leaves a snapshot that already holds some journal lines: readers skip
   * lines at or below the snapshot's seq, so nothing is applied twice. Throws a LedgerError (`io`).
   */
  private writeCheckpoint(): void {
    this.closeSegment();
    this.sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(this.seqValue)]);
    const data = this.sql.export();
    writeFileAtomic(this.snapshotPath, data, { ops: this.ops });
    const id = newJournalId();
    writeFreshJournal(this.journalPath, { journal: id, base: this.seqValue, format: 1 }, this.ops);
    if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
    this.journalFd = fs.openSync(this.journalPath, 'r');
    this.journalIno = fs.fstatSync(this.journalFd).ino;
    this.offset = fs.fstatSync(this.journalFd).size;
    this.headerEnd = this.offset;
    this.lastLine = undefined;
    this.journalId = id;
    this.journalBase = this.seqValue;
    this.commitsSinceCheckpoint = 0;
    this.checkpointRetryAt = 0;
    this.lastCheckpointError = undefined;
  }

  /** Tells the listeners about `change`: at once, or once the lock is released when it is held (see withLock). */
  private emit(change: StoreChange): void {
    if (this.deferred) this.deferred.push(change);
    else this.deliver(change);
  }

  private deliver(change: StoreChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A listener's failure must not undo or block a commit that is already durable.
      }
    }
  }

  private startWatching(): void {
    if (this.watcher || this.closed) return;
    const schedule = () => {
      if (this.refreshTimer || this.closed) return;
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = undefined;
        this.refresh().catch(() => undefined);
      }, 15);
    };
    try {
      this.watcher = fs.watch(this.dir, (_type, name) => {
        if (name === null || String(name).startsWith(JOURNAL_FILE)) schedule();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // Some file systems cannot be watched; the poll below still notices changes.
    }
    this.poller = setInterval(schedule, 1_000);
    this.poller.unref();
  }

  /**
   * Up to `limit` events with seq above `after`, in order: from the closed log segments on disk for
   * what a checkpoint moved out of memory, then from the events table (what a snapshot of an earlier
   * version still holds), then from the journal. Throws a LedgerError (`corrupt`) when the log folder
   * lost a segment or a journal line read before changed.
   */
  readEvents(after: number, limit: number): StoredEvent[] {
    const out: StoredEvent[] = [];
    if (limit <= 0) return out;
    for (const e of this.iterateEvents(after, Math.min(limit, 1000))) {
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Every event with seq above `after`, in order, read a log segment at a time (for `verify` and
   * exports: memory holds one segment, not the history), then the events table `pageSize` rows at a
   * time, then the journal lines read so far a chunk at a time, each read when the iteration reaches it.
   */
  *iterateEvents(after = 0, pageSize = 1000): Generator<StoredEvent> {
    let last = after;
    if (last < this.tableBase) {
      for (const e of readLog(this.dir, last, this.tableBase)) {
        last = e.seq;
        yield e;
      }
    }
    for (;;) {
      const page = this.tableEvents(Math.max(last, this.tableBase), pageSize);
      for (const e of page) yield e;
      if (page.length > 0) last = page[page.length - 1]!.seq;
      if (page.length < pageSize) break;
    }
    yield* this.journalEvents(Math.max(last, this.tableBase));
  }

  /**
   * The events with seq above `after`, up to this process's seq, from the journal lines it has read:
   * the events a checkpoint has not yet moved into the log (commits no longer copy them into the events
   * table). The line index finds the line holding `after + 1` without reading the lines before it.
   */
  private *journalEvents(after: number): Generator<StoredEvent> {
    const fd = this.journalFd;
    if (fd === undefined || after >= this.seqValue) return;
    const index = this.indexJournalLines(fd);
    // The last line whose first event is at or before `after + 1` holds it (or ends before it).
    let lo = 0;
    let hi = index.firstSeqs.length - 1;
    let from = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (index.firstSeqs[mid]! <= after + 1) {
        from = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (index.starts.length === 0) return;
    const top = this.seqValue;
    for (const line of scanCommitLines(fd, this.journalPath, index.starts[from]!, index.end)) {
      for (const e of line.events) {
        if (e.seq > top) return;
        if (e.seq > after) yield e;
      }
    }
  }

  /**
   * Brings the index of journal lines up to the bytes read so far: where each line starts and its first
   * event's seq. It is rebuilt from the header's end when the journal is another file or generation,
   * or was cut back below what the index covers; otherwise only lines new since the last call are read.
   */
  private indexJournalLines(fd: number): JournalLineIndex {
    let index = this.lineIndex;
    if (index === undefined || index.journal !== this.journalId || index.ino !== this.journalIno || index.end > this.offset) {
      index = { journal: this.journalId, ino: this.journalIno, starts: [], firstSeqs: [], end: this.headerEnd };
      this.lineIndex = index;
    }
    if (index.end < this.offset) {
      for (const line of scanCommitLines(fd, this.journalPath, index.end, this.offset)) {
        if (line.events.length === 0) continue;
        index.starts.push(line.start);
        index.firstSeqs.push(line.events[0]!.seq);
      }
      // `offset` always ends a whole line (the store reads and appends whole lines only).
      index.end = this.offset;
    }
    return index;
  }

  private tableEvents(after: number, limit: number): StoredEvent[] {
    return this.sql.all<{ seq: number; ts: string; actor: string; kind: string; payload: string }>(
      'SELECT seq, ts, actor, kind, payload FROM events WHERE seq > ? ORDER BY seq LIMIT ?', [after, limit])
      .map((e) => ({ seq: e.seq, ts: e.ts, actor: e.actor, kind: e.kind, payload: JSON.parse(e.payload) as unknown }));
  }

  /**
   * Moves the events a snapshot of an earlier version still holds into the log (segments of 20,000
   * events), so that this process and the next snapshot hold only the projection. A log that cannot be
   * written (a full disk) leaves the events in the table, which is still correct, and is tried again
   * at the next open.
   */
  private moveTableToLog(): void {
    if (this.tableBase >= this.seqValue) return;
    try {
      for (let after = this.tableBase; after < this.seqValue;) {
        const chunk = this.tableEvents(after, 20_000);
        if (chunk.length === 0) break;
        const last = chunk[chunk.length - 1]!.seq;
        writeSegment(this.dir, after + 1, last, Buffer.from(encodeEvents(chunk), 'utf8'), this.ops);
        after = last;
      }
      this.sql.run('DELETE FROM events WHERE seq <= ?', [this.seqValue]);
      this.tableBase = this.seqValue;
    } catch {
      // Kept in the table; see above.
    }
  }

  /**
   * Writes the journal's lines read so far (seq above the journal's base, up to this process's seq)
   * as a closed log segment, then drops those events from the table: called before a checkpoint
   * exports the tables, so the snapshot holds none of them. Throws a LedgerError (`io`) when the
   * segment cannot be written; the table is then untouched.
   */
  private closeSegment(): void {
    if (this.seqValue > this.journalBase && this.journalFd !== undefined && this.offset > this.headerEnd) {
      writeSegment(this.dir, this.journalBase + 1, this.seqValue, readBytes(this.journalFd, this.headerEnd, this.offset - this.headerEnd), this.ops);
    }
    if (this.seqValue > this.tableBase) {
      this.sql.run('DELETE FROM events WHERE seq <= ?', [this.seqValue]);
      this.tableBase = this.seqValue;
    }
    // SQLite keeps freed pages in the file: after an archive or a legacy history moved out, the
    // snapshot would still be as large as before. Compact when over a quarter of the pages are free.
    const free = this.sql.get<{ freelist_count: number }>('PRAGMA freelist_count')?.freelist_count ?? 0;
    const pages = this.sql.get<{ page_count: number }>('PRAGMA page_count')?.page_count ?? 0;
    if (free > 256 && free * 4 > pages) this.sql.exec('VACUUM');
  }

  /** Identifies the journal generation currently read; exposed for diagnostics. */
  describe(): {
    seq: number; journal: string | undefined; base: number; offset: number; lastCheckpointError: string | undefined;
    /** How long this process held the ledger lock (ms): its longest hold since it opened, and the last checkpoint's renames. */
    lockHeld: { longestMs: number; lastCheckpointMs: number | undefined };
    /** How this process took the lock: alone, in turn, or out of turn past a slow head of the queue (FileLock.takes). */
    lockTakes: LockTakes;
    /**
     * Events other processes committed while this process was queued for the lock for a write (from when it
     * joined the queue, by the events' timestamps): the last write's and the most so far. With the queue fair,
     * others commit about once while a process waits, unless they took the lock out of turn.
     */
    waitedBehind: { last: number; most: number };
  } {
    return {
      seq: this.seqValue, journal: this.journalId, base: this.journalBase, offset: this.offset, lastCheckpointError: this.lastCheckpointError,
      lockHeld: { longestMs: this.longestHoldMs, lastCheckpointMs: this.lastCheckpointHoldMs },
      lockTakes: this.lock.takes,
      waitedBehind: { ...this.behind },
    };
  }
}

/**
 * Appends `bytes` to the fsynced temporary file `tmp` (prepareFileAtomic's, for `file`) and syncs it; nothing
 * when `bytes` is empty. Throws a LedgerError (`io`) naming `file` and the step, the temporary file removed.
 */
function appendToTemporary(file: string, tmp: string, bytes: Uint8Array, ops: FsOps): void {
  if (bytes.length === 0) return;
  let step = 'open the temporary file';
  let fd: number | undefined;
  try {
    fd = ops.open(tmp, 'a');
    step = 'write the temporary file';
    writeFully(ops, fd, bytes);
    step = 'fsync the temporary file';
    ops.fdatasync(fd);
    step = 'close the temporary file';
    const closing = fd;
    fd = undefined;
    ops.close(closing);
  } catch (err) {
    if (fd !== undefined) {
      try {
        ops.close(fd);
      } catch {
        // The error that matters is the one reported below.
      }
    }
    discardTemporary(tmp, ops);
    throw new LedgerError(`could not write ${file}: ${step} failed: ${describeFsError(err)}. The file is unchanged.`, 'io');
  }
}

/**
 * Gives `file` a second name, `<file>.old-<pid>-<hex>`, pushed onto `names`, so that a rename over `file`
 * does not drop its last name: the file's blocks are then freed when the caller removes that name after
 * releasing the lock, not inside the rename under it. Nothing is pushed when the file system cannot
 * link or `file` is missing; the rename then frees the blocks itself, as it always did. A name left by
 * a killed process is removed by `removeStaleTemporaries`.
 */
function retireName(file: string, names: string[], ops: FsOps): void {
  const second = `${file}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    ops.link(file, second);
    names.push(second);
  } catch {
    // See above: the rename frees the blocks.
  }
}

/** Whether a process with this pid exists here (EPERM: it exists, owned by someone else). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function newJournalId(): string {
  return randomBytes(6).toString('hex');
}

/** Reads `length` bytes at `position` (fewer when the file is shorter). */
function readBytes(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  return buf.subarray(0, readFully(fd, buf, position));
}

/**
 * Opens the snapshot, or an empty database when there is none. A snapshot that cannot be read is
 * moved aside (never overwritten) and the error says where it went.
 */
function openSnapshot(SQL: SqlJsStatic, dir: string, projection: Projection): { sql: Sql; seq: number; tableBase: number } {
  const file = path.join(dir, SNAPSHOT_FILE);
  let data: Buffer | undefined;
  try {
    data = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new LedgerError(`cannot read snapshot ${file}: ${(e as Error).message}`, 'io');
  }
  if (!data) {
    const sql = new Sql(new SQL.Database());
    sql.exec(STORE_DDL);
    projection.migrate(sql, 0);
    sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(projection.schemaVersion)]);
    return { sql, seq: 0, tableBase: 0 };
  }
  let sql: Sql | undefined;
  try {
    sql = new Sql(new SQL.Database(data));
    const seqRow = sql.get<{ value: string }>("SELECT value FROM meta WHERE key = 'seq'");
    const verRow = sql.get<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'");
    // A snapshot of this version holds no events (they are in the log); one of an earlier version holds
    // all of them, which the store then moves to the log (moveTableToLog).
    const span = sql.get<{ lo: number | null; hi: number | null }>('SELECT min(seq) AS lo, max(seq) AS hi FROM events');
    const seq = Number(seqRow?.value ?? 0);
    if (!Number.isInteger(seq) || (span?.hi !== null && span?.hi !== undefined && span.hi !== seq)) throw new Error('its sequence number does not match its events');
    const tableBase = span?.lo !== null && span?.lo !== undefined ? span.lo - 1 : seq;
    const version = Number(verRow?.value ?? 0);
    if (version > projection.schemaVersion) {
      sql.close();
      throw new LedgerError(
        `snapshot ${file} was written by a newer version (schema ${version}, this one knows ${projection.schemaVersion}); update the extension`,
        'conflict',
      );
    }
    if (version < projection.schemaVersion) {
      projection.migrate(sql, version);
      sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(projection.schemaVersion)]);
    }
    return { sql, seq, tableBase };
  } catch (e) {
    if (e instanceof LedgerError) throw e;
    try {
      sql?.close();
    } catch {
      // The database never opened.
    }
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    fs.renameSync(file, aside);
    throw new LedgerError(
      `snapshot ${file} is unreadable (${(e as Error).message}); it was moved to ${aside}. ` +
        'Restore a good copy to ledger.sqlite, or remove both it and journal.ndjson to start an empty ledger.',
      'corrupt',
    );
  }
}

/**
 * Builds a fresh set of tables by replaying `events` (any iterable: a generator reading the log keeps
 * memory to one segment) from nothing: the definition of the projection. The events table stays empty.
 */
export async function replay(projection: Projection, events: Iterable<StoredEvent>): Promise<Sql> {
  const SQL = await loadSqlJs();
  const sql = new Sql(new SQL.Database());
  sql.exec(STORE_DDL);
  projection.migrate(sql, 0);
  sql.exec('BEGIN');
  // The events themselves are not kept: the projection is what a replay rebuilds, and a history of
  // millions of events would otherwise be held in memory (the log holds them; eventLog.ts).
  for (const e of events) projection.apply(sql, e);
  sql.exec('COMMIT');
  return sql;
}
