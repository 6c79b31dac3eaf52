// A run whose graph and row moved to the archive (src/ledger/archive.ts), as a model sees it through the tools:
// opened by id whole (graph and blackboard), absent from the list of runs in memory, and refused, by name, when asked to change it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, textOf } from './helpers';
import type { Harness } from './helpers';

let h: Harness;

before(async () => {
  h = await harness({ importFormulas: false });
});

after(async () => {
  await h.close();
});

test('an archived run opens by id with its graph, leaves the runs list, and cannot be changed', async () => {
  const { runId: old, nodeIds } = await h.ledger.startRun({ title: 'old work', nodes: [{ key: 'a', title: 'Write the parser' }] });
  await h.ledger.claimNode({ worker: 'w', nodeId: nodeIds[0], leaseSeconds: 600 });
  await h.ok('blackboard_write', { runId: old, kind: 'finding', author: 'w', nodeId: nodeIds[0], title: 'the lexer needs a lookahead of two' });
  const board = await h.ok<{ entries: unknown[] }>('blackboard_read', { runId: old });
  await h.ledger.reportNode({ nodeId: nodeIds[0]!, worker: 'w', outcome: 'done', summary: 'parser written' });
  const { runId: current } = await h.ledger.startRun({ title: 'current work', nodes: [{ key: 'a', title: 'A' }] });
  const archived = await h.ledger.archiveRuns({ before: new Date(Date.now() + 86_400_000) });
  assert.deepEqual([archived.archived, archived.evicted], [1, 1]);

  const view = await h.ok<{ run: { id: string; status: string }; nodes: Array<{ title: string; state: string; worker: string | null }> }>('workflow_view', { runId: old });
  assert.equal(view.run.status, 'done');
  assert.deepEqual(view.nodes.map((n) => [n.title, n.state]), [['Write the parser', 'done']]);

  // Its blackboard is read back from the archive line as it was; the graph view's overlay section counts it.
  assert.deepEqual(await h.ok<{ entries: unknown[] }>('blackboard_read', { runId: old }), board);
  assert.equal((view as { overlays?: { entries: Record<string, number> } }).overlays?.entries.finding, 1);

  const list = await h.ok<{ runs: Array<{ id: string }>; total: number }>('workflow_view', {});
  assert.deepEqual([list.runs.map((r) => r.id), list.total], [[current], 1]);

  const refused = await h.call('evidence_record', { runId: old, kind: 'note', note: 'late ground truth' });
  assert.equal(refused.isError, true);
  assert.match(textOf(refused), new RegExp(`runId: run "${old}" is archived \\(archive/${archived.files[0]!.replace('.', '\\.')}\\)`));
  const cancel = await h.call('workflow_cancel', { runId: old, reason: 'x' });
  assert.equal(cancel.isError, true);
  assert.match(textOf(cancel), /is archived/);
});
