import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rankBids } from '../../../src/ledger/index';
import type { BidForAward } from '../../../src/ledger/index';

const bidArb = fc.record({
  bidder: fc.constantFrom('fast', 'deep', 'ana', '__proto__', 'bo'),
  cost: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 1e12, noNaN: true })),
  confidence: fc.oneof(fc.constantFrom(0, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.MIN_VALUE)),
});
const bidsArb = fc.array(bidArb, { minLength: 1, maxLength: 12 }).map((bs) => bs.map((b, i): BidForAward => ({ ...b, bidId: `bid-${i}`, seq: i + 1 })));

test('the award rule: the winner has the least cost per confidence, with deterministic tie-breaks', () => {
  fc.assert(fc.property(bidsArb, fc.integer(), (bids, seed) => {
    const ranked = rankBids(bids);
    // Every bid is ranked exactly once, ranks 1..n.
    assert.deepEqual(ranked.map((r) => r.rank), bids.map((_, i) => i + 1));
    assert.deepEqual(new Set(ranked.map((r) => r.bidId)), new Set(bids.map((b) => b.bidId)));
    const w = ranked[0]!;
    const score = (b: { cost: number; confidence: number }) => (b.confidence > 0 && Number.isFinite(b.cost / b.confidence) ? b.cost / b.confidence : Infinity);
    // No bid beats the winner by the rule's first two keys.
    for (const b of bids) {
      assert.ok(score(w) <= score(b), `winner ${w.bidId} (${score(w)}) scores worse than ${b.bidId} (${score(b)})`);
      if (score(b) === score(w)) assert.ok(w.confidence >= b.confidence);
      if (score(b) === score(w) && b.confidence === w.confidence) assert.ok(w.cost <= b.cost);
    }
    // A bid with no confidence wins only when every bid has none.
    if (w.confidence === 0) assert.ok(bids.every((b) => score(b) === Infinity));
    // The ranking does not depend on the order the bids are given in.
    const shuffled = [...bids].sort((a, b) => ((a.seq * 7919 + seed) % 97) - ((b.seq * 7919 + seed) % 97));
    assert.deepEqual(rankBids(shuffled), ranked);
    // The recorded score is cost / confidence (null without confidence).
    for (const r of ranked) assert.equal(r.score, score(r) === Infinity ? null : r.cost / r.confidence);
  }), { numRuns: 500 });
});

test('equal bids go to the earlier one', () => {
  const r = rankBids([
    { bidId: 'b2', bidder: 'z', cost: 10, confidence: 0.5, seq: 9 },
    { bidId: 'b1', bidder: 'y', cost: 10, confidence: 0.5, seq: 3 },
  ]);
  assert.deepEqual(r.map((b) => b.bidId), ['b1', 'b2']);
  assert.deepEqual(rankBids([]), []);
});
