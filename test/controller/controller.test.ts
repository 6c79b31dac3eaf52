// The controller drives whole runs through the real Codex CLI (`codex app-server` from node_modules)
// with a scripted model on loopback: dispatch up to the limit, gates, restarts, cancel, evidence.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { buildServer } from '../mcp/helpers';
import { cleanup, nodeOf, setup, workerScript } from './helpers';

after(cleanup);

const FANOUT = `
name = "fan-out"
version = 1
description = "plan, two parts at once, then merge"
[[steps]]
id = "plan"
instructions = "Plan."
[[steps]]
id = "left"
needs = ["plan"]
instructions = "Do the left part."
[[steps]]
id = "right"
needs = ["plan"]
instructions = "Do the right part."
[[steps]]
id = "merge"
needs = ["left", "right"]
instructions = "Merge."
`;

test('a fan-out run goes to its end with two Codex threads at once; its outcome lands as evidence', { timeout: 120_000 }, async () => {
  // Each first request is answered after 1.5 s, so the two parallel parts overlap if they run at once.
  const s = await setup({ 'fan-out': FANOUT }, workerScript(() => ({ delayMs: 1500 })));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'fan-out', vars: {} });
  const c = await s.controller({ maxConcurrentNodes: 2 });
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  assert.equal(run!.outcome, 'success');
  const graph = s.ledger.runGraph(runId)!;
  assert.deepEqual(graph.nodes.map((n) => [n.stepId, n.state, n.result]), [
    ['plan', 'done', `finished ${runId}.plan`], ['left', 'done', `finished ${runId}.left`],
    ['right', 'done', `finished ${runId}.right`], ['merge', 'done', `finished ${runId}.merge`],
  ]);
  // Every node ran on its own thread, bound in the ledger, and once only.
  assert.equal(new Set(graph.bindings.map((b) => b.threadId)).size, 4);
  const reported = s.ledger.events(0).filter((e) => e.kind === 'node.reported').map((e) => (e.payload as { nodeId: string }).nodeId);
  assert.deepEqual([...reported].sort(), graph.nodes.map((n) => n.id).sort());
  assert.equal(s.model.maxInFlight, 2, 'left and right ran at the same time');
  // Oldest first and respecting needs: plan before the parts, merge last.
  const order = s.events.filter((e) => e.type === 'dispatched').map((e) => (e as { nodeId: string }).nodeId.split('.')[1]);
  assert.deepEqual([order[0], order[3]], ['plan', 'merge']);
  // The outcome is evidence for the variant that ran, recorded by the controller once.
  const outcome = s.ledger.evidence({ runId }).filter((e) => e.kind === 'run_outcome');
  assert.deepEqual(outcome.map((e) => [e.success, e.variantId, e.actor]), [[true, run!.variantId, 'controller']]);
  // Tokens of the turns count for the run.
  assert.ok(s.ledger.getRun(runId)!.tokens >= 4 * 120);
});

test('a concurrency limit of 1 runs one node at a time', { timeout: 120_000 }, async () => {
  const s = await setup({ 'fan-out': FANOUT }, workerScript(() => ({ delayMs: 500 })));
  const { runId } = await s.formulas.startRunFromFormula({ family: 'fan-out', vars: {} });
  const c = await s.controller({ maxConcurrentNodes: 1 });
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done');
  assert.equal(s.model.maxInFlight, 1);
});

test("each node's turn starts only once the thread's MCP server is ready: the first request offers the ledger tools", { timeout: 120_000 }, async () => {
  const server = buildServer();
  const s = await setup({ 'fan-out': FANOUT }, workerScript());
  const { runId } = await s.formulas.startRunFromFormula({ family: 'fan-out', vars: {} });
  const c = await s.controller({
    threadConfig: { 'mcp_servers.gascity': { command: process.execPath, args: [server, '--ledger', s.ledgerDir, '--workspace', s.workspace], default_tools_approval_mode: 'approve' } },
    requireMcpServers: ['gascity'],
  });
  await c.waitForRuns([runId]);
  const first = new Map<string, (typeof s.model.requests)[number]>();
  for (const r of s.model.requests) if (!first.has(nodeOf(r))) first.set(nodeOf(r), r);
  assert.equal(first.size, 4);
  for (const [nodeId, r] of first) {
    const names = (r.tools ?? []).map((t) => t.name);
    assert.ok(names.includes('mcp__gascity'), `the first model request of ${nodeId} offers the gascity MCP tools (got ${names.join(', ')})`);
    assert.ok(names.includes('report_result'), 'and the node tools');
  }
  assert.equal(path.isAbsolute(server), true);
});
