// Answers a model receives whole: Codex 0.169 passes a model only about 10-12 KB of a tool result and cuts the
// middle out of a longer one. Every answer here is checked as the model gets it (the JSON text block): it parses
// and is under 8192 bytes; paging through a list with nextCursor shows every row exactly once; long text is
// clipped with a marker whose call shows the rest, and reading on rebuilds the text exactly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { harness } from './helpers';
import type { Harness } from './helpers';

const LIMIT = 8192;

let h: Harness;

before(async () => {
  h = await harness();
});

after(async () => {
  await h.close();
});

/** Calls a tool, checks that its text block parses, is the structured content and is under LIMIT bytes. */
async function small<T>(tool: string, args: Record<string, unknown>): Promise<T> {
  const r = (await h.call(tool, args)) as CallToolResult;
  const text = (r.content[0] as { text: string }).text;
  assert.equal(r.isError, undefined, `${tool} failed: ${text}`);
  const bytes = Buffer.byteLength(text, 'utf8');
  assert.ok(bytes < LIMIT, `${tool} ${JSON.stringify(args).slice(0, 120)} answered ${bytes} bytes`);
  const parsed = JSON.parse(text) as T;
  assert.deepEqual(parsed, r.structuredContent);
  return parsed;
}

/** Pages through a list to its end and returns every row's id, in order. */
async function everyId(tool: string, args: Record<string, unknown>, list: string): Promise<{ ids: string[]; total: number; pages: number }> {
  const ids: string[] = [];
  let cursor: string | null = null;
  let total = -1;
  let pages = 0;
  do {
    const page: Record<string, unknown> = await small(tool, cursor ? { ...args, cursor } : args);
    const rows = page[list] as Array<{ id: string }>;
    assert.ok(rows.length > 0 || (page.total as number) === 0, 'a page moves on');
    ids.push(...rows.map((r) => r.id));
    total = page.total as number;
    cursor = page.nextCursor as string | null;
    pages++;
    assert.ok(pages < 1000, 'paging ends');
  } while (cursor);
  return { ids, total, pages };
}

const long = (what: string, n: number) => `${what} `.repeat(Math.ceil(n / (what.length + 1))).slice(0, n);

test('a 300-node run: workflow_view pages stay under 8 KB, paging shows every node once, states filter the nodes', async () => {
  const nodes = Array.from({ length: 300 }, (_, i) => ({
    key: `n${String(i).padStart(3, '0')}`,
    title: long(`Step ${i} of the big refactor with a long title`, 200),
    instructions: long('Read the module and rewrite it carefully', 5000),
    needs: i === 0 ? [] : i % 3 === 0 ? [`n${String(i - 1).padStart(3, '0')}`, `n${String(i - 2).padStart(3, '0')}`] : [],
    ...(i % 10 === 0 && i > 0 ? { gate: { kind: 'human' } } : {}),
  }));
  const start = await small<{ runId: string; nodeCount: number; nodeIds: string[]; readyTotal: number; readyNextCursor: string | null; next: string }>(
    'workflow_start', { title: long('The big refactor', 200), nodes });
  assert.equal(start.nodeCount, 300);
  assert.ok(start.nodeIds.length < 300 && start.nodeIds.length > 0);
  assert.match(start.next, /It has 300 nodes; workflow_view \{"runId":"r-\S+"\} pages through them\./);
  const { runId } = start;

  const all = await everyId('workflow_view', { runId }, 'nodes');
  assert.equal(all.total, 300);
  assert.equal(all.ids.length, 300, 'every node once');
  assert.equal(new Set(all.ids).size, 300, 'no node twice');
  assert.deepEqual(all.ids, nodes.map((n) => `${runId}.${n.key}`), 'in creation order');
  assert.ok(all.pages >= 12, `${all.pages} pages`);

  const graph = h.ledger.runGraph(runId)!;
  const want = graph.nodes.filter((n) => n.state === 'ready' || n.state === 'blocked').map((n) => n.id);
  const filtered = await everyId('workflow_view', { runId, states: ['ready', 'blocked'], limit: 500 }, 'nodes');
  assert.deepEqual(filtered.ids, want);
  assert.equal(filtered.total, want.length);

  // The ready nodes the start answer did not show are where its readyNextCursor says.
  const startReady = (await small<{ ready: Array<{ id: string }> }>('workflow_view', { runId, states: ['ready'], limit: 1 })).ready;
  assert.equal(startReady, undefined, 'workflow_view lists nodes, not ready');
  const first = (start as unknown as { ready: Array<{ id: string }> }).ready.map((n) => n.id);
  const rest = await small<{ nodes: Array<{ id: string }> }>('ready_work', { runId, cursor: start.readyNextCursor });
  const full = await small<{ nodes: Array<{ id: string }> }>('ready_work', { runId, limit: first.length + 1 });
  assert.deepEqual(full.nodes.slice(0, first.length).map((n) => n.id), first);
  assert.equal(rest.nodes[0]!.id, full.nodes[first.length]!.id);

  // Edges come with the nodes they lead into.
  const page = await small<{ nodes: Array<{ id: string }>; edges: Array<{ to: string }> }>('workflow_view', { runId });
  const ids = new Set(page.nodes.map((n) => n.id));
  assert.ok(page.edges.length > 0 && page.edges.every((e) => ids.has(e.to)));

  // A cursor belongs to its list.
  const r = await h.call('workflow_view', { runId, states: ['ready'], cursor: (await small<{ nextCursor: string }>('workflow_view', { runId })).nextCursor });
  assert.equal(r.isError, true);
  assert.match((r.content[0] as { text: string }).text, /cursor: belongs to another list/);
});

test('50 ready nodes with long titles, instructions and summaries: ready_work, node_claim and worker_peek stay under 8 KB', async () => {
  const nodes = Array.from({ length: 50 }, (_, i) => ({
    key: `k${i}`, title: long(`Ready node ${i} ünïcödé ✓`, 200), instructions: long(`Do the thing number ${i} ✓`, 20_000), maxAttempts: 3,
  }));
  const { runId } = await small<{ runId: string }>('workflow_start', { title: 'many ready', nodes });
  // Each node fails once with a 20,000-character summary, so it is ready again with a long result.
  for (let i = 0; i < 50; i++) {
    await small('node_claim', { worker: 'w', nodeId: `${runId}.k${i}` });
    await small('node_report', { nodeId: `${runId}.k${i}`, worker: 'w', outcome: 'failed', summary: long(`Attempt failed because ${i} ✓`, 20_000) });
  }
  const listed = await everyId('ready_work', { runId }, 'nodes');
  assert.equal(listed.total, 50);
  assert.deepEqual(listed.ids, h.ledger.readyWork({ runId, limit: 1000 }).map((n) => n.id), 'every ready node once, oldest first');
  assert.ok(listed.pages > 2, 'long rows make more pages');
  const everywhere = await everyId('ready_work', { limit: 1000 }, 'nodes');
  assert.ok(everywhere.ids.length >= 50 && new Set(everywhere.ids).size === everywhere.ids.length);

  const claim = await small<{ node: { id: string; instructions: string; result: string } }>('node_claim', { worker: 'w2', nodeId: `${runId}.k7` });
  const marker = /…\(clipped at (\d+) of (\d+) chars; (worker_peek (\{.*\})) shows more\)$/;
  const m = marker.exec(claim.node.instructions);
  assert.ok(m, claim.node.instructions.slice(-200));
  assert.equal(Number(m[2]), 20_000);

  // Reading on from each marker rebuilds the instructions exactly; the same for the result.
  for (const field of ['instructions', 'result'] as const) {
    let text = '';
    let piece = claim.node[field];
    for (let i = 0; i < 50; i++) {
      const mm = marker.exec(piece);
      text += mm ? piece.slice(0, mm.index) : piece;
      if (!mm) break;
      const call = JSON.parse(mm[4]!) as Record<string, unknown>;
      piece = (await small<{ node: Record<string, string> }>('worker_peek', call)).node[field]!;
    }
    assert.equal(text, h.ledger.getNode(`${runId}.k7`)![field], `${field} read whole`);
  }
});

test('runs with long variables, many runs: workflow_view lists pages under 8 KB, every run once', async () => {
  for (let i = 0; i < 45; i++) {
    await small('workflow_start', { family: 'implement-and-review', vars: { task: long(`Task ${i}: make the parser faster`, 8000) }, taskKey: long(`key-${i}`, 150) });
  }
  const runs = await everyId('workflow_view', { family: 'implement-and-review' }, 'runs');
  assert.equal(runs.ids.length, runs.total);
  assert.equal(new Set(runs.ids).size, runs.total);
  assert.ok(runs.total >= 45);
  const one = await small<{ run: { vars: { task: string } } }>('workflow_view', { runId: runs.ids[0], states: ['ready'] });
  assert.match(one.run.vars.task, /…\(clipped at 300 of 8000 chars; the resource gascity:\/\/run\/r-\S+ shows more\)$/);
});

test('every tool at its default limits with the shipped formulas and long text answers under 8 KB', async () => {
  const families = await small<{ families: Array<{ id: string; activeVariantId: string }>; total: number; nextCursor: string | null }>('formula_list', {});
  assert.equal(families.total, families.families.length);
  assert.equal(families.nextCursor, null);
  for (const f of families.families) {
    await small('formula_list', { family: f.id });
    const view = await small<{ formula: string }>('formula_view', { family: f.id });
    assert.ok(view.formula.includes('[[steps]]') || view.formula.includes('steps'));
    await small('lineage_view', { family: f.id });
  }
  // A variant with a huge mutation: its summary, diff and instructions are clipped, and formula_view reads on.
  const base = families.families.find((f) => f.id === 'refactor-with-tests')!;
  const mutated = await small<{ variantId: string; diff: string }>('formula_mutate', {
    variantId: base.activeVariantId, summary: long('Make the plan step say much more', 500),
    mutations: Array.from({ length: 4 }, (_, i) => ({ op: 'add_step', stepId: `extra${i}`, title: `Extra ${i}`, instructions: long(`Check ${i} everything ✓`, 20_000) })),
  });
  assert.match(mutated.diff, /…\(clipped at \d+ of \d+ chars; formula_view \{"variantId":"v-[^"]+","diffFrom":\d+\} shows more\)$/);
  const view = await small<{ formula: string; diff: string }>('formula_view', { variantId: mutated.variantId });
  assert.match(view.formula, /formulaFrom/);
  await small('formula_list', { family: 'refactor-with-tests' });
  await small('lineage_view', { family: 'refactor-with-tests' });
  await small('formula_select', { variantId: mutated.variantId });
  await small('formula_assess', { family: 'refactor-with-tests' });

  const started = await small<{ runId: string; ready: Array<{ id: string }> }>('workflow_start', { family: 'bug-fix-with-reproduction', vars: { bug: long('It crashes', 8000) } });
  const nodeId = started.ready[0]!.id;
  await small('node_claim', { worker: long('worker', 120), nodeId });
  await small('node_dispatch', { nodeId, worker: long('worker', 120), threadId: long('thread', 200) });
  for (let i = 0; i < 30; i++) await small('evidence_record', { nodeId, kind: 'note', note: long(`Note ${i}`, 4000) });
  const peek = await small<{ evidence: unknown[]; evidenceTotal: number; held: unknown[]; total: number }>('worker_peek', { worker: long('worker', 120), nodeId });
  assert.equal(peek.evidenceTotal, 30);
  assert.equal(peek.total, 1);
  let evidence = 0;
  let cursor: string | null = null;
  do {
    const page: { evidence: Array<{ id: string }>; evidenceNextCursor: string | null } = await small('worker_peek', cursor ? { nodeId, evidenceCursor: cursor } : { nodeId });
    evidence += page.evidence.length;
    cursor = page.evidenceNextCursor;
  } while (cursor);
  assert.equal(evidence, 30, 'evidence paged through once');
  await small('node_report', { nodeId, worker: long('worker', 120), outcome: 'done', summary: long('Reproduced', 20_000) });
  await small('ready_work', {});
  await small('workflow_view', {});
  await small('workflow_view', { runId: started.runId });
});
