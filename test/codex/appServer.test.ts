// The app-server client against a stand-in process (correlation, server requests, timeouts, exit,
// shutdown of the process group), and the requests the worker builds against the installed Codex's schema.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppServer, AppServerError, tomlInline } from '../../src/codex/appServer';
import type { ServerNotification } from '../../src/codex/protocol';
import { textInput } from '../../src/codex/protocol';
import { developerInstructions, nodeTools, resumeInput } from '../../src/codex/worker';
import type { NodeRow, RunRow } from '../../src/ledger/index';
import { validateAgainst, validateClientMessage } from './schema';
import { alive } from '../support/process';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-appserver-'));
const servers: AppServer[] = [];
after(async () => {
  for (const s of servers) await s.dispose(200);
  fs.rmSync(dir, { recursive: true, force: true });
});

// A stand-in for `codex app-server`: answers requests out of order, asks the client things, and can
// start a grandchild so that shutdown of the whole process group can be observed.
const FAKE = path.join(dir, 'fake-app-server.mjs');
fs.writeFileSync(FAKE, `
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const rl = createInterface({ input: process.stdin });
let serverId = 100;
rl.on('line', (line) => {
  const m = JSON.parse(line);
  if (m.method === 'initialize') return send({ id: m.id, result: { userAgent: 'fake', codexHome: process.env.CODEX_HOME, platformFamily: 'unix', platformOs: 'linux', args: process.argv.slice(2) } });
  if (m.method === 'slow') return setTimeout(() => send({ id: m.id, result: { which: 'slow' } }), 150);
  if (m.method === 'fast') return send({ id: m.id, result: { which: 'fast' } });
  if (m.method === 'never') return;
  if (m.method === 'refuse') return send({ id: m.id, error: { code: -32600, message: 'bad params' } });
  if (m.method === 'ask') { send({ id: ++serverId, method: m.params.method, params: { q: 1 } }); send({ method: 'note', params: { n: 1 } }); return; }
  if (m.method === 'grandchild') { const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); return send({ id: m.id, result: { pid: c.pid } }); }
  if (m.method === 'die') process.exit(3);
  if (m.id !== undefined && m.method === undefined) return send({ method: 'answer', params: m });
});
`);

async function fake(options: { requestTimeoutMs?: number } = {}): Promise<AppServer> {
  const { server } = await AppServer.start({
    command: process.execPath, commandArgs: [FAKE], codexHome: path.join(dir, 'home'),
    config: { model: 'm', 'model_providers.mock': { base_url: 'http://127.0.0.1:1/v1', requires_openai_auth: false } }, ...options,
  });
  servers.push(server);
  return server;
}

test('config overrides become -c key=value arguments in TOML', async () => {
  assert.equal(tomlInline('a "b"\n'), '"a \\"b\\"\\n"');
  assert.equal(tomlInline({ name: 'mock', 'odd key': [1, true] }), '{ name = "mock", "odd key" = [1, true] }');
  const server = await fake();
  // The stand-in echoes its argv in the initialize result; request it again to read it.
  const r = await server.request('initialize', { clientInfo: { name: 't', title: null, version: '0' }, capabilities: null }) as unknown as { args: string[]; codexHome: string };
  assert.deepEqual(r.args, ['app-server', '-c', 'model="m"', '-c', 'model_providers.mock={ base_url = "http://127.0.0.1:1/v1", requires_openai_auth = false }']);
  assert.equal(r.codexHome, path.join(dir, 'home'), 'CODEX_HOME is set for the process');
});

test('responses are matched to requests by id, whatever their order; errors and timeouts reject', async () => {
  // The short timeout is the request's own, so a slow start of the fake server on a loaded machine cannot trip it.
  const server = await fake();
  const call = (method: string, timeoutMs?: number) => server.requestRaw(method, {}, { timeoutMs });
  const [slow, fast] = await Promise.all([call('slow'), call('fast')]);
  assert.deepEqual([slow, fast], [{ which: 'slow' }, { which: 'fast' }]);
  await assert.rejects(call('refuse'), (e: unknown) => e instanceof AppServerError && e.code === 'rpc' && e.rpcCode === -32600 && /bad params/.test(e.message));
  await assert.rejects(call('never', 300), (e: unknown) => e instanceof AppServerError && e.code === 'timeout' && /within 300 ms/.test(e.message));
});

test('server requests go to the registered handler; an unhandled one is refused, not left hanging', async () => {
  const server = await fake();
  const notes: ServerNotification[] = [];
  server.onNotification((n) => notes.push(n));
  server.handleRequest('item/tool/call', () => ({ success: true, contentItems: [{ type: 'inputText', text: 'hi' }] }));
  const answered = new Promise<ServerNotification>((resolve) => server.onNotification((n) => { if (n.method === 'answer') resolve(n); }));
  void server.requestRaw('ask', { method: 'item/tool/call' }).catch(() => undefined);
  assert.deepEqual((await answered).params, { id: 101, result: { success: true, contentItems: [{ type: 'inputText', text: 'hi' }] } });
  assert.ok(notes.some((n) => n.method === 'note'));

  const refused = new Promise<ServerNotification>((resolve) => server.onNotification((n) => { if (n.method === 'answer' && (n.params as { id: number }).id === 102) resolve(n); }));
  void server.requestRaw('ask', { method: 'item/fileChange/requestApproval' }).catch(() => undefined);
  const r = (await refused).params as { error: { code: number; message: string } };
  assert.equal(r.error.code, -32601);
  assert.match(r.error.message, /does not handle item\/fileChange\/requestApproval/);
});

test('an exit rejects pending requests; dispose ends the whole process group', async () => {
  const dying = await fake();
  const exits: Array<number | null> = [];
  dying.onExit((i) => exits.push(i.code));
  const pending = dying.requestRaw('never', {});
  void dying.requestRaw('die', {}).catch(() => undefined);
  await assert.rejects(pending, (e: unknown) => e instanceof AppServerError && e.code === 'exited');
  assert.deepEqual(exits, [3]);
  await assert.rejects(dying.requestRaw('fast', {}), /not running/);

  const server = await fake();
  const { pid } = await server.requestRaw('grandchild', {}) as { pid: number };
  assert.ok(alive(pid));
  await server.dispose(500);
  for (let i = 0; i < 20 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(pid), false, 'the grandchild went with the group');
});

const node: NodeRow = {
  id: 'r1.plan', runId: 'r1', stepId: 'plan', title: 'Plan the change', instructions: 'Read the task.', state: 'claimed', unmet: 0, attempts: 0,
  maxAttempts: 1, onExhausted: 'fail', gate: null, gateOpen: false, review: false, claimId: 'c1', worker: 'codex', leaseExpires: null, result: null,
  tokens: 0, durationMs: 0, updatedAt: '', skip: false, gateDueAt: null, gateRunId: null,
};
const run: RunRow = {
  id: 'r1', familyId: 'implement-and-review', variantId: 'v1', generation: 0, title: 'implement', vars: { task: 'x', flags: ['a'] }, taskKey: null,
  arm: null, status: 'running', outcome: null, tokens: 0, durationMs: 0, interventions: 0, reviewRejections: 0, openNodes: 1, createdAt: '', finishedAt: null,
};

test('the requests the worker builds match the schema of the installed Codex', () => {
  const messages = [
    { id: 1, method: 'initialize', params: { clientInfo: { name: 'gascity', title: 'Gas City for Codex', version: '0.1.0' }, capabilities: { experimentalApi: true } } },
    { method: 'initialized' },
    {
      id: 2, method: 'thread/start', params: {
        cwd: '/ws', developerInstructions: developerInstructions(node, run, [{ id: 'r1.x', title: 'X', result: 'did x' }]), dynamicTools: nodeTools(),
        config: { 'mcp_servers.gascity': { command: 'node', args: ['dist/mcp.js'] } }, approvalPolicy: 'never', sandbox: 'workspace-write',
      },
    },
    { id: 3, method: 'turn/start', params: { threadId: 't', input: [textInput(resumeInput(node))] } },
    { id: 4, method: 'thread/resume', params: { threadId: 't', cwd: '/ws', excludeTurns: true, config: { model: 'm' } } },
    { id: 5, method: 'turn/interrupt', params: { threadId: 't', turnId: 'u' } },
  ];
  for (const m of messages) assert.deepEqual(validateClientMessage(m), [], m.method);
  assert.deepEqual(validateAgainst('DynamicToolCallResponse.json', { success: false, contentItems: [{ type: 'inputText', text: 'Error: x' }] }), []);
  // The check is strict enough to catch a misspelled field, which Codex itself would silently ignore.
  assert.deepEqual(validateClientMessage({ id: 6, method: 'thread/start', params: { cwd: '/ws', developerInstruction: 'x' } }), ['thread/start.params: unknown key "developerInstruction"']);
  assert.match(validateClientMessage({ id: 7, method: 'turn/start', params: { threadId: 't', input: [{ type: 'text', text: 'x' }], foo: 1 } }).join(), /unknown key "foo"/);
});
