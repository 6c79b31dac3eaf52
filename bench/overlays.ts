// Overlay read costs as history grows, side by side in one run (prints a table; not a test). Each figure is
// the mean of many calls against ledgers holding N messages and N blackboard entries of other runs and
// readers, and is also given as a ratio to a peer measured in the same run: `getNode`, an indexed point
// lookup whose cost does not grow with history. Flat ratios across N mean per-call costs do not grow.
//   inbox        — a node's unread mail (worker, node, run, coalition addresses), as a turn reads it
//   overlap      — recordChanges against a run with 20 claims, 10 changed files, no overlap (writes nothing)
//   rounds       — announcedNodeIds + nextRoundDeadline, as the controller asks every reconcile
//   run overlays — runOverlays(runId), what workflow_view adds
// Run: node --import tsx bench/overlays.ts   (BENCH_SIZES=1000,10000 to change N)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { OverlayService, openLedger } from '../src/ledger/index';
import { event } from '../src/ledger/events';
import type { Ledger } from '../src/ledger/index';

const SIZES = (process.env.BENCH_SIZES ?? '1000,10000,50000').split(',').map(Number);
const CALLS = Number(process.env.BENCH_CALLS ?? 300);

function mean(f: () => unknown, calls = CALLS): number {
  f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) f();
  return Number(process.hrtime.bigint() - t0) / 1e6 / calls;
}

async function meanAsync(f: () => Promise<unknown>, calls = CALLS): Promise<number> {
  await f();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await f();
  return Number(process.hrtime.bigint() - t0) / 1e6 / calls;
}

/** A ledger with `n` messages and `n` entries spread over other runs and readers, plus the run measured. */
async function prepare(n: number): Promise<{ ledger: Ledger; overlays: OverlayService; runId: string; nodeId: string }> {
  const ledger = await openLedger(fs.mkdtempSync(path.join(os.tmpdir(), `bench-overlays-${n}-`)), { actor: 'bench' });
  const overlays = new OverlayService(ledger);
  const others: string[] = [];
  for (let r = 0; r < 20; r++) others.push((await ledger.startRun({ title: `other ${r}`, nodes: [{ key: 'a', title: 'A' }] })).runId);
  for (let done = 0; done < n; done += 5000) {
    const batch = Math.min(5000, n - done);
    await ledger.commit(() => ({
      events: Array.from({ length: batch }, (_, i) => {
        const k = done + i;
        const runId = others[k % others.length]!;
        return k % 2 === 0
          ? event('mail.sent', { mailId: `m-b${k}`, runId, from: `w${k % 97}`, toKind: (['worker', 'node', 'run'] as const)[k % 3]!, to: k % 3 === 0 ? `w${k % 89}` : k % 3 === 1 ? `${runId}.a` : runId, subject: '', body: `message ${k}`, replyTo: null, recipients: [] })
          : event('blackboard.written', { entryId: `bb-b${k}`, runId, kind: k % 4 === 1 ? 'claim' : 'finding', author: `w${k % 97}`, nodeId: null, title: `entry ${k}`, body: '', paths: k % 4 === 1 ? [`src/m${k % 50}/**`] : [], supersedes: null });
      }),
      result: undefined,
    }));
  }
  const { runId } = await ledger.startRun({ title: 'measured', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B' }] });
  for (let i = 0; i < 20; i++) await overlays.writeEntry({ runId, kind: 'claim', author: `c${i}`, nodeId: `${runId}.b`, title: `claim ${i}`, paths: [`src/area${i}/**`] });
  await overlays.sendMail({ from: 'lead', toKind: 'node', to: `${runId}.a`, body: 'hello' });
  return { ledger, overlays, runId, nodeId: `${runId}.a` };
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const n of SIZES) {
    const { ledger, overlays, runId, nodeId } = await prepare(n);
    const peer = mean(() => ledger.getNode(nodeId), CALLS * 10);
    const inbox = await meanAsync(() => overlays.readMail({ reader: 'codex', nodeId, unreadOnly: true, limit: 20 }));
    const files = Array.from({ length: 10 }, (_, i) => `lib/f${i}.ts`);
    const overlap = await meanAsync(() => overlays.recordChanges({ nodeId, worker: 'codex', files }), 100);
    const rounds = mean(() => { overlays.announcedNodeIds(); overlays.nextRoundDeadline(); });
    const view = mean(() => overlays.runOverlays(runId), 100);
    const f = (x: number) => `${x.toFixed(3)} ms (${(x / peer).toFixed(1)}×)`;
    rows.push(`| ${n} | ${peer.toFixed(4)} ms | ${f(inbox)} | ${f(overlap)} | ${f(rounds)} | ${f(view)} |`);
    ledger.close();
  }
  console.log('| messages + entries | peer getNode | inbox | overlap | rounds | run overlays |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

void main();
