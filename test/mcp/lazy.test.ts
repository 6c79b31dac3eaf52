// initialize and tools/list are answered before the ledger is open: Codex gives a server about a second, and
// opening a ledger whose journal holds a few thousand commits takes longer on a busy machine. In process with
// an opener that waits until the test lets it finish; and the built server over a real journal of 2,000 commits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormulaService, openLedger, PromotionService } from '../../src/ledger/index';
import { createLazyServer } from '../../src/mcp/server';
import type { LedgerServices } from '../../src/mcp/server';
import { buildServer, tempDir, textOf } from './helpers';

test('tools/list is answered while the ledger is still opening; a call waits for the open and then works', async () => {
  const dir = tempDir('gascity-lazy-');
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let openCalls = 0;
  let opened: LedgerServices | undefined;
  const { server } = createLazyServer(async () => {
    openCalls++;
    await gate;
    const ledger = await openLedger(dir, { actor: 'lazy-test' });
    const formulas = new FormulaService(ledger, { workspaceDir: dir });
    opened = { ledger, formulas, promotions: new PromotionService(ledger, formulas) };
    return opened;
  }, { offers: { formulas: true, promotions: true } });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'lazy-test', version: '0.0.0' });
  await server.connect(serverSide);
  try {
    await client.connect(clientSide);
    assert.equal(openCalls, 0, 'initialize does not open the ledger');
    const { tools } = await client.listTools();
    assert.equal(tools.length, 23 + 9 /* branch overlays: the overlay tools */ + 2 /* formula_evidence, formula_replay */);
    assert.equal(opened, undefined, 'tools/list was answered before the ledger opened');
    await new Promise((r) => setImmediate(r));
    assert.equal(openCalls, 1, 'the open starts once tools/list is answered');

    let settled = false;
    const call = client.callTool({ name: 'workflow_start', arguments: { title: 't', nodes: [{ key: 'a', title: 'A' }] } }).then((r) => {
      settled = true;
      return r as CallToolResult;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, 'the call waits for the open');
    release();
    const r = await call;
    assert.equal(r.isError, undefined, textOf(r));
    assert.match((r.structuredContent as { runId: string }).runId, /^r-/);
    assert.equal(openCalls, 1, 'opened once');
  } finally {
    await client.close();
    opened?.promotions?.dispose();
    opened?.ledger.close();
  }
});

test('a ledger that cannot be opened: tools are listed, and each call says why in its answer', async () => {
  const logged: string[] = [];
  const { server } = createLazyServer(() => Promise.reject(new Error('journal damaged at byte 12')), {
    offers: { formulas: false, promotions: false }, log: (m) => logged.push(m),
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'lazy-test', version: '0.0.0' });
  await server.connect(serverSide);
  await client.connect(clientSide);
  try {
    assert.equal((await client.listTools()).tools.length, 15 + 9 /* branch overlays: the overlay tools */);
    for (let i = 0; i < 2; i++) {
      const r = (await client.callTool({ name: 'ready_work', arguments: {} })) as CallToolResult;
      assert.equal(r.isError, true);
      assert.match(textOf(r), /^ready_work failed: the ledger could not be opened: journal damaged at byte 12\. This is not a problem with your arguments; tell the person\./);
    }
    assert.deepEqual(logged, ['the ledger could not be opened: journal damaged at byte 12']);
  } finally {
    await client.close();
  }
});

test('the built server answers tools/list before it has replayed a journal of 2,000 commits', async () => {
  const serverJs = buildServer();
  // tmpfs where there is one: the seeding is then quick, and the replay is what is measured.
  const base = fs.existsSync('/dev/shm') ? fs.mkdtempSync(path.join('/dev/shm', 'gascity-lazy-')) : tempDir('gascity-lazy-');
  try {
    const seed = await openLedger(base, { actor: 'seed' });
    const { runId } = await seed.startRun({ title: 'busy', nodes: [{ key: 'a', title: 'A' }] });
    for (let i = 0; i < 2000; i++) await seed.recordEvidence({ runId, kind: 'note', note: `note ${i}` });
    seed.close();
    assert.ok(fs.readFileSync(path.join(base, 'journal.ndjson'), 'utf8').split('\n').length > 2000, 'the commits are in the journal, not a snapshot');

    const child = spawn(process.execPath, [serverJs, '--ledger', base], { stdio: ['pipe', 'pipe', 'pipe'] });
    const seen: Array<{ what: string; at: number }> = [];
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Only whole lines: a long answer (the tool list is over 64 KB) arrives in several chunks.
      const ids = out.split('\n').slice(0, -1).filter((l) => l.trim()).map((l) => (JSON.parse(l) as { id: number }).id);
      for (const id of ids) if (!seen.some((s) => s.what === `answer ${id}`)) seen.push({ what: `answer ${id}`, at: Date.now() });
    });
    child.stderr.on('data', (d: Buffer) => {
      if (/ledger opened in \d+ ms/.test(d.toString())) seen.push({ what: 'opened', at: Date.now() });
    });
    const send = (m: Record<string, unknown>) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } });
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/list', params: {} });
    send({ id: 3, method: 'tools/call', params: { name: 'ready_work', arguments: {} } });
    for (let i = 0; i < 3000 && !seen.some((s) => s.what === 'answer 3'); i++) await new Promise((r) => setTimeout(r, 10));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.stdin.end();
    assert.equal(await exited, 0);
    const order = seen.map((s) => s.what);
    assert.deepEqual(order, ['answer 1', 'answer 2', 'opened', 'answer 3'], `order of events: ${JSON.stringify(seen)}`);
    assert.match(out.split('\n')[2]!, new RegExp(`${runId}\\.a.*"id":3`), 'the call saw the ledger');
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});

