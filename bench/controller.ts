// The controller's own cost per dispatched node, against a trivial Codex turn measured in the same run.
// One run of N independent ready nodes is driven by the controller over the real `codex app-server` with a
// loopback model that answers at once. Per node, from the app-server trace:
//   controller cost = (claiming → thread/start sent) + (thread/start answered → turn/start sent)
// that is, picking the node, the claim and dispatch commits, reading the run and building the thread's
// instructions, with Codex's own thread start excluded; and
//   trivial turn = turn/start sent → turn/completed received (a model that reports at once).
// Run: node --import tsx bench/controller.ts [--nodes 100] [--workers 4]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Controller } from '../src/controller/index';
import { FormulaService, PromotionService, openLedger } from '../src/ledger/index';
import { CODEX_BIN, ScriptedModel } from '../test/support/scriptedModel';
import { codexHomeFor, workerScript } from '../test/controller/helpers';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '100' }, workers: { type: 'string', default: '4' } } });
const NODES = Number(values.nodes);
const WORKERS = Number(values.workers);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function main(): Promise<void> {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-bench-ctl-'));
  const steps = Array.from({ length: NODES }, (_, i) => `[[steps]]\nid = "n${i}"\ninstructions = "Node ${i}."\n`).join('\n');
  fs.mkdirSync(path.join(ws, 'formulas'));
  fs.writeFileSync(path.join(ws, 'formulas', 'wide.formula.toml'), `name = "wide"\nversion = 1\ndescription = "${NODES} independent nodes"\n${steps}`);
  const ledger = await openLedger(path.join(ws, '.gascity', 'ledger'), { actor: 'bench' });
  const formulas = new FormulaService(ledger, { workspaceDir: ws });
  await formulas.importFormulas(path.join(ws, 'formulas'));
  const promotion = new PromotionService(ledger, formulas);
  const model = new ScriptedModel(workerScript());
  const baseUrl = await model.start();
  const { runId } = await formulas.startRunFromFormula({ family: 'wide', vars: {} });

  const claiming = new Map<string, number>();
  const threadStartSent = new Map<number, { nodeId: string; at: number }>();
  const threadOfNode = new Map<string, string>();
  const perNode = new Map<string, { claim?: number; tsSent?: number; tsAnswered?: number; turnSent?: number; turnDone?: number }>();
  const get = (n: string) => perNode.get(n) ?? perNode.set(n, {}).get(n)!;
  const controller = new Controller({
    ledger, formulas, promotion, workspaceDir: ws, runIds: [runId], maxConcurrentNodes: WORKERS, pollMs: 1000,
    codex: { command: CODEX_BIN, codexHome: codexHomeFor(baseUrl), cwd: ws, requestTimeoutMs: 60_000 },
  });
  const claimed = new Map<string, number>();
  controller.onEvent((e) => {
    if (e.type === 'claiming') claiming.set(e.nodeId, performance.now());
    if (e.type === 'dispatched') claimed.set(e.nodeId, performance.now());
  });
  controller.onServerTrace((direction, m) => {
    const at = performance.now();
    const params = m.params as Record<string, unknown> | undefined;
    if (direction === 'send' && m.method === 'thread/start') {
      const nodeId = /node (r-[^)]+)\)/.exec(String(params?.developerInstructions))?.[1] ?? '';
      threadStartSent.set(Number(m.id), { nodeId, at });
      get(nodeId).claim = claiming.get(nodeId);
      get(nodeId).tsSent = at;
    } else if (direction === 'receive' && threadStartSent.has(Number(m.id)) && m.result) {
      const { nodeId } = threadStartSent.get(Number(m.id))!;
      threadOfNode.set(String((m.result as { thread: { id: string } }).thread.id), nodeId);
      get(nodeId).tsAnswered = at;
    } else if (direction === 'send' && m.method === 'turn/start') {
      const nodeId = threadOfNode.get(String(params?.threadId));
      if (nodeId) get(nodeId).turnSent = at;
    } else if (direction === 'receive' && m.method === 'turn/completed') {
      const nodeId = threadOfNode.get(String(params?.threadId));
      if (nodeId) get(nodeId).turnDone = at;
    }
  });
  const t0 = performance.now();
  await controller.start();
  const [run] = await controller.waitForRuns([runId]);
  const wall = performance.now() - t0;
  const stats = controller.stats();
  await controller.stop();
  await model.stop();
  promotion.dispose();
  ledger.close();

  const cost: number[] = [];
  const turn: number[] = [];
  const claimCommit: number[] = [];
  const toThreadStart: number[] = [];
  const toTurnStart: number[] = [];
  for (const [nodeId, p] of perNode) {
    if (p.claim === undefined || p.tsSent === undefined || p.tsAnswered === undefined || p.turnSent === undefined || p.turnDone === undefined) continue;
    cost.push((p.tsSent - p.claim) + (p.turnSent - p.tsAnswered));
    turn.push(p.turnDone - p.turnSent);
    const c = claimed.get(nodeId);
    if (c !== undefined) {
      claimCommit.push(c - p.claim);
      toThreadStart.push(p.tsSent - c);
    }
    toTurnStart.push(p.turnSent - p.tsAnswered);
  }
  const row = (name: string, xs: number[]) => `| ${name.padEnd(46)} | ${quantile(xs, 0.5).toFixed(2).padStart(8)} | ${quantile(xs, 0.99).toFixed(2).padStart(8)} |`;
  console.log(`controller: ${NODES} ready nodes, ${WORKERS} at once, real codex app-server, loopback model; run ${run?.status} in ${(wall / 1000).toFixed(1)} s; ${cost.length} nodes measured`);
  console.log('| figure (ms) | p50 | p99 |');
  console.log('|---|---:|---:|');
  console.log(row('controller cost per dispatched node', cost));
  console.log(row('  of which: the claim commit', claimCommit));
  console.log(row('  of which: claimed → thread/start sent', toThreadStart));
  console.log(row('  of which: thread started → turn/start sent', toTurnStart));
  console.log(row('trivial Codex turn (peer, same run)', turn));
  console.log(`reconcile passes: ${stats.reconciles}, ${(stats.reconcileMs / Math.max(1, stats.reconciles)).toFixed(2)} ms each on average, ${(stats.reconcileMs / 1000).toFixed(1)} s in all`);
  console.log(`ratio controller / trivial turn, p50: ${(quantile(cost, 0.5) / quantile(turn, 0.5) * 100).toFixed(2)} %  (target p50 ≤ 20 ms and < 1 %)`);
  fs.rmSync(ws, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
