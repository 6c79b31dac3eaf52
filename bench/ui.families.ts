// The Formula Families tree with many variants (issue 11: 2.7 s at 500 variants, target <= 100 ms), on a real
// ledger, beside the old ways and a peer in the same run (not a test; prints a table and a JSON line). A family of N
// variants (each mutated from a random earlier one, so generations fan out), some runs with evidence on them. Each
// sample commits one real change — evidence about one variant — hands its events to the trees as the model would, and
// does what VS Code does after onDidChangeTreeData(undefined): every expanded row's getChildren and every row's
// getTreeItem. Timed from the events to the last row.
//   ours        — FamiliesTree (src/extension/trees.ts): drops what the change touched, keeps the rest
//   refresh     — the same change announced as "everything" (the Refresh command, or the first display): the tree
//                 reads the family's variants with their figures in one query (src/ledger/variantStanding.ts)
//   refresh old — the same full refresh the old way, on a second tree: the variants listed, then one evidence query
//                 per variant (Lineage.variants + Lineage.evidenceSummary, what the tree did before)
//   peer        — the floor of the rows: FormulaService.listVariants of the family once, and the evidence of the whole
//                 ledger in one query (newest 10,000 rows), no tree work
// The tree runs in plain Node against a stand-in of the vscode module (bench/ui.vscode.ts).
// Usage: node --import tsx bench/ui.families.ts [--variants 500] [--samples 7]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { install, standIn } from './ui.vscode';
import type { FamilyTreeItem } from '../src/extension/trees';
import type { LedgerChangeSummary as Summary } from '../src/extension/changes';
import type { LedgerModel as Model } from '../src/extension/model';

install();

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const VARIANTS = arg('variants', 500);
const SAMPLES = arg('samples', 7);
const TARGET_MS = 100;
const FAMILY = 'implement-and-review';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { openLedger } = await import('../src/ledger/index');
  const { Lineage } = await import('../src/extension/lineage');
  const { FamiliesTree } = await import('../src/extension/trees');
  const { ChangeAccumulator, EVERYTHING } = await import('../src/extension/changes');
  type StoredEvent = Parameters<Parameters<typeof ledger.onDidChange>[0]>[0]['events'][number];

  const built = path.join(os.tmpdir(), `gascity-bench-ui-families-v2-${VARIANTS}`);
  const fresh = !fs.existsSync(path.join(built, 'done'));
  if (fresh) {
    fs.rmSync(built, { recursive: true, force: true });
    fs.mkdirSync(built, { recursive: true });
  }
  const ledger = await openLedger(path.join(built, 'ledger'), { actor: 'bench' });
  const lineage = new Lineage(ledger, built);
  if (fresh) {
    const t0 = Date.now();
    await lineage.formulas.importFormulas(path.join(__dirname, '..', 'formulas'));
    const ids = [lineage.family(FAMILY)!.activeVariantId!];
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const stepId = lineage.formulaOf(ids[0]!).steps[0]!.id;
    while (ids.length < VARIANTS) {
      const parent = ids[Math.floor(random() * ids.length)]!;
      const m = await lineage.formulas.mutateVariant({ variantId: parent, mutations: [{ op: 'edit_instructions', stepId, instructions: `Variant ${ids.length}: read the issue twice.` }] });
      ids.push(m.variantId);
    }
    for (let i = 0; i < 200; i++) {
      const variantId = ids[Math.floor(random() * ids.length)]!;
      const run = await ledger.startRun({ title: `run ${i}`, familyId: FAMILY, variantId, nodes: [{ key: 'a', title: 'A' }] });
      await ledger.recordEvidence({ runId: run.runId, variantId, kind: 'tokens', tokens: 1000 + i });
    }
    fs.writeFileSync(path.join(built, 'done'), '');
    console.log(`built a family of ${VARIANTS} variants in ${((Date.now() - t0) / 1000).toFixed(1)} s (kept in ${built})`);
  }
  const changed = new standIn.EventEmitter<Summary>();
  const model = { ledger, lineage, onDidChange: changed.event } as unknown as Model;
  const tree = new FamiliesTree(model);
  // The old way: the same tree, with the family's figures read as before (the variants, then each one's evidence).
  const oldLineage = Object.assign(Object.create(lineage) as typeof lineage, {
    standings: (familyId: string) => lineage.variants(familyId).map((variant) => ({ variant, evidence: lineage.evidenceSummary(variant) })),
  });
  const changedOld = new standIn.EventEmitter<Summary>();
  const oldTree = new FamiliesTree({ ledger, lineage: oldLineage, onDidChange: changedOld.event } as unknown as Model);

  const draw = (t: InstanceType<typeof FamiliesTree>): number => {
    let rows = 0;
    const walk = (el: FamilyTreeItem | undefined) => {
      for (const child of t.getChildren(el)) {
        const item = t.getTreeItem(child);
        rows++;
        if (item.collapsibleState === standIn.TreeItemCollapsibleState.Expanded) walk(child);
      }
    };
    walk(undefined);
    return rows;
  };
  const refresh = (): number => draw(tree);
  const accumulator = new ChangeAccumulator((nodeId) => ledger.getNode(nodeId)?.runId);
  let heard: StoredEvent[] = [];
  ledger.onDidChange((c) => heard.push(...c.events));
  const variantIds = lineage.variants(FAMILY).map((v) => v.id);
  refresh();
  const oldRows = draw(oldTree);
  const ours: number[] = [];
  const before: number[] = [];
  const old: number[] = [];
  const peer: number[] = [];
  let rows = 0;
  for (let i = 0; i < SAMPLES + 1; i++) {
    const timed = async (arm: 'ours' | 'before' | 'old'): Promise<number> => {
      await ledger.recordEvidence({ variantId: variantIds[(i * 53 + (arm === 'ours' ? 0 : arm === 'before' ? 7 : 13)) % variantIds.length], kind: 'tokens', tokens: 10 + i });
      const events = heard;
      heard = [];
      const t0 = process.hrtime.bigint();
      accumulator.add(events);
      const summary = accumulator.take();
      if (arm === 'old') {
        changedOld.fire(EVERYTHING);
        rows = draw(oldTree);
      } else {
        changed.fire(arm === 'ours' ? summary : EVERYTHING);
        rows = refresh();
      }
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    // The arms take turns in a different order each sample, so the machine's load falls on each alike.
    const order = (['ours', 'before', 'old'] as const).map((a, k) => ({ a, k: (k + i) % 3 })).sort((x, y) => x.k - y.k).map((x) => x.a);
    const ms: Record<string, number> = {};
    for (const a of order) ms[a] = await timed(a);
    const oursMs = ms.ours!;
    const beforeMs = ms.before!;
    const oldMs = ms.old!;
    const p0 = process.hrtime.bigint();
    lineage.formulas.listVariants(FAMILY);
    ledger.evidence({ limit: 10_000 });
    const peerMs = Number(process.hrtime.bigint() - p0) / 1e6;
    if (i === 0) continue;
    ours.push(oursMs);
    before.push(beforeMs);
    old.push(oldMs);
    peer.push(peerMs);
  }
  tree.dispose();
  oldTree.dispose();
  lineage.dispose();
  ledger.close();
  if (oldRows !== rows) throw new Error(`the old way drew ${oldRows} rows, ours ${rows}: the arms do not show the same tree`);

  const f = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(', ');
  const o = median(ours);
  const b = median(before);
  const w = median(old);
  const p = median(peer);
  console.log(`Formula Families tree, one family of ${VARIANTS} variants (${rows} rows), evidence about one variant recorded, median of ${SAMPLES}:`);
  console.log(`  ours (FamiliesTree keeps what the change did not touch): ${o.toFixed(1)} ms  [${f(ours)}]  target <= ${TARGET_MS} ms`);
  console.log(`  refresh (everything read again, one query a family):    ${b.toFixed(1)} ms  [${f(before)}]  target <= ${TARGET_MS} ms`);
  console.log(`  refresh the old way (one evidence query a variant):     ${w.toFixed(1)} ms  [${f(old)}]`);
  console.log(`  peer (list the variants + the evidence, no tree):        ${p.toFixed(1)} ms  [${f(peer)}]`);
  console.log(`  ratio ours/refresh ${(o / b).toFixed(3)}, refresh/old way ${(b / w).toFixed(3)}, refresh/peer ${(b / p).toFixed(2)}`);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  console.log(JSON.stringify({
    bench: 'ui-families-tree', variants: VARIANTS, rows, samples: SAMPLES, oursMs: r1(o), refreshMs: r1(b), refreshOldMs: r1(w), peerMs: r1(p),
    targetMs: TARGET_MS, pass: o <= TARGET_MS && b <= TARGET_MS,
  }));
  if (o > TARGET_MS || b > TARGET_MS) process.exitCode = 1;
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
