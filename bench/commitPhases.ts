// Where a single commit's time goes (prints a table; not a test): per round, one Ledger.startRun on a
// ledger of BENCH_SIZES events, then raw append+fdatasync of a line as long (bench/ledger.ts's rawPeer),
// alternately. Each synchronous node:fs call made during the commit is timed by name (the store's
// journal writes and syncs, its catch-up stats, the lock's link, unlink, readdir, futimes and stats), and
// what is left is the process's own work: parsing, deciding, sql.js, encoding, promises. With
// BENCH_NOSYNC=1 the journal's fdatasync is skipped (not durable: a CPU profile of the same path).
// Run: node --import tsx bench/commitPhases.ts   (BENCH_SIZES=10000, BENCH_COMMITS=500)
import * as os from 'node:os';
import { createRequire } from 'node:module';
import type * as FsModule from 'node:fs';

// The fs module object itself (not a namespace copy), so that every importer's calls pass the timers.
const fsModule = createRequire(__filename)('node:fs') as typeof FsModule;
const spent = new Map<string, number>();
for (const name of Object.keys(fsModule)) {
  const original = (fsModule as unknown as Record<string, unknown>)[name];
  if (typeof original !== 'function' || !name.endsWith('Sync')) continue;
  const fn = original as (...args: unknown[]) => unknown;
  (fsModule as unknown as Record<string, unknown>)[name] = function timed(this: unknown, ...args: unknown[]): unknown {
    const t0 = process.hrtime.bigint();
    try {
      return fn.apply(this, args);
    } finally {
      spent.set(name, (spent.get(name) ?? 0) + Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
}

async function main(): Promise<void> {
  // Imported after the timers are in place, so that every module sees the timed functions.
  const { prepareLedger, rawPeer, stats } = await import('./ledger');
  const { openLedger } = await import('../src/ledger/index');
  const { nodeFsOps } = await import('../src/ledger/store/fsOps');
  const { encodeLine } = await import('../src/ledger/store/journal');
  const sizes = (process.env.BENCH_SIZES ?? '10000').split(',').map(Number);
  const commits = Number(process.env.BENCH_COMMITS ?? 500);
  const noSync = process.env.BENCH_NOSYNC === '1';
  const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${load()}; ${commits} single commits per size${noSync ? ', journal fdatasync skipped' : ''}; ms per commit`);
  for (const size of sizes) {
    const { dir } = await prepareLedger(size);
    const fsOps = noSync ? { ...nodeFsOps, fdatasync: () => undefined } : nodeFsOps;
    const ledger = await openLedger(dir, { actor: 'bench', checkpointEvery: 1_000_000, checkpointBytes: 1e12, fsOps });
    const raw = rawPeer();
    let lineBytes = 400;
    const sub = ledger.onDidChange((c) => {
      if (c.local) lineBytes = Buffer.byteLength(encodeLine({ events: c.events }));
    });
    const totals: number[] = [];
    const rawTimes: number[] = [];
    const perCall = new Map<string, number[]>();
    const warmup = Math.min(100, Math.floor(commits / 5));
    for (let i = 0; i < commits + warmup; i++) {
      spent.clear();
      const t0 = process.hrtime.bigint();
      await ledger.startRun({ title: `measured ${i}`, nodes: [{ key: 'a', title: 'A' }] });
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      const calls = new Map(spent);
      const t1 = process.hrtime.bigint();
      raw.append(lineBytes);
      const rawMs = Number(process.hrtime.bigint() - t1) / 1e6;
      if (i < warmup) continue;
      totals.push(total);
      rawTimes.push(rawMs);
      let fsMs = 0;
      for (const [name, ms] of calls) {
        fsMs += ms;
        if (!perCall.has(name)) perCall.set(name, []);
        perCall.get(name)!.push(ms);
      }
      if (!perCall.has('(own work)')) perCall.set('(own work)', []);
      perCall.get('(own work)')!.push(total - fsMs);
    }
    sub.dispose();
    ledger.close();
    raw.close();
    fsModule.rmSync(dir, { recursive: true, force: true });
    console.log(`\n${size} events: commit p50 ${stats(totals).p50.toFixed(3)}, raw append+fdatasync p50 ${stats(rawTimes).p50.toFixed(3)} (ratio ${(stats(totals).p50 / stats(rawTimes).p50).toFixed(2)}×), load ${load()}`);
    console.log('| part | mean per commit | p50 when called | commits calling it |');
    console.log('|---|---:|---:|---:|');
    const rows = [...perCall].map(([name, v]) => ({ name, mean: v.reduce((a, b) => a + b, 0) / totals.length, p50: stats(v).p50, share: v.length / totals.length }));
    for (const r of rows.sort((a, b) => b.mean - a.mean)) console.log(`| ${r.name} | ${r.mean.toFixed(4)} | ${r.p50.toFixed(4)} | ${(100 * r.share).toFixed(0)} % |`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
