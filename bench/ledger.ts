// Ledger commit cost, side by side in one run (prints a table; not a test):
//   ours        — append one fsynced journal line per commit (lock, catch up, apply, append, release)
//   rewrite     — sql.js writing the whole database file per commit (temp file, fsync, rename)
//   native WAL  — better-sqlite3, WAL, synchronous=FULL, one insert per transaction
//   raw fsync   — append ~200 bytes and fdatasync: the floor any durable commit pays
// at ledgers of 1k, 10k and 100k events, plus the time to open a 100k-event ledger.
// Run: npm run bench:ledger   (BENCH_COMMITS=N to change the commits measured per size)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openLedger } from '../src/ledger/index';
import type { StoredEvent } from '../src/ledger/index';
import { ledgerProjection } from '../src/ledger/projection';
import { JOURNAL_FILE, SNAPSHOT_FILE, replay } from '../src/ledger/store/store';
import { writeFileAtomic } from '../src/ledger/store/atomicWrite';
import { encodeLine } from '../src/ledger/store/journal';
import { loadSqlJs } from '../src/ledger/store/sql';

const COMMITS = Number(process.env.BENCH_COMMITS ?? 300);
const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number);

function stats(samples: number[]): { p50: number; p95: number; mean: number } {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return { p50: q(0.5), p95: q(0.95), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** A realistic history: runs of five chained nodes, each claimed and reported, about 11 events a run. */
function* history(count: number): Generator<StoredEvent> {
  let seq = 0;
  const ts = new Date('2026-01-01T00:00:00Z').toISOString();
  const ev = (kind: string, payload: unknown): StoredEvent => ({ seq: ++seq, ts, actor: 'bench', kind, payload });
  for (let r = 0; seq < count; r++) {
    const runId = `r-${r.toString(36).padStart(6, '0')}`;
    const keys = ['plan', 'implement', 'test', 'review', 'merge'];
    yield ev('run.started', {
      runId, familyId: null, variantId: null, generation: null, title: `bench run ${r}`, vars: { issue: `#${r}` }, taskKey: `task-${r}`, arm: null,
      nodes: keys.map((k) => ({ id: `${runId}.${k}`, stepId: k, title: k, instructions: `Do the ${k} step for run ${r}.`, maxAttempts: 1, onExhausted: 'fail', gate: null, review: false, skipped: false })),
      edges: keys.slice(1).map((k, i) => ({ from: `${runId}.${keys[i]}`, to: `${runId}.${k}`, kind: 'needs' })),
    });
    for (const k of keys) {
      if (seq >= count) return;
      yield ev('node.claimed', { nodeId: `${runId}.${k}`, claimId: `c-${r}-${k}`, worker: 'w', expiresAt: '2026-01-01T01:00:00Z' });
      if (seq >= count) return;
      yield ev('node.reported', { nodeId: `${runId}.${k}`, outcome: 'done', summary: 'ok', tokens: 1000, durationMs: 5000 });
    }
  }
}

/** Writes a ledger folder holding `count` events as a snapshot (as a checkpoint leaves it). */
async function prepareLedger(count: number): Promise<{ dir: string; bytes: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-ledger-${count}-`));
  const sql = await replay(ledgerProjection, history(count));
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(count)]);
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(ledgerProjection.schemaVersion)]);
  const data = sql.export();
  sql.close();
  writeFileAtomic(path.join(dir, SNAPSHOT_FILE), data);
  fs.writeFileSync(path.join(dir, JOURNAL_FILE), encodeLine({ journal: 'bench', base: count, format: 1 }));
  return { dir, bytes: data.length };
}

async function benchOurs(dir: string): Promise<number[]> {
  const ledger = await openLedger(dir, { actor: 'bench', checkpointEvery: 1_000_000, checkpointBytes: 1e12 });
  const samples: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t0 = process.hrtime.bigint();
    await ledger.startRun({ title: `measured ${i}`, nodes: [{ key: 'a', title: 'A' }] });
    samples.push(ms(t0));
  }
  ledger.close();
  return samples;
}

async function benchRewrite(snapshot: string): Promise<number[]> {
  const SQL = await loadSqlJs();
  const db = new SQL.Database(fs.readFileSync(snapshot));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rewrite-'));
  const file = path.join(dir, 'whole.sqlite');
  const samples: number[] = [];
  const n = Math.min(COMMITS, 60);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    db.run('INSERT INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)', [1e9 + i, 'ts', 'bench', 'note', JSON.stringify({ i, text: 'x'.repeat(150) })]);
    writeFileAtomic(file, db.export());
    samples.push(ms(t0));
  }
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return samples;
}

function benchNative(count: number): number[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-native-'));
  const db = new Database(path.join(dir, 'native.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT, actor TEXT, kind TEXT, payload TEXT)');
  const ins = db.prepare('INSERT INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => { for (const e of history(count)) ins.run(e.seq, e.ts, e.actor, e.kind, JSON.stringify(e.payload)); })();
  const samples: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t0 = process.hrtime.bigint();
    db.transaction(() => ins.run(count + i + 1, new Date().toISOString(), 'bench', 'note', JSON.stringify({ i, text: 'x'.repeat(150) })))();
    samples.push(ms(t0));
  }
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return samples;
}

function benchRawFsync(): number[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-raw-'));
  const fd = fs.openSync(path.join(dir, 'raw.log'), 'a');
  const line = `${'x'.repeat(199)}\n`;
  const samples: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t0 = process.hrtime.bigint();
    fs.writeSync(fd, line);
    fs.fdatasyncSync(fd);
    samples.push(ms(t0));
  }
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
  return samples;
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
  const f = (x: number) => x.toFixed(3).padStart(9);
  console.log(`node ${process.version}, ${os.cpus().length} cpus, ${COMMITS} commits per cell (rewrite: ${Math.min(COMMITS, 60)})`);
  console.log('events   snapshot   method        p50 ms    p95 ms   mean ms   ratio(p50) to raw fsync');
  const raw = stats(benchRawFsync());
  const summary: string[] = [];
  for (const size of SIZES) {
    const { dir, bytes } = await prepareLedger(size);
    const ours = stats(await benchOurs(dir));
    const rewrite = stats(await benchRewrite(path.join(dir, SNAPSHOT_FILE)));
    const native = stats(benchNative(size));
    const mb = `${(bytes / 1048576).toFixed(1)} MiB`.padStart(9);
    for (const [name, s] of [['ours', ours], ['rewrite', rewrite], ['native WAL', native], ['raw fsync', raw]] as const) {
      console.log(`${String(size).padStart(6)}  ${mb}   ${name.padEnd(11)} ${f(s.p50)} ${f(s.p95)} ${f(s.mean)}   ${(s.p50 / raw.p50).toFixed(2)}×`);
    }
    summary.push(`${size} events (${mb.trim()}): ours p50 ${ours.p50.toFixed(3)} ms = ${(ours.p50 / raw.p50).toFixed(2)}× raw fsync, ` +
      `${(rewrite.p50 / ours.p50).toFixed(1)}× faster than whole-database rewrite, ${(ours.p50 / native.p50).toFixed(2)}× better-sqlite3 WAL`);
    if (size === Math.max(...SIZES)) {
      const open = stats(await benchOpen(dir));
      summary.push(`open a ${size}-event ledger from its snapshot: p50 ${open.p50.toFixed(0)} ms (max of 5: ${Math.max(...(await benchOpen(dir, 1)), open.p95).toFixed(0)} ms)`);
      // The worst case for opening: a full journal of commits not yet folded into the snapshot.
      const l = await openLedger(dir, { checkpointEvery: 1_000_000, checkpointBytes: 1e12 });
      for (let i = 0; i < 2000; i++) await l.recordEvidence({ runId: 'r-000000', kind: 'note', note: `n${i}` });
      l.close();
      const openJ = stats(await benchOpen(dir));
      summary.push(`open the same ledger with 2,000 journal commits to replay: p50 ${openJ.p50.toFixed(0)} ms`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  for (const s of summary) console.log(s);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
