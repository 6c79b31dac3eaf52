// The store of this checkout against the store of another checkout, in one run (prints tables; not a
// test): the before/after figures of a change to src/ledger/store, measured side by side so that the
// machine's load falls on both alike.
//   1. Single commits and 8 at once on a ledger of BENCH_SIZES events: per round, in rotating order,
//      `before` commits once, `after` commits once, raw append+fdatasync of a line as long, and
//      better-sqlite3 (WAL, synchronous=FULL) applying the very events `after` committed (bench/ledger.ts).
//   2. Checkpoint stalls and two writers in a loop (runStallBench of each checkout, alternately).
// Run: BENCH_BEFORE=/path/to/other/checkout node --import tsx bench/storeCompare.ts
//      (BENCH_SIZES=10000 events, BENCH_COMMITS=300 rounds, BENCH_STALL_SIZE=100000, BENCH_STALL_ROUNDS=2)
// The other checkout needs node_modules (a symlink to this one's will do) and the same ledger schema.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Ledger, StoredEvent } from '../src/ledger/index';
import { encodeLine } from '../src/ledger/store/journal';
import { nativePeer, prepareLedger, rawPeer, stats } from './ledger';
import type { StallFigures } from './ledger';

interface Checkout {
  name: string;
  openLedger: (dir: string, options: Record<string, unknown>) => Promise<Ledger>;
  runStallBench: (size: number, log?: (line: string) => void) => Promise<StallFigures>;
}

async function load(name: string, root: string): Promise<Checkout> {
  const index = (await import(path.join(root, 'src', 'ledger', 'index.ts'))) as { openLedger: Checkout['openLedger'] };
  const bench = (await import(path.join(root, 'bench', 'ledger.ts'))) as { runStallBench: Checkout['runStallBench'] };
  return { name, openLedger: index.openLedger, runStallBench: bench.runStallBench };
}

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Single commits (or `concurrent` at once) of both checkouts and the two peers, interleaved; per-commit ms. */
async function commits(before: Checkout, after: Checkout, size: number, concurrent: number, rounds: number): Promise<Record<string, number[]>> {
  const { dir } = await prepareLedger(size);
  const dirB = `${dir}-before`;
  fs.cpSync(dir, dirB, { recursive: true });
  const options = { actor: 'bench', checkpointEvery: 1_000_000, checkpointBytes: 1e12 };
  const ledgers = { before: await before.openLedger(dirB, options), after: await after.openLedger(dir, options) };
  const native = nativePeer(size);
  const raw = rawPeer();
  const out: Record<string, number[]> = { before: [], after: [], raw: [], native: [] };
  let lastEvents: StoredEvent[][] = [];
  let lineBytes = 400;
  const sub = ledgers.after.onDidChange((c) => {
    if (c.local) lastEvents.push(c.events);
  });
  const commitOnce = async (which: 'before' | 'after', i: number) => {
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: concurrent }, (_, k) => ledgers[which].startRun({ title: `measured ${i}.${k}`, nodes: [{ key: 'a', title: 'A' }] })));
    out[which]!.push(ms(t0) / concurrent);
  };
  for (let i = 0; i < rounds; i++) {
    lastEvents = [];
    // `after` runs first in a round so that the native peer has its events; the rest rotate.
    await commitOnce('after', i);
    if (lastEvents.length > 0) lineBytes = Buffer.byteLength(encodeLine({ events: lastEvents[0] }));
    const rest: Array<() => Promise<void> | void> = [
      () => commitOnce('before', i),
      () => {
        const t = process.hrtime.bigint();
        for (const evs of lastEvents) native.apply(evs);
        out.native!.push(ms(t) / concurrent);
      },
      () => {
        const t = process.hrtime.bigint();
        for (let k = 0; k < concurrent; k++) raw.append(lineBytes);
        out.raw!.push(ms(t) / concurrent);
      },
    ];
    for (let r = 0; r < i % 3; r++) rest.push(rest.shift()!);
    for (const step of rest) await step();
  }
  sub.dispose();
  ledgers.before.close();
  ledgers.after.close();
  native.close();
  raw.close();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(dirB, { recursive: true, force: true });
  return out;
}

async function main(): Promise<void> {
  const beforeRoot = process.env.BENCH_BEFORE;
  if (!beforeRoot || !fs.existsSync(path.join(beforeRoot, 'src', 'ledger', 'store', 'store.ts'))) {
    console.error('BENCH_BEFORE must name another checkout of this repository (with src/ledger/store/store.ts)');
    process.exit(2);
  }
  const sizes = (process.env.BENCH_SIZES ?? '10000').split(',').map(Number);
  const rounds = Number(process.env.BENCH_COMMITS ?? 300);
  const stallSize = Number(process.env.BENCH_STALL_SIZE ?? 100_000);
  const stallRounds = Number(process.env.BENCH_STALL_ROUNDS ?? 2);
  const before = await load('before', path.resolve(beforeRoot));
  const after = await load('after', path.resolve(__dirname, '..'));
  const load1 = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${load1()}; before = ${path.resolve(beforeRoot)}, after = this checkout; p50 ms, interleaved`);
  console.log('| commits | events | before | after | raw append+fdatasync | better-sqlite3 WAL | before / raw | after / raw | before / native | after / native |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const f = (x: number) => x.toFixed(3);
  for (const size of sizes) {
    for (const concurrent of [1, 8]) {
      const m = await commits(before, after, size, concurrent, concurrent === 1 ? rounds : Math.max(10, Math.ceil(rounds / concurrent)));
      const p = (k: string) => stats(m[k]!).p50;
      console.log(`| ${concurrent === 1 ? '1 at a time' : `${concurrent} at once`} | ${size} | ${f(p('before'))} | ${f(p('after'))} | ${f(p('raw'))} | ${f(p('native'))} | ` +
        `${(p('before') / p('raw')).toFixed(2)}× | ${(p('after') / p('raw')).toFixed(2)}× | ${(p('before') / p('native')).toFixed(2)}× | ${(p('after') / p('native')).toFixed(2)}× |`);
    }
  }
  console.log(`\nstalls and lock waits, ${stallSize} events, load ${load1()} (max ms; targets: stall ≤ 50, wait ≤ 100)`);
  console.log('| checkout | checkpoint p50 | its renames hold the lock p50 / max | checkpointer\'s longest hold | other writer during checkpoints p50 / max (commits) | same writer alone p50 / max | two writers p50 / longest wait (commits) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (let r = 0; r < stallRounds; r++) {
    for (const c of r % 2 === 0 ? [before, after] : [after, before]) {
      // The other checkout's bench may predate the hold figures.
      const s = (await c.runStallBench(stallSize, (l) => process.stderr.write(`${c.name}: ${l}\n`))) as Partial<StallFigures> & Omit<StallFigures, 'checkpointHold' | 'checkpointerLongestHold'>;
      const hold = s.checkpointHold ? `${s.checkpointHold.p50.toFixed(1)} / ${s.checkpointHold.max.toFixed(1)}` : '-';
      const longest = s.checkpointerLongestHold !== undefined ? s.checkpointerLongestHold.toFixed(1) : '-';
      console.log(`| ${c.name} | ${s.checkpointMs.toFixed(0)} | ${hold} | ${longest} | ${s.duringCheckpoint.p50.toFixed(2)} / ${s.duringCheckpoint.max.toFixed(1)} (${s.duringCheckpoint.commits}) | ` +
        `${s.alone.p50.toFixed(2)} / ${s.alone.max.toFixed(1)} | ${s.twoWriters.p50.toFixed(2)} / ${s.twoWriters.max.toFixed(1)} (${s.twoWriters.commits}) |`);
    }
  }
  console.log(`load at the end ${load1()}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
