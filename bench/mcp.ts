// Tool round trips through our stdio MCP server (dist/mcp.js, as Codex runs it) against the SDK's bare
// echo tool server in the same run, so the figures separate what the protocol costs from what the
// ledger costs. Run: node --import tsx bench/mcp.ts [--calls N]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
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

async function main(): Promise<void> {
  const callsArg = process.argv.indexOf('--calls');
  const calls = callsArg > 0 ? Number(process.argv[callsArg + 1]) : 2000;
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`esbuild failed: ${built.stderr}`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-bench-mcp-'));
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
}

if (process.argv.includes('--echo-server')) {
  void echoServer();
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
