// The tools in-process, through the SDK's client (which checks every structured result against the tool's
// output schema): the life of a run, the formula tools, the resources, and what another process writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { parseArgs } from '../../src/mcp/args';
import { callTool, toolTable } from '../../src/mcp/server';
import { harness, textOf } from './helpers';

interface Node { id: string; runId: string; stepId: string; state: string; worker: string | null }

test('every tool is listed with a description, flat input schema, output schema and all four annotations', async () => {
  const h = await harness();
  try {
    const { tools } = await h.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), [
      'evidence_record', 'formula_assess', 'formula_evidence', 'formula_list', 'formula_mutate', 'formula_promote', 'formula_replay', 'formula_rollback', 'formula_select', 'formula_view', 'gate_open', 'lineage_view', 'node_claim',
      'node_dispatch', 'node_expand', 'node_handoff', 'node_recover', 'node_renew', 'node_report', 'node_review', 'ready_work', 'worker_peek',
      'workflow_cancel', 'workflow_start', 'workflow_view',
      // branch overlays (issue 13)
      'bid_submit', 'bids_view', 'blackboard_read', 'blackboard_write', 'coalition', 'mail_read', 'mail_send', 'node_announce', 'partnerships',
    ].sort());
    for (const t of tools) {
      assert.ok((t.description ?? '').length > 80, `${t.name} has a description a model can act on`);
      assert.equal(t.outputSchema?.type, 'object', `${t.name} has an output schema`);
      const a = t.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        assert.equal(typeof a[hint], 'boolean', `${t.name} sets ${hint}`);
      }
      assert.equal(a.openWorldHint, false);
      if (a.readOnlyHint) assert.equal(a.destructiveHint, false);
      // Codex flattens anyOf, so no input schema may contain one (nor oneOf / allOf).
      assert.doesNotMatch(JSON.stringify(t.inputSchema), /"(anyOf|oneOf|allOf)"/, `${t.name}'s input schema is flat`);
      assert.equal(t.inputSchema.additionalProperties, false, `${t.name} refuses unknown keys`);
    }
    const readOnly = tools.filter((t) => t.annotations?.readOnlyHint).map((t) => t.name).sort();
    assert.deepEqual(readOnly, ['bids_view', 'blackboard_read', 'formula_assess', 'formula_evidence', 'formula_list', 'formula_view', 'lineage_view', 'partnerships', 'ready_work', 'worker_peek', 'workflow_view']);
    const destructive = tools.filter((t) => t.annotations?.destructiveHint).map((t) => t.name).sort();
    assert.deepEqual(destructive, ['formula_promote', 'formula_rollback', 'gate_open', 'node_recover', 'workflow_cancel']);
  } finally {
    await h.close();
  }
});

test('the life of a run: start, claim, dispatch, renew, expand, handoff, report, review, peek, evidence', async () => {
  const h = await harness();
  try {
    const start = await h.ok<{ runId: string; nodeIds: string[]; ready: Node[] }>('workflow_start', {
      title: 'release', taskKey: 'issue-7',
      nodes: [
        { key: 'files', title: 'Per file', instructions: 'Fix every file.' },
        { key: 'review', title: 'Review', needs: ['files'], review: true, maxAttempts: 2 },
        { key: 'ship', title: 'Ship', needs: ['review'], gate: { kind: 'human' } },
      ],
    });
    const { runId } = start;
    assert.deepEqual(start.ready.map((n) => n.stepId), ['files']);

    const claim = await h.ok<{ claimed: boolean; node: Node & { instructions: string } }>('node_claim', { worker: 'alice', runId });
    assert.equal(claim.claimed, true);
    assert.equal(claim.node.instructions, 'Fix every file.');
    const files = claim.node.id;
    assert.deepEqual(await h.ok('node_dispatch', { nodeId: files, worker: 'alice', threadId: 'thr-1' }), { nodeId: files, state: 'active', threadId: 'thr-1' });
    const renewed = await h.ok<{ expiresAt: string }>('node_renew', { nodeId: files, worker: 'alice', leaseSeconds: 3600 });
    assert.ok(Date.parse(renewed.expiresAt) > Date.now() + 3500_000);

    const expanded = await h.ok<{ childIds: string[]; ready: Node[] }>('node_expand', {
      nodeId: files, worker: 'alice', children: [{ key: 'a', title: 'a.ts' }, { key: 'b', title: 'b.ts' }],
    });
    assert.deepEqual(expanded.ready.map((n) => n.id), expanded.childIds);

    const [a, b] = expanded.childIds as [string, string];
    await h.ok('node_claim', { worker: 'bob', nodeId: a });
    const peek = await h.ok<{ held: Node[] }>('worker_peek', { worker: 'bob' });
    assert.deepEqual(peek.held.map((n) => n.id), [a]);
    await h.ok('node_handoff', { nodeId: a, fromWorker: 'bob', toWorker: 'carol', note: 'bob ran out of context' });
    assert.deepEqual((await h.ok<{ held: Node[] }>('worker_peek', { worker: 'bob' })).held, []);
    await h.ok('node_report', { nodeId: a, worker: 'carol', outcome: 'done', summary: 'a fixed' });
    await h.ok('node_claim', { worker: 'bob', nodeId: b });
    const afterB = await h.ok<{ ready: Node[] }>('node_report', { nodeId: b, worker: 'bob', outcome: 'done' });
    assert.deepEqual(afterB.ready.map((n) => n.id), [files], 'the expanded node is ready again to merge');

    await h.ok('node_claim', { worker: 'alice', nodeId: files });
    await h.ok('node_report', { nodeId: files, worker: 'alice', outcome: 'done' });
    const reviewId = (await h.ok<{ node: Node }>('node_claim', { worker: 'alice', runId })).node.id;
    assert.equal((await h.ok<{ state: string }>('node_report', { nodeId: reviewId, worker: 'alice', outcome: 'done' })).state, 'review');
    assert.equal((await h.ok<{ state: string }>('node_review', { nodeId: reviewId, verdict: 'reject', note: 'add a test' })).state, 'ready');

    const peekNode = await h.ok<{ node: Node & { result: string | null }; bindings: Array<{ threadId: string }> }>('worker_peek', { nodeId: files });
    assert.equal(peekNode.node.state, 'done');
    assert.deepEqual(peekNode.bindings.map((x) => x.threadId), ['thr-1']);

    const ev = await h.ok<{ evidenceId: string; runId: string }>('evidence_record', { nodeId: a, kind: 'intervention', interventions: 1, note: 'a person fixed the import' });
    assert.equal(ev.runId, runId);
    const peekA = await h.ok<{ evidence: Array<{ id: string; kind: string }>; node: { result: string } }>('worker_peek', { nodeId: a });
    assert.deepEqual(peekA.evidence.map((e) => e.kind), ['intervention']);
    assert.equal(peekA.node.result, 'a fixed');

    const view = await h.ok<{ run: { status: string; taskKey: string }; nodes: Node[]; edges: Array<{ kind: string }> }>('workflow_view', { runId });
    assert.equal(view.run.taskKey, 'issue-7');
    assert.equal(view.nodes.length, 5);
    assert.ok(view.edges.some((e) => e.kind === 'parent-child'));
    const list = await h.ok<{ runs: Array<{ id: string }> }>('workflow_view', { status: 'running' });
    assert.deepEqual(list.runs.map((r) => r.id), [runId]);

    assert.deepEqual(await h.ok('workflow_cancel', { runId, reason: 'enough' }), { runId, status: 'cancelled' });
    assert.deepEqual((await h.ok<{ nodes: Node[] }>('ready_work', {})).nodes, []);
    const none = await h.ok<{ claimed: boolean; node: null }>('node_claim', { worker: 'alice' });
    assert.deepEqual(none, {
      claimed: false, claimId: null, expiresAt: null, node: null,
      next: 'Nothing is ready and nothing waits: start a run with workflow_start (formula_list shows the formulas).',
    });
  } finally {
    await h.close();
  }
});

test('recovering an abandoned node with force puts it back to ready', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const { ready } = await h.ok<{ ready: Node[] }>('workflow_start', { title: 'r', nodes: [{ key: 'a', title: 'A' }] });
    await h.ok('node_claim', { worker: 'gone', nodeId: ready[0]!.id });
    assert.deepEqual(await h.ok('node_recover', {}), { recovered: [] }, 'a live lease is left alone');
    assert.deepEqual(await h.ok('node_recover', { nodeId: ready[0]!.id, force: true, reason: 'worker crashed' }), { recovered: [ready[0]!.id] });
    assert.deepEqual((await h.ok<{ nodes: Node[] }>('ready_work', {})).nodes.map((n) => n.id), [ready[0]!.id]);
  } finally {
    await h.close();
  }
});

test('formula tools: list, view, run a family, mutate into a candidate, promote, roll back, lineage', async () => {
  const h = await harness();
  try {
    const { families } = await h.ok<{ families: Array<{ id: string; activeVariantId: string }> }>('formula_list', {});
    assert.ok(families.some((f) => f.id === 'implement-and-review'));
    const view = await h.ok<{ variant: { id: string; generation: number }; active: boolean; formula: string; diff: string }>('formula_view', { family: 'implement-and-review' });
    assert.equal(view.active, true);
    assert.match(view.formula, /\[\[steps\]\]/);
    assert.match(view.diff, /first of family/);
    const g1 = view.variant.id;

    const run = await h.ok<{ variantId: string; generation: number; ready: Node[] }>('workflow_start', {
      family: 'implement-and-review', vars: { task: 'add a flag', mode: 'fast' }, taskKey: 'issue-9',
    });
    assert.equal(run.variantId, g1);
    assert.deepEqual(run.ready.map((n) => n.stepId), ['plan']);

    const m = await h.ok<{ variantId: string; generation: number; created: boolean; diff: string; evolutionFile: string }>('formula_mutate', {
      variantId: g1, summary: 'gate the plan and retry it',
      mutations: [
        { op: 'set_gate', stepId: 'plan', gate: { kind: 'human' } },
        { op: 'set_retry', stepId: 'plan', retry: { max: 2, onExhausted: 'escalate' } },
        { op: 'add_step', stepId: 'lint', title: 'Lint', instructions: 'Run the linter.', needs: ['implement'], after: 'implement' },
        { op: 'set_var', name: 'linter', spec: { description: 'lint command', default: 'npm run lint' } },
      ],
    });
    assert.equal(m.created, true);
    assert.equal(m.generation, 2);
    assert.match(m.diff, /lint/);
    assert.ok(fs.existsSync(path.join(h.workspace, m.evolutionFile)));
    const again = await h.ok<{ variantId: string; created: boolean }>('formula_mutate', {
      variantId: m.variantId, mutations: [{ op: 'set_gate', stepId: 'plan', gate: { kind: 'none' } }, { op: 'set_retry', stepId: 'plan', retry: { max: 0 } }],
    });
    assert.equal(again.created, true, 'removing the gate and retry is a new variant (it keeps the lint step)');

    const listed = await h.ok<{ variants: Array<{ id: string; status: string }> }>('formula_list', { family: 'implement-and-review' });
    assert.deepEqual(listed.variants.map((v) => v.status), ['active', 'candidate', 'candidate']);

    const promoted = await h.ok<{ action: string; decisionId: string; activeVariantId: string }>('formula_promote', {
      variantId: m.variantId, reason: 'a person asked', decidedBy: 'dana',
    });
    assert.equal(promoted.action, 'promoted');
    assert.equal(promoted.activeVariantId, m.variantId);
    const decision = h.promotions.decisions('implement-and-review').find((d) => d.id === promoted.decisionId)!;
    assert.match(decision.actor, /^dana \(via /);
    assert.equal(decision.verdict, 'promote');
    const rolled = await h.ok<{ action: string; activeVariantId: string }>('formula_rollback', { family: 'implement-and-review', reason: 'plans stalled at the gate' });
    assert.deepEqual([rolled.action, rolled.activeVariantId], ['rolled_back', g1], 'the promotion under watch is rolled back with a decision');

    const lineage = await h.ok<{ activeVariantId: string; edges: Array<{ parent: string; child: string }>; selections: Array<{ reason: string }> }>('lineage_view', { family: 'implement-and-review' });
    assert.equal(lineage.activeVariantId, g1);
    assert.deepEqual(lineage.edges, [{ parent: g1, child: m.variantId }, { parent: m.variantId, child: again.variantId }]);
    assert.equal(lineage.selections.length, 3);
    assert.match(lineage.selections[1]!.reason, /a person asked/);
    assert.match(lineage.selections[2]!.reason, /plans stalled at the gate/);
    const rejected = await h.ok<{ variant: { status: string } }>('formula_view', { variantId: m.variantId, diff: false });
    assert.equal(rejected.variant.status, 'rejected');
  } finally {
    await h.close();
  }
});

test('resources: a run graph as JSON and a family\'s active formula as TOML', async () => {
  const h = await harness();
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', { title: 'r', nodes: [{ key: 'a', title: 'A' }] });
    const list = await h.client.listResources();
    assert.ok(list.resources.some((r) => r.uri === `gascity://run/${runId}`));
    assert.ok(list.resources.some((r) => r.uri === 'gascity://formula/implement-and-review'));
    const run = await h.client.readResource({ uri: `gascity://run/${runId}` });
    const graph = JSON.parse((run.contents[0] as { text: string }).text) as { run: { id: string }; nodes: unknown[] };
    assert.equal(graph.run.id, runId);
    assert.equal(graph.nodes.length, 1);
    const formula = await h.client.readResource({ uri: 'gascity://formula/implement-and-review' });
    assert.match((formula.contents[0] as { text: string }).text, /name = "implement-and-review"/);
    await assert.rejects(h.client.readResource({ uri: 'gascity://run/r-nope' }), /no run with id "r-nope"/);
  } finally {
    await h.close();
  }
});

test('read tools see what another process wrote to the same ledger', async () => {
  const h = await harness({ importFormulas: false });
  const other = await openLedger(path.join(h.workspace, '.gascity', 'ledger'), { actor: 'other-process' });
  try {
    assert.deepEqual((await h.ok<{ nodes: Node[] }>('ready_work', {})).nodes, []);
    const { runId } = await other.startRun({ title: 'from elsewhere', nodes: [{ key: 'x', title: 'X' }] });
    assert.deepEqual((await h.ok<{ nodes: Node[] }>('ready_work', {})).nodes.map((n) => n.runId), [runId]);
    await other.claimNode({ worker: 'elsewhere', nodeId: `${runId}.x` });
    const peek = await h.ok<{ held: Node[] }>('worker_peek', { worker: 'elsewhere' });
    assert.deepEqual(peek.held.map((n) => n.id), [`${runId}.x`]);
    const r = await h.call('node_claim', { worker: 'me', nodeId: `${runId}.x` });
    assert.match(textOf(r), /held by elsewhere/, 'a write sees the other process\'s claim too');
  } finally {
    other.close();
    await h.close();
  }
});

test('command-line arguments', () => {
  assert.deepEqual(parseArgs(['--ledger', '/l', '--workspace=/w']), { ledger: '/l', workspace: '/w', actor: undefined });
  assert.deepEqual(parseArgs([]), { ledger: undefined, workspace: undefined, actor: undefined });
  assert.throws(() => parseArgs(['--ledger']), /--ledger needs a value/);
  assert.throws(() => parseArgs(['--frob']), /unknown argument --frob/);
  // A repeated option is refused by name, whichever way it is written, instead of keeping the last value.
  assert.throws(() => parseArgs(['--ledger', '/a', '--ledger', '/b']), /--ledger given twice; give it once/);
  assert.throws(() => parseArgs(['--ledger=/a', '--ledger', '/b']), /--ledger given twice/);
  assert.throws(() => parseArgs(['--actor', 'x', '--workspace', '/w', '--actor=y']), /--actor given twice/);
});

test('promotion: a candidate put on trial gets a sticky share of runs, and evidence recorded through the tools promotes it by the rule', async () => {
  const h = await harness();
  try {
    const family = 'research-then-plan';
    const g1 = h.formulas.getFamily(family)!.activeVariantId!;
    // A small trial, so that a handful of runs can decide it.
    await h.promotions.setPolicy(family, { decision: { minCandidateRuns: 5, minIncumbentRuns: 5 }, stages: { trial: { candidateShare: 0.5 } } });
    const m = await h.ok<{ variantId: string }>('formula_mutate', { variantId: g1, mutations: [{ op: 'set_description', description: 'research, then plan' }] });
    const trial = await h.ok<{ stage: string; share: number; candidateId: string; incumbentId: string }>('formula_select', { variantId: m.variantId });
    assert.deepEqual([trial.stage, trial.share, trial.candidateId, trial.incumbentId], ['trial', 0.5, m.variantId, g1]);
    const before = await h.ok<{ verdict: string; missing: string[]; trial: { id: string } }>('formula_assess', { family });
    assert.equal(before.verdict, 'continue');
    assert.match(before.missing[0]!, /more candidate runs/);

    const arms = new Map<string, string>();
    let promotedAfter = -1;
    let told: Array<{ familyId: string; action: string; decisionId: string | null; text: string }> | undefined;
    for (let i = 0; i < 60 && promotedAfter < 0; i++) {
      const taskKey = `task-${i}`;
      const run = await h.ok<{ runId: string; arm: string; variantId: string }>('workflow_start', { family, taskKey, vars: { question: 'how?' } });
      arms.set(taskKey, run.arm);
      assert.equal(run.variantId, run.arm === 'candidate' ? m.variantId : g1, 'the run records the variant of its arm');
      if (i === 3) {
        const again = await h.ok<{ arm: string; runId: string }>('workflow_start', { family, taskKey: 'task-0', vars: { question: 'how?' } });
        assert.equal(again.arm, arms.get('task-0'), 'the same task lands on the same arm');
        await h.ok('workflow_cancel', { runId: again.runId });
      }
      const recorded = await h.ok<{ promotion?: typeof told }>('evidence_record', { runId: run.runId, kind: 'run_outcome', success: run.arm === 'candidate' });
      if (h.formulas.getFamily(family)!.activeVariantId === m.variantId) {
        promotedAfter = i;
        told = recorded.promotion;
      } else {
        assert.ok(!recorded.promotion?.some((p) => p.action === 'promoted'), 'no promotion is told before it happens');
      }
    }
    assert.ok(promotedAfter > 0, 'the rule promoted the candidate once the evidence sufficed');
    assert.ok(new Set(arms.values()).size === 2, 'both arms got runs');
    const decision = h.promotions.decisions(family).at(-1)!;
    assert.deepEqual([decision.verdict, decision.actor, decision.candidateId], ['promote', 'rule', m.variantId]);
    // The write whose evidence decided it says so, in words, with the candidate and the decision record.
    assert.equal(told?.length, 1, 'the deciding evidence_record answer tells the promotion');
    assert.deepEqual([told![0]!.familyId, told![0]!.action, told![0]!.decisionId], [family, 'promoted', decision.id]);
    assert.match(told![0]!.text, new RegExp(`rule promote candidate ${m.variantId}.*new runs of ${family} use it`));
    const after = await h.ok<{ status: string; stage: string; decisions: Array<{ verdict: string }> }>('formula_assess', { variantId: m.variantId });
    assert.deepEqual([after.status, after.stage], ['active', 'watch']);
    assert.equal(after.decisions.at(-1)!.verdict, 'promote');
  } finally {
    await h.close();
  }
});

test('an unexpected failure is an isError result that does not promise nothing was written, and is logged', async () => {
  const logged: string[] = [];
  const broken = { refresh: () => Promise.reject(new Error('disk gone')), seq: 0 } as unknown as Ledger;
  const r = await callTool(toolTable({ formulas: false, promotions: false }), { ledger: broken, formulas: undefined, promotions: undefined, actor: undefined },
    'ready_work', {}, (m) => logged.push(m));
  assert.equal(r.isError, true);
  assert.match(textOf(r), /^ready_work failed: internal error: disk gone\. .*may or may not have been recorded/);
  assert.match(logged.join('\n'), /ready_work failed: Error: disk gone/);
});
