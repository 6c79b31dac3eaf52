// Costs that must stay flat as a workspace's history grows (issue 11), each beside a peer measured in
// the same run (not a test; bench/run-all.ts prints the table):
//   evaluate()         — promotion evaluation of a family's open trial with nothing new; peer: the same
//                        trial (same runs, same outcomes) on a fresh ledger that holds nothing else
//   evidence_record    — what the MCP tool does during a trial: record evidence about a trial run, then
//                        the one evaluate-and-record step; peer: the same on the fresh ledger
//   runs list          — Ledger.listRuns() without a status (newest 100); peer: better-sqlite3 running
//                        the same query on the same database file (same schema, same rows)
//   worker_peek        — the nodes a worker holds (Ledger.heldBy); peer: better-sqlite3, same query.
//                        "before" is the old way: every running run's graph read and filtered
//   evidence by node   — a node's newest 100 evidence rows; peer: better-sqlite3, same query
// History: N runs of one family through earlier trials (100 runs each, then a person's rejection),
// every run with outcome evidence and the rule evaluated after each, as a workspace accumulates them.
// It is built once on tmpfs (copied at 100 and 1,000 runs) and measured from copies on the normal disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { FormulaService, PromotionService, openLedger } from '../src/ledger/index';
import type { Ledger } from '../src/ledger/index';
import { seededRandom } from '../src/ledger/promotion/index';

const SHIPPED = path.join(__dirname, '..', 'formulas');
const FAMILY = 'implement-and-review';
/** Runs of the trial being measured, on both arms (the same in every ledger, the peer's included). */
const TRIAL_RUNS = 40;
/** Runs in each earlier trial of the history. */
const HISTORY_TRIAL = 100;
const BUSY = 'w-busy';

/** One measured figure: ours at a history size, its peer, and the ratio ours / peer. */
export interface BenchRow {
  what: string;
  runs: number;
  oursMs: number;
  peerMs: number;
  peer: string;
  /** The old way, where the bench still measures it (worker_peek's scan). */
  beforeMs?: number;
}

/** p50 of `n` timed calls of `f` in milliseconds, after `warm` untimed calls. */
async function p50(n: number, f: () => unknown, warm = 3): Promise<number> {
  for (let i = 0; i < warm; i++) await f();
  const s: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    s.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  s.sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface World { root: string; ledger: Ledger; formulas: FormulaService; promotion: PromotionService }

async function open(root: string, actor: string): Promise<World> {
  const ledger = await openLedger(path.join(root, '.gascity', 'ledger'), { actor });
  const formulas = new FormulaService(ledger, { workspaceDir: root });
  return { root, ledger, formulas, promotion: new PromotionService(ledger, formulas) };
}

function close(w: World): void {
  w.promotion.dispose();
  w.ledger.close();
}

let taskNo = 0;

/** One task of the family: a run, maybe a node claimed by the busy worker, its outcome, the rule. */
async function task(w: World, random: () => number, truth: (variantId: string) => number, hold = false): Promise<string> {
  const before = w.ledger.seq;
  const taskKey = `task-${++taskNo}`;
  const run = await w.formulas.startRunFromFormula({ family: FAMILY, vars: { task: `do ${taskKey}` }, taskKey });
  if (hold) {
    const ready = w.ledger.readyWork({ runId: run.runId })[0];
    if (ready) await w.ledger.claimNode({ nodeId: ready.id, worker: BUSY });
  }
  await w.ledger.recordEvidence({ runId: run.runId, kind: 'run_outcome', success: random() < truth(run.variantId), tokens: 1000 + (taskNo % 97) });
  await w.promotion.evaluateAndRecord(before);
  return run.runId;
}

/** A new candidate (an edit no earlier trial made) on trial against the active variant. */
async function newTrial(w: World, n: number): Promise<{ candidate: string; trialId: string }> {
  const incumbent = w.formulas.getFamily(FAMILY)!.activeVariantId!;
  const stepId = w.formulas.variantFormula(incumbent).steps[0]!.id;
  const m = await w.formulas.mutateVariant({
    variantId: incumbent, proposedBy: 'bench', mutations: [{ op: 'edit_instructions', stepId, instructions: `Variant ${n}: read the task twice first.` }],
  });
  const t = await w.promotion.startTrial({ variantId: m.variantId });
  return { candidate: m.variantId, trialId: t.id };
}

async function fresh(root: string): Promise<World> {
  fs.mkdirSync(root, { recursive: true });
  const w = await open(root, 'bench');
  await w.formulas.importFormulas(SHIPPED);
  return w;
}

/**
 * Builds the history on tmpfs and leaves a copy of the workspace at each size in `sizes` (ascending)
 * under `out`, on the normal disk. Returns each copy's folder by size.
 */
export async function buildHistories(sizes: readonly number[], out: string): Promise<Map<number, string>> {
  const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/bench-promotion-') : fs.mkdtempSync(path.join(os.tmpdir(), 'bench-promotion-'));
  const copies = new Map<number, string>();
  try {
    const w = await fresh(shm);
    const random = seededRandom(7);
    let made = 0;
    let trialNo = 0;
    for (const size of sizes) {
      while (made < size) {
        const { candidate } = await newTrial(w, ++trialNo);
        for (let i = 0; i < HISTORY_TRIAL && made < size; i++, made++) {
          await task(w, random, (v) => (v === candidate ? 0.55 : 0.5));
        }
        const live = w.promotion.liveTrialOf(FAMILY);
        if (live) await w.promotion.reject(live.candidateId, { actor: 'bench', reason: 'the history moves on to the next candidate' });
      }
      const dir = path.join(out, `history-${size}`);
      fs.cpSync(shm, dir, { recursive: true });
      copies.set(size, dir);
    }
    close(w);
    return copies;
  } finally {
    fs.rmSync(shm, { recursive: true, force: true });
  }
}

/** The trial being measured: the same runs and outcomes in every ledger (seeded), so every cell evaluates the same evidence. */
async function measuredTrial(w: World): Promise<string[]> {
  await newTrial(w, 100_000);
  const random = seededRandom(99);
  const runs: string[] = [];
  // Every tenth run has a node held by the busy worker: a few held nodes, whatever the history.
  for (let i = 0; i < TRIAL_RUNS; i++) runs.push(await task(w, random, () => 0.5, i % 10 === 0));
  return runs;
}

async function evaluateCosts(w: World, runs: readonly string[]): Promise<{ evaluate: number; evidence: number; rule: number }> {
  const seq = w.ledger.seq;
  const evaluate = await p50(200, () => w.promotion.evaluate(FAMILY));
  if (w.ledger.seq !== seq) throw new Error('evaluate() with nothing new wrote something');
  let i = 0;
  const rule: number[] = [];
  const evidence = await p50(60, async () => {
    const before = w.ledger.seq;
    await w.ledger.recordEvidence({ runId: runs[i++ % runs.length]!, kind: 'tokens', tokens: 10, note: 'a turn of the worker' });
    const t0 = process.hrtime.bigint();
    await w.promotion.evaluateAndRecord(before);
    rule.push(Number(process.hrtime.bigint() - t0) / 1e6);
  });
  rule.sort((a, b) => a - b);
  return { evaluate, evidence, rule: rule[Math.floor(rule.length / 2)]! };
}

const LIST_RUNS = 'SELECT * FROM runs ORDER BY created_seq DESC LIMIT 100';
const HELD = `SELECT n.* FROM nodes n JOIN runs r ON r.id = n.run_id WHERE n.worker = ? AND n.state IN ('claimed', 'active') AND r.status = 'running'
  ORDER BY r.created_seq DESC, n.created_seq, n.rowid`;
const NODE_EVIDENCE = 'SELECT * FROM evidence WHERE node_id = ? ORDER BY seq DESC LIMIT 100';

/** Runs every figure at each history size and returns the rows (in the order printed). */
export async function runPromotionBench(sizes: readonly number[] = [100, 1000, 3000], log: (line: string) => void = () => undefined): Promise<BenchRow[]> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-flat-'));
  const rows: BenchRow[] = [];
  try {
    log(`building histories of ${sizes.join(', ')} runs ...`);
    const copies = await buildHistories(sizes, out);

    log('peer: a fresh ledger with only the measured trial ...');
    const peerWorld = await fresh(path.join(out, 'peer'));
    const peerRuns = await measuredTrial(peerWorld);
    const peer = await evaluateCosts(peerWorld, peerRuns);
    close(peerWorld);

    for (const size of sizes) {
      log(`measuring at ${size} runs ...`);
      const w = await open(copies.get(size)!, 'bench');
      const trialRuns = await measuredTrial(w);
      const ours = await evaluateCosts(w, trialRuns);
      rows.push({ what: 'promotion evaluate(), nothing new', runs: size, oursMs: ours.evaluate, peerMs: peer.evaluate, peer: 'fresh ledger, trial only' });
      rows.push({ what: 'evidence_record during a trial', runs: size, oursMs: ours.evidence, peerMs: peer.evidence, peer: 'fresh ledger, trial only' });
      rows.push({ what: '  of which evaluate-and-record', runs: size, oursMs: ours.rule, peerMs: peer.rule, peer: 'fresh ledger, trial only' });

      // The same database file opened by better-sqlite3: the same schema, rows and indexes.
      const file = path.join(out, `native-${size}.sqlite`);
      fs.writeFileSync(file, w.ledger.sql.export());
      const db = new Database(file, { readonly: true });
      const node = w.ledger.evidence({ limit: 1 })[0]!.runId!;
      const nodeId = w.ledger.runGraph(node)!.nodes[0]!.id;
      for (let k = 0; k < 20; k++) await w.ledger.recordEvidence({ nodeId, kind: 'note', note: `note ${k}` });
      const nativeList = db.prepare(LIST_RUNS);
      const nativeHeld = db.prepare(HELD);
      const nativeEvidence = db.prepare(NODE_EVIDENCE);
      rows.push({
        what: 'runs list, newest 100', runs: size, oursMs: await p50(100, () => w.ledger.listRuns({ limit: 100 })),
        peerMs: await p50(100, () => nativeList.all()), peer: 'better-sqlite3, same query',
      });
      rows.push({
        what: 'worker_peek {worker}', runs: size, oursMs: await p50(100, () => w.ledger.heldBy(BUSY)),
        peerMs: await p50(100, () => nativeHeld.all(BUSY)), peer: 'better-sqlite3, same query',
        beforeMs: await p50(5, () => w.ledger.listRuns({ status: 'running', limit: 10_000 })
          .flatMap((r) => w.ledger.runGraph(r.id)?.nodes ?? []).filter((n) => n.worker === BUSY && (n.state === 'claimed' || n.state === 'active')), 1),
      });
      rows.push({
        what: 'evidence of a node, newest 100', runs: size, oursMs: await p50(100, () => w.ledger.evidence({ nodeId, limit: 100 })),
        peerMs: await p50(100, () => nativeEvidence.all(nodeId)), peer: 'better-sqlite3, same query',
      });
      db.close();
      close(w);
    }
    return rows;
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
