// The Runs tree when one run changes (issue 11: 436 ms at 91k runs, target <= 50 ms), on a real ledger of N runs,
// beside the old way in the same run (not a test; prints a table and a JSON line). Each sample commits one real
// change (a node of a shown, expanded run is claimed), hands its events to the model's ChangeAccumulator and the
// RunsTree, and then does what VS Code does with the tree's onDidChangeTreeData: for each element fired, getTreeItem
// and, for an expanded one, getChildren with every child's getTreeItem (for `undefined`, the whole top level and
// every expanded run). Timed from the events to the last item.
//   ours   — the tree refreshes the run the events name (src/extension/trees.ts)
//   before — the same change announced as "everything changed", which is what every change was before: the top
//            level (the "Needs you" query and the newest page of runs) and every expanded run read again
//   peer   — the floor: reading the changed run's row and graph once (Ledger.getRun + runGraph)
// The tree runs in plain Node against a stand-in of the vscode module (bench/ui.vscode.ts).
// Usage: node --import tsx bench/ui.tree.ts [--runs 91000] [--samples 15]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { install } from './ui.vscode';
import type { StoredEvent } from '../src/ledger/index';
import type { RunTreeItem } from '../src/extension/trees';
import type { LedgerChangeSummary as Summary } from '../src/extension/changes';
import type { LedgerModel as Model } from '../src/extension/model';

install();

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg('runs', 91_000);
const SAMPLES = arg('samples', 15);
const TARGET_MS = 50;
/** Runs still at work among the newest (the ones whose nodes the samples claim). */
const RUNNING = 100;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  // Loaded after install(), so their `import * as vscode` gets the stand-in.
  const { openLedger } = await import('../src/ledger/index');
  const { ledgerProjection } = await import('../src/ledger/projection');
  const { JOURNAL_FILE, SNAPSHOT_FILE, replay } = await import('../src/ledger/store/store');
  const { writeFileAtomic } = await import('../src/ledger/store/atomicWrite');
  const { encodeLine } = await import('../src/ledger/store/journal');
  const { ChangeAccumulator, EVERYTHING } = await import('../src/extension/changes');
  const { RunsTree } = await import('../src/extension/trees');
  const { EventEmitter } = (await import('./ui.vscode')).standIn;

  // History: RUNS runs of three nodes; all but the newest RUNNING are done; a few of those wait at a review.
  let seq = 0;
  function* history(): Generator<StoredEvent> {
    const ts = '2026-01-01T00:00:00.000Z';
    const ev = (kind: string, payload: unknown): StoredEvent => ({ seq: ++seq, ts, actor: 'bench', kind, payload });
    const keys = ['plan', 'code', 'review'];
    for (let r = 0; r < RUNS; r++) {
      const runId = `r-${r.toString(36).padStart(6, '0')}`;
      yield ev('run.started', {
        runId, familyId: null, variantId: null, generation: null, title: `bench run ${r}`, vars: {}, taskKey: null, arm: null,
        nodes: keys.map((k) => ({ id: `${runId}.${k}`, stepId: k, title: k, instructions: '', maxAttempts: 1, onExhausted: 'fail', gate: null, review: k === 'review', skipped: false })),
        edges: keys.slice(1).map((k, i) => ({ from: `${runId}.${keys[i]}`, to: `${runId}.${k}`, kind: 'needs' })),
      });
      const running = r >= RUNS - RUNNING;
      for (const k of running ? (r % 4 === 0 ? ['plan', 'code', 'review'] : []) : keys) {
        yield ev('node.claimed', { nodeId: `${runId}.${k}`, claimId: `c-${r}-${k}`, worker: 'w', expiresAt: '2026-01-01T01:00:00.000Z' });
        yield ev('node.reported', { nodeId: `${runId}.${k}`, outcome: 'done', summary: 'ok', tokens: 10, durationMs: 10 });
        if (k === 'review' && !running) yield ev('node.reviewed', { nodeId: `${runId}.${k}`, verdict: 'approve', note: '' });
      }
    }
  }

  // Building 91k runs takes minutes on a loaded machine: the built ledger is kept (per size and schema) and every
  // bench run measures a fresh copy of it.
  const built = path.join(os.tmpdir(), `gascity-bench-ui-tree-${RUNS}-${RUNNING}-s${ledgerProjection.schemaVersion}`);
  if (!fs.existsSync(path.join(built, JOURNAL_FILE))) {
    const t0 = Date.now();
    fs.mkdirSync(built, { recursive: true });
    const sql = await replay(ledgerProjection, history());
    sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(seq)]);
    sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(ledgerProjection.schemaVersion)]);
    writeFileAtomic(path.join(built, SNAPSHOT_FILE), sql.export());
    sql.close();
    fs.writeFileSync(path.join(built, JOURNAL_FILE), encodeLine({ journal: 'bench', base: seq, format: 1 }));
    console.log(`built a ledger of ${RUNS.toLocaleString('en-US')} runs in ${((Date.now() - t0) / 1000).toFixed(1)} s (kept in ${built})`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-ui-tree-${RUNS}-`));
  for (const f of [SNAPSHOT_FILE, JOURNAL_FILE]) fs.copyFileSync(path.join(built, f), path.join(dir, f));

  const ledger = await openLedger(dir, { actor: 'bench', checkpointEvery: 1_000_000, checkpointBytes: 1e12 });
  const changed = new EventEmitter<Summary>();
  // A run row asks the model for its git worktree (one query a row, as LedgerModel.worktreeOf does).
  const { Worktrees } = await import('../src/controller/worktree');
  const { toRunWorktree } = await import('../src/extension/viewModel');
  const worktrees = new Worktrees({ ledger, workspaceDir: dir });
  const worktreeOf = (runId: string) => {
    const row = worktrees.get(runId);
    return row ? toRunWorktree(row) : undefined;
  };
  const model = { ledger, onDidChange: changed.event, worktreeOf } as unknown as Model;
  const tree = new RunsTree(model);
  const accumulator = new ChangeAccumulator((nodeId) => ledger.getNode(nodeId)?.runId);
  let heard: StoredEvent[] = [];
  ledger.onDidChange((c) => heard.push(...c.events));

  // What VS Code shows: the top level, with the running runs expanded.
  const expanded = new Set<RunTreeItem>();
  const show = (element: RunTreeItem | undefined): number => {
    let items = 0;
    const children = (el: RunTreeItem | undefined) => {
      for (const child of tree.getChildren(el)) {
        tree.getTreeItem(child);
        items++;
        if (expanded.has(child)) children(child);
      }
    };
    if (element) {
      tree.getTreeItem(element);
      items++;
      if (expanded.has(element) || element.kind === 'needs') children(element);
    } else {
      children(undefined);
    }
    return items;
  };
  const top = tree.getChildren();
  const runningItems = top.filter((r): r is Extract<RunTreeItem, { kind: 'run' }> => r.kind === 'run' && r.run.status === 'running');
  for (const r of runningItems) expanded.add(r);
  show(undefined);
  const fired: (RunTreeItem | undefined)[] = [];
  tree.onDidChangeTreeData((e) => fired.push(e ?? undefined));

  const claimable = ledger.readyWork({ limit: 1000 });
  if (claimable.length < 2 * (SAMPLES + 2)) throw new Error(`only ${claimable.length} claimable nodes`);
  const ours: number[] = [];
  const before: number[] = [];
  const peer: number[] = [];
  let oursItems = 0;
  let beforeItems = 0;
  const measure = (summary: () => Summary): { ms: number; items: number } => {
    fired.length = 0;
    const s0 = process.hrtime.bigint();
    changed.fire(summary());
    let items = 0;
    for (const e of fired) items += show(e);
    return { ms: Number(process.hrtime.bigint() - s0) / 1e6, items };
  };
  for (let i = 0; i < SAMPLES + 2; i++) {
    for (const arm of ['ours', 'before'] as const) {
      const node = claimable[2 * i + (arm === 'ours' ? 0 : 1)]!;
      await ledger.claimNode({ nodeId: node.id, worker: `w-${i}` });
      const events = heard;
      heard = [];
      const r = measure(() => {
        if (arm === 'before') return EVERYTHING;
        accumulator.add(events);
        return accumulator.take();
      });
      if (i < 2) continue;
      if (arm === 'ours') {
        ours.push(r.ms);
        oursItems = r.items;
        const p0 = process.hrtime.bigint();
        ledger.getRun(node.runId);
        ledger.runGraph(node.runId);
        peer.push(Number(process.hrtime.bigint() - p0) / 1e6);
      } else {
        before.push(r.ms);
        beforeItems = r.items;
      }
    }
  }
  tree.dispose();
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  const o = median(ours);
  const b = median(before);
  const p = median(peer);
  console.log(`Runs tree, one run of ${RUNS.toLocaleString('en-US')} changes (${RUNNING} running, expanded), median of ${SAMPLES}:`);
  console.log(`  ours (refresh the run named, ${oursItems} items):     ${o.toFixed(2)} ms  [${f(ours)}]  target <= ${TARGET_MS} ms`);
  console.log(`  before (re-read everything, ${beforeItems} items):   ${b.toFixed(2)} ms  [${f(before)}]`);
  console.log(`  peer (getRun + runGraph of that run):   ${p.toFixed(2)} ms  [${f(peer)}]`);
  console.log(`  ratio ours/before ${(o / b).toFixed(3)}, ours/peer ${(o / p).toFixed(2)}`);
  console.log(JSON.stringify({ bench: 'ui-runs-tree', runs: RUNS, samples: SAMPLES, oursMs: round(o), beforeMs: round(b), peerMs: round(p), targetMs: TARGET_MS, pass: o <= TARGET_MS }));
  if (o > TARGET_MS) process.exitCode = 1;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
