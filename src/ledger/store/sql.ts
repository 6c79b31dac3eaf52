import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';

export type { Database, SqlJsStatic, SqlValue };
export type Params = SqlValue[] | Record<string, SqlValue>;
export type Row = Record<string, SqlValue>;

let engine: Promise<SqlJsStatic> | undefined;

/** Loads sql.js once per process. The WASM file sits beside the bundle in dist/, or in node_modules when run from source. */
export function loadSqlJs(): Promise<SqlJsStatic> {
  engine ??= (async () => {
    const candidates = [
      process.env.GASCITY_SQLJS_WASM,
      path.join(__dirname, 'sql-wasm.wasm'),
      path.join(__dirname, '..', 'sql-wasm.wasm'),
    ].filter((p): p is string => typeof p === 'string');
    let wasmPath = candidates.find((p) => fs.existsSync(p));
    // Resolved at run time (not bundled): from source the WASM file is in node_modules.
    wasmPath ??= createRequire(__filename).resolve('sql.js/dist/sql-wasm.wasm');
    const wasmBinary = fs.readFileSync(wasmPath);
    return initSqlJs({ wasmBinary: wasmBinary.buffer.slice(wasmBinary.byteOffset, wasmBinary.byteOffset + wasmBinary.byteLength) as ArrayBuffer });
  })();
  return engine;
}

/**
 * Batches committed into one long SQLite transaction before it is committed (see `Sql.enterBatch`).
 * Measured on a 10k-event ledger with a run start's two inserts per batch (sql.js 1.16, 6,400 batches,
 * three rounds): 24-39 us a batch against 36-52 us with a BEGIN/COMMIT each; the COMMIT of 64 batches
 * takes 60-111 us, a few single COMMITs' worth, and the in-memory rollback journal holds at most the
 * pages those batches changed.
 */
const LONG_BATCHES = 64;

/**
 * Databases smaller than this grow their in-memory file without a reserve of free pages (see
 * `Sql.reserveFreePages`): copying 8 MiB costs a few milliseconds.
 */
const RESERVE_FROM_BYTES = 8 * 1024 * 1024;

/** A cached prepared statement and, once it has returned a row, the names of its result columns. */
interface Cached {
  stmt: Statement;
  columns: string[] | undefined;
}

/**
 * A thin layer over a sql.js database that caches prepared statements and their column names.
 *
 * sql.js 1.16's `Database.export()` copies the database with SQLite's backup API into a fresh buffer
 * and leaves the connection, its settings and its prepared statements as they were (earlier versions
 * closed and reopened the database, freeing every statement), so the cache survives a checkpoint.
 */
export class Sql {
  private cache = new Map<string, Cached>();
  /** Whether the long transaction that batches hold their savepoints in is open (see `enterBatch`). */
  private longOpen = false;
  /** Batches released into the long transaction since it was last committed. */
  private batchesInLong = 0;
  private preparedCount = 0;

  constructor(public db: Database) {
    this.tune();
  }

  /**
   * The database lives in sql.js's in-memory file system and durability comes from our journal, so
   * SQLite's own rollback journal can live in memory too: as a file it made every commit cost time
   * that grows with the database (0.4 ms at 50 MiB, 1.4 ms at 200 MiB, against 0.05-0.09 ms in memory).
   *
   * No other connection ever opens this in-memory file, so the connection keeps its file lock for good
   * (`locking_mode = EXCLUSIVE`): in the default mode every statement outside a transaction took and
   * dropped a shared lock and re-read the file's header to see whether another connection had changed
   * it, discarding the page cache when in doubt. That made a one-row lookup cost 22 us instead of 2 us
   * and a small write transaction 41 us instead of 15 us (sql.js 1.16, the tables of a 10k-event ledger,
   * 20,000 calls each, both modes in one run); a single commit of bench/ledger.ts got 20-25 % cheaper.
   */
  private tune(): void {
    this.db.exec('PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA locking_mode = EXCLUSIVE;');
  }

  /**
   * Statements compiled so far (each a cache miss of `run`, `get` or `all`): a statement compiled while the
   * ledger lock is held is time other writers wait (see StoreOptions.warmUp).
   */
  get prepared(): number {
    return this.preparedCount;
  }

  private cached(sql: string): Cached {
    let c = this.cache.get(sql);
    if (!c) {
      this.preparedCount++;
      c = { stmt: this.db.prepare(sql), columns: undefined };
      this.cache.set(sql, c);
    }
    return c;
  }

  /**
   * The current row of `c` as an object. sql.js's `getAsObject` asks SQLite for every column name on
   * every row (a call into WASM and a string decode per column); the names of a prepared statement
   * are fixed, so they are read once. A statement that SQLite recompiled after a schema change may
   * have other columns, which is why `exec` (the path of DDL) drops the names.
   */
  private row<T>(c: Cached): T {
    const values = c.stmt.get();
    let names = c.columns;
    if (names === undefined || names.length !== values.length) names = c.columns = c.stmt.getColumnNames();
    const out: Record<string, SqlValue> = {};
    for (let i = 0; i < names.length; i++) out[names[i]!] = values[i] ?? null;
    return out as T;
  }

  /**
   * Starts a batch: a savepoint inside one long SQLite transaction that stays open across batches.
   * Durability comes from the store's journal, never from this in-memory file, so committing the
   * SQLite transaction after every journal commit only cost time: its COMMIT writes every changed page
   * (and page 1's change counter) through sql.js's in-memory file system, a third of a small write's
   * cost (sql.js 1.16, a 10k-event ledger: 35-66 us per BEGIN, five writes, COMMIT against 24-40 us
   * per SAVEPOINT, five writes, RELEASE in an open transaction, 5,000 of each in three rounds). End the
   * batch with `releaseBatch` or `rollbackBatch`; batches do not nest. A caller's own BEGIN commits the
   * long transaction first (see `run`).
   */
  enterBatch(): void {
    if (!this.longOpen) {
      this.run('BEGIN');
      this.longOpen = true;
    }
    this.run('SAVEPOINT batch');
  }

  /**
   * Keeps the batch's changes. Every `LONG_BATCHES` batches the long transaction is committed, so that
   * the rollback journal it keeps in memory (the first copy of every page changed since) stays small.
   */
  releaseBatch(): void {
    this.run('RELEASE batch');
    if (++this.batchesInLong >= LONG_BATCHES) this.settle();
  }

  /** Undoes everything since `enterBatch`; the batches released before stay. */
  rollbackBatch(): void {
    this.run('ROLLBACK TO batch');
    this.run('RELEASE batch');
  }

  /**
   * Commits the long transaction, if one is open: before an export (which copies the committed
   * database) and before statements that cannot run inside a transaction (VACUUM, via `exec`).
   */
  settle(): void {
    this.batchesInLong = 0;
    if (!this.longOpen) return;
    this.longOpen = false;
    this.run('COMMIT');
  }

  run(sql: string, params: Params = []): void {
    // A transaction of the caller's own (BEGIN, then COMMIT or ROLLBACK: an archive's rehearsal rolled
    // back) cannot nest in the long one; that is committed first, so that the caller's ROLLBACK undoes
    // only the caller's work and never batches that the journal already holds.
    if (this.longOpen && sql.startsWith('BEGIN')) this.settle();
    this.cached(sql).stmt.run(params);
  }

  all<T = Row>(sql: string, params: Params = []): T[] {
    const c = this.cached(sql);
    c.stmt.bind(params);
    const out: T[] = [];
    try {
      while (c.stmt.step()) out.push(this.row<T>(c));
    } finally {
      c.stmt.reset();
    }
    return out;
  }

  get<T = Row>(sql: string, params: Params = []): T | undefined {
    const c = this.cached(sql);
    c.stmt.bind(params);
    try {
      return c.stmt.step() ? this.row<T>(c) : undefined;
    } finally {
      c.stmt.reset();
    }
  }

  /**
   * Runs one or more statements without caching them: for DDL and one-off scripts. Transaction
   * control on hot paths goes through `run` instead, which keeps its statement prepared (`exec`
   * prepares and finalizes each time, 3.3 us against 0.9 us for BEGIN plus COMMIT).
   */
  exec(sql: string): void {
    this.settle();
    for (const c of this.cache.values()) c.columns = undefined;
    this.db.exec(sql);
  }

  /** Changes made by the last statement. */
  changes(): number {
    return this.db.getRowsModified();
  }

  /**
   * Keeps free pages in the in-memory database file, so that commits reuse them instead of growing the
   * file. sql.js's in-memory file system grows a file by allocating a buffer an eighth larger and copying
   * the whole file into it (Emscripten's MEMFS.expandFileStorage), and the old buffer is collected later:
   * at 25 MiB, the commit that crossed the capacity spent 20-50 ms on it, under the ledger lock (the stall
   * bench's writer, alone and beside a checkpoint; strace showed the 28 MiB allocation). Once a database
   * is over RESERVE_FROM_BYTES and fewer than a 32nd of its pages are free, this writes a blob of an
   * eighth of its size into `meta` and deletes it in one transaction, so the file grows once here and its
   * freed pages serve the next commits. Call it outside the ledger lock and outside a batch. The tables'
   * content is unchanged (the snapshot carries the free pages; a checkpoint's VACUUM starts at a quarter).
   * Returns the bytes reserved (0 when nothing was due). Throws what sql.js throws (the transaction is
   * rolled back).
   */
  reserveFreePages(): number {
    const pageSize = this.get<{ page_size: number }>('PRAGMA page_size')?.page_size ?? 4096;
    const pages = this.get<{ page_count: number }>('PRAGMA page_count')?.page_count ?? 0;
    if (pages * pageSize < RESERVE_FROM_BYTES) return 0;
    const free = this.get<{ freelist_count: number }>('PRAGMA freelist_count')?.freelist_count ?? 0;
    if (free * 32 >= pages) return 0;
    const bytes = Math.floor(pages / 8 - free) * pageSize;
    if (bytes <= 0) return 0;
    this.run('BEGIN');
    try {
      this.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('free_page_reserve', zeroblob(?))", [bytes]);
      this.run("DELETE FROM meta WHERE key = 'free_page_reserve'");
      this.run('COMMIT');
    } catch (err) {
      this.run('ROLLBACK');
      throw err;
    }
    return bytes;
  }

  /** The whole database as a SQLite file image; the connection and its statements stay as they are. */
  export(): Uint8Array {
    this.settle();
    return this.db.export();
  }

  /** Frees every cached statement (before the database is closed or replaced). */
  invalidate(): void {
    for (const c of this.cache.values()) {
      try {
        c.stmt.free();
      } catch {
        // Already freed by sql.js itself.
      }
    }
    this.cache.clear();
  }

  close(): void {
    // Closing rolls back an open long transaction; what it held is in the journal, or was never acknowledged.
    this.longOpen = false;
    this.batchesInLong = 0;
    this.invalidate();
    this.db.close();
  }
}
