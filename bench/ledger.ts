// Ledger commit cost, interleaved with its peers in one run (prints a table; not a test). Per round, in
// rotating order, each of these commits once, so that the machine's load falls on all of them alike:
//   ours        — Ledger.startRun: lock, catch up, decide, apply, append one fdatasynced journal line
//   native WAL  — better-sqlite3 (WAL, synchronous=FULL) applying the very events ours just committed to
//                 the same schema, through the same projection code, in one transaction
//   raw fsync   — append a line as long as ours' journal line and fdatasync it: the floor of any durable commit
// at ledgers of 1k, 10k and 100k events. Then the same with 8 commits issued at once by one process
// (the controller's and an MCP server's case): ours shares one lock and one fdatasync among them (group
// commit), the peer commits them one after another. Last, the time to open the largest ledger.
// Run: npm run bench:ledger   (BENCH_COMMITS=N commits per cell, BENCH_SIZES=1000,10000 event counts)
import * as fs from 'node:fs';
import * as inspector from 'node:inspector';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { openLedger } from '../src/ledger/index';
import type { Ledger, StoredEvent } from '../src/ledger/index';
import { ledgerProjection } from '../src/ledger/projection';
import { JOURNAL_FILE, SNAPSHOT_FILE, replay } from '../src/ledger/store/store';
import type { Sql } from '../src/ledger/store/sql';
import { writeFileAtomic } from '../src/ledger/store/atomicWrite';
import { encodeLine } from '../src/ledger/store/journal';
import { NativeSql, history } from './history';
import { dumpTrace, explainSlowCommits, schedNow, threadDelta, threadTimes, traceFs, traceGc, traceMethods, wallNow } from './stallTrace';

export { NativeSql, history };

const COMMITS = Number(process.env.BENCH_COMMITS ?? 300);
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);
const CONCURRENT = 8;
/**
 * Rounds run before a cell's measured ones and not counted, for all three alike: the first few hundred
 * commits of a process run in V8's interpreter and baseline tiers, and the cell measured first paid for it
 * (1k events: 2.34x raw against 2.13x at 100k, measured last, in the 06:24 run).
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);

/** p50, p95 and mean of `samples` (ms). */
export function stats(samples: number[]): { p50: number; p95: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p95: q(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Writes a ledger folder holding `count` events as a snapshot (as a checkpoint leaves it). */
export async function prepareLedger(count: number, parent = os.tmpdir()): Promise<{ dir: string; bytes: number }> {
  const dir = fs.mkdtempSync(path.join(parent, `bench-ledger-${count}-`));
  const sql = await replay(ledgerProjection, history(count));
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(count)]);
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(ledgerProjection.schemaVersion)]);
  const data = sql.export();
  sql.close();
  writeFileAtomic(path.join(dir, SNAPSHOT_FILE), data);
  fs.writeFileSync(path.join(dir, JOURNAL_FILE), encodeLine({ journal: 'bench', base: count, format: 1 }));
  return { dir, bytes: data.length };
}

/** A better-sqlite3 WAL database with our schema and `count` events of history, applied by our projection. */
export function nativePeer(count: number): { apply(events: StoredEvent[]): void; close(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-native-'));
  const db = new Database(path.join(dir, 'native.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const nsql = new NativeSql(db);
  // The projection is written against Sql; NativeSql has the four methods it calls.
  const sql = nsql as unknown as Sql;
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL); CREATE INDEX events_kind ON events(kind, seq);');
  ledgerProjection.migrate(sql, 0);
  const one = (e: StoredEvent) => {
    nsql.run('INSERT INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)', [e.seq, e.ts, e.actor, e.kind, JSON.stringify(e.payload)]);
    ledgerProjection.apply(sql, e);
  };
  db.transaction(() => { for (const e of history(count)) one(e); })();
  const applyAll = db.transaction((events: StoredEvent[]) => { for (const e of events) one(e); });
  return {
    apply: (events) => applyAll(events),
    close: () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A file to which `append(bytes)` appends that many bytes and fdatasyncs. */
export function rawPeer(): { append(bytes: number): void; close(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-raw-'));
  const fd = fs.openSync(path.join(dir, 'raw.log'), 'a');
  return {
    append: (bytes) => {
      fs.writeSync(fd, `${'x'.repeat(Math.max(0, bytes - 1))}\n`);
      fs.fdatasyncSync(fd);
    },
    close: () => {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One row of the commit table. */
export interface CommitRow {
  events: number;
  snapshotMiB: number;
  /** '1 at a time' or '8 at once'. */
  mode: string;
  ours: { p50: number; p95: number; mean: number };
  native: { p50: number; p95: number; mean: number };
  raw: { p50: number; p95: number; mean: number };
}

/**
 * Measures commits on a ledger of `size` events, interleaved with the peers. `concurrent` commits
 * are issued at once per round; the figure per commit is the round's time divided by their number.
 */
async function measure(ledger: Ledger, native: ReturnType<typeof nativePeer>, raw: ReturnType<typeof rawPeer>, concurrent: number, rounds: number): Promise<{ ours: number[]; native: number[]; raw: number[] }> {
  const out = { ours: [] as number[], native: [] as number[], raw: [] as number[] };
  let lastEvents: StoredEvent[][] = [];
  let lineBytes = 400;
  const sub = ledger.onDidChange((c) => {
    if (c.local) lastEvents.push(c.events);
  });
  const warmup = concurrent === 1 ? WARMUP : Math.ceil(WARMUP / concurrent);
  for (let i = -warmup; i < rounds; i++) {
    if (i === 0) out.ours.length = out.native.length = out.raw.length = 0;
    // Ours first in a round gives the peers its events to apply; the rotation is over the other two and
    // over which of the three runs right after the previous round's ours.
    lastEvents = [];
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrent }, (_, k) => ledger.startRun({ title: `measured ${i}.${k}`, nodes: [{ key: 'a', title: 'A' }] })));
    out.ours.push(ms(t0) / concurrent);
    if (lastEvents.length > 0) lineBytes = Buffer.byteLength(encodeLine({ events: lastEvents[0] }));
    const peers: Array<() => void> = [
      () => {
        const t = process.hrtime.bigint();
        for (const evs of lastEvents) native.apply(evs);
        out.native.push(ms(t) / concurrent);
      },
      () => {
        const t = process.hrtime.bigint();
        for (let k = 0; k < concurrent; k++) raw.append(lineBytes);
        out.raw.push(ms(t) / concurrent);
      },
    ];
    if (i % 2 === 1) peers.reverse();
    for (const p of peers) p();
  }
  sub.dispose();
  return out;
}

/** The commit-cost table at each of `sizes` (events of history), `commits` rounds per cell. */
export async function runLedgerBench(sizes: readonly number[] = SIZES, commits = COMMITS, log: (line: string) => void = () => undefined): Promise<{ rows: CommitRow[]; open: { events: number; snapshotMs: number; journalMs: number; journalCommits: number } | undefined }> {
  const rows: CommitRow[] = [];
  let open: { events: number; snapshotMs: number; journalMs: number; journalCommits: number } | undefined;
  for (const size of sizes) {
    log(`ledger bench: preparing ${size} events`);
    const { dir, bytes } = await prepareLedger(size);
    const ledger = await openLedger(dir, { actor: 'bench', checkpointEvery: 1_000_000, checkpointBytes: 1e12 });
    const native = nativePeer(size);
    const raw = rawPeer();
    for (const concurrent of [1, CONCURRENT]) {
      const rounds = concurrent === 1 ? commits : Math.max(10, Math.ceil(commits / concurrent));
      const m = await measure(ledger, native, raw, concurrent, rounds);
      rows.push({ events: size, snapshotMiB: bytes / 1048576, mode: concurrent === 1 ? '1 at a time' : `${concurrent} at once`, ours: stats(m.ours), native: stats(m.native), raw: stats(m.raw) });
    }
    ledger.close();
    native.close();
    raw.close();
    if (size === Math.max(...sizes)) {
      const snapshotMs = stats(await benchOpen(dir)).p50;
      // The worst case for opening: a journal of commits not yet folded into the snapshot.
      const l = await openLedger(dir, { checkpointEvery: 1_000_000, checkpointBytes: 1e12 });
      for (let i = 0; i < 2000; i++) await l.recordEvidence({ runId: 'r-000000', kind: 'note', note: `n${i}` });
      l.close();
      open = { events: size, snapshotMs, journalMs: stats(await benchOpen(dir)).p50, journalCommits: 2000 + 2 * commits };
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { rows, open };
}

/** Spawns this file in a child role; resolves with its stdout lines once it exits. */
function child(role: string, args: string[]): { done: Promise<string[]>; lines: string[]; stop(): void } {
  // BENCH_CHILD_NODE_FLAGS: node options for the children (say --single-threaded-gc), to try what a flag does to the stalls.
  const flags = (process.env.BENCH_CHILD_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const p = spawn(process.execPath, [...flags, '--import', 'tsx', __filename, role, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  p.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  return {
    lines,
    stop: () => p.kill('SIGTERM'),
    done: new Promise((resolve, reject) => p.on('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`${role} exited with ${code}`))))),
  };
}

/**
 * Child role: checkpoints the ledger `times` times in a row, printing "ckpt <ms> hold <ms>" for each
 * (the hold: how long its renames kept the lock), then "longest <ms>", its longest hold of the lock of
 * any kind. With BENCH_STALL_ARCHIVE=0 it does not archive due runs after its checkpoints (the history's
 * runs are older than the 30-day retention, so by default each checkpoint is followed by archiving).
 */
async function checkpointerChild(dir: string, times: number): Promise<void> {
  const archive = process.env.BENCH_STALL_ARCHIVE !== '0';
  const l = await openLedger(dir, { checkpointEvery: 1_000_000, checkpointBytes: 1e12, ...(archive ? {} : { retentionDays: null }) });
  const traceFile = process.env.BENCH_STALL_TRACE;
  const trace = traceFile ? traceFs() : undefined;
  if (trace && process.env.BENCH_STALL_PHASES === '1') {
    traceMethods(l.store, 'store', ['reserveFreePages', 'catchUp', 'applyCommits', 'drainReplacedJournal', 'restartFromSnapshot', 'commitBatch', 'append', 'withLock', 'checkpointOffLock', 'writeCheckpoint'], trace);
    traceMethods(l.store.sql, 'sql', ['run', 'get', 'all', 'exec', 'export'], trace, 0.3);
    traceGc(trace);
  }
  process.stdout.write('ready\n');
  // Starts once the measured writer is committing (the parent creates this file).
  while (!fs.existsSync(`${dir}.go`)) await new Promise((r) => setTimeout(r, 10));
  for (let i = 0; i < times; i++) {
    const t0 = process.hrtime.bigint();
    await l.store.checkpoint();
    process.stdout.write(`ckpt ${ms(t0).toFixed(1)} hold ${(l.store.describe().lockHeld.lastCheckpointMs ?? Number.NaN).toFixed(2)}\n`);
  }
  // Archiving after the last checkpoint runs in the background: its lock holds count too.
  await l.refresh();
  process.stdout.write(`longest ${l.store.describe().lockHeld.longestMs.toFixed(2)}\n`);
  l.close();
  if (traceFile && trace) dumpTrace(traceFile, 'checkpointer', trace);
}

/**
 * Child role: commits `count` times in a row, printing "commit <ms>" for each. It first commits WARM_UP
 * times unmeasured and prints "ready"; with a `go` file it then starts once the file exists, so that two
 * writers measured together start together.
 */
async function writerChild(dir: string, name: string, count: number, go?: string): Promise<void> {
  const l = await openLedger(dir, { actor: name, checkpointEvery: 1_000_000, checkpointBytes: 1e12 });
  for (let i = 0; i < WARM_UP; i++) await l.startRun({ title: `${name} warm-up ${i}`, nodes: [{ key: 'a', title: 'A' }] });
  const traceFile = name === 'during' ? process.env.BENCH_STALL_TRACE : undefined;
  const trace = traceFile ? traceFs() : undefined;
  const phases = trace !== undefined && process.env.BENCH_STALL_PHASES === '1';
  if (trace && phases) {
    // The store's phases, its statements and the collections, to split a slow commit's time (stallTrace.ts).
    traceMethods(l.store, 'store', ['reserveFreePages', 'catchUp', 'applyCommits', 'drainReplacedJournal', 'restartFromSnapshot', 'commitBatch', 'append', 'withLock'], trace);
    traceMethods(l.store.sql, 'sql', ['run', 'get', 'all', 'exec'], trace, 1);
    traceMethods((l.store as unknown as { lock: object }).lock, 'lock', ['tryAcquire', 'waitersAhead', 'takeTicket'], trace, 0);
    traceGc(trace);
  }
  // BENCH_STALL_PROFILE=<file>: a CPU profile of this writer's first commits (where a fresh process's time goes).
  const profileFile = name === 'during' ? process.env.BENCH_STALL_PROFILE : undefined;
  const profiler = profileFile ? await startProfile() : undefined;
  process.stdout.write('ready\n');
  while (go !== undefined && !fs.existsSync(go)) await new Promise((r) => setTimeout(r, 5));
  for (let i = 0; i < count; i++) {
    if (profiler && i === 200) await stopProfile(profiler, profileFile!);
    // Read before the measured interval: the main thread's schedstat (one read), and with BENCH_STALL_PHASES=1
    // each thread's CPU time (a readdir and a read a thread, 0.3 ms: it slows the loop, and in 16 runs with it
    // no commit took 40 ms, against 5 of 30 runs without it).
    const s0 = trace ? schedNow() : undefined;
    const threads0 = phases ? threadTimes() : undefined;
    const t0 = process.hrtime.bigint();
    const at = wallNow();
    await l.startRun({ title: `${name} ${i}`, nodes: [{ key: 'a', title: 'A' }] });
    process.stdout.write(`commit ${ms(t0).toFixed(3)}\n`);
    if (traceFile && trace) {
      const s1 = s0 ? schedNow() : undefined;
      // Written after the measured commit; the parent stops this writer at any moment.
      const took = wallNow() - at;
      trace.push({ at, ms: took, op: 'commit', file: '', ...(s0 && s1 ? { cpu: s1.cpu - s0.cpu, bytes: s1.runnable - s0.runnable } : {}) });
      if (threads0 && took >= 30) trace.push({ at, ms: 0, op: 'threads', file: threadDelta(threads0, threadTimes()) });
      dumpTrace(traceFile, name, trace.splice(0));
    }
  }
  l.close();
}

/** Starts V8's CPU profiler in this process (sampling every 200 us). */
async function startProfile(): Promise<inspector.Session> {
  const session = new inspector.Session();
  session.connect();
  const post = (method: string, params?: object) => new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return session;
}

/** Stops the profiler of startProfile and writes its profile (a .cpuprofile) to `file`, with the wall-clock time it started. */
async function stopProfile(session: inspector.Session, file: string): Promise<void> {
  const res = await new Promise<{ profile: { startTime: number } }>((resolve, reject) => session.post('Profiler.stop', (err, r) => (err ? reject(err) : resolve(r as { profile: { startTime: number } }))));
  fs.writeFileSync(file, JSON.stringify(res.profile));
  session.disconnect();
}

/**
 * Unmeasured commits of every writer child before it reports (see writerChild), the one measured during
 * checkpoints included: a fresh process's first commits run cold code (80-90 ms at 100k events, and its
 * first write rehearses an archive batch, Ledger.rehearseArchive), and its compiler threads compete for
 * the two cores. With 5 (and none for the writer beside the checkpoints) the stall figure's maximum was at
 * times one of that writer's first 10-30 commits: 78-266 ms, its lock wait polling once in 120-260 ms while
 * its process burned 77-113 ms of CPU, with the checkpointer holding the lock 1-4.5 ms of it
 * (BENCH_STALL_PHASES=1, 08:13-08:19). Both writers now warm up alike.
 */
const WARM_UP = 50;

/** What other writers see of checkpoints and of each other (issue 11's stall and fairness figures). */
export interface StallFigures {
  snapshotMiB: number;
  /** How long one checkpoint of the snapshot took in the checkpointing process, p50 (ms). */
  checkpointMs: number;
  /** How long each checkpoint's renames held the lock, p50 and max (ms). */
  checkpointHold: { p50: number; max: number };
  /** Each checkpoint's hold in order (ms): the first, in a fresh process, against the later ones. */
  checkpointHolds: number[];
  /** The checkpointing process's longest hold of the lock of any kind (archiving after a checkpoint included), ms. */
  checkpointerLongestHold: number;
  /** Another process's commits while checkpoints ran back to back: p50 and max (ms). */
  duringCheckpoint: { p50: number; max: number; commits: number };
  /** The same writer with no checkpoint running (the peer). */
  alone: { p50: number; max: number; commits: number };
  /** Two processes committing in a loop at once: each commit's wait, p50 and max over both (ms). */
  twoWriters: { p50: number; max: number; commits: number };
}

/** Measures checkpoint stalls and lock fairness on a ledger of `size` events (a 62 MiB snapshot at 100k). */
export async function runStallBench(size: number, log: (line: string) => void = () => undefined): Promise<StallFigures> {
  log(`stall bench: preparing ${size} events`);
  const { dir, bytes } = await prepareLedger(size);
  const summary = (lines: string[]) => {
    const xs = lines.filter((l) => l.startsWith('commit ')).map((l) => Number(l.slice(7)));
    return { p50: stats(xs).p50, max: Math.max(...xs), commits: xs.length };
  };
  const goAlone = `${dir}.go-alone`;
  fs.writeFileSync(goAlone, '');
  const alone = summary(await child('--writer', [dir, 'alone', '150', goAlone]).done);
  fs.rmSync(goAlone, { force: true });
  const ck = child('--checkpointer', [dir, '6']);
  await until(() => ck.lines.includes('ready'));
  const w = child('--writer', [dir, 'during', '100000']);
  // The writer commits for as long as the checkpoints run; then it is stopped.
  const during: string[] = [];
  await until(() => w.lines.filter((l) => l.startsWith('commit ')).length >= 5);
  fs.writeFileSync(`${dir}.go`, '');
  const ckLines = await ck.done;
  during.push(...w.lines.slice(w.lines.indexOf('ready') + 6));
  w.stop();
  await w.done.catch(() => undefined);
  // Both warm up, then start at once (a go file), as the during-checkpoint writer skips its first commits.
  const goBoth = `${dir}.go-both`;
  const a = child('--writer', [dir, 'a', '400', goBoth]);
  const b = child('--writer', [dir, 'b', '400', goBoth]);
  await until(() => a.lines.includes('ready') && b.lines.includes('ready'));
  fs.writeFileSync(goBoth, '');
  const both = [...(await a.done), ...(await b.done)];
  fs.rmSync(goBoth, { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(`${dir}.go`, { force: true });
  const ckpts = ckLines.filter((l) => l.startsWith('ckpt ')).map((l) => l.split(' '));
  const holds = ckpts.map((f) => Number(f[3]));
  const longest = Number(ckLines.find((l) => l.startsWith('longest '))?.slice(8) ?? Number.NaN);
  return {
    snapshotMiB: bytes / 1048576, checkpointMs: stats(ckpts.map((f) => Number(f[1]))).p50, checkpointHold: { p50: stats(holds).p50, max: Math.max(...holds) }, checkpointHolds: holds,
    checkpointerLongestHold: longest, duringCheckpoint: summary(during), alone, twoWriters: summary(both),
  };
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

async function benchOpen(dir: string, times = 5): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = process.hrtime.bigint();
    const l = await openLedger(dir);
    samples.push(ms(t0));
    l.close();
  }
  return samples;
}

async function main(): Promise<void> {
  const f = (x: number) => x.toFixed(3).padStart(8);
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${COMMITS} rounds per cell, interleaved`);
  // BENCH_STALL_ONLY=1 skips the commit table and the open figure: the stall figures alone.
  const { rows, open } = process.env.BENCH_STALL_ONLY === '1' ? { rows: [], open: undefined } : await runLedgerBench(SIZES, COMMITS, (l) => process.stderr.write(`${l}\n`));
  console.log('| events | snapshot | commits | ours p50 | ours p95 | native WAL p50 | raw fsync p50 | ours / raw | ours / native |');
  console.log('|---:|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.events} | ${r.snapshotMiB.toFixed(1)} MiB | ${r.mode} | ${f(r.ours.p50)} | ${f(r.ours.p95)} | ${f(r.native.p50)} | ${f(r.raw.p50)} | ${(r.ours.p50 / r.raw.p50).toFixed(2)}× | ${(r.ours.p50 / r.native.p50).toFixed(2)}× |`);
  }
  const stall = await runStallBench(Math.max(...SIZES), (l) => process.stderr.write(`${l}\n`));
  const traceFile = process.env.BENCH_STALL_TRACE;
  if (traceFile) for (const line of explainSlowCommits(traceFile, Number(process.env.BENCH_STALL_SLOW ?? 20))) console.log(`  slow ${line}`);
  console.log(`checkpoint of a ${stall.snapshotMiB.toFixed(1)} MiB snapshot: p50 ${stall.checkpointMs.toFixed(0)} ms in the checkpointing process, ` +
    `its renames holding the lock p50 ${stall.checkpointHold.p50.toFixed(1)} / max ${stall.checkpointHold.max.toFixed(1)} ms ` +
    `(longest hold of that process, archiving after its checkpoints${process.env.BENCH_STALL_ARCHIVE === '0' ? ' off' : ''} included: ${stall.checkpointerLongestHold.toFixed(1)} ms); ` +
    `another process's commits meanwhile: p50 ${stall.duringCheckpoint.p50.toFixed(2)} ms, max ${stall.duringCheckpoint.max.toFixed(1)} ms over ${stall.duringCheckpoint.commits} ` +
    `(alone: p50 ${stall.alone.p50.toFixed(2)}, max ${stall.alone.max.toFixed(1)} ms over ${stall.alone.commits})`);
  console.log(`  each checkpoint's hold in order (the first in a fresh process): ${stall.checkpointHolds.map((h) => h.toFixed(1)).join(', ')} ms; load after ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`two processes committing in a loop: p50 ${stall.twoWriters.p50.toFixed(2)} ms, longest wait ${stall.twoWriters.max.toFixed(1)} ms over ${stall.twoWriters.commits} commits`);
  if (open) console.log(`open a ${open.events}-event ledger: ${open.snapshotMs.toFixed(0)} ms from its snapshot; ${open.journalMs.toFixed(0)} ms with ${open.journalCommits} journal commits to replay`);
}

if (require.main === module && process.argv[2] === '--checkpointer') {
  void checkpointerChild(process.argv[3]!, Number(process.argv[4]));
} else if (require.main === module && process.argv[2] === '--writer') {
  void writerChild(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6]);
} else if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
