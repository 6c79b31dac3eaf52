// Tool round trips through our stdio MCP server (dist/mcp.js, as Codex runs it) against the SDK's bare
// echo tool server in the same run, so the figures separate what the protocol costs from what the
// ledger costs. Then cold starts: spawn → initialize → tools/list answered, for our server on an empty ledger and
// on a journal of 3,200 commits not yet folded into a snapshot, against the SDK's bare echo server as plain
// JavaScript (no tsx), each spawned afresh N times. Run: node --import tsx bench/mcp.ts [--calls N] [--cold N]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import * as z from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormulaService, openLedger, PromotionService } from '../src/ledger/index';
import type { Ledger } from '../src/ledger/index';
import { callTool, toolTable } from '../src/mcp/server';

const REPO = path.join(__dirname, '..');

/** The comparison server: one tool that returns its input, and nothing else. */
async function echoServer(): Promise<void> {
  const server = new McpServer({ name: 'echo', version: '0.0.0' });
  server.registerTool('echo', { description: 'Returns its input.', inputSchema: { text: z.string() } }, ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  await server.connect(new StdioServerTransport());
}

interface Row {
  name: string;
  samples: number[];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function measure(name: string, calls: number, once: (i: number) => Promise<unknown>): Promise<Row> {
  for (let i = 0; i < Math.min(200, calls); i++) await once(i);
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await once(i);
    samples.push(performance.now() - t);
  }
  return { name, samples };
}

function check(r: CallToolResult, what: string): void {
  if (r.isError) throw new Error(`${what} failed: ${JSON.stringify(r.content)}`);
}

/** A ledger with some history: 40 running runs of 5 nodes, a few claimed and reported. */
async function seed(ledger: Ledger): Promise<string> {
  let runId = '';
  for (let i = 0; i < 40; i++) {
    const r = await ledger.startRun({
      title: `bench run ${i}`,
      nodes: [
        { key: 'plan', title: 'Plan' }, { key: 'a', title: 'A', needs: ['plan'] }, { key: 'b', title: 'B', needs: ['plan'] },
        { key: 'join', title: 'Join', needs: ['a', 'b'] }, { key: 'ship', title: 'Ship', needs: ['join'] },
      ],
    });
    runId = r.runId;
    if (i % 4 === 0) {
      await ledger.claimNode({ nodeId: `${r.runId}.plan`, worker: 'seed' });
      await ledger.reportNode({ nodeId: `${r.runId}.plan`, worker: 'seed', outcome: 'done' });
    }
  }
  return runId;
}

async function connect(command: string, args: string[]): Promise<{ client: Client; startMs: number }> {
  const t = performance.now();
  const client = new Client({ name: 'bench', version: '0.0.0' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  return { client, startMs: performance.now() - t };
}

/** The echo server as a plain ES module importing the SDK from node_modules, so its start costs no TypeScript loader. */
export function writeEchoModule(dir: string): string {
  const sdk = (p: string) => JSON.stringify(path.join(REPO, 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm', p));
  const file = path.join(dir, 'echo.mjs');
  fs.writeFileSync(file, [
    `import { McpServer } from ${sdk('server/mcp.js')};`,
    `import { StdioServerTransport } from ${sdk('server/stdio.js')};`,
    `import * as z from ${JSON.stringify(path.join(REPO, 'node_modules', 'zod', 'index.js'))};`,
    `const server = new McpServer({ name: 'echo', version: '0.0.0' });`,
    `server.registerTool('echo', { description: 'Returns its input.', inputSchema: { text: z.string() } }, ({ text }) => ({ content: [{ type: 'text', text }] }));`,
    `await server.connect(new StdioServerTransport());`,
  ].join('\n'));
  return file;
}

interface ColdStart {
  /** Spawn to the answer of tools/list, ms. */
  toolsList: number;
  /** Spawn to the answer of the first tools/call (for our server, after the ledger has opened), ms. */
  firstCall: number;
}

/**
 * Spawns a server, sends initialize at once (as Codex does), then notifications/initialized and tools/list, then
 * one tools/call; times the answers from the spawn. Raw newline-delimited JSON-RPC, so no client library's cost
 * is in the figures.
 */
function coldStart(args: string[], call: { name: string; arguments: Record<string, unknown> }): Promise<ColdStart> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    const send = (m: Record<string, unknown>) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    let out = '';
    let toolsList = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) {
        const m = JSON.parse(line) as { id?: number; error?: unknown; result?: { isError?: boolean } };
        if (m.error || m.result?.isError) reject(new Error(`answer ${m.id}: ${line.slice(0, 300)}`));
        if (m.id === 1) {
          send({ method: 'notifications/initialized' });
          send({ id: 2, method: 'tools/list', params: {} });
        } else if (m.id === 2) {
          toolsList = performance.now() - t0;
          send({ id: 3, method: 'tools/call', params: call });
        } else if (m.id === 3) {
          const firstCall = performance.now() - t0;
          child.once('exit', () => resolve({ toolsList, firstCall }));
          child.stdin.end();
        }
      }
    });
    child.once('error', reject);
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '0' } } });
  });
}

/** A ledger whose journal holds `commits` commits after the snapshot (below the checkpoint threshold of 5,000). */
async function pendingJournal(dir: string, commits: number): Promise<void> {
  const l = await openLedger(dir, { actor: 'bench-seed' });
  const { runId } = await l.startRun({ title: 'busy', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B', needs: ['a'] }] });
  for (let i = 1; i < commits; i++) await l.recordEvidence({ runId, kind: 'note', note: `note ${i}` });
  l.close();
}

/**
 * Cold starts of our MCP server (dist/mcp.js) on an empty ledger and on one with 3,200 journal commits
 * pending, against the SDK's bare echo server, `n` interleaved spawns each; Markdown rows: case, ms to
 * tools/list (median), ratio to echo, ms to the first tools/call. Needs dist/ built.
 */
export async function coldStarts(work: string, n: number): Promise<string[]> {
  const echo = writeEchoModule(work);
  const empty = path.join(work, 'cold-empty');
  await openLedger(empty, { actor: 'bench-seed' }).then((l) => l.close());
  // Seeded on tmpfs when there is one (3,200 fsyncs on a disk take a while), then copied beside the others.
  const seedDir = fs.existsSync('/dev/shm') ? fs.mkdtempSync(path.join('/dev/shm', 'gascity-bench-')) : path.join(work, 'cold-seed');
  await pendingJournal(seedDir, 3200);
  const busy = path.join(work, 'cold-3200');
  fs.cpSync(seedDir, busy, { recursive: true });
  fs.rmSync(seedDir, { recursive: true, force: true });
  const journalLines = fs.readFileSync(path.join(busy, 'journal.ndjson'), 'utf8').split('\n').length - 1;

  const server = path.join(REPO, 'dist', 'mcp.js');
  const cases: Array<[string, string[], { name: string; arguments: Record<string, unknown> }]> = [
    ['echo (SDK bare server, plain JS)', [echo], { name: 'echo', arguments: { text: 'hi' } }],
    ['gascity, empty ledger', [server, '--ledger', empty, '--workspace', work], { name: 'ready_work', arguments: {} }],
    [`gascity, ${journalLines} journal lines pending`, [server, '--ledger', busy, '--workspace', work], { name: 'ready_work', arguments: {} }],
  ];
  const rows: string[] = [];
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  // Interleaved rounds, so a busy moment of the machine falls on every case alike.
  const samples = cases.map(() => [] as ColdStart[]);
  await coldStart(cases[0]![1], cases[0]![2]);
  for (let round = 0; round < n; round++) {
    for (let c = 0; c < cases.length; c++) samples[c]!.push(await coldStart(cases[c]![1], cases[c]![2]));
  }
  const echoList = median(samples[0]!.map((s) => s.toolsList));
  cases.forEach(([name], c) => {
    const list = median(samples[c]!.map((s) => s.toolsList));
    const first = median(samples[c]!.map((s) => s.firstCall));
    rows.push(`| ${name} | ${list.toFixed(0)} | ${(list / echoList).toFixed(2)} | ${first.toFixed(0)} |`);
  });
  return rows;
}

async function main(): Promise<void> {
  const callsArg = process.argv.indexOf('--calls');
  const calls = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 2000;
  const coldArg = process.argv.indexOf('--cold');
  const cold = coldArg > 0 ? Number(process.argv[coldArg + 1]) : 10;
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`esbuild failed: ${built.stderr}`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-bench-mcp-'));
  const coldRows = cold > 0 ? await coldStarts(work, cold) : [];
  const ledgerDir = path.join(work, 'ledger');
  const seedLedger = await openLedger(ledgerDir, { actor: 'bench-seed' });
  const runId = await seed(seedLedger);
  seedLedger.close();

  const echo = await connect(process.execPath, ['--import', 'tsx', __filename, '--echo-server']);
  const ours = await connect(process.execPath, [path.join(REPO, 'dist', 'mcp.js'), '--ledger', ledgerDir, '--workspace', work]);
  const call = async (c: Client, name: string, args: Record<string, unknown>) => {
    const r = (await c.callTool({ name, arguments: args })) as CallToolResult;
    check(r, name);
  };

  const rows: Row[] = [];
  rows.push(await measure('echo (SDK bare server)', calls, () => call(echo.client, 'echo', { text: 'hello' })));
  rows.push(await measure('ready_work (all runs, 50 nodes)', calls, () => call(ours.client, 'ready_work', {})));
  rows.push(await measure('ready_work (one run)', calls, () => call(ours.client, 'ready_work', { runId })));
  rows.push(await measure('evidence_record (a write)', calls, (i) => call(ours.client, 'evidence_record', { runId, kind: 'note', note: `bench ${i}` })));

  // The tool layer alone, in this process, over its own copy of the ledger: what is left is transport.
  const local = await openLedger(path.join(work, 'ledger-local'), { actor: 'bench-local' });
  const localRun = await seed(local);
  const formulas = new FormulaService(local);
  const promotions = new PromotionService(local, formulas);
  const tools = toolTable({ formulas: true, promotions: true });
  const ctx = { ledger: local, formulas, promotions, actor: undefined };
  rows.push(await measure('ready_work, in-process (no transport)', calls, async () => check(await callTool(tools, ctx, 'ready_work', {}), 'ready_work')));
  rows.push(await measure('evidence_record, in-process (no transport)', calls,
    async (i) => check(await callTool(tools, ctx, 'evidence_record', { runId: localRun, kind: 'note', note: `local ${i}` }), 'evidence_record')));
  promotions.dispose();
  local.close();

  await echo.client.close();
  await ours.client.close();
  fs.rmSync(work, { recursive: true, force: true });

  const fmt = (n: number) => n.toFixed(3).padStart(8);
  console.log(`MCP tool round trips over stdio, ${calls} sequential calls each after 200 warm-up calls (Node ${process.version}, ${os.cpus().length} cores)`);
  console.log(`spawn + initialize: echo server ${echo.startMs.toFixed(0)} ms (under tsx), gascity server ${ours.startMs.toFixed(0)} ms`);
  console.log(`| call | p50 ms | p95 ms | p99 ms | mean ms |`);
  console.log(`|---|---:|---:|---:|---:|`);
  for (const r of rows) {
    const sorted = [...r.samples].sort((a, b) => a - b);
    const mean = r.samples.reduce((a, b) => a + b, 0) / r.samples.length;
    console.log(`| ${r.name} | ${fmt(quantile(sorted, 0.5))} | ${fmt(quantile(sorted, 0.95))} | ${fmt(quantile(sorted, 0.99))} | ${fmt(mean)} |`);
  }
  if (coldRows.length) {
    console.log(`\nCold start, median of ${cold} spawns each (interleaved): spawn → tools/list answered, and → first tools/call answered`);
    console.log('| server | tools/list ms | × echo | first call ms |');
    console.log('|---|---:|---:|---:|');
    for (const r of coldRows) console.log(r);
  }
}

if (process.argv.includes('--echo-server')) {
  void echoServer();
} else if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
