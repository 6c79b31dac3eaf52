// Memory of a process holding a long history (issue 11: ≤ 150 MiB RSS at 1M events of history;
// 731 MiB before, and about twice that during a checkpoint; better-sqlite3 90 MiB).
//
//   node --import tsx bench/memory.ts [--events 1000000]
//
// Builds a ledger folder holding N events of history as a workspace accumulates them: runs of five
// chained nodes, claimed and reported, each with two evidence rows (its tokens, its checked outcome), all
// finished in January (bench/history.ts `history`), the
// events in the log and the projection in the snapshot. A first process opens it as the extension
// would after a checkpoint (retention 30 days) and archives what is due. Then, each in a fresh
// process, measured in the same run:
//   ours  — open the ledger; list the newest 100 runs; read an archived run's graph; 100 new runs'
//           lives (start, claim, report: 300 commits); a checkpoint. RSS after open, and the peak (VmHWM).
//   peer  — better-sqlite3 (WAL) holding the same history (events and the same projection tables):
//           open; the same list; the same 100 run lives applied by our projection; a WAL checkpoint.
//   bare  — the same Node with the same bundle loaded and nothing opened: the floor both stand on.
// The measured processes run this file bundled (esbuild) under plain Node, as dist/ runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { buildSync } from 'esbuild';
import { openLedger } from '../src/ledger/index';
import type { StoredEvent } from '../src/ledger/index';
import { ledgerProjection } from '../src/ledger/projection';
import { JOURNAL_FILE, SNAPSHOT_FILE, replay } from '../src/ledger/store/store';
import { encodeLine } from '../src/ledger/store/journal';
import { encodeEvents, writeSegment } from '../src/ledger/store/eventLog';
import type { Sql } from '../src/ledger/store/sql';
import { NativeSql, history } from './history';

/** Resident and peak resident memory of this process, in MiB (Linux /proc). */
function memory(): { rssMiB: number; peakMiB: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Writes `count` events of history as this version leaves a folder: the log, and the projection as the snapshot. */
export async function buildHistory(dir: string, count: number): Promise<void> {
  let chunk: StoredEvent[] = [];
  const flush = () => {
    if (chunk.length === 0) return;
    writeSegment(dir, chunk[0]!.seq, chunk[chunk.length - 1]!.seq, Buffer.from(encodeEvents(chunk), 'utf8'));
    chunk = [];
  };
  for (const e of history(count, HISTORY)) {
    chunk.push(e);
    if (chunk.length === 20_000) flush();
  }
  flush();
  const sql = await replay(ledgerProjection, history(count, HISTORY));
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(count)]);
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(ledgerProjection.schemaVersion)]);
  fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), sql.export());
  sql.close();
  fs.writeFileSync(path.join(dir, JOURNAL_FILE), encodeLine({ journal: 'bench', base: count, format: 1 }));
}

/** The same history in a better-sqlite3 WAL database: events and the projection tables. */
function buildPeer(file: string, count: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  const sql = new NativeSql(db) as unknown as Sql;
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE events (seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL); CREATE INDEX events_kind ON events(kind, seq);');
  ledgerProjection.migrate(sql, 0);
  const insert = db.prepare('INSERT INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (const e of history(count, HISTORY)) {
      insert.run(e.seq, e.ts, e.actor, e.kind, JSON.stringify(e.payload));
      ledgerProjection.apply(sql, e);
    }
  })();
  db.close();
}

/** The history's mix: runs with their evidence, as a controller records it (the evidence moves with archived runs). */
const HISTORY = { evidence: true };

const LIVES = 100;
const NODES = [{ key: 'a', title: 'A' }];

async function oursChild(dir: string): Promise<void> {
  const t0 = performance.now();
  const ledger = await openLedger(dir, { actor: 'bench' });
  const openMs = performance.now() - t0;
  const afterOpen = memory();
  ledger.listRuns({ limit: 100 });
  const archived = ledger.sql.get<{ id: string }>('SELECT id FROM runs WHERE archive IS NOT NULL UNION ALL SELECT id FROM archived_runs LIMIT 1');
  const graphNodes = archived ? ledger.runGraph(archived.id)!.nodes.length : 0;
  for (let i = 0; i < LIVES; i++) {
    const { nodeIds } = await ledger.startRun({ title: `life ${i}`, nodes: NODES });
    await ledger.claimNode({ worker: 'w', nodeId: nodeIds[0], leaseSeconds: 600 });
    await ledger.reportNode({ nodeId: nodeIds[0]!, worker: 'w', outcome: 'done' });
  }
  const afterLives = memory();
  await ledger.store.checkpoint();
  const end = memory();
  const snapshotMiB = fs.statSync(path.join(dir, SNAPSHOT_FILE)).size / 1048576;
  ledger.close();
  process.stdout.write(`${JSON.stringify({
    openMs, afterOpen: afterOpen.rssMiB, peakOpen: afterOpen.peakMiB, peakLives: afterLives.peakMiB, peak: end.peakMiB, snapshotMiB, graphNodes,
  })}\n`);
}

function peerChild(file: string): void {
  const t0 = performance.now();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  const nsql = new NativeSql(db);
  const sql = nsql as unknown as Sql;
  const openMs = performance.now() - t0;
  const afterOpen = memory();
  nsql.all('SELECT * FROM runs ORDER BY created_seq DESC LIMIT 100');
  let seq = nsql.get<{ m: number }>('SELECT max(seq) AS m FROM events')!.m;
  const commit = db.transaction((events: Array<{ kind: string; payload: unknown }>) => {
    for (const e of events) {
      const stored: StoredEvent = { seq: ++seq, ts: new Date().toISOString(), actor: 'bench', kind: e.kind, payload: e.payload };
      nsql.run('INSERT INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)', [stored.seq, stored.ts, stored.actor, stored.kind, JSON.stringify(stored.payload)]);
      ledgerProjection.apply(sql, stored);
    }
  });
  for (let i = 0; i < LIVES; i++) {
    const runId = `life-${i}`;
    const nodeId = `${runId}.a`;
    commit([{ kind: 'run.started', payload: { runId, familyId: null, variantId: null, generation: null, title: `life ${i}`, vars: {}, taskKey: null, arm: null, nodes: [{ id: nodeId, stepId: 'a', title: 'A', instructions: '', maxAttempts: 1, onExhausted: 'fail', gate: null, review: false, skipped: false }], edges: [] } }]);
    commit([{ kind: 'node.claimed', payload: { nodeId, claimId: `c-${i}`, worker: 'w', expiresAt: '2030-01-01T00:00:00Z' } }]);
    commit([{ kind: 'node.reported', payload: { nodeId, outcome: 'done', summary: 'ok', tokens: 0, durationMs: 0 } }]);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  const end = memory();
  db.close();
  process.stdout.write(`${JSON.stringify({ openMs, afterOpen: afterOpen.rssMiB, peak: end.peakMiB, fileMiB: fs.statSync(file).size / 1048576 })}\n`);
}

/**
 * The measured processes run this file bundled by esbuild under plain Node, as the extension and the
 * MCP server run (dist/): under tsx, Node alone already holds 95 MiB.
 */
const BUNDLE = path.join(__dirname, '..', 'node_modules', '.cache', 'gascity-bench-memory.js');

function run(role: string, arg: string): Record<string, number> {
  const r = spawnSync(process.execPath, [BUNDLE, role, arg], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${role} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

/** The memory table: ours, the better-sqlite3 peer and bare Node, each a fresh process, for a history of `events`. */
export async function runMemoryBench(events: number, log: (line: string) => void = () => undefined): Promise<{ ours: Record<string, number>; peer: Record<string, number>; bare: Record<string, number>; archiveMs: number }> {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-memory-'));
  buildSync({ entryPoints: [__filename], bundle: true, platform: 'node', target: 'node20', format: 'cjs', outfile: BUNDLE, external: ['better-sqlite3'], logLevel: 'error' });
  try {
    const dir = path.join(parent, 'ledger');
    fs.mkdirSync(dir);
    log(`memory bench: building ${events} events of history`);
    await buildHistory(dir, events);
    log('memory bench: archiving what is due (a first process, as after a checkpoint)');
    const archive = run('archive', dir);
    log('memory bench: building the better-sqlite3 peer');
    buildPeer(path.join(parent, 'peer.sqlite'), events);
    const bare = run('bare', '-');
    const ours = run('ours', dir);
    const peer = run('peer', path.join(parent, 'peer.sqlite'));
    return { ours, peer, bare, archiveMs: archive.ms! };
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [role, arg] = process.argv.slice(2);
  if (role === 'ours') return oursChild(arg!);
  if (role === 'peer') return peerChild(arg!);
  if (role === 'bare') {
    process.stdout.write(`${JSON.stringify({ afterOpen: memory().rssMiB, peak: memory().peakMiB })}\n`);
    return;
  }
  if (role === 'archive') {
    const t0 = performance.now();
    const ledger = await openLedger(arg!, { actor: 'bench' });
    const r = await ledger.archiveRuns();
    await ledger.store.checkpoint();
    ledger.close();
    process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0, archived: r.archived })}\n`);
    return;
  }
  const i = process.argv.indexOf('--events');
  const events = i > 0 ? Number(process.argv[i + 1]) : 1_000_000;
  const r = await runMemoryBench(events, (l) => console.error(l));
  const f = (n: number | undefined) => (n ?? 0).toFixed(0);
  console.log(`\nMemory with ${events.toLocaleString('en')} events of history (MiB; each a fresh process; archiving took ${(r.archiveMs / 1000).toFixed(1)} s once)`);
  console.log('| process | RSS after open | peak RSS (100 run lives + checkpoint) | open ms | on disk |');
  console.log('|---|---:|---:|---:|---:|');
  console.log(`| ours (sql.js, archive) | ${f(r.ours.afterOpen)} | ${f(r.ours.peak)} | ${f(r.ours.openMs)} | snapshot ${r.ours.snapshotMiB!.toFixed(1)} MiB |`);
  console.log(`| better-sqlite3 WAL | ${f(r.peer.afterOpen)} | ${f(r.peer.peak)} | ${f(r.peer.openMs)} | ${r.peer.fileMiB!.toFixed(1)} MiB |`);
  console.log(`| bare Node (this bundle loaded) | ${f(r.bare.afterOpen)} | ${f(r.bare.peak)} | | |`);
  console.log(`ours / better-sqlite3, peak: ${(r.ours.peak! / r.peer.peak!).toFixed(2)}×; target ≤ 150 MiB: ${r.ours.peak! <= 150 ? 'met' : 'not met'}`);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
