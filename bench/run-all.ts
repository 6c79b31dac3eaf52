// The flat-cost figures of issue 11 in one table: each at 2-3 history sizes, beside a peer measured in
// the same run, with the ratio ours / peer and how much ours grew from the smallest history.
// Run: npm run bench:all   (BENCH_SIZES=100,1000,3000 to choose the history sizes, in runs)
import * as os from 'node:os';
import { runPromotionBench } from './promotion';

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
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
