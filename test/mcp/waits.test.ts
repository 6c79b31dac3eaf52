// Answers a model can act on: every result that leaves something waiting says what it waits for and what to do,
// in words (a human gate, an escalation, a timer gate, a run gate, a review), and gate_open lets a person's
// decision through. Through the SDK client in process, which checks each answer against the tool's output schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './helpers';
import { explainWait } from '../../src/controller/explain';

interface Wait { nodeId: string; kind: string; waitsFor: string; opensAt?: string; text: string }
interface Row { id: string; state: string; waiting: string | null; updatedAt: string }
interface After { nodeId: string; state: string; runStatus: string; ready: Row[]; readyTotal: number; waiting: Wait[]; next: string }

test('a human gate: the report, ready_work, node_claim and workflow_view say a person opens it and how; gate_open lets it through', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const start = await h.ok<{ runId: string; ready: Row[]; next: string }>('workflow_start', {
      title: 'ship it', nodes: [{ key: 'build', title: 'Build' }, { key: 'ship', title: 'Ship', needs: ['build'], gate: { kind: 'human' } }],
    });
    const { runId } = start;
    const ship = `${runId}.ship`;
    assert.match(start.next, /^Run r-\S+ started\. 1 node is ready: claim one with node_claim\./);
    await h.ok('node_claim', { worker: 'w', nodeId: `${runId}.build` });
    const report = await h.ok<After>('node_report', { nodeId: `${runId}.build`, worker: 'w', outcome: 'done', summary: 'built' });
    assert.equal(report.readyTotal, 0);
    assert.deepEqual(report.waiting.map((w) => [w.nodeId, w.kind, w.waitsFor]), [[ship, 'human_gate', 'person']]);
    const person = `they open it in VS Code (Needs you) or with \`gascity gate open ${ship} [note]\``;
    assert.ok(report.waiting[0]!.text.includes(person), report.waiting[0]!.text);
    assert.match(report.next, new RegExp(`^${runId}\\.build is done\\. ${ship} waits for a person at its human gate: .*Nothing is ready until a person acts: do not wait or poll`));

    const ready = await h.ok<{ nodes: Row[]; total: number; next: string }>('ready_work', { runId });
    assert.equal(ready.total, 0);
    assert.match(ready.next, /^Nothing is ready to claim\. .*waits for a person at its human gate/);
    const claim = await h.ok<{ claimed: boolean; next: string }>('node_claim', { worker: 'w' });
    assert.equal(claim.claimed, false);
    assert.ok(claim.next.includes(`gascity gate open ${ship}`), claim.next);
    const view = await h.ok<{ nodes: Row[]; next: string }>('workflow_view', { runId, states: ['blocked'] });
    assert.deepEqual(view.nodes.map((n) => [n.id, n.state]), [[ship, 'blocked']]);
    assert.ok(view.nodes[0]!.waiting?.includes(person));

    const opened = await h.ok<After>('gate_open', { nodeId: ship, note: 'the person said go' });
    assert.equal(opened.state, 'ready');
    assert.deepEqual(opened.ready.map((n) => n.id), [ship]);
    assert.deepEqual(opened.waiting, []);
    assert.match(opened.next, new RegExp(`^${ship} is ready to be claimed\\. 1 node is ready: claim one with node_claim\\.$`));
  } finally {
    await h.close();
  }
});

test('an escalation: the failed report says a person must look at it; opened, it gets one more attempt', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', {
      title: 'fragile', nodes: [{ key: 'flaky', title: 'Flaky', maxAttempts: 2, onExhausted: 'escalate' }],
    });
    const nodeId = `${runId}.flaky`;
    await h.ok('node_claim', { worker: 'w', nodeId });
    const first = await h.ok<After>('node_report', { nodeId, worker: 'w', outcome: 'failed', summary: 'tests fail' });
    assert.equal(first.state, 'ready');
    assert.match(first.next, new RegExp(`^${nodeId} is ready to be claimed again for attempt 2 of 2 \\(1 failed\\)\\.`));
    await h.ok('node_claim', { worker: 'w', nodeId });
    const second = await h.ok<After>('node_report', { nodeId, worker: 'w', outcome: 'failed', summary: 'still failing' });
    assert.equal(second.state, 'blocked');
    assert.equal(second.runStatus, 'running');
    assert.deepEqual(second.waiting.map((w) => [w.kind, w.waitsFor]), [['escalation', 'person']]);
    assert.match(second.next, new RegExp(`^${nodeId} was escalated after 2 failed attempts and waits for a person to look at it: they open it in VS Code \\(Needs you\\) or with \`gascity gate open ${nodeId} \\[note\\]\`; it then gets one more attempt\\.`));
    assert.doesNotMatch(second.next, /\bblocked\b/, 'says what it waits for, not just "blocked"');

    const opened = await h.ok<After>('gate_open', { nodeId, note: 'fixed the fixture' });
    assert.equal(opened.state, 'ready');
    assert.match(opened.next, /ready to be claimed again for attempt 3 of 3/);
  } finally {
    await h.close();
  }
});

test('a timer gate says when it opens; a run gate what run it waits for; both by the controller', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const { runId } = await h.ok<{ runId: string; waiting: Wait[]; next: string }>('workflow_start', {
      title: 'later', nodes: [
        { key: 'cool', title: 'Cool down', gate: { kind: 'timer', seconds: 600 } },
        { key: 'after', title: 'After the release', gate: { kind: 'run', formula: 'release' } },
      ],
    });
    const view = await h.ok<{ nodes: Row[]; next: string }>('workflow_view', { runId });
    const cool = view.nodes.find((n) => n.id === `${runId}.cool`)!;
    const opensAt = new Date(Date.parse(cool.updatedAt) + 600_000).toISOString();
    assert.match(cool.waiting!, new RegExp(`waits at a timer gate that opens at ${opensAt} \\(in (9|10) min\\); the Gas City controller`));
    const after = view.nodes.find((n) => n.id === `${runId}.after`)!;
    assert.match(after.waiting!, /waits at a run gate for a run of formula `release` to end; the Gas City controller opens it then/);
    assert.match(view.next, /Nothing is ready until then: do not poll/);
    const ready = await h.ok<{ next: string }>('ready_work', {});
    assert.match(ready.next, /^Nothing is ready to claim\. \S+ waits at a timer gate .* 1 more node waits too \(workflow_view with states \["blocked","review"\] lists them\)\. Nothing is ready until then/);
  } finally {
    await h.close();
  }
});

test('a review: the report says a reviewer or person decides and how; node_review says what follows each verdict', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', {
      title: 'reviewed', nodes: [{ key: 'impl', title: 'Implement', review: true, maxAttempts: 2 }, { key: 'ship', title: 'Ship', needs: ['impl'] }],
    });
    const impl = `${runId}.impl`;
    await h.ok('node_claim', { worker: 'w', nodeId: impl });
    const reported = await h.ok<After>('node_report', { nodeId: impl, worker: 'w', outcome: 'done', summary: 'done' });
    assert.equal(reported.state, 'review');
    assert.deepEqual(reported.waiting.map((w) => [w.kind, w.waitsFor]), [['review', 'reviewer']]);
    assert.ok(reported.next.startsWith(`${impl} was reported and waits for a reviewer or a person: \`gascity review ${impl} approve|changes [note]\``), reported.next);

    const rejected = await h.ok<After>('node_review', { nodeId: impl, verdict: 'reject', note: 'add a test' });
    assert.equal(rejected.state, 'ready');
    assert.match(rejected.next, /ready to be claimed again for attempt 2 of 2/);
    await h.ok('node_claim', { worker: 'w', nodeId: impl });
    await h.ok('node_report', { nodeId: impl, worker: 'w', outcome: 'done', summary: 'with a test' });
    const approved = await h.ok<After>('node_review', { nodeId: impl, verdict: 'approve' });
    assert.equal(approved.state, 'done');
    assert.deepEqual(approved.ready.map((n) => n.id), [`${runId}.ship`]);
    assert.match(approved.next, new RegExp(`^${impl} is done\\. 1 node is ready: claim one with node_claim\\.$`));

    const { runId: other } = await h.ok<{ runId: string }>('workflow_start', { title: 'strict', nodes: [{ key: 'x', title: 'X', review: true }] });
    await h.ok('node_claim', { worker: 'w', nodeId: `${other}.x` });
    await h.ok('node_report', { nodeId: `${other}.x`, worker: 'w', outcome: 'done' });
    const failed = await h.ok<After>('node_review', { nodeId: `${other}.x`, verdict: 'reject', note: 'wrong' });
    assert.deepEqual([failed.state, failed.runStatus], ['failed', 'failed']);
    assert.match(failed.next, new RegExp(`^${other}\\.x failed and has no attempts left \\(1 of 1\\)\\. Run ${other} is failed; nothing in it is left to do\\.$`));
  } finally {
    await h.close();
  }
});

test('explainWait: nothing for nodes that do not wait; needs counted', () => {
  const base = { id: 'r-1.a', gate: null, gateOpen: false, attempts: 0, maxAttempts: 1, onExhausted: 'fail', unmet: 2, updatedAt: new Date().toISOString() };
  for (const state of ['ready', 'claimed', 'active', 'done', 'failed', 'skipped'] as const) assert.equal(explainWait({ ...base, state }), null, state);
  assert.equal(explainWait({ ...base, state: 'pending' })?.text, 'r-1.a waits for 2 earlier nodes to finish.');
});
