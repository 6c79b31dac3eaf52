// Every tool, called badly: wrong types, missing fields, misspelt keys, oversize values, unknown ids and
// calls the ledger's state refuses. Each must come back as an isError result that names the field to fix
// (in its text and in its JSON block), and must write nothing: the ledger's sequence number stays put.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { harness, textOf } from './helpers';
import type { Harness } from './helpers';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  maxLength?: number;
  maximum?: number;
  minimum?: number;
}

let h: Harness;
let runId: string;
let nodeId: string;
let variantId: string;
let schemas: Map<string, JsonSchema>;

before(async () => {
  h = await harness();
  const start = await h.ok<{ runId: string; ready: Array<{ id: string }> }>('workflow_start', { title: 'bad inputs', nodes: [{ key: 'a', title: 'A' }] });
  runId = start.runId;
  nodeId = start.ready[0]!.id;
  await h.ok('node_claim', { worker: 'w', nodeId });
  variantId = h.formulas.getFamily('implement-and-review')!.activeVariantId!;
  schemas = new Map((await h.client.listTools()).tools.map((t) => [t.name, t.inputSchema as JsonSchema]));
});

after(async () => {
  await h.close();
});

/** Arguments each tool accepts as far as its schema goes; each case spoils one thing. */
function valid(tool: string): Record<string, unknown> {
  const mutation = { op: 'edit_instructions', stepId: 'plan', instructions: 'x' };
  const table: Record<string, Record<string, unknown>> = {
    workflow_start: { title: 't', nodes: [{ key: 'a', title: 'A' }] },
    workflow_view: { runId },
    ready_work: { runId },
    node_claim: { worker: 'w2', nodeId },
    node_renew: { nodeId, worker: 'w' },
    node_dispatch: { nodeId, worker: 'w', threadId: 'thr' },
    node_report: { nodeId, worker: 'w', outcome: 'done' },
    node_review: { nodeId, verdict: 'approve' },
    gate_open: { nodeId },
    node_recover: { nodeId },
    node_handoff: { nodeId, fromWorker: 'w', toWorker: 'w2' },
    node_expand: { nodeId, worker: 'w', children: [{ key: 'c', title: 'C' }] },
    worker_peek: { worker: 'w' },
    evidence_record: { runId, kind: 'note' },
    workflow_cancel: { runId },
    formula_list: { family: 'implement-and-review' },
    formula_view: { variantId },
    formula_mutate: { variantId, mutations: [mutation] },
    formula_promote: { variantId, reason: 'r' },
    formula_assess: { variantId },
    formula_replay: { variantId, tasks: 1 },
    formula_select: { variantId },
    formula_rollback: { family: 'implement-and-review', reason: 'r' },
    lineage_view: { family: 'implement-and-review' },
    // branch overlays (issue 13)
    blackboard_write: { runId, kind: 'finding', author: 'w', title: 't' },
    blackboard_read: { runId },
    node_announce: { nodeId, announcedBy: 'w', deadlineSeconds: 60 },
    bid_submit: { roundId: 'rd-x', bidder: 'w', cost: 1, confidence: 0.5 },
    bids_view: { runId },
    coalition: { action: 'view', runId },
    partnerships: { worker: 'w' },
    mail_send: { from: 'w', toKind: 'worker', to: 'w2', body: 'hi' },
    mail_read: { reader: 'w' },
    formula_evidence: { variantId }, // branch evidence
  };
  const args = table[tool];
  assert.ok(args, `no valid arguments for ${tool}; add them to the table`);
  return structuredClone(args);
}

function wrongValue(s: JsonSchema): unknown {
  if (s.enum) return 'not-one-of-them';
  switch (s.type) {
    case 'string': return 42;
    case 'integer': case 'number': return 'many';
    case 'boolean': return 'yes';
    case 'array': return 'a list';
    default: return 7;
  }
}

async function expectRefused(tool: string, args: unknown, field: string, why: string): Promise<CallToolResult> {
  await h.ledger.refresh();
  const seq = h.ledger.seq;
  const r = await h.call(tool, args);
  const text = textOf(r);
  assert.equal(r.isError, true, `${tool} ${why}: expected an error, got ${text.slice(0, 300)}`);
  assert.ok(text.startsWith(`${tool} failed: ${field}: `), `${tool} ${why}: the message names "${field}": ${text}`);
  const block = JSON.parse((r.content[1] as { text: string }).text) as { error: { field: string; code: string } };
  assert.equal(block.error.field, field, `${tool} ${why}: the JSON block names the field`);
  assert.equal(h.ledger.seq, seq, `${tool} ${why}: nothing was written`);
  return r;
}

test('every tool has valid arguments in the table, and the table is complete', () => {
  assert.equal(schemas.size, 34); // 23 + 9 overlay tools + formula_evidence + formula_replay
  for (const tool of schemas.keys()) valid(tool);
});

test('a wrong type in any field names that field', async () => {
  let n = 0;
  for (const [tool, schema] of schemas) {
    for (const [prop, s] of Object.entries(schema.properties ?? {})) {
      await expectRefused(tool, { ...valid(tool), [prop]: wrongValue(s) }, prop, `with ${prop} of the wrong type`);
      n++;
    }
  }
  assert.ok(n > 60, `checked ${n} fields`);
});

test('a missing required field is named and said to be required', async () => {
  for (const [tool, schema] of schemas) {
    for (const prop of schema.required ?? []) {
      const args = valid(tool);
      delete args[prop];
      const r = await expectRefused(tool, args, prop, `without ${prop}`);
      assert.match(textOf(r), new RegExp(`${prop}: is required`));
    }
  }
});

test('a misspelt key is named with the fields the tool takes', async () => {
  for (const tool of schemas.keys()) {
    const r = await expectRefused(tool, { ...valid(tool), node_id: 'x' }, 'node_id', 'with an unknown key');
    assert.match(textOf(r), /is not a field of this tool; the fields are /);
  }
});

test('oversize strings and out-of-range numbers name the field', async () => {
  let n = 0;
  for (const [tool, schema] of schemas) {
    for (const [prop, s] of Object.entries(schema.properties ?? {})) {
      if (s.type === 'string' && s.maxLength !== undefined && !s.enum) {
        await expectRefused(tool, { ...valid(tool), [prop]: 'x'.repeat(s.maxLength + 1) }, prop, `with an oversize ${prop}`);
        n++;
      }
      if ((s.type === 'integer' || s.type === 'number') && s.maximum !== undefined) {
        await expectRefused(tool, { ...valid(tool), [prop]: s.maximum + 1 }, prop, `with ${prop} too large`);
        await expectRefused(tool, { ...valid(tool), [prop]: 1.5 }, prop, `with ${prop} not whole`);
        n++;
      }
    }
  }
  assert.ok(n > 30, `checked ${n} fields`);
});

test('nested fields are named by their path', async () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['workflow_start', { title: 't', nodes: [{ key: 'a b', title: 'A' }] }, 'nodes.0.key'],
    ['workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A', needs: ['zzz'] }] }, 'nodes.0.needs'],
    ['workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A' }, { key: 'a', title: 'B' }] }, 'nodes.1.key'],
    ['workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A', gate: { kind: 'sometimes' } }] }, 'nodes.0.gate.kind'],
    ['workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A', colour: 'red' }] }, 'nodes.0.colour'],
    ['workflow_start', { title: 't', nodes: [] }, 'nodes'],
    ['node_expand', { nodeId, worker: 'w', children: [{ key: 'c', title: 'x'.repeat(201) }] }, 'children.0.title'],
    ['formula_mutate', { variantId, mutations: [{ op: 'shuffle', stepId: 'plan' }] }, 'mutations.0.op'],
    ['formula_mutate', { variantId, mutations: [{ op: 'set_gate', stepId: 'plan', gate: { kind: 'human', when: 'x' } }] }, 'mutations.0.gate.when'],
    ['formula_mutate', { variantId, mutations: [] }, 'mutations'],
    ['evidence_record', { runId, kind: 'tokens', tokens: -1 }, 'tokens'],
  ];
  for (const [tool, args, field] of cases) await expectRefused(tool, args, field, `(${field})`);
});

test('unknown ids name the field and the id', async () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['workflow_view', { runId: 'r-nope' }, 'runId'],
    ['ready_work', { runId: 'r-nope' }, 'runId'],
    ['node_claim', { worker: 'w', nodeId: 'r-nope.a' }, 'nodeId'],
    ['node_claim', { worker: 'w', runId: 'r-nope' }, 'runId'],
    ['node_renew', { worker: 'w', nodeId: 'r-nope.a' }, 'nodeId'],
    ['node_dispatch', { worker: 'w', nodeId: 'r-nope.a' }, 'nodeId'],
    ['node_report', { worker: 'w', nodeId: 'r-nope.a', outcome: 'done' }, 'nodeId'],
    ['node_review', { nodeId: 'r-nope.a', verdict: 'approve' }, 'nodeId'],
    ['gate_open', { nodeId: 'r-nope.a' }, 'nodeId'],
    ['node_recover', { nodeId: 'r-nope.a' }, 'nodeId'],
    ['node_handoff', { nodeId: 'r-nope.a', fromWorker: 'w', toWorker: 'x' }, 'nodeId'],
    ['node_expand', { nodeId: 'r-nope.a', worker: 'w', children: [{ key: 'c', title: 'C' }] }, 'nodeId'],
    ['worker_peek', { nodeId: 'r-nope.a' }, 'nodeId'],
    ['evidence_record', { runId: 'r-nope', kind: 'note' }, 'runId'],
    ['evidence_record', { nodeId: 'r-nope.a', kind: 'note' }, 'nodeId'],
    ['evidence_record', { variantId: 'v-nope', kind: 'note' }, 'variantId'],
    ['workflow_cancel', { runId: 'r-nope' }, 'runId'],
    ['workflow_start', { family: 'no-such-family' }, 'family'],
    ['workflow_start', { family: 'implement-and-review', variantId: 'v-nope', vars: { task: 't' } }, 'variantId'],
    ['formula_list', { family: 'no-such-family' }, 'family'],
    ['formula_view', { variantId: 'v-nope' }, 'variantId'],
    ['formula_view', { family: 'no-such-family' }, 'family'],
    ['formula_mutate', { variantId: 'v-nope', mutations: [{ op: 'set_description', description: 'd' }] }, 'variantId'],
    ['formula_promote', { variantId: 'v-nope', reason: 'r' }, 'variantId'],
    ['formula_assess', { variantId: 'v-nope' }, 'variantId'],
    ['formula_assess', { family: 'no-such-family' }, 'family'],
    ['formula_select', { variantId: 'v-nope' }, 'variantId'],
    ['formula_rollback', { family: 'no-such-family', reason: 'r' }, 'family'],
    ['lineage_view', { family: 'no-such-family' }, 'family'],
  ];
  for (const [tool, args, field] of cases) {
    const r = await expectRefused(tool, args, field, `with an unknown ${field}`);
    assert.match(textOf(r), /no (run|node|variant|formula family) (with id )?"/);
  }
});

test('calls the ledger\'s state or the tool\'s rules refuse name the field and write nothing', async () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['node_report', { nodeId, worker: 'intruder', outcome: 'done' }, 'worker', /held by w, not intruder/],
    ['node_claim', { nodeId, worker: 'intruder' }, 'nodeId', /held by w until/],
    ['node_recover', { nodeId }, 'force', /pass force/],
    ['node_review', { nodeId, verdict: 'approve' }, 'nodeId', /not awaiting review/],
    ['gate_open', { nodeId }, 'nodeId', /has no gate/],
    ['node_handoff', { nodeId, fromWorker: 'w', toWorker: 'w' }, 'toWorker', /different worker/],
    ['workflow_start', { family: 'implement-and-review', nodes: [{ key: 'a', title: 'A' }] }, 'nodes', /not both/],
    ['workflow_start', { title: 'nothing to do' }, 'nodes', /give `family`/],
    ['workflow_start', { nodes: [{ key: 'a', title: 'A' }] }, 'title', /needs a title/],
    ['workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A' }], vars: { task: 'x' } }, 'vars', /only applies/],
    ['workflow_start', { family: 'implement-and-review' }, 'vars.task', /required/],
    ['workflow_start', { family: 'implement-and-review', vars: { task: 't', mode: 'reckless' } }, 'vars.mode', /not allowed/],
    ['workflow_view', { runId, status: 'done' }, 'status', /leave out `runId`/],
    ['workflow_view', { states: ['ready'] }, 'states', /give `runId` too/],
    ['workflow_view', { runId, cursor: 'bm9wZQ' }, 'cursor', /not a cursor of this server/],
    ['worker_peek', { nodeId, cursor: 'x' }, 'cursor', /give `worker` too/],
    ['worker_peek', { worker: 'w', instructionsFrom: 5 }, 'instructionsFrom', /give `nodeId` too/],
    ['formula_view', { variantId, diff: false, diffFrom: 10 }, 'diffFrom', /leave out `diff: false`/],
    ['worker_peek', {}, 'worker', /give `worker`/],
    ['evidence_record', { kind: 'note' }, 'runId', /name the run/],
    ['evidence_record', { runId, kind: 'run_outcome' }, 'success', /true or false/],
    ['formula_view', {}, 'variantId', /give `variantId`/],
    ['formula_mutate', { variantId, mutations: [{ op: 'edit_instructions', stepId: 'nope', instructions: 'x' }] }, 'mutations[0].stepId', /no step "nope"/],
    ['formula_mutate', { variantId, mutations: [{ op: 'edit_title', stepId: 'plan', title: 'T', instructions: 'x' }] }, 'mutations[0]', /malformed/],
    ['formula_promote', { variantId, reason: 'again' }, 'variantId', /already the active variant/],
    ['formula_rollback', { family: 'implement-and-review', reason: 'r' }, 'family', /no earlier active variant/],
    ['formula_select', { variantId }, 'variantId', /already the active variant/],
    ['formula_assess', { family: 'implement-and-review' }, 'family', /no live trial/],
    ['formula_assess', {}, 'variantId', /give `variantId`/],
  ];
  for (const [tool, args, field, message] of cases) {
    const r = await expectRefused(tool, args, field, `(${message})`);
    assert.match(textOf(r), message);
  }
});

test('an unknown tool is an error that lists the tools', async () => {
  const r = await h.call('node_frobnicate', {});
  assert.equal(r.isError, true);
  assert.match(textOf(r), /there is no tool "node_frobnicate"; the tools are workflow_start, /);
});
