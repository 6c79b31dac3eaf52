// The flat-cost figures of issue 11 in one table: each at 2-3 history sizes, beside a peer measured in
// the same run, with the ratio ours / peer and how much ours grew from the smallest history.
// Run: npm run bench:all   (BENCH_SIZES=100,1000,3000 to choose the history sizes, in runs; BENCH_UI_* for the UI rows)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { runPromotionBench } from './promotion';
import { runLedgerBench, runStallBench } from './ledger';
import { coldStarts } from './mcp';
import { runMemoryBench } from './memory';
// life: one run's whole life through the MCP server (bench/life.ts).
import { lifeTable, peekTable, runLifeBench, runPeekBench } from './life';
// views-3: the UI figures (bench/ui.*) as the table's UI part.
import { printUiTable, runUiBenches } from './ui.table';

async function main(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? '100,1000,3000').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0).sort((a, b) => a - b);
  const rows = await runPromotionBench(sizes, (l) => process.stderr.write(`${l}\n`));
  const f = (n: number) => n.toFixed(3).padStart(9);
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; p50 of repeated calls, ms`);
  console.log(`${'what'.padEnd(34)} ${'runs'.padStart(6)} ${'ours'.padStart(9)} ${'peer'.padStart(9)}  ratio  ${'vs smallest'.padStart(11)}  ${'before'.padStart(9)}  peer`);
  const first = new Map<string, number>();
  for (const r of rows) {
    if (!first.has(r.what)) first.set(r.what, r.oursMs);
    const growth = r.oursMs / first.get(r.what)!;
    console.log(
      `${r.what.padEnd(34)} ${String(r.runs).padStart(6)} ${f(r.oursMs)} ${f(r.peerMs)} ${(r.oursMs / r.peerMs).toFixed(2).padStart(5)}× ${growth.toFixed(2).padStart(10)}×  ` +
      `${r.beforeMs === undefined ? '        -' : f(r.beforeMs)}  ${r.peer}`,
    );
  }
  await storeTable();
  await memoryTable();
  // life: one run's whole life through dist/mcp.js at each history size, beside the same life on an empty workspace.
  console.log('');
  console.log(`MCP, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; p50 of ${Number(process.env.BENCH_LIVES ?? 15)} lives each, interleaved with the peer's`);
  for (const line of lifeTable(await runLifeBench(sizes, Number(process.env.BENCH_LIVES ?? 15), (l) => process.stderr.write(`${l}\n`)))) console.log(line);
  console.log('');
  for (const line of peekTable(await runPeekBench())) console.log(line);
  // views-3: the UI rows, each bench in its own process (BENCH_UI_* choose the sizes; see bench/ui.table.ts).
  const ui = runUiBenches((l) => process.stderr.write(`${l}\n`));
  console.log('');
  console.log(`UI, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; median ms of BENCH_UI_SAMPLES samples, ours and its peer in the same run`);
  printUiTable(ui, (l) => console.log(l));
}

/**
 * The store's figures of issue 11: commit cost against raw append+fdatasync and better-sqlite3 WAL
 * (interleaved), opening with a pending journal, what other writers see of a checkpoint and of each
 * other, and MCP cold start against the SDK's echo server. BENCH_LEDGER_SIZES chooses the event counts.
 */
async function storeTable(): Promise<void> {
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const sizes = (process.env.BENCH_LEDGER_SIZES ?? '1000,10000,100000').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const commits = Number(process.env.BENCH_COMMITS ?? 200);
  const { rows, open } = await runLedgerBench(sizes, commits, log);
  const f = (n: number) => n.toFixed(3);
  console.log('');
  console.log(`store, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; p50 ms, ${commits} interleaved rounds per cell (targets: ours ≤ 2× raw, ≤ 1.5× native)`);
  console.log('| commit | events | snapshot | ours | raw append+fdatasync | better-sqlite3 WAL, same events | ours / raw | ours / native |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.mode} | ${r.events} | ${r.snapshotMiB.toFixed(1)} MiB | ${f(r.ours.p50)} | ${f(r.raw.p50)} | ${f(r.native.p50)} | ${(r.ours.p50 / r.raw.p50).toFixed(2)}× | ${(r.ours.p50 / r.native.p50).toFixed(2)}× |`);
  }
  if (open) console.log(`open a ${open.events}-event ledger: ${open.snapshotMs.toFixed(0)} ms from its snapshot, ${open.journalMs.toFixed(0)} ms with ${open.journalCommits} journal commits pending (target ≤ 300 ms)`);
  const stall = await runStallBench(Math.max(...sizes), log);
  console.log(`checkpoint of a ${stall.snapshotMiB.toFixed(1)} MiB snapshot (p50 ${stall.checkpointMs.toFixed(0)} ms in its process): another process's commits meanwhile ` +
    `p50 ${stall.duringCheckpoint.p50.toFixed(2)} / max ${stall.duringCheckpoint.max.toFixed(1)} ms (${stall.duringCheckpoint.commits} commits); ` +
    `peer, the same writer alone: p50 ${stall.alone.p50.toFixed(2)} / max ${stall.alone.max.toFixed(1)} ms (target: stall ≤ 50 ms)`);
  console.log(`two processes committing in a loop: longest wait ${stall.twoWriters.max.toFixed(1)} ms, p50 ${stall.twoWriters.p50.toFixed(2)} ms over ${stall.twoWriters.commits} commits (target ≤ 100 ms)`);
  const root = path.join(__dirname, '..');
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: root, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`esbuild failed: ${built.stderr}`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-bench-cold-'));
  const cold = await coldStarts(work, Number(process.env.BENCH_COLD ?? 7));
  console.log('| MCP cold start | spawn → tools/list ms | / echo (target ≤ 1.3) | → first tools/call ms |');
  console.log('|---|---:|---:|---:|');
  for (const r of cold) console.log(r);
  fs.rmSync(work, { recursive: true, force: true });
}

/** Memory of a process holding a long history (BENCH_MEMORY_EVENTS, default 1M), ours against better-sqlite3. */
async function memoryTable(): Promise<void> {
  const events = Number(process.env.BENCH_MEMORY_EVENTS ?? 1_000_000);
  const r = await runMemoryBench(events, (l) => process.stderr.write(`${l}\n`));
  console.log('');
  console.log(`memory with ${events} events of history, MiB (each a fresh process; target ≤ 150 peak)`);
  console.log('| process | RSS after open | peak (100 run lives + checkpoint) | open ms |');
  console.log('|---|---:|---:|---:|');
  for (const [name, m] of [['ours', r.ours], ['better-sqlite3 WAL', r.peer], ['bare Node', r.bare]] as const) {
    console.log(`| ${name} | ${m.afterOpen!.toFixed(0)} | ${m.peak!.toFixed(0)} | ${m.openMs === undefined ? '' : m.openMs.toFixed(0)} |`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
