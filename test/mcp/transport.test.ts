// The built server's stdio transport with lines it cannot take: a line over the 10 MiB limit (with its id before
// or after a huge body, a string id, or no id), a line that is not JSON, one that is not JSON-RPC. Each gets a clear
// line on stderr and, when it has an id, an error answer; the server keeps serving and writes nothing. (With the
// SDK's StdioServerTransport the over-long line made the process exit with code 0 and nothing logged.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import { buildServer, tempDir } from './helpers';

const MiB = 1024 * 1024;

interface Answer { id: number | string | null; result?: { isError?: boolean; content?: Array<{ text: string }>; structuredContent?: unknown }; error?: { code: number; message: string } }

let child: ChildProcessWithoutNullStreams;
let stdout = '';
let stderr = '';
let ledgerDir = '';
let runId = '';

before(async () => {
  const server = buildServer();
  ledgerDir = tempDir('gascity-transport-');
  const l = await openLedger(ledgerDir, { actor: 'transport-test' });
  runId = (await l.startRun({ title: 'here', nodes: [{ key: 'a', title: 'A' }] })).runId;
  l.close();
  child = spawn(process.execPath, [server, '--ledger', ledgerDir], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } });
  await answer(1);
  send({ method: 'notifications/initialized' });
});

after(() => {
  child.stdin.end();
});

function send(m: Record<string, unknown>): void {
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
}

function answers(): Answer[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Answer);
}

/** Waits for the answer with this id (null: the n-th answer with a null id). */
async function answer(id: number | string | null, nth = 1): Promise<Answer> {
  for (let i = 0; i < 2000; i++) {
    const found = answers().filter((a) => a.id === id);
    if (found.length >= nth) return found[nth - 1]!;
    if (child.exitCode !== null) assert.fail(`the server exited with code ${child.exitCode}; stderr: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return assert.fail(`no answer with id ${String(id)}; stdout: ${stdout.slice(-500)} stderr: ${stderr}`);
}

/** The server still answers a call, and the ledger was not written to. */
async function stillServing(id: number): Promise<void> {
  send({ id, method: 'tools/call', params: { name: 'ready_work', arguments: { runId } } });
  const a = await answer(id);
  assert.equal(a.result?.isError, undefined, JSON.stringify(a));
  assert.equal(child.exitCode, null, 'still running');
  const l = await openLedger(ledgerDir, { actor: 'check' });
  assert.equal(l.evidence({ runId }).length, 0, 'nothing was written');
  l.close();
}

test('a tools/call line over 10 MiB is answered as a tool error with its id, logged, and the server goes on', async () => {
  const note = 'x'.repeat(11 * MiB);
  child.stdin.write(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"evidence_record","arguments":{"runId":"${runId}","kind":"note","note":"${note}"}}}\n`);
  const a = await answer(7);
  assert.equal(a.result?.isError, true);
  assert.match(a.result!.content![0]!.text, /^The request is 11534\d{3} bytes, over this server's limit of 10 MiB \(10485760 bytes\) for one message; nothing was done\. Send less at once/);
  assert.match(stderr, /\[gascity-mcp\] tools\/call request 7 of 11534\d{3} bytes is over the 10 MiB limit for one line; it was skipped and answered with an error/);
  await stillServing(8);
});

test('the id is found after a huge body too, and a string id is answered with an Invalid Request error for other methods', async () => {
  const big = 'y'.repeat(10 * MiB + 5);
  child.stdin.write(`{"jsonrpc":"2.0","method":"resources/read","params":{"uri":"gascity://run/${big}","nested":[{"id":99},"\\"id\\":98"]},"id":"late-id"}\n`);
  const a = await answer('late-id');
  assert.equal(a.error?.code, -32600);
  assert.match(a.error!.message, /over this server's limit of 10 MiB/);
  assert.match(stderr, /resources\/read request "late-id" of \d+ bytes is over the 10 MiB limit/);
  await stillServing(9);
});

test('an over-long line without an id is logged and skipped; the server goes on', async () => {
  child.stdin.write(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"reason":"${'z'.repeat(10 * MiB)}"}}\n`);
  await stillServing(10);
  assert.match(stderr, /notifications\/cancelled message of \d+ bytes is over the 10 MiB limit for one line; it was skipped \(no id to answer\)/);
});

test('a line that is not JSON gets a parse error, one that is not JSON-RPC an invalid request error', async () => {
  child.stdin.write('{"jsonrpc":"2.0","id":11,"method":"tools/list"\n');
  const parse = await answer(null, 1);
  assert.equal(parse.error?.code, -32700);
  assert.match(parse.error!.message, /^Parse error: the line is not JSON/);
  child.stdin.write('{"jsonrpc":"1.0","id":12}\n');
  const invalid = await answer(12);
  assert.equal(invalid.error?.code, -32600);
  assert.match(stderr, /is not JSON .*answered with a parse error/);
  await stillServing(13);
});
