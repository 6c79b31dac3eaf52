import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { EvidenceRow, NodeRow, RunRow } from '../../src/ledger/index';
import { attemptsText, targetOfState, toLineageGraph, toRunGraph, variantLabel, workflowOrder } from '../../src/extension/viewModel';
import type { VariantInfo } from '../../src/extension/viewModel';
import { isLineageGraph, isRunGraph } from '../../src/shared/protocol';

const run: RunRow = {
  id: 'r-1', familyId: 'fam', variantId: 'v-1', generation: 1, title: 'ship', vars: {}, taskKey: null, arm: null, status: 'running',
  outcome: null, tokens: 0, durationMs: 0, interventions: 0, reviewRejections: 0, openNodes: 2, createdAt: '2026-01-01T00:00:00Z', finishedAt: null,
};
function node(id: string, state: NodeRow['state'], extra: Partial<NodeRow> = {}): NodeRow {
  return {
    id, runId: 'r-1', stepId: id, title: `step ${id}`, instructions: '', state, unmet: 0, attempts: 0, maxAttempts: 1, onExhausted: 'fail', gate: null,
    gateOpen: false, review: false, claimId: null, worker: null, leaseExpires: null, result: null, tokens: 0, durationMs: 0, updatedAt: '',
    skip: false, gateDueAt: null, gateRunId: null, ...extra,
  };
}
function evidence(extra: Partial<EvidenceRow>): EvidenceRow {
  return {
    id: 'e', familyId: 'fam', variantId: 'v-1', runId: 'r-1', nodeId: null, kind: 'run_outcome', success: true, interventions: null,
    reviewRejections: null, tokens: null, durationMs: null, note: '', actor: 'test', at: '', ...extra,
  };
}

describe('toRunGraph', () => {
  it('shows states, the worker and thread bound to a node, and typed edges, as a valid protocol graph', () => {
    const g = toRunGraph({
      run,
      nodes: [node('plan', 'done', { tokens: 1200 }), node('code', 'active', { worker: 'codex-1', leaseExpires: '2026-01-01T01:00:00Z' }), node('docs', 'skipped')],
      edges: [{ from: 'plan', to: 'code', kind: 'needs' }, { from: 'plan', to: 'docs', kind: 'parent-child' }],
      bindings: [{ nodeId: 'code', workerKind: 'codex', threadId: 'thr_9', boundAt: '' }],
    }, [evidence({ nodeId: 'code', kind: 'review', success: false, note: 'missing test' })]);
    assert.ok(isRunGraph(g));
    const code = g.nodes.find((n) => n.id === 'code')!;
    assert.equal(code.state, 'active');
    assert.deepEqual(code.worker, { worker: 'codex-1', threadId: 'thr_9', leaseExpiresAt: '2026-01-01T01:00:00Z' });
    assert.ok(code.evidence.some((e) => e.label === 'review' && e.value === 'failure · missing test'));
    assert.equal(g.nodes.find((n) => n.id === 'docs')!.state, 'done', 'skipped counts as settled');
    assert.ok(g.nodes.find((n) => n.id === 'docs')!.evidence.some((e) => e.label === 'skipped'));
    assert.deepEqual(g.edges.map((e) => [e.source, e.target, e.kind]), [['plan', 'code', 'needs'], ['plan', 'docs', 'parent-child']]);
  });
});

describe('toLineageGraph', () => {
  const v = (id: string, generation: number, status: VariantInfo['status'], parents: string[] = []): VariantInfo => ({
    id, familyId: 'fam', generation, parents, summary: id === 'v-1' ? 'imported' : 'retry test', status, contentHash: `${id}aaaaaaaaaa`,
    createdAt: '', runs: 0, finishedRuns: 0, successes: 0,
  });

  it('marks the active variant, keeps known parents only, and describes open trials', () => {
    const g = toLineageGraph(
      { id: 'fam', description: '', activeVariantId: 'v-1' },
      [v('v-1', 1, 'active'), v('v-2', 2, 'trial', ['v-1', 'v-gone'])],
      () => ({ runs: 4, successes: 3, failures: 1, interventions: 0, tokens: 0 }),
      [{ id: 't', familyId: 'fam', candidateId: 'v-2', incumbentId: 'v-1', stage: 'trial', share: 0.2, status: 'open' }],
    );
    assert.ok(isLineageGraph(g));
    assert.equal(g.activeVariantId, 'v-1');
    const cand = g.variants.find((x) => x.id === 'v-2')!;
    assert.deepEqual(cand.parentIds, ['v-1']);
    assert.match(cand.trial!, /20% of new runs, 3\/4 succeeded/);
    assert.equal(cand.mutation, 'retry test');
  });

  it('labels variants by generation and content hash', () => {
    assert.equal(variantLabel({ id: 'v-7ecaea40', generation: 3 }), 'g3·v-7ecaea40', 'one id style: the id every command accepts');
  });
});

describe('a graph panel restored after a reload', () => {
  it('finds the run or family its page saved, and nothing in any other state', () => {
    assert.deepEqual(targetOfState({ version: 1, view: { kind: 'run', graph: { runId: 'r-1', nodes: [] } } }), { kind: 'run', runId: 'r-1' });
    assert.deepEqual(targetOfState({ version: 1, view: { kind: 'lineage', lineage: { familyId: 'fam' } } }), { kind: 'lineage', familyId: 'fam' });
    for (const bad of [undefined, null, 'x', {}, { view: null }, { view: { kind: 'run' } }, { view: { kind: 'run', graph: null } },
      { view: { kind: 'run', graph: { runId: 7 } } }, { view: { kind: 'run', graph: { runId: '' } } }, { view: { kind: 'other', lineage: { familyId: 'f' } } },
      JSON.parse('{"__proto__": {"view": {"kind": "run", "graph": {"runId": "r"}}}}') as unknown]) {
      assert.equal(targetOfState(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('nodes in workflow order', () => {
  const ids = (ns: readonly { id: string }[]) => ns.map((n) => n.id);
  it('puts every node after what it needs, and keeps the ledger order among nodes free together', () => {
    // The ledger lists nodes by id, which is alphabetical: review would come before plan.
    const nodes = ['check', 'code', 'docs', 'plan', 'review'].map((id) => ({ id }));
    const edges = [
      { from: 'plan', to: 'code' }, { from: 'plan', to: 'docs' }, { from: 'code', to: 'check' }, { from: 'docs', to: 'check' }, { from: 'check', to: 'review' },
    ];
    assert.deepEqual(ids(workflowOrder(nodes, edges)), ['plan', 'code', 'docs', 'check', 'review']);
  });

  it('keeps nodes on a cycle or with unknown edges instead of dropping them', () => {
    const nodes = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
    assert.deepEqual(ids(workflowOrder(nodes, [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }, { from: 'x', to: 'c' }, { from: 'c', to: 'c' }])), ['c', 'a', 'b']);
    assert.deepEqual(workflowOrder([], []), []);
  });

  it('orders a 2,000-node fan-out without quadratic blow-up in the common case', () => {
    const nodes = [{ id: 'root' }, ...Array.from({ length: 2000 }, (_, i) => ({ id: `leaf-${String(i).padStart(4, '0')}` }))];
    const out = workflowOrder(nodes, nodes.slice(1).map((n) => ({ from: 'root', to: n.id })));
    assert.equal(out[0]!.id, 'root');
    assert.equal(out.length, 2001);
  });
});

describe('attempts in words', () => {
  it('does not say "0 of 1" for a node done on its first try', () => {
    assert.equal(attemptsText({ state: 'done', attempts: 0, maxAttempts: 1 }), 'done on attempt 1 of 1');
    assert.equal(attemptsText({ state: 'done', attempts: 1, maxAttempts: 3 }), 'done on attempt 2 of 3');
    assert.equal(attemptsText({ state: 'active', attempts: 0, maxAttempts: 2 }), 'attempt 1 of 2');
    assert.equal(attemptsText({ state: 'ready', attempts: 0, maxAttempts: 1 }), '1 attempt allowed');
    assert.equal(attemptsText({ state: 'ready', attempts: 1, maxAttempts: 3 }), '1 failed attempt; 2 of 3 left');
    assert.equal(attemptsText({ state: 'failed', attempts: 3, maxAttempts: 3 }), '3 failed attempts of 3 allowed');
  });
});
