// One run's whole life through the real MCP server (issue 11: "35 ms at 100 runs, 475 ms at 3,000 runs;
// target flat"). dist/mcp.js is spawned over stdio as Codex spawns it, with the SDK's client, on a workspace
// holding a history of N finished runs (bench/promotion.ts's history: one family through earlier trials,
// every run with outcome evidence). A life is what a worker does to one run of the implement-and-review
// formula in "fast" mode (plan → implement → check → review, the last behind a human gate and a review):
//   workflow_view (the runs list's first page); workflow_start; for each node ready_work, node_claim, node_dispatch, node_report; gate_open and
//   node_review for the review node; evidence_record (the outcome); workflow_view; worker_peek by node
//   and by worker; formula_assess of the run's variant — 26 calls (the issue's "about 23"), each timed,
//   and the whole life timed. BENCH_LIFE_TRACE=1 prints every call's time as it happens.
// Peers in the same run, interleaved life by life with ours: the same life through a second server on a
// workspace that holds nothing but the shipped formulas (so ours / peer is what history costs), and the
// SDK's bare echo server's round trip (what the protocol alone costs, per call).
// Run: node --import tsx bench/life.ts [--sizes 100,1000,3000] [--lives N] [--server another/mcp.js]   (needs `npm run build`)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormulaService, openLedger } from '../src/ledger/index';
import { writeEchoModule } from './mcp';
import { buildHistories } from './promotion';

const REPO = path.join(__dirname, '..');
const SHIPPED = path.join(REPO, 'formulas');
const FAMILY = 'implement-and-review';
const WORKER = 'codex:bench-life';

/** One row of the table: a history size, our life and per-call figures, the peer's, in ms (p50 over the lives). */
export interface LifeRow {
  /** Finished runs in the workspace's history before the measured lives. */
  runs: number;
  /** p50 of a whole life through our server on the history, ms. */
  oursMs: number;
  /** Calls in one life. */
  calls: number;
  /** p50 of a whole life through the same server on an empty workspace (the peer), ms. */
  peerMs: number;
  /** p50 of one echo round trip through the SDK's bare server, ms; times `calls` is the protocol's floor for a life. */
  echoMs: number;
  /** p50 per tool over every call of that tool in every life, ours and the peer's, ms. */
  perTool: Array<{ tool: string; oursMs: number; peerMs: number }>;
}

interface Connected {
  client: Client;
  close(): Promise<void>;
}

/** Servers still running, closed when the bench ends, however it ends (a failed life must not leave them behind). */
const open = new Set<Connected>();

async function connect(args: string[]): Promise<Connected> {
  const client = new Client({ name: 'bench-life', version: '0.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args, stderr: 'ignore' }));
  const c: Connected = { client, close: () => { open.delete(c); return client.close(); } };
  open.add(c);
  return c;
}

/** The timings of one life: each call's tool and ms, in order, and the whole life's ms. */
export interface Life {
  calls: Array<{ tool: string; ms: number }>;
  totalMs: number;
}

/**
 * Drives one run of the family from start to finish through `c`, as a worker would, and times each call.
 * Throws on any error answer (naming the tool and the answer), so a broken life is never timed as a fast one.
 */
export async function life(c: Client, n: number): Promise<Life> {
  const calls: Life['calls'] = [];
  // `label` names a call in the table when one tool is called in two ways (a list and one item).
  const call = async <T = Record<string, unknown>>(tool: string, args: Record<string, unknown>, label = tool): Promise<T> => {
    const t = performance.now();
    const r = (await c.callTool({ name: tool, arguments: args })) as CallToolResult;
    calls.push({ tool: label, ms: performance.now() - t });
    if (process.env.BENCH_LIFE_TRACE) process.stderr.write(`${tool} ${(performance.now() - t).toFixed(1)} ms\n`);
    if (r.isError) throw new Error(`${tool} failed: ${JSON.stringify(r.content).slice(0, 400)}`);
    return r.structuredContent as T;
  };
  const t0 = performance.now();
  // A worker looks at the workspace's recent runs first (the first page of the runs list).
  await call('workflow_view', {}, 'workflow_view, runs list');
  const start = await call<{ runId: string; variantId: string | null }>('workflow_start', {
    family: FAMILY, vars: { task: `life ${n}: add a flag`, mode: 'fast' }, taskKey: `life-${n}`,
  });
  const runId = start.runId;
  let last = '';
  for (let step = 0; step < 10; step++) {
    const ready = await call<{ nodes: Array<{ id: string }>; total: number }>('ready_work', { runId });
    const nodeId = ready.nodes[0]?.id ?? `${runId}.review`;
    if (ready.total === 0) {
      // The review node waits at a human gate: the person opens it.
      await call('gate_open', { nodeId, note: 'go ahead' });
      continue;
    }
    await call('node_claim', { worker: WORKER, nodeId });
    await call('node_dispatch', { nodeId, worker: WORKER, threadId: `thread-${n}` });
    const rep = await call<{ state: string; runStatus: string }>('node_report', { nodeId, worker: WORKER, outcome: 'done', summary: `did ${nodeId}` });
    last = nodeId;
    if (rep.state === 'review') {
      const rev = await call<{ runStatus: string }>('node_review', { nodeId, verdict: 'approve', note: 'looks right' });
      if (rev.runStatus !== 'running') break;
    } else if (rep.runStatus !== 'running') {
      break;
    }
  }
  await call('evidence_record', { runId, kind: 'run_outcome', success: n % 2 === 0, tokens: 1000 });
  const view = await call<{ run: { status: string } }>('workflow_view', { runId });
  if (view.run.status !== 'done') throw new Error(`the life of run ${runId} ended with the run ${view.run.status}, not done`);
  await call('worker_peek', { nodeId: last }, 'worker_peek, node');
  await call('worker_peek', { worker: WORKER }, 'worker_peek, worker');
  // The variant the run used: the history leaves no trial open, so there is no candidate to name by family.
  await call('formula_assess', { variantId: start.variantId });
  return { calls, totalMs: performance.now() - t0 };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/**
 * Finishes every running run of the workspace at `root` as workers and people would have: each node claimed
 * (or reported by the worker already holding it) and reported done, human gates opened, reviews approved;
 * every tenth run is cancelled part-way instead. bench/promotion.ts's history leaves its runs running (only
 * their outcome evidence matters to promotion), and a workspace's years are finished runs. The commits go
 * to a copy on tmpfs (thousands of fsyncs on a disk take minutes), which then replaces `root`.
 */
export async function finishHistory(root: string): Promise<void> {
  const shm = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/bench-life-') : fs.mkdtempSync(path.join(os.tmpdir(), 'bench-life-'));
  try {
    fs.cpSync(root, shm, { recursive: true });
    const ledger = await openLedger(path.join(shm, '.gascity', 'ledger'), { actor: 'bench-history' });
    const running = ledger.listRuns({ status: 'running', limit: 1_000_000 });
    for (const [i, r] of running.entries()) {
      if (i % 10 === 9) {
        await ledger.cancelRun({ runId: r.id, reason: 'the person dropped the task' });
        continue;
      }
      for (let pass = 0; pass < 20; pass++) {
        const g = ledger.runGraph(r.id)!;
        if (g.run.status !== 'running') break;
        for (const n of g.nodes) {
          if (n.state === 'ready') {
            await ledger.claimNode({ nodeId: n.id, worker: 'w-history' });
            await ledger.reportNode({ nodeId: n.id, worker: 'w-history', outcome: 'done', summary: `did ${n.stepId}` });
          } else if (n.state === 'claimed' || n.state === 'active') {
            await ledger.reportNode({ nodeId: n.id, worker: n.worker!, outcome: 'done', summary: `did ${n.stepId}` });
          } else if (n.state === 'review') {
            await ledger.reviewNode({ nodeId: n.id, verdict: 'approve' });
          } else if ((n.state === 'pending' || n.state === 'blocked') && n.gate && !n.gateOpen && n.unmet === 0) {
            await ledger.openGate({ nodeId: n.id, note: 'go ahead' });
          }
        }
      }
      if (ledger.getRun(r.id)!.status === 'running') throw new Error(`history run ${r.id} did not finish: ${JSON.stringify(ledger.runGraph(r.id)!.nodes.map((n) => [n.stepId, n.state, n.gate, n.gateOpen, n.unmet, n.worker]))}`);
    }
    ledger.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.cpSync(shm, root, { recursive: true });
  } finally {
    fs.rmSync(shm, { recursive: true, force: true });
  }
}

/** A workspace with nothing but the shipped formulas imported: the peer's. */
async function emptyWorkspace(root: string): Promise<void> {
  fs.mkdirSync(root, { recursive: true });
  const ledger = await openLedger(path.join(root, '.gascity', 'ledger'), { actor: 'bench' });
  await new FormulaService(ledger, { workspaceDir: root }).importFormulas(SHIPPED);
  ledger.close();
}

/**
 * Measures `lives` lives (after 2 untimed ones) at each history size, each interleaved with a life on the
 * empty workspace, and the echo round trip. Needs dist/mcp.js (npm run build), or `server`: another build of it
 * (an older commit's, for a before-and-after; ours and the peer both run it). Returns one row per size.
 */
export async function runLifeBench(
  sizes: readonly number[] = [100, 1000, 3000], lives = 15, log: (line: string) => void = () => undefined, server = path.join(REPO, 'dist', 'mcp.js'),
): Promise<LifeRow[]> {
  if (!fs.existsSync(server)) throw new Error(`${server} is missing: run npm run build first`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-life-'));
  try {
    log(`life: building histories of ${sizes.join(', ')} runs ...`);
    const copies = await buildHistories(sizes, out);
    for (const size of sizes) {
      log(`life: finishing the ${size} runs of that history ...`);
      await finishHistory(copies.get(size)!);
    }
    const empty = path.join(out, 'empty');
    await emptyWorkspace(empty);
    const echo = await connect([writeEchoModule(out)]);
    const rows: LifeRow[] = [];
    let n = 0;
    for (const size of sizes) {
      log(`life: measuring at ${size} runs ...`);
      const ours = await connect([server, '--workspace', copies.get(size)!, '--actor', 'mcp:bench-ours']);
      const peer = await connect([server, '--workspace', empty, '--actor', 'mcp:bench-peer']);
      const oursLives: Life[] = [];
      const peerLives: Life[] = [];
      const echoMs: number[] = [];
      for (let i = -2; i < lives; i++) {
        const a = await life(ours.client, ++n);
        const b = await life(peer.client, ++n);
        for (let k = 0; k < 23; k++) {
          const t = performance.now();
          await echo.client.callTool({ name: 'echo', arguments: { text: 'hello' } });
          echoMs.push(performance.now() - t);
        }
        if (i < 0) continue;
        oursLives.push(a);
        peerLives.push(b);
      }
      await ours.close();
      await peer.close();
      const tools = [...new Set(oursLives[0]!.calls.map((c) => c.tool))];
      const perTool = (ls: Life[], tool: string) => median(ls.flatMap((l) => l.calls.filter((c) => c.tool === tool).map((c) => c.ms)));
      rows.push({
        runs: size,
        oursMs: median(oursLives.map((l) => l.totalMs)),
        calls: oursLives[0]!.calls.length,
        peerMs: median(peerLives.map((l) => l.totalMs)),
        echoMs: median(echoMs),
        perTool: tools.map((tool) => ({ tool, oursMs: perTool(oursLives, tool), peerMs: perTool(peerLives, tool) })),
      });
    }
    await echo.close();
    return rows;
  } finally {
    for (const c of [...open]) await c.close();
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The table's lines: one per size, then each tool's p50 at every size beside the peer's. */
export function lifeTable(rows: readonly LifeRow[]): string[] {
  const f = (x: number) => x.toFixed(2);
  const first = rows[0]!;
  const lines = [
    `| one run's life (${first.calls} MCP calls, stdio) | runs | ours p50 ms | per call ms | peer: empty workspace ms | ours / peer | vs smallest | echo round trip × ${first.calls} ms |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| whole life | ${r.runs} | ${f(r.oursMs)} | ${f(r.oursMs / r.calls)} | ${f(r.peerMs)} | ${(r.oursMs / r.peerMs).toFixed(2)}× | ` +
      `${(r.oursMs / first.oursMs).toFixed(2)}× | ${f(r.echoMs * r.calls)} |`),
    '',
    `| tool, p50 ms ours / peer | ${rows.map((r) => `${r.runs} runs`).join(' | ')} |`,
    `|---|${rows.map(() => '---:').join('|')}|`,
    ...first.perTool.map((t) => `| ${t.tool} | ${rows.map((r) => {
      const x = r.perTool.find((p) => p.tool === t.tool)!;
      return `${f(x.oursMs)} / ${f(x.peerMs)}`;
    }).join(' | ')} |`),
  ];
  return lines;
}

/** worker_peek of one node at each evidence count: p50 ms, ours over stdio, and the peer (the same call on a node with the fewest). */
export interface PeekRow { evidence: number; oursMs: number; peerMs: number }

/**
 * worker_peek {nodeId} through dist/mcp.js (or `server`) for a node holding each of `counts` evidence rows
 * (ascending), `calls` calls each, interleaved with the same call on the node with the fewest rows (the peer),
 * all nodes in one ledger built on tmpfs. The issue saw 239-425 ms for a node with 10,000 rows.
 */
export async function runPeekBench(counts: readonly number[] = [10, 1000, 10_000], calls = 40, server = path.join(REPO, 'dist', 'mcp.js')): Promise<PeekRow[]> {
  const dir = fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/bench-peek-') : fs.mkdtempSync(path.join(os.tmpdir(), 'bench-peek-'));
  try {
    const ledger = await openLedger(path.join(dir, '.gascity', 'ledger'), { actor: 'bench' });
    const nodes: string[] = [];
    for (const n of counts) {
      const { runId } = await ledger.startRun({ title: `${n} evidence rows`, nodes: [{ key: 'a', title: 'A' }] });
      nodes.push(`${runId}.a`);
      for (let i = 0; i < n; i++) await ledger.recordEvidence({ nodeId: `${runId}.a`, kind: 'note', note: `note ${i}: ${'what the worker saw '.repeat(3)}` });
    }
    ledger.close();
    const c = await connect([server, '--workspace', dir, '--actor', 'mcp:bench-peek']);
    const peek = async (nodeId: string) => {
      const t = performance.now();
      const r = (await c.client.callTool({ name: 'worker_peek', arguments: { nodeId } })) as CallToolResult;
      if (r.isError) throw new Error(`worker_peek failed: ${JSON.stringify(r.content).slice(0, 300)}`);
      return performance.now() - t;
    };
    const rows: PeekRow[] = [];
    for (const [i, n] of counts.entries()) {
      const ours: number[] = [];
      const peer: number[] = [];
      for (let k = -3; k < calls; k++) {
        const a = await peek(nodes[i]!);
        const b = await peek(nodes[0]!);
        if (k >= 0) { ours.push(a); peer.push(b); }
      }
      rows.push({ evidence: n, oursMs: median(ours), peerMs: median(peer) });
    }
    await c.close();
    return rows;
  } finally {
    for (const c of [...open]) await c.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The lines of the worker_peek table. */
export function peekTable(rows: readonly PeekRow[]): string[] {
  return [
    `| worker_peek {nodeId}, stdio | evidence rows | ours p50 ms | peer: node with ${rows[0]!.evidence} rows ms | ours / peer |`,
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| node view | ${r.evidence} | ${r.oursMs.toFixed(2)} | ${r.peerMs.toFixed(2)} | ${(r.oursMs / r.peerMs).toFixed(2)}× |`),
  ];
}

async function main(): Promise<void> {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = (arg('--sizes') ?? '100,1000,3000').split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0).sort((a, b) => a - b);
  const lives = Number(arg('--lives') ?? 15);
  const server = arg('--server');
  const rows = await runLifeBench(sizes, lives, (l) => process.stderr.write(`${l}\n`), server ? path.resolve(server) : undefined);
  if (server) console.log(`server: ${path.resolve(server)}`);
  console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; p50 of ${lives} lives each`);
  for (const line of lifeTable(rows)) console.log(line);
  console.log('');
  for (const line of peekTable(await runPeekBench(undefined, undefined, server ? path.resolve(server) : undefined))) console.log(line);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
