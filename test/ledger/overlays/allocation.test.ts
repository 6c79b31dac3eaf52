import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerError } from '../../../src/ledger/index';
import { AWARD_RULE } from '../../../src/ledger/index';
import { ledgerProjection } from '../../../src/ledger/projection';
import { replay } from '../../../src/ledger/store/store';
import { dumpTables } from '../helpers';
import { overlayLedger, startRun } from './helpers';

test('three workers bid for two nodes: each award follows the rule and records the bids it compared', async () => {
  const t = await overlayLedger();
  try {
    const { node } = await startRun(t.ledger, ['a', 'b']);
    const ra = await t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 3 });
    const rb = await t.overlays.announce({ nodeId: node('b'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 3 });
    assert.equal(ra.rule, AWARD_RULE);
    // Node a: fast-model is cheapest per unit of confidence (1000/0.5 = 2000 vs 3000/0.9 = 3333 vs 2500/0.5 = 5000).
    await t.overlays.submitBid({ roundId: ra.id, bidder: 'deep-model', cost: 3000, confidence: 0.9, rationale: 'knows the ledger' });
    await t.overlays.submitBid({ roundId: ra.id, bidder: 'fast-model', cost: 1000, confidence: 0.5, rationale: 'small change' });
    const closedA = await t.overlays.submitBid({ nodeId: node('a'), bidder: 'person:ana', cost: 2500, confidence: 0.5, rationale: '' });
    assert.equal(closedA.round.status, 'awarded');
    assert.equal(closedA.round.closedBy, 'quorum');
    assert.equal(closedA.round.winner, 'fast-model');
    assert.deepEqual(closedA.round.compared.map((b) => [b.bidder, b.rank, b.score]), [['fast-model', 1, 2000], ['deep-model', 2, 3000 / 0.9], ['person:ana', 3, 5000]]);
    // The award is a claim of the node for the winner.
    const a = t.ledger.getNode(node('a'))!;
    assert.equal(a.state, 'claimed');
    assert.equal(a.worker, 'fast-model');
    assert.equal(a.claimId, closedA.round.claimId);

    // Node b: two bids with the same score; the higher confidence wins the tie.
    await t.overlays.submitBid({ roundId: rb.id, bidder: 'fast-model', cost: 500, confidence: 0.5 });
    await t.overlays.submitBid({ roundId: rb.id, bidder: 'deep-model', cost: 900, confidence: 0.9 });
    assert.equal(t.ledger.getNode(node('b'))!.state, 'ready', 'below the quorum the round stays open');
    assert.deepEqual([...t.overlays.announcedNodeIds()], [node('b')]);
    // Its deadline passes: the round closes with the two bids it has.
    t.clock.now += 61_000;
    const closed = await t.overlays.closeDueRounds();
    assert.equal(closed.length, 1);
    assert.equal(closed[0]!.winner, 'deep-model');
    assert.equal(closed[0]!.closedBy, 'deadline');
    assert.deepEqual(closed[0]!.compared.map((b) => b.bidder), ['deep-model', 'fast-model']);
    assert.equal(t.ledger.getNode(node('b'))!.worker, 'deep-model');
    assert.equal(t.overlays.announcedNodeIds().size, 0);

    // Replaying the journal gives the same tables.
    const rebuilt = await replay(ledgerProjection, t.ledger.events(0, 1_000_000));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(t.ledger.sql));
  } finally {
    t.close();
  }
});

test('a round with no bid lapses at its deadline and the node goes back to ordinary dispatch', async () => {
  const t = await overlayLedger();
  try {
    const { node } = await startRun(t.ledger, ['a']);
    const r = await t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 5 });
    assert.ok(t.overlays.announcedNodeIds().has(node('a')));
    assert.deepEqual(await t.overlays.closeDueRounds(), [], 'nothing is due before the deadline');
    t.clock.now += 5_000;
    const [closed] = await t.overlays.closeDueRounds();
    assert.equal(closed!.id, r.id);
    assert.equal(closed!.status, 'lapsed');
    assert.match(closed!.reason!, /no bid/);
    // What closed it is recorded, on the round's row and in the event, as for an award.
    assert.equal(closed!.closedBy, 'deadline');
    assert.equal(t.overlays.round(r.id)!.closedBy, 'deadline');
    const event = t.ledger.events(0, 1_000_000).find((e) => e.kind === 'round.closed')!;
    assert.equal((event.payload as { closedBy?: string }).closedBy, 'deadline');
    const rebuilt = await replay(ledgerProjection, t.ledger.events(0, 1_000_000));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(t.ledger.sql), 'replaying the journal gives the same tables');
    assert.equal(t.overlays.announcedNodeIds().size, 0);
    assert.deepEqual(t.ledger.readyWork().map((n) => n.id), [node('a')], 'ready work again once the round lapsed');
    const claim = await t.ledger.claimNode({ worker: 'anyone' });
    assert.equal(claim?.nodeId, node('a'));
    // A bid after the close is refused, naming the round.
    await assert.rejects(t.overlays.submitBid({ roundId: r.id, bidder: 'late', cost: 1, confidence: 1 }), (e: LedgerError) => e.code === 'conflict' && e.field === 'roundId');
  } finally {
    t.close();
  }
});

test('an announced node cannot be claimed past its round; one cancelled meanwhile closes void; late and second bids are refused', async () => {
  const t = await overlayLedger();
  try {
    const { node } = await startRun(t.ledger, ['a']);
    const r = await t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 10, quorum: 2 });
    await assert.rejects(t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 10 }), /already announced/);
    await t.overlays.submitBid({ roundId: r.id, bidder: 'w1', cost: 10, confidence: 0.5 });
    await assert.rejects(t.overlays.submitBid({ roundId: r.id, bidder: 'w1', cost: 5, confidence: 0.9 }), (e: LedgerError) => e.field === 'bidder');
    // Claiming it directly, or taking the oldest ready node, passes it by while the round is open.
    await assert.rejects(t.ledger.claimNode({ worker: 'sneaky', nodeId: node('a') }), (e: LedgerError) => e.code === 'conflict' && e.field === 'nodeId' && /announced for bids/.test(e.message));
    assert.equal(await t.ledger.claimNode({ worker: 'sneaky' }), null);
    assert.deepEqual(t.ledger.readyWork().map((n) => n.id), []);
    await t.ledger.cancelNode({ nodeId: node('a'), reason: 'not needed after all' });
    t.clock.now += 10_000;
    await assert.rejects(t.overlays.submitBid({ roundId: r.id, bidder: 'w2', cost: 1, confidence: 1 }), /deadline/);
    const [closed] = await t.overlays.closeDueRounds();
    assert.equal(closed!.status, 'void');
    assert.match(closed!.reason!, /the node is blocked, no longer ready/);
    assert.equal(t.ledger.getNode(node('a'))!.worker, null);
  } finally {
    t.close();
  }
});

test('bad announcements and bids are refused naming the field, and write nothing', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a', 'b']);
    await t.ledger.claimNode({ worker: 'w', nodeId: node('b') });
    const seq = t.ledger.seq;
    const announce: Array<[Record<string, unknown>, string]> = [
      [{ deadlineSeconds: 0 }, 'deadlineSeconds'],
      [{ deadlineSeconds: 7 * 24 * 3600 + 1 }, 'deadlineSeconds'],
      [{ deadlineSeconds: 1.5 }, 'deadlineSeconds'],
      [{ deadlineSeconds: '60' }, 'deadlineSeconds'],
      [{ quorum: 0 }, 'quorum'],
      [{ quorum: 101 }, 'quorum'],
      [{ leaseSeconds: -1 }, 'leaseSeconds'],
      [{ announcedBy: '' }, 'announcedBy'],
      [{ announcedBy: 'a\u001bb' }, 'announcedBy'],
      [{ nodeId: node('b') }, 'nodeId'],
      [{ nodeId: 'r-none.a' }, 'nodeId'],
      [{ nodeId: runId }, 'nodeId'],
    ];
    for (const [over, field] of announce) {
      await assert.rejects(t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 60, ...over }), (e: LedgerError) => e.field === field,
        `announce ${JSON.stringify(over)} names ${field}`);
    }
    const round = await t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 3 });
    const bids: Array<[Record<string, unknown>, string]> = [
      [{ cost: -1 }, 'cost'],
      [{ cost: 1e13 }, 'cost'],
      [{ cost: 2.5 }, 'cost'],
      [{ cost: Infinity }, 'cost'],
      [{ cost: NaN }, 'cost'],
      [{ confidence: -0.1 }, 'confidence'],
      [{ confidence: 1.01 }, 'confidence'],
      [{ confidence: NaN }, 'confidence'],
      [{ rationale: 'x'.repeat(4001) }, 'rationale'],
      [{ bidder: '' }, 'bidder'],
      [{ bidder: 'x'.repeat(121) }, 'bidder'],
      [{ roundId: 'rd-none' }, 'roundId'],
      [{ roundId: undefined, nodeId: node('b') }, 'nodeId'],
      [{ roundId: undefined }, 'roundId'],
      [{ nodeId: node('b') }, 'nodeId'],
    ];
    for (const [over, field] of bids) {
      await assert.rejects(t.overlays.submitBid({ roundId: round.id, bidder: 'w', cost: 10, confidence: 0.5, ...over }), (e: LedgerError) => e.field === field,
        `bid ${JSON.stringify(over)} names ${field}`);
    }
    assert.equal(t.ledger.seq, seq + 1, 'only the good announcement was written');
    // A bidder named like an object's machinery is only a name.
    const r = await t.overlays.submitBid({ roundId: round.id, bidder: '__proto__', cost: 10, confidence: 0.5 });
    assert.equal(t.overlays.viewBids({ roundId: r.round.id })[0]!.bids[0]!.bidder, '__proto__');
  } finally {
    t.close();
  }
});

// branch overlays-2: a person's bid.
test('a person who wins a round holds the node behind a human gate (Needs you), on quorum and at the deadline; replay agrees', async () => {
  const t = await overlayLedger();
  try {
    const { node } = await startRun(t.ledger, ['a', 'b']);
    const ra = await t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 2 });
    const rb = await t.overlays.announce({ nodeId: node('b'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 5 });
    await t.overlays.submitBid({ roundId: ra.id, bidder: 'codex@h/1:fast', cost: 1000, confidence: 0.5 });
    const won = await t.overlays.submitBid({ roundId: ra.id, bidder: 'ana', cost: 300, confidence: 0.9, rationale: 'I wrote it', person: true });
    assert.equal(won.round.winner, 'ana');
    const a = t.ledger.getNode(node('a'))!;
    assert.deepEqual([a.state, a.gate?.kind, a.worker], ['blocked', 'human', null]);
    assert.match(a.result ?? '', /ana won round .* and takes the node/);
    assert.deepEqual(t.ledger.needsPerson().map((n) => n.id), [node('a')]);
    // A person's losing bid changes nothing: the worker's award is a plain claim.
    await t.overlays.submitBid({ roundId: rb.id, bidder: 'bo', cost: 900, confidence: 0.3, person: true });
    await t.overlays.submitBid({ roundId: rb.id, bidder: 'codex@h/1:deep', cost: 900, confidence: 0.9 });
    t.clock.now += 61_000;
    const [closed] = await t.overlays.closeDueRounds();
    assert.equal(closed!.winner, 'codex@h/1:deep');
    assert.equal(t.ledger.getNode(node('b'))!.state, 'claimed');
    // Opening the gate gives the node back to the workers.
    await t.ledger.openGate({ nodeId: node('a'), note: 'ana passes it on' });
    assert.equal(t.ledger.getNode(node('a'))!.state, 'ready');
    const rebuilt = await replay(ledgerProjection, t.ledger.events(0, 1_000_000));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(t.ledger.sql));
    // person is a boolean.
    const rc = await t.overlays.announce({ nodeId: node('a'), announcedBy: 'lead', deadlineSeconds: 60 });
    await assert.rejects(t.overlays.submitBid({ roundId: rc.id, bidder: 'cy', cost: 1, confidence: 1, person: 'yes' }), (e: LedgerError) => e.field === 'person');
  } finally {
    t.close();
  }
});

test('a person\'s winning bid at the deadline, among several due rounds, holds only that node', async () => {
  const t = await overlayLedger();
  try {
    const { node } = await startRun(t.ledger, ['a', 'b']);
    for (const k of ['a', 'b']) {
      const r = await t.overlays.announce({ nodeId: node(k), announcedBy: 'lead', deadlineSeconds: 30, quorum: 3 });
      await t.overlays.submitBid({ roundId: r.id, bidder: 'ana', cost: 100, confidence: 1, person: true });
    }
    t.clock.now += 31_000;
    const closed = await t.overlays.closeDueRounds();
    assert.deepEqual(closed.map((r) => r.winner), ['ana', 'ana']);
    assert.deepEqual(t.ledger.needsPerson().map((n) => n.id).sort(), [node('a'), node('b')]);
    const handoffs = t.ledger.events(0, 1000).filter((e) => e.kind === 'node.handed_off').map((e) => (e.payload as { handoffId: string }).handoffId);
    assert.equal(new Set(handoffs).size, 2, 'two distinct handoffs in one commit');
  } finally {
    t.close();
  }
});
