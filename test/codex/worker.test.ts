// Workflow nodes run by the real Codex CLI (`codex app-server` from node_modules) against a scripted
// model on loopback: the node's turn, its dynamic tools, the ledger's evidence, and resume after a crash.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FormulaService, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { AppServer, AppServerError } from '../../src/codex/appServer';
import { CodexWorker, NO_RESULT_SUMMARY, TOOL_EXPAND_NODE, TOOL_REPORT_RESULT, TOOL_REQUEST_HANDOFF } from '../../src/codex/worker';
import { CODEX_BIN, REPO, ScriptedModel, messages, mockModelConfig, toolOutputs } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { validateAgainst, validateClientMessage } from './schema';

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Setup {
  workspace: string;
  codexHome: string;
  ledger: Ledger;
  formulas: FormulaService;
  model: ScriptedModel;
  baseUrl: string;
  /** Every message we sent to any app-server, and the methods of the server requests we answered. */
  sent: Array<Record<string, unknown>>;
  serverRequests: Map<unknown, string>;
  startServer(): Promise<AppServer>;
}

async function setup(script: (request: ResponsesRequest, n: number) => ModelStep): Promise<Setup> {
  const workspace = tempDir('gascity-codex-ws-');
  const codexHome = tempDir('gascity-codex-home-');
  const ledger = await openLedger(path.join(workspace, '.gascity', 'ledger'), { actor: 'codex-test' });
  cleanups.push(() => ledger.close());
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  await formulas.importFormulas(path.join(REPO, 'formulas'));
  const model = new ScriptedModel(script);
  const baseUrl = await model.start();
  cleanups.push(() => model.stop());
  const sent: Array<Record<string, unknown>> = [];
  const serverRequests = new Map<unknown, string>();
  return {
    workspace, codexHome, ledger, formulas, model, baseUrl, sent, serverRequests,
    async startServer() {
      const stderr: string[] = [];
      const { server } = await AppServer.start({
        command: CODEX_BIN, codexHome, cwd: workspace, config: mockModelConfig(baseUrl), requestTimeoutMs: 20_000,
        log: (line) => stderr.push(line),
      });
      server.onTrace((direction, m) => {
        if (direction === 'send') sent.push(m);
        else if (m.method !== undefined && m.id !== undefined) serverRequests.set(m.id, String(m.method));
      });
      cleanups.push(() => server.dispose());
      return server;
    },
  };
}

/** Every request and notification we sent must match the installed Codex's schema, and so must our answers. */
function assertProtocol(s: Setup): void {
  const problems: string[] = [];
  for (const m of s.sent) {
    if (typeof m.method === 'string') problems.push(...validateClientMessage(m));
    else if (s.serverRequests.get(m.id) === 'item/tool/call' && 'result' in m) problems.push(...validateAgainst('DynamicToolCallResponse.json', m.result));
  }
  assert.deepEqual(problems, [], 'our messages match the generated app-server schema');
  assert.ok(s.sent.some((m) => m.method === 'thread/start') && s.sent.some((m) => m.method === 'turn/start'));
}

const PLAN_SUMMARY = 'Plan: add greet() to src/greet.ts and a test in test/greet.test.ts; no ambiguity.';

test('a node runs as a Codex turn: report_result lands in the ledger with the thread bound and token evidence', async () => {
  const s = await setup((request) => (toolOutputs(request).length === 0
    ? { call: TOOL_REPORT_RESULT, args: { outcome: 'done', summary: PLAN_SUMMARY }, usage: { input: 120, cached: 20, output: 30, reasoning: 5 } }
    : { say: 'Reported the plan.', usage: { input: 200, output: 10 } }));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'implement-and-review', vars: { task: 'add a greeting function' } });
  const node = s.ledger.readyWork({ runId })[0]!;
  assert.equal(node.stepId, 'plan');

  const server = await s.startServer();
  const worker = new CodexWorker({ ledger: s.ledger, server, workspaceDir: s.workspace, worker: 'codex-test', leaseSeconds: 120 });
  const result = await worker.runNode(node.id);
  worker.dispose();

  assert.equal(result.end, 'reported');
  assert.equal(result.outcome, 'done');
  assert.equal(result.turnStatus, 'completed');
  const after = s.ledger.getNode(node.id)!;
  assert.equal(after.state, 'done');
  assert.equal(after.result, PLAN_SUMMARY, 'the summary the model sent is the node result');

  const graph = s.ledger.runGraph(runId)!;
  assert.deepEqual(graph.bindings.map((b) => [b.nodeId, b.workerKind, b.threadId]), [[node.id, 'codex', result.threadId]]);
  assert.match(result.threadId!, /^[0-9a-f-]{36}$/, 'the binding holds the real thread id');
  assert.ok(fs.readdirSync(path.join(s.codexHome, 'sessions'), { recursive: true }).some((f) => String(f).includes(result.threadId!)), 'Codex persisted the thread');

  const evidence = s.ledger.evidence({ runId }).filter((e) => e.nodeId === node.id && e.kind === 'tokens');
  assert.equal(evidence.length, 1);
  assert.equal(evidence[0]!.tokens, 150 + 210, 'token evidence is the sum of the usage the model reported');
  assert.equal(typeof evidence[0]!.durationMs, 'number');
  assert.match(evidence[0]!.note, /320 input tokens \(20 cached\), 40 output \(5 reasoning\)/);
  assert.match(evidence[0]!.note, new RegExp(`thread ${result.threadId}`));
  assert.deepEqual(result.tokens, { totalTokens: 360, inputTokens: 320, cachedInputTokens: 20, outputTokens: 40, reasoningOutputTokens: 5 });
  assert.equal(s.ledger.getRun(runId)!.tokens, 360, 'the run total counts the turn once');

  assert.deepEqual(s.ledger.readyWork({ runId }).map((n) => n.stepId), ['implement'], 'the dependent became ready');

  // What Codex showed the model: our tools as plain functions, the role and run context, the instructions.
  const first = s.model.requests[0]!;
  const ours = (first.tools ?? []).filter((t) => [TOOL_REPORT_RESULT, TOOL_REQUEST_HANDOFF, TOOL_EXPAND_NODE].includes(t.name ?? ''));
  assert.deepEqual(ours.map((t) => [t.type, t.name]), [['function', TOOL_REPORT_RESULT], ['function', TOOL_REQUEST_HANDOFF], ['function', TOOL_EXPAND_NODE]]);
  const dev = messages(first, 'developer');
  assert.match(dev, /Your role: Plan the change \(step "plan"/);
  assert.match(dev, /task: add a greeting function/);
  assert.match(messages(first, 'user'), /Read the task: add a greeting function/);
  const output = toolOutputs(s.model.requests[1]!).join('\n');
  assert.match(output, /"recorded":true/);
  assert.match(output, /"nodeState":"done"/);

  assertProtocol(s);
});

test('a turn that ends without report_result is a failed attempt with a clear summary, and the node is retried', async () => {
  const s = await setup(() => ({ say: 'I looked around and I think it is fine.' }));
  const { runId } = await s.ledger.startRun({ title: 'quiet model', nodes: [{ key: 'work', title: 'Do the work', instructions: 'Do it.', maxAttempts: 2 }] });
  const nodeId = `${runId}.work`;
  const server = await s.startServer();
  const worker = new CodexWorker({ ledger: s.ledger, server, workspaceDir: s.workspace, worker: 'codex-test', leaseSeconds: 120 });

  const first = await worker.runNode(nodeId);
  assert.equal(first.end, 'no_result');
  assert.equal(first.outcome, 'failed');
  const n1 = s.ledger.getNode(nodeId)!;
  assert.equal(n1.state, 'ready', 'one attempt is left, so the node is ready again');
  assert.equal(n1.attempts, 1);
  assert.ok(n1.result!.startsWith(NO_RESULT_SUMMARY), n1.result!);
  assert.match(n1.result!, /Codex's last message: "I looked around and I think it is fine\."/);

  const second = await worker.runNode(nodeId);
  worker.dispose();
  assert.notEqual(second.threadId, first.threadId, 'a retry starts a fresh thread');
  assert.equal(s.ledger.getNode(nodeId)!.state, 'failed');
  assert.equal(s.ledger.getRun(runId)!.status, 'failed');
  assert.equal(s.ledger.evidence({ runId }).filter((e) => e.kind === 'tokens').length, 2, 'each turn leaves its token evidence');
  assert.equal(s.ledger.runGraph(runId)!.bindings.length, 2);
  assertProtocol(s);
});

test('expand_node fans the node out from inside the turn; a bad tool input is answered with what to fix', async () => {
  const s = await setup((request, n) => {
    if (n === 1) return { call: TOOL_EXPAND_NODE, args: { children: [{ key: 'a', title: '' , instructions: 'x' }] } };
    if (n === 2) return { call: TOOL_EXPAND_NODE, args: { children: [{ key: 'a', title: 'File a.ts', instructions: 'Port a.ts' }, { key: 'b', title: 'File b.ts', instructions: 'Port b.ts' }] } };
    return { say: `done: ${toolOutputs(request).length} outputs` };
  });
  const { runId } = await s.ledger.startRun({ title: 'fan out', nodes: [{ key: 'files', title: 'Per file', instructions: 'Split per file.' }] });
  const nodeId = `${runId}.files`;
  const server = await s.startServer();
  const worker = new CodexWorker({ ledger: s.ledger, server, workspaceDir: s.workspace, worker: 'codex-test', leaseSeconds: 120 });
  const result = await worker.runNode(nodeId);
  worker.dispose();

  assert.match(toolOutputs(s.model.requests[1]!)[0]!, /children\.0\.title: give each child a title/);
  assert.equal(result.end, 'expanded');
  assert.equal(s.ledger.getNode(nodeId)!.state, 'pending', 'the node waits for its children');
  assert.deepEqual(s.ledger.readyWork({ runId }).map((n) => n.id), [`${nodeId}.a`, `${nodeId}.b`]);
  assertProtocol(s);
});

test('request_handoff moves the claim to a person; nothing is reported as failed', async () => {
  const s = await setup((request) => (toolOutputs(request).length === 0
    ? { call: TOOL_REQUEST_HANDOFF, args: { note: 'needs production credentials I do not have' } }
    : { say: 'Handed off.' }));
  const { runId } = await s.ledger.startRun({ title: 'handoff', nodes: [{ key: 'deploy', title: 'Deploy', instructions: 'Deploy it.' }] });
  const nodeId = `${runId}.deploy`;
  const server = await s.startServer();
  const worker = new CodexWorker({ ledger: s.ledger, server, workspaceDir: s.workspace, worker: 'codex-test', handoffTo: 'alice' });
  const result = await worker.runNode(nodeId);
  worker.dispose();
  assert.equal(result.end, 'handed_off');
  assert.equal(result.outcome, null);
  const n = s.ledger.getNode(nodeId)!;
  assert.equal(n.state, 'claimed');
  assert.equal(n.worker, 'alice');
  assert.equal(n.attempts, 0, 'a handoff is not a failed attempt');
  assert.ok(s.ledger.events().some((e) => e.kind === 'node.handed_off' && JSON.stringify(e.payload).includes('production credentials')));
  assertProtocol(s);
});

test('a lease lost during the turn interrupts it and reports nothing', async () => {
  const s = await setup(() => ({ hang: true }));
  const { runId } = await s.ledger.startRun({ title: 'lost', nodes: [{ key: 'work', title: 'Work', instructions: 'Do it.' }] });
  const nodeId = `${runId}.work`;
  const server = await s.startServer();
  // The first renewal comes after the lease has run out, as when a machine sleeps through it.
  const worker = new CodexWorker({ ledger: s.ledger, server, workspaceDir: s.workspace, worker: 'codex-test', leaseSeconds: 1, renewEveryMs: 1500 });
  const result = await worker.runNode(nodeId);
  worker.dispose();
  assert.equal(result.end, 'lease_lost');
  assert.equal(result.turnStatus, 'interrupted');
  assert.match(result.summary, /lease on node .* was lost/);
  const n = s.ledger.getNode(nodeId)!;
  assert.equal(n.attempts, 0, 'no failed attempt was reported for work someone else may now own');
  assert.deepEqual((await s.ledger.recoverNodes({})).recovered, [nodeId], 'the expired claim is recovered as usual');
  assertProtocol(s);
});

test('threadConfig passes MCP servers through to the node\'s thread, next to the dynamic tools', async () => {
  const s = await setup((request) => (toolOutputs(request).length === 0
    ? { call: TOOL_REPORT_RESULT, args: { outcome: 'done', summary: 'ok' } }
    : { say: 'ok' }));
  // A one-tool MCP server, as the extension passes ours (`mcp_servers.gascity`) for the threads it starts.
  const script = path.join(tempDir('gascity-codex-mcp-'), 'echo.mjs');
  const sdk = path.join(REPO, 'node_modules', '@modelcontextprotocol', 'sdk', 'dist', 'esm', 'server');
  fs.writeFileSync(script, [
    `import { McpServer } from ${JSON.stringify(path.join(sdk, 'mcp.js'))};`,
    `import { StdioServerTransport } from ${JSON.stringify(path.join(sdk, 'stdio.js'))};`,
    "const s = new McpServer({ name: 'echo', version: '1.0.0' });",
    "s.registerTool('echo', { description: 'Echo', inputSchema: {} }, async () => ({ content: [{ type: 'text', text: 'echoed' }] }));",
    'await s.connect(new StdioServerTransport());',
  ].join('\n'));
  const { runId } = await s.ledger.startRun({ title: 'mcp', nodes: [{ key: 'work', title: 'Work', instructions: 'Do it.' }] });
  const server = await s.startServer();
  const worker = new CodexWorker({
    ledger: s.ledger, server, workspaceDir: s.workspace, worker: 'codex-test',
    threadConfig: { 'mcp_servers.echo': { command: process.execPath, args: [script] } },
    // Codex starts MCP servers in the background: without this wait the first request may lack them.
    requireMcpServers: ['echo'],
  });
  const result = await worker.runNode(`${runId}.work`);
  worker.dispose();
  assert.equal(result.end, 'reported');
  const tools = (s.model.requests[0]!.tools ?? []).map((t) => t.name);
  assert.ok(tools.includes('mcp__echo'), `the MCP server is offered as the mcp__echo namespace: ${tools.join(', ')}`);
  assert.ok(tools.includes(TOOL_REPORT_RESULT));
  assert.ok(s.sent.some((m) => m.method === 'thread/start' && JSON.stringify(m.params).includes('"mcp_servers.echo"')));
  assertProtocol(s);
});

test('resume after the app-server is killed mid-turn: the bound thread continues and reports', async () => {
  let phase: 'crash' | 'resume' = 'crash';
  const s = await setup((request) => {
    if (phase === 'crash') return { hang: true };
    return toolOutputs(request).length === 0
      ? { call: TOOL_REPORT_RESULT, args: { outcome: 'done', summary: 'finished after the restart' } }
      : { say: 'Done.' };
  });
  const { runId } = await s.ledger.startRun({ title: 'crash', nodes: [{ key: 'long', title: 'Long work', instructions: 'Refactor the parser.' }, { key: 'next', title: 'Next', needs: ['long'] }] });
  const nodeId = `${runId}.long`;

  const first = await s.startServer();
  const w1 = new CodexWorker({ ledger: s.ledger, server: first, workspaceDir: s.workspace, worker: 'codex-test', leaseSeconds: 120, renewEveryMs: 100 });
  const running = w1.runNode(nodeId);
  running.catch(() => undefined);
  await s.model.waitForRequest(1);
  await new Promise((r) => setTimeout(r, 350));
  first.signal('SIGKILL');
  await assert.rejects(running, (e: unknown) => e instanceof AppServerError && e.code === 'exited');
  w1.dispose();

  const crashed = s.ledger.getNode(nodeId)!;
  assert.equal(crashed.state, 'active', 'the node keeps its claim while the lease runs');
  assert.equal(crashed.worker, 'codex-test');
  assert.ok(s.ledger.events().some((e) => e.kind === 'node.lease_renewed'), 'the lease was renewed while the turn ran');
  const threadId = s.ledger.runGraph(runId)!.bindings[0]!.threadId;

  phase = 'resume';
  const second = await s.startServer();
  const w2 = new CodexWorker({ ledger: s.ledger, server: second, workspaceDir: s.workspace, worker: 'codex-test', leaseSeconds: 120 });
  const result = await w2.resumeNode(nodeId);
  w2.dispose();

  assert.equal(result.resumed, true);
  assert.equal(result.threadId, threadId, 'the same thread continued');
  assert.equal(result.end, 'reported');
  assert.equal(s.ledger.getNode(nodeId)!.state, 'done');
  assert.equal(s.ledger.getNode(nodeId)!.result, 'finished after the restart');
  assert.equal(s.ledger.runGraph(runId)!.bindings.length, 1, 'no second binding');
  assert.deepEqual(s.ledger.readyWork({ runId }).map((n) => n.stepId), ['next']);
  const resumedRequest = s.model.requests.find((r) => /was cut off/.test(messages(r, 'user')))!;
  assert.match(messages(resumedRequest, 'user'), /Refactor the parser\.[\s\S]*was cut off/, 'the thread kept the interrupted turn\'s input');
  assert.ok((resumedRequest.tools ?? []).some((t) => t.name === TOOL_REPORT_RESULT), 'the resumed thread still has the dynamic tools');

  // Resuming a finished node does nothing.
  const w3 = new CodexWorker({ ledger: s.ledger, server: second, workspaceDir: s.workspace, worker: 'codex-test' });
  const again = await w3.resumeNode(nodeId);
  w3.dispose();
  assert.equal(again.end, 'not_active');
  assertProtocol(s);
});
