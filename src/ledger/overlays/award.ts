import type { ComparedBid } from '../events';

/** The name recorded in every round and award: which rule chose the winner. */
export const AWARD_RULE = 'lowest-cost-per-confidence/v1';

/** A bid as the rule sees it; `seq` is the ledger sequence number of its `bid.submitted` event (earlier = lower). */
export interface BidForAward {
  bidId: string;
  bidder: string;
  /** Estimated cost in tokens, 0 or more. */
  cost: number;
  /** The bidder's confidence that it will finish the node, from 0 to 1. */
  confidence: number;
  seq: number;
}

/**
 * Ranks the bids of a round by the award rule `lowest-cost-per-confidence/v1`, best first:
 *
 * 1. lowest score = cost / confidence (the expected cost of one success, if a failed attempt costs as much
 *    as a successful one: cost × 1/confidence expected attempts, the mean of a geometric distribution);
 *    a bid with confidence 0 (or so small that the quotient overflows) has no score and ranks after every bid that has one;
 * 2. then higher confidence; 3. then lower cost; 4. then the earlier bid (lower `seq`);
 * 5. then the bidder name in code-unit order, so that the order is total and never depends on input order.
 *
 * Pure and deterministic: the same bids in any order give the same ranking. Returns the bids with their
 * score and rank (1 = the winner), as the `round.awarded` event records them. An empty list ranks to [].
 */
export function rankBids(bids: readonly BidForAward[]): ComparedBid[] {
  const scored = bids.map((b) => ({ b, score: scoreOf(b) }));
  scored.sort((x, y) => compareScores(x.score, y.score)
    || y.b.confidence - x.b.confidence
    || x.b.cost - y.b.cost
    || x.b.seq - y.b.seq
    || (x.b.bidder < y.b.bidder ? -1 : x.b.bidder > y.b.bidder ? 1 : 0)
    || (x.b.bidId < y.b.bidId ? -1 : x.b.bidId > y.b.bidId ? 1 : 0));
  return scored.map(({ b, score }, i) => ({ bidId: b.bidId, bidder: b.bidder, cost: b.cost, confidence: b.confidence, score, rank: i + 1 }));
}

function compareScores(a: number | null, b: number | null): number {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  return a - b;
}

/** cost / confidence, or null when it is not a finite number (confidence 0, or a quotient that overflows). */
export function scoreOf(b: Pick<BidForAward, 'cost' | 'confidence'>): number | null {
  const s = b.confidence > 0 ? b.cost / b.confidence : Infinity;
  return Number.isFinite(s) ? s : null;
}
