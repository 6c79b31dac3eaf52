// The overlay and formula tools as a node's dynamic tools (src/codex/nodeOverlayTools.ts): the specs Codex
// receives match its schema, the caller's identity is filled in and cannot be forged, and hostile arguments
// are refused naming the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeTools } from '../../src/codex/worker';
import type { DynamicToolFunctionSpec } from '../../src/codex/protocol';
import { callNodeOverlayTool } from '../../src/codex/nodeOverlayTools';
import type { NodeToolContext } from '../../src/codex/nodeOverlayTools';
import { OverlayService } from '../../src/ledger/index';
import type { LedgerError } from '../../src/ledger/index';
import { validateClientMessage } from '../codex/schema';
import { harness } from './helpers';

test('a node\'s dynamic tools: overlay tools always, formula tools with the services; all match Codex\'s schema', () => {
  const bare = nodeTools().map((t) => t.name);
  assert.deepEqual(bare, ['report_result', 'request_handoff', 'expand_node', 'blackboard_write', 'blackboard_read', 'bid_submit', 'bids_view', 'mail_send', 'mail_read']);
  const all = nodeTools({ formulas: true, promotions: true }) as DynamicToolFunctionSpec[];
  assert.deepEqual(all.slice(bare.length).map((t) => t.name), ['formula_list', 'formula_assess', 'formula_mutate', 'formula_select']);
  assert.deepEqual(validateClientMessage({ id: 1, method: 'thread/start', params: { cwd: '/ws', dynamicTools: all } }), []);
  // The caller's identity is not in the schemas the model sees; the node and run are optional.
  const spec = (name: string) => all.find((t) => t.name === name)!.inputSchema as { properties: Record<string, unknown>; required?: string[]; additionalProperties: boolean };
  assert.equal(spec('blackboard_write').properties.author, undefined);
  assert.ok(!(spec('blackboard_write').required ?? []).includes('runId'));
  assert.equal(spec('bid_submit').properties.bidder, undefined);
  // branch overlays-2: a Codex turn never bids as a person, so the field is not offered.
  assert.equal(spec('bid_submit').properties.person, undefined);
  assert.equal(spec('mail_send').properties.from, undefined);
  assert.equal(spec('mail_read').properties.reader, undefined);
  for (const t of all) assert.doesNotMatch(JSON.stringify(t.inputSchema), /"(anyOf|oneOf|allOf|\$schema)"/, `${t.name} is flat`);
});

test('node tools fill in the caller, refuse forged identities and hostile arguments, and write nothing then', async () => {
  const h = await harness();
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B' }] });
    const ctx: NodeToolContext = { ledger: h.ledger, formulas: h.formulas, promotions: h.promotions, actor: 'worker-test', worker: 'codex@host/1', nodeId: `${runId}.a`, runId };
    const w = await callNodeOverlayTool('blackboard_write', { kind: 'finding', title: 'the lexer is slow' }, ctx);
    const board = new OverlayService(h.ledger).readBoard({ runId });
    assert.deepEqual(board.map((e) => [e.id, e.author, e.nodeId, e.runId]), [[w.entryId, 'codex@host/1', `${runId}.a`, runId]]);
    await callNodeOverlayTool('mail_send', { toKind: 'node', to: `${runId}.b`, body: 'look at the lexer' }, ctx);
    const inbox = await callNodeOverlayTool('mail_read', {}, { ...ctx, nodeId: `${runId}.b` }) as { messages: Array<{ from: string; body: string }> };
    assert.deepEqual(inbox.messages.map((m) => [m.from, m.body]), [['codex@host/1', 'look at the lexer']]);
    const families = await callNodeOverlayTool('formula_list', {}, ctx) as { families: Array<{ id: string }> };
    assert.ok(families.families.length > 0, 'the formula tools answer from the same service as MCP');
    const active = h.formulas.getFamily('implement-and-review')!.activeVariantId!;
    const mutated = await callNodeOverlayTool('formula_mutate', { variantId: active, mutations: [{ op: 'edit_instructions', stepId: 'plan', instructions: 'Plan in smaller steps.' }], summary: 'smaller plans' }, ctx) as { variantId: string; created: boolean };
    assert.equal(mutated.created, true);
    const variant = h.formulas.listVariants('implement-and-review').find((v) => v.id === mutated.variantId)!;
    assert.equal(variant.proposedBy, `codex@host/1 (node ${runId}.a)`, 'a mutation from a turn names the worker and node that proposed it');
    assert.equal(variant.status, 'candidate');

    const seq = h.ledger.seq;
    const bad: Array<[string, unknown, string]> = [
      ['blackboard_write', { kind: 'finding', title: 't', author: 'someone-else' }, 'author'],
      ['bid_submit', { nodeId: `${runId}.b`, bidder: 'forged', cost: 1, confidence: 1 }, 'bidder'],
      ['mail_send', { toKind: 'worker', to: 'x', body: 'y', from: 'forged' }, 'from'],
      ['blackboard_write', JSON.parse('{"kind":"finding","title":"t","__proto__":{"polluted":true}}'), '__proto__'],
      ['blackboard_write', { kind: 'claim', title: 't', paths: ['/etc/**'] }, 'paths.0'],
      ['blackboard_write', { kind: 'claim', title: 't', paths: ['*a*a*a*a*b'] }, 'paths.0'],
      ['blackboard_write', { kind: 'finding', title: 't', runId: 'r-other' }, 'runId'],
      ['blackboard_write', [1, 2], 'arguments'],
      ['mail_send', { toKind: 'node', to: 'r-x.y', body: 'y' }, 'to'],
      ['bid_submit', { nodeId: `${runId}.b`, cost: -1, confidence: 0.5 }, 'cost'],
      ['bid_submit', { nodeId: `${runId}.b`, cost: 1, confidence: 1.5 }, 'confidence'],
      ['formula_mutate', { variantId: 'v-none', mutations: [] }, 'mutations'],
      ['report_nothing', {}, 'name'],
    ];
    for (const [tool, args, field] of bad) {
      await assert.rejects(callNodeOverlayTool(tool, args, ctx), (e: LedgerError) => e.field === field, `${tool} ${JSON.stringify(args)} names ${field}`);
    }
    assert.equal(h.ledger.seq, seq, 'nothing was written');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  } finally {
    await h.close();
  }
});

// branch overlays-2
test('a node turn that sends person: true with its bid is refused naming the field, and nothing is written', async () => {
  const h = await harness();
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', { title: 't', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B' }] });
    const ctx: NodeToolContext = { ledger: h.ledger, formulas: h.formulas, promotions: h.promotions, actor: 'worker-test', worker: 'codex@host/1', nodeId: `${runId}.a`, runId };
    const round = await new OverlayService(h.ledger).announce({ nodeId: `${runId}.b`, announcedBy: 'lead', deadlineSeconds: 60 });
    const seq = h.ledger.seq;
    await assert.rejects(callNodeOverlayTool('bid_submit', { roundId: round.id, cost: 1, confidence: 1, person: true }, ctx), /^LedgerError: person: a Codex turn cannot send it/);
    assert.equal(h.ledger.seq, seq);
    const ok = await callNodeOverlayTool('bid_submit', { roundId: round.id, cost: 1, confidence: 1 }, ctx) as { round: { winner: string } };
    assert.equal(ok.round.winner, 'codex@host/1');
    assert.equal(h.ledger.getNode(`${runId}.b`)!.state, 'claimed', 'a worker\'s award is a claim, not a person\'s gate');
  } finally {
    await h.close();
  }
});
