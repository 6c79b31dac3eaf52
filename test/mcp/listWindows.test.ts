// The runs list of workflow_view and a node's evidence in worker_peek are read a page at a time from the index
// of their order (not the whole list cut in memory), resuming after the cursor's last row. These tests page
// through them while the lists change under the pages, as they do when other workers start, finish and cancel
// runs and record evidence, and check what a model sees.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { harness } from './helpers';
import type { Harness } from './helpers';

let h: Harness;

before(async () => {
  h = await harness({ importFormulas: false });
});

after(async () => {
  await h.close();
});

interface RunsPage { runs: Array<{ id: string; status: string }>; total: number; nextCursor: string | null }

async function start(title: string): Promise<string> {
  return (await h.ok<{ runId: string }>('workflow_start', { title, nodes: [{ key: 'a', title: 'A' }] })).runId;
}

test('paging the runs list while runs start, finish and are cancelled shows every earlier run once, newest first', async () => {
  const made: string[] = [];
  for (let i = 0; i < 23; i++) made.push(await start(`run ${i}`));
  const newestFirst = [...made].reverse();

  const seen: string[] = [];
  let page = await h.ok<RunsPage>('workflow_view', { limit: 5 });
  assert.equal(page.total, 23);
  seen.push(...page.runs.map((r) => r.id));
  let added = 0;
  while (page.nextCursor) {
    // Another worker starts a run and cancels one already shown: neither repeats nor hides the rows to come.
    await start(`later ${added++}`);
    await h.ok('workflow_cancel', { runId: seen[seen.length - 1]!, reason: 'dropped' });
    page = await h.ok<RunsPage>('workflow_view', { limit: 5, cursor: page.nextCursor });
    assert.equal(page.total, 23 + added, 'total counts the list as it is now');
    seen.push(...page.runs.map((r) => r.id));
  }
  assert.deepEqual(seen, newestFirst);
});

test('a status filter pages by the same order; a run that left the filtered list still marks where the next page starts', async () => {
  const running = await h.ok<RunsPage>('workflow_view', { status: 'running', limit: 200 });
  const first = await h.ok<RunsPage>('workflow_view', { status: 'running', limit: 3 });
  assert.deepEqual(first.runs.map((r) => r.id), running.runs.slice(0, 3).map((r) => r.id));
  assert.equal(first.total, running.total);
  // The cursor's last run is cancelled: it is no longer in the running list, and the next page still starts after it.
  await h.ok('workflow_cancel', { runId: first.runs[2]!.id, reason: 'dropped' });
  const next = await h.ok<RunsPage>('workflow_view', { status: 'running', limit: 3, cursor: first.nextCursor });
  assert.deepEqual(next.runs.map((r) => r.id), running.runs.slice(3, 6).map((r) => r.id));
  assert.ok(next.runs.every((r) => r.status === 'running'));
  assert.equal(next.total, running.total - 1);
});

test('the last page has no cursor, and a cursor of another filter is refused naming the field', async () => {
  const ids: string[] = [];
  let page = await h.ok<RunsPage>('workflow_view', { limit: 200 });
  ids.push(...page.runs.map((r) => r.id));
  while (page.nextCursor) {
    page = await h.ok<RunsPage>('workflow_view', { limit: 200, cursor: page.nextCursor });
    ids.push(...page.runs.map((r) => r.id));
  }
  assert.equal(ids.length, page.total);
  assert.equal(new Set(ids).size, page.total);
  const some = await h.ok<RunsPage>('workflow_view', { status: 'cancelled', limit: 1 });
  assert.ok(some.nextCursor);
  const r = await h.call('workflow_view', { status: 'running', cursor: some.nextCursor });
  assert.equal(r.isError, true);
  assert.match((r.content[0] as { text: string }).text, /^workflow_view failed: cursor: belongs to another list/);
});

interface EvidencePage { evidence: Array<{ id: string; note: string }>; evidenceTotal: number; evidenceNextCursor: string | null }

test('paging a node\'s evidence while more is recorded shows every earlier row once, newest first', async () => {
  const runId = await start('evidence');
  const nodeId = `${runId}.a`;
  for (let i = 0; i < 26; i++) await h.ok('evidence_record', { nodeId, kind: 'note', note: `note ${i}` });
  const seen: string[] = [];
  let page = await h.ok<EvidencePage>('worker_peek', { nodeId });
  assert.equal(page.evidenceTotal, 26);
  seen.push(...page.evidence.map((e) => e.note));
  let added = 0;
  while (page.evidenceNextCursor) {
    await h.ok('evidence_record', { nodeId, kind: 'note', note: `later ${added++}` });
    page = await h.ok<EvidencePage>('worker_peek', { nodeId, evidenceCursor: page.evidenceNextCursor });
    assert.equal(page.evidenceTotal, 26 + added);
    seen.push(...page.evidence.map((e) => e.note));
  }
  assert.deepEqual(seen, Array.from({ length: 26 }, (_, i) => `note ${25 - i}`));
  // A cursor of another node's evidence is refused, naming the field it came in.
  const other = await start('other');
  const r = await h.call('worker_peek', { nodeId: `${other}.a`, evidenceCursor: (await h.ok<EvidencePage>('worker_peek', { nodeId })).evidenceNextCursor });
  assert.equal(r.isError, true);
  assert.match((r.content[0] as { text: string }).text, /^worker_peek failed: evidenceCursor: belongs to another list/);
});
