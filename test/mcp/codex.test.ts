// The real Codex CLI calls our built MCP server (dist/mcp.js) because a scripted model on loopback
// tells it to: start a workflow, claim, dispatch and report a node, make one bad call, and propose a
// formula mutation. Afterwards the ledger, Codex's own tool-call items and the tool outputs the model
// received must all agree. A second session, without pre-approved tools, shows that Codex asks before
// a tool annotated as destructive, and that a declined call writes nothing; a third, that gate_open is asked
// for and, accepted, opens the gate after the model was told in words what the node waits for.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormulaService, openLedger } from '../../src/ledger/index';
import { textInput } from '../../src/codex/protocol';
import { CODEX_BIN, mockModelConfig, mockProviderConfig, parsedToolOutputs, ScriptedModel } from '../support/scriptedModel';
import type { ModelStep, ParsedToolOutput } from '../support/scriptedModel';
import { buildServer, SHIPPED_FORMULAS, tempDir } from './helpers';
import { CodexSession } from './codexHarness';

const WORKER = 'codex-test';
const MUTATED = 'Read the task twice, then write the acceptance criteria before planning: {{task}}';

let workspace: string;
let ledgerDir: string;
let threadId = '';
let serverScript = '';
const sessions: Array<{ model: ScriptedModel; codex: CodexSession }> = [];

before(async () => {
  serverScript = buildServer();
  workspace = tempDir('gascity-codex-ws-');
  ledgerDir = path.join(workspace, '.gascity', 'ledger');
  const ledger = await openLedger(ledgerDir, { actor: 'test-setup' });
  await new FormulaService(ledger, { workspaceDir: workspace }).importFormulas(SHIPPED_FORMULAS);
  ledger.close();
});

after(async () => {
  for (const s of sessions) {
    await s.codex.stop();
    await s.model.stop();
  }
});

interface McpCallItem {
  tool: string;
  server: string;
  status: string;
  result: { content: Array<{ text: string }>; structuredContent?: unknown } | null;
  error: unknown;
}

/**
 * Starts `codex app-server` (CODEX_HOME in a temp folder) with the scripted model and our server, starts an
 * ephemeral thread in the workspace and waits until the MCP server is ready.
 */
async function startSession(script: (outputs: ParsedToolOutput[]) => ModelStep, options: { approveTools: boolean }) {
  // Every call goes to our MCP server's tools: Codex takes a namespaced function call for an MCP tool.
  const model = new ScriptedModel((request) => {
    const step = script(parsedToolOutputs(request));
    return 'call' in step ? { ...step, namespace: 'mcp__gascity' } : step;
  });
  const baseUrl = await model.start();
  const codex = await CodexSession.start({
    command: CODEX_BIN,
    codexHome: tempDir('gascity-codex-home-'),
    cwd: workspace,
    config: {
      ...(options.approveTools ? mockModelConfig(baseUrl) : mockProviderConfig(baseUrl)),
      'mcp_servers.gascity': {
        command: process.execPath,
        args: [serverScript, '--ledger', ledgerDir, '--workspace', workspace],
        ...(options.approveTools ? { default_tools_approval_mode: 'approve' } : {}),
      },
    },
  });
  sessions.push({ model, codex });
  const started = await codex.server.request('thread/start', { cwd: workspace, ephemeral: true });
  const thread = started.thread.id;
  // The MCP server starts in the background; a turn begun before it is ready would not offer its tools.
  const status = await codex.waitFor((m) => {
    const p = m.params as { name?: string; status?: string } | undefined;
    return m.method === 'mcpServer/startupStatus/updated' && p?.name === 'gascity' && (p.status === 'ready' || p.status === 'failed');
  }, 30_000, 'the gascity MCP server to start');
  const params = status.params as { status: string };
  assert.equal(params.status, 'ready', `the MCP server failed to start: ${JSON.stringify(status.params)}`);
  return { model, codex, thread };
}

async function runTurn(codex: CodexSession, thread: string, text: string): Promise<McpCallItem[]> {
  await codex.server.request('turn/start', { threadId: thread, input: [textInput(text)] });
  const done = await codex.waitFor((m) => m.method === 'turn/completed', 60_000, 'turn/completed');
  assert.equal((done.params as { turn: { status: string } }).turn.status, 'completed', codex.stderr.slice(-2000));
  return codex.notifications
    .map((m) => (m.method === 'item/completed' ? (m.params as { item: McpCallItem & { type: string } }).item : undefined))
    .filter((item): item is McpCallItem & { type: string } => item?.type === 'mcpToolCall');
}

/** The scripted conversation: each step may read the outputs of the calls before it. */
function script(outputs: ParsedToolOutput[]): ModelStep {
  const out = (i: number) => outputs[i]?.json as Record<string, unknown>;
  const steps: Array<() => ModelStep> = [
    () => ({ call: 'workflow_start', args: { title: 'ship the widget', nodes: [{ key: 'build', title: 'Build' }, { key: 'ship', title: 'Ship', needs: ['build'] }] } }),
    () => ({ call: 'node_claim', args: { worker: WORKER, runId: out(0).runId } }),
    () => ({ call: 'node_dispatch', args: { worker: WORKER, nodeId: nodeOf(out(1)), threadId } }),
    // A bad call: Codex must report it as failed, the model must see which field to fix, and nothing is written.
    () => ({ call: 'node_report', args: { worker: WORKER, nodeId: nodeOf(out(1)), outcome: 'maybe' } }),
    () => ({ call: 'node_report', args: { worker: WORKER, nodeId: nodeOf(out(1)), outcome: 'done', summary: 'built it', tokens: 1234 } }),
    () => ({ call: 'formula_view', args: { family: 'implement-and-review', diff: false } }),
    () => ({
      call: 'formula_mutate',
      args: {
        variantId: (out(5).variant as { id: string }).id, summary: 'ask for acceptance criteria first',
        mutations: [{ op: 'edit_instructions', stepId: 'plan', instructions: MUTATED }],
      },
    }),
  ];
  return outputs.length < steps.length ? steps[outputs.length]!() : { say: 'All done.' };
}

function nodeOf(claim: Record<string, unknown>): string {
  return (claim.node as { id: string }).id;
}

test('the real Codex drives a workflow and a formula mutation through our MCP server', { timeout: 90_000 }, async () => {
  const { model, codex, thread } = await startSession(script, { approveTools: true });
  threadId = thread;
  const calls = await runTurn(codex, thread, 'Run the widget workflow.');

  // Codex's view: every tool call completed, except the deliberately bad one.
  assert.deepEqual(calls.map((c) => c.tool), ['workflow_start', 'node_claim', 'node_dispatch', 'node_report', 'node_report', 'formula_view', 'formula_mutate']);
  assert.ok(calls.every((c) => c.server === 'gascity'));
  assert.deepEqual(calls.map((c) => c.status), ['completed', 'completed', 'completed', 'failed', 'completed', 'completed', 'completed']);

  // The model's view: each function_call_output carries our JSON, equal to the structured result Codex got.
  const outputs = parsedToolOutputs(model.requests.at(-1)!);
  assert.equal(outputs.length, 7);
  outputs.forEach((o, i) => {
    const call = calls[i]!;
    if (call.status === 'failed') {
      assert.match(o.raw, /node_report failed: outcome: .*Fix "outcome" and call node_report again/);
      return;
    }
    assert.ok(o.json, `output ${i} (${call.tool}) is JSON: ${o.raw.slice(0, 200)}`);
    assert.ok(call.result?.structuredContent, `Codex got structured content from ${call.tool}`);
    assert.deepEqual(o.json, call.result.structuredContent);
    assert.deepEqual(JSON.parse(call.result.content[0]!.text), call.result.structuredContent, 'the text block is the same JSON');
  });
  const start = outputs[0]!.json as { runId: string; ready: Array<{ stepId: string }> };
  assert.deepEqual(start.ready.map((n) => n.stepId), ['build']);
  const report = outputs[4]!.json as { state: string; ready: Array<{ stepId: string }> };
  assert.equal(report.state, 'done');
  assert.deepEqual(report.ready.map((n) => n.stepId), ['ship']);

  // The ledger's view, from a separate process's handle: what the calls wrote, and nothing from the bad one.
  const ledger = await openLedger(ledgerDir, { actor: 'test-check' });
  try {
    const g = ledger.runGraph(start.runId)!;
    assert.equal(g.run.title, 'ship the widget');
    const build = g.nodes.find((n) => n.stepId === 'build')!;
    assert.equal(build.state, 'done');
    assert.equal(build.result, 'built it');
    assert.equal(build.tokens, 1234);
    assert.equal(g.nodes.find((n) => n.stepId === 'ship')!.state, 'ready');
    assert.deepEqual(g.bindings.map((b) => [b.nodeId, b.threadId]), [[build.id, threadId]]);
    const kinds = ledger.events(0, 10_000).filter((e) => e.actor.startsWith('mcp:')).map((e) => e.kind);
    assert.deepEqual(kinds, ['run.started', 'node.claimed', 'node.dispatched', 'worker.bound', 'node.reported', 'variant.created']);

    const formulas = new FormulaService(ledger, { workspaceDir: workspace });
    const mutated = outputs[6]!.json as { variantId: string; generation: number; created: boolean; evolutionFile: string };
    assert.equal(mutated.created, true);
    assert.equal(mutated.generation, 2);
    const variant = formulas.getVariant(mutated.variantId)!;
    assert.equal(variant.status, 'candidate');
    assert.equal(variant.summary, 'ask for acceptance criteria first');
    assert.match(formulas.variantText(mutated.variantId)!, /write the acceptance criteria before planning/);
    assert.ok(fs.existsSync(path.join(workspace, mutated.evolutionFile)), 'the evolution file was written into the workspace');
  } finally {
    ledger.close();
  }
});

test('without pre-approval Codex asks before a destructive tool; declined, it writes nothing', { timeout: 90_000 }, async () => {
  const setup = await openLedger(ledgerDir, { actor: 'test-setup' });
  const { runId } = await setup.startRun({ title: 'keep me', nodes: [{ key: 'a', title: 'A' }] });
  setup.close();
  const steps: ModelStep[] = [
    { call: 'workflow_view', args: { runId } },
    { call: 'workflow_cancel', args: { runId, reason: 'the model thinks it is done' } },
  ];
  const { codex, thread } = await startSession((outputs) => steps[outputs.length] ?? { say: 'Left it running.' }, { approveTools: false });
  const { asked, first: answering } = codex.answerRequests('mcpServer/elicitation/request', { action: 'decline', content: null, _meta: null }, 60_000, 'an approval request');
  const calls = await runTurn(codex, thread, 'Is the run finished?');
  await answering;

  assert.equal(asked.length, 1, 'only the destructive tool needed approval');
  const meta = (asked[0] as { _meta: unknown })._meta as { tool_name: string; tool_annotations: { destructiveHint: boolean } };
  assert.equal(meta.tool_name, 'workflow_cancel');
  assert.equal(meta.tool_annotations.destructiveHint, true);
  assert.deepEqual(calls.map((c) => [c.tool, c.status]), [['workflow_view', 'completed'], ['workflow_cancel', 'failed']]);
  const check = await openLedger(ledgerDir, { actor: 'test-check' });
  try {
    assert.equal(check.getRun(runId)!.status, 'running', 'the declined cancel wrote nothing');
  } finally {
    check.close();
  }
});

test('a model told that a node waits for a person: Codex asks the person before gate_open, and accepted, the gate opens', { timeout: 90_000 }, async () => {
  const setup = await openLedger(ledgerDir, { actor: 'test-setup' });
  const { runId } = await setup.startRun({ title: 'gated', nodes: [{ key: 'go', title: 'Go', gate: { kind: 'human' } }] });
  setup.close();
  const nodeId = `${runId}.go`;
  const steps: ModelStep[] = [
    { call: 'ready_work', args: { runId } },
    { call: 'gate_open', args: { nodeId, note: 'the person said to go ahead' } },
  ];
  const { codex, thread } = await startSession((outputs) => steps[outputs.length] ?? { say: 'Opened it.' }, { approveTools: false });
  const { asked, first: answering } = codex.answerRequests('mcpServer/elicitation/request', { action: 'accept', content: {}, _meta: null }, 60_000, 'an approval request');
  const calls = await runTurn(codex, thread, 'The person says: open the gate of the go step.');
  await answering;

  assert.equal(asked.length, 1, 'Codex asked before gate_open');
  assert.equal(((asked[0] as { _meta: { tool_name: string } })._meta).tool_name, 'gate_open');
  assert.deepEqual(calls.map((c) => [c.tool, c.status]), [['ready_work', 'completed'], ['gate_open', 'completed']]);
  // What the model read: why nothing was ready, in words, and after the gate, that the node can be claimed.
  const ready = calls[0]!.result!.structuredContent as { total: number; next: string };
  assert.equal(ready.total, 0);
  assert.ok(ready.next.includes(`${nodeId} waits for a person at its human gate: they open it in VS Code (Needs you) or with \`gascity gate open ${nodeId} [note]\``), ready.next);
  const opened = calls[1]!.result!.structuredContent as { state: string; next: string };
  assert.equal(opened.state, 'ready');
  assert.match(opened.next, /is ready to be claimed/);
  const check = await openLedger(ledgerDir, { actor: 'test-check' });
  try {
    assert.equal(check.getNode(nodeId)!.state, 'ready');
    const opening = check.events(0, 10_000).find((e) => e.kind === 'node.gate_opened' && (e.payload as { nodeId: string }).nodeId === nodeId)!;
    assert.deepEqual([opening.actor.startsWith('mcp:'), (opening.payload as { note: string }).note], [true, 'the person said to go ahead']);
  } finally {
    check.close();
  }
});
