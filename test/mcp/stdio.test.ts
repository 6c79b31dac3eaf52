// The built server (dist/mcp.js) as Codex starts it: how it finds the ledger (--ledger, GASCITY_LEDGER_DIR,
// the workspace's pointer file), that stdout carries nothing but protocol, and that it exits cleanly.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { openLedger, writeLedgerPointer } from '../../src/ledger/index';
import { buildServer, tempDir } from './helpers';

let SERVER = '';

before(() => {
  SERVER = buildServer();
});

/** Starts the server, asks it for ready work, and returns the run ids it saw. */
async function readyRuns(options: { args?: string[]; env?: Record<string, string>; cwd?: string }): Promise<string[]> {
  const transport = new StdioClientTransport({
    command: process.execPath, args: [SERVER, ...(options.args ?? [])], cwd: options.cwd,
    env: { ...getDefaultEnvironment(), ...options.env }, stderr: 'pipe',
  });
  const client = new Client({ name: 'stdio-test', version: '0.0.0' });
  // What the server said on stderr, so that a server that exits names why in the failure.
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  try {
    await client.connect(transport);
    const r = (await client.callTool({ name: 'ready_work', arguments: {} })) as CallToolResult;
    return (r.structuredContent as { nodes: Array<{ runId: string }> }).nodes.map((n) => n.runId);
  } catch (e) {
    throw new Error(`the server (${JSON.stringify(options)}) failed: ${(e as Error).message}; its stderr:\n${stderr}`);
  } finally {
    await client.close();
  }
}

async function ledgerWithRun(dir: string): Promise<string> {
  const l = await openLedger(dir, { actor: 'stdio-test' });
  const { runId } = await l.startRun({ title: 'here', nodes: [{ key: 'a', title: 'A' }] });
  l.close();
  return runId;
}

test('the ledger is --ledger, else GASCITY_LEDGER_DIR, else what the workspace points to, else <workspace>/.gascity/ledger', async () => {
  const a = tempDir('gascity-stdio-a-');
  const b = tempDir('gascity-stdio-b-');
  const runA = await ledgerWithRun(a);
  const runB = await ledgerWithRun(b);
  assert.deepEqual(await readyRuns({ args: ['--ledger', a], env: { GASCITY_LEDGER_DIR: b } }), [runA]);
  assert.deepEqual(await readyRuns({ env: { GASCITY_LEDGER_DIR: b } }), [runB]);

  const workspace = tempDir('gascity-stdio-ws-');
  writeLedgerPointer(workspace, a);
  assert.deepEqual(await readyRuns({ args: ['--workspace', workspace] }), [runA], 'the pointer file of --workspace');
  fs.mkdirSync(path.join(workspace, 'src'));
  assert.deepEqual(await readyRuns({ cwd: workspace }), [runA], 'the pointer file of the working folder');

  const plain = tempDir('gascity-stdio-plain-');
  const runPlain = await ledgerWithRun(path.join(plain, '.gascity', 'ledger'));
  assert.deepEqual(await readyRuns({ args: ['--workspace', plain] }), [runPlain]);
});

test('stdout carries only protocol; diagnostics go to stderr; closing stdin ends the process cleanly', async () => {
  const dir = tempDir('gascity-stdio-c-');
  const child = spawn(process.execPath, [SERVER, '--ledger', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const send = (m: Record<string, unknown>) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
  send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } });
  send({ method: 'notifications/initialized' });
  send({ id: 2, method: 'tools/call', params: { name: 'node_claim', arguments: { worker: 7 } } });
  send({ id: 3, method: 'tools/call', params: { name: 'ready_work', arguments: {} } });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The answers, or the server's exit before them with what it said (a test must fail, not wait for ever).
  await new Promise<void>((resolve, reject) => {
    const check = () => (stdout.includes('"id":3') ? resolve() : setTimeout(check, 10));
    check();
    void exited.then((code) => reject(new Error(`the server exited (${String(code)}) before answering; its stderr:\n${stderr}`)));
  });
  child.stdin.end();
  assert.equal(await exited, 0);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 3, 'three responses and nothing else');
  for (const line of lines) assert.equal((JSON.parse(line) as { jsonrpc: string }).jsonrpc, '2.0');
  assert.match(lines[1]!, /"isError":true/);
  assert.match(stderr, /serving ledger/);
  assert.match(stderr, /closing \(stdin closed\)/);
});

test('bad arguments exit with the usage on stderr and nothing on stdout', () => {
  const r = spawnSync(process.execPath, [SERVER, '--frobnicate'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /unknown argument --frobnicate/);
  assert.match(r.stderr, /usage: mcp\.js/);
});
