import { test } from 'node:test';
import assert from 'node:assert/strict';
import { harness, textOf } from './helpers';

interface Round { id: string; status: string; winner: string | null; compared: Array<{ bidder: string; rank: number }> }

test('overlay tools through MCP: blackboard, a contract-net round, coalitions and mail, visible in workflow_view and worker_peek', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', { title: 'overlays', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B' }] });
    const a = `${runId}.a`;
    const b = `${runId}.b`;
    await h.ok('blackboard_write', { runId, kind: 'claim', author: 'fast', nodeId: a, title: 'the parser', paths: ['src/parse/**'] });
    const read = await h.ok<{ entries: Array<{ kind: string; paths: string[] }> }>('blackboard_read', { runId });
    assert.deepEqual(read.entries.map((e) => [e.kind, e.paths]), [['claim', ['src/parse/**']]]);

    const round = await h.ok<Round>('node_announce', { nodeId: b, announcedBy: 'lead', deadlineSeconds: 600, quorum: 3 });
    await h.ok('bid_submit', { roundId: round.id, bidder: 'fast', cost: 4000, confidence: 0.5, rationale: 'quick' });
    await h.ok('bid_submit', { nodeId: b, bidder: 'deep', cost: 6000, confidence: 0.95 });
    const last = await h.ok<{ round: Round; next: string }>('bid_submit', { roundId: round.id, bidder: 'ana', cost: 9000, confidence: 0.9 });
    assert.equal(last.round.status, 'awarded');
    assert.equal(last.round.winner, 'deep');
    assert.deepEqual(last.round.compared.map((x) => [x.bidder, x.rank]), [['deep', 1], ['fast', 2], ['ana', 3]]);
    assert.match(last.next, /deep won/);
    const peek = await h.ok<{ node: { worker: string }; overlays: { rounds: Array<{ status: string; bids: number; winner: string }> } }>('worker_peek', { nodeId: b });
    assert.equal(peek.node.worker, 'deep');
    assert.deepEqual(peek.overlays.rounds.map((r) => [r.status, r.bids, r.winner]), [['awarded', 3, 'deep']]);

    const formed = await h.ok<{ coalition: { id: string } }>('coalition', { action: 'form', runId, name: 'crew', members: ['fast', 'ana'], lead: 'ana', leadScope: [a] });
    const cid = formed.coalition.id;
    const claimed = await h.ok<{ claim: { claimId: string } }>('coalition', { action: 'claim', coalitionId: cid, member: 'fast', nodeId: a });
    const split = await h.ok<{ split: { id: string; claims: Array<{ claimId: string }> } }>('coalition', { action: 'split', coalitionId: cid, name: 'solo', members: ['fast'] });
    assert.deepEqual(split.split.claims.map((c) => c.claimId), [claimed.claim.claimId]);
    const merged = await h.ok<{ coalition: { members: string[]; claims: Array<{ claimId: string; live: boolean }> } }>('coalition', { action: 'merge', coalitionId: cid, absorbedId: split.split.id });
    assert.deepEqual(merged.coalition.members, ['ana', 'fast']);
    assert.deepEqual(merged.coalition.claims.map((c) => [c.claimId, c.live]), [[claimed.claim.claimId, true]]);

    await h.ok('mail_send', { from: 'lead', toKind: 'node', to: a, subject: 'heads up', body: 'the grammar changed' });
    const peekA = await h.ok<{ overlays: { mail: { total: number; unread: number }; coalitions: Array<{ jointClaims: string[] }> } }>('worker_peek', { nodeId: a });
    assert.deepEqual(peekA.overlays.mail, { total: 1, unread: 1 });
    assert.deepEqual(peekA.overlays.coalitions.map((c) => c.jointClaims), [[a]]);
    const mail = await h.ok<{ messages: Array<{ body: string }> }>('mail_read', { reader: 'fast', nodeId: a, markRead: true });
    assert.deepEqual(mail.messages.map((m) => m.body), ['the grammar changed']);
    assert.deepEqual((await h.ok<{ messages: unknown[] }>('mail_read', { reader: 'fast', nodeId: a })).messages, []);

    const view = await h.ok<{ overlays: { claims: unknown[]; rounds: unknown[]; coalitions: Array<{ status: string }>; mail: { total: number } } }>('workflow_view', { runId });
    assert.equal(view.overlays.claims.length, 1);
    assert.equal(view.overlays.rounds.length, 1);
    assert.deepEqual(view.overlays.coalitions.map((c) => c.status), ['active', 'merged']);
    assert.equal(view.overlays.mail.total, 1);
    const partners = await h.ok<{ partners: Array<{ partner: string; runs: number }> }>('partnerships', { worker: 'ana' });
    assert.deepEqual(partners.partners, [{ partner: 'fast', runs: 1, successes: 0, failures: 0 }]);
  } finally {
    await h.close();
  }
});

test('overlay tools refuse what does not fit, naming the field, and write nothing', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const { runId } = await h.ok<{ runId: string }>('workflow_start', { title: 'overlays', nodes: [{ key: 'a', title: 'A' }] });
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['coalition', { action: 'join', runId, coalitionId: 'co-x', member: 'm' }, 'runId'],
      ['coalition', { action: 'form', runId, name: 'n', members: ['a'], absorbedId: 'co-y' }, 'absorbedId'],
      ['coalition', { action: 'view' }, 'coalitionId'],
      ['blackboard_write', { runId, kind: 'claim', author: 'w', title: 't', paths: ['../../etc/**'] }, 'paths.0'],
      ['blackboard_write', { runId, kind: 'claim', author: 'w', title: 't', paths: ['{a,b}'] }, 'paths.0'],
      ['bid_submit', { bidder: 'w', cost: 1, confidence: 0.5 }, 'roundId'],
      ['bid_submit', { nodeId: `${runId}.a`, bidder: 'w', cost: 1, confidence: 2 }, 'confidence'],
      ['node_announce', { nodeId: `${runId}.a`, announcedBy: 'w', deadlineSeconds: 0 }, 'deadlineSeconds'],
      ['mail_send', { from: 'w', toKind: 'coalition', to: 'co-none', body: 'x' }, 'to'],
    ];
    for (const [tool, args, field] of cases) {
      await h.ledger.refresh();
      const seq = h.ledger.seq;
      const r = await h.call(tool, args);
      assert.equal(r.isError, true, `${tool} ${JSON.stringify(args)} should fail`);
      assert.ok(textOf(r).startsWith(`${tool} failed: ${field}: `), `${tool} names ${field}: ${textOf(r)}`);
      assert.equal(h.ledger.seq, seq);
    }
  } finally {
    await h.close();
  }
});

test('a run crowded with overlays: workflow_view and worker_peek stay under 8 KB and say what they left out', async () => {
  const h = await harness({ importFormulas: false });
  try {
    const long = (s: string) => `${s} ${'x'.repeat(150)}`;
    const { runId } = await h.ok<{ runId: string }>('workflow_start', {
      title: 'crowded', nodes: Array.from({ length: 30 }, (_, i) => ({ key: `n${i}`, title: long(`node ${i}`), instructions: long('do it') })),
    });
    const node = (i: number) => `${runId}.n${i}`;
    for (let i = 0; i < 20; i++) {
      await h.ok('blackboard_write', { runId, kind: 'claim', author: long(`w${i}`).slice(0, 120), nodeId: node(0), title: long(`claim ${i}`).slice(0, 200), paths: Array.from({ length: 8 }, (_, k) => `src/${'d'.repeat(200)}${k}/**`) });
    }
    for (let i = 1; i < 13; i++) await h.ok('node_announce', { nodeId: node(i), announcedBy: 'lead', deadlineSeconds: 600, quorum: 5 });
    for (let i = 0; i < 12; i++) {
      await h.ok('coalition', { action: 'form', runId, name: long(`c${i}`).slice(0, 120), members: Array.from({ length: 30 }, (_, k) => `${'m'.repeat(100)}${k}`), leadScope: [node(0)] });
    }
    const view = await h.call('workflow_view', { runId });
    const text = (view.content[0] as { text: string }).text;
    assert.ok(Buffer.byteLength(text) < 8192, `workflow_view is ${Buffer.byteLength(text)} bytes`);
    const out = view.structuredContent as { overlays: { more?: string; claims: unknown[] }; nodes: unknown[]; nextCursor: string | null };
    assert.match(out.overlays.more ?? '', /claims/);
    assert.ok(out.nodes.length > 0 && out.nextCursor !== null, 'nodes still page');
    const peek = await h.call('worker_peek', { nodeId: node(0), worker: 'w' });
    const peekText = (peek.content[0] as { text: string }).text;
    assert.ok(Buffer.byteLength(peekText) < 8192, `worker_peek is ${Buffer.byteLength(peekText)} bytes`);
    assert.ok((peek.structuredContent as { overlays: { claims: unknown[] } }).overlays.claims.length > 0);
  } finally {
    await h.close();
  }
});
