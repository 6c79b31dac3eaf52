import { OverlayService, errorMessage } from '../ledger/index';
import type { Ledger, RoundRow } from '../ledger/index';

/**
 * The controller's side of negotiated allocation (contract net, issue 13): it closes the rounds whose
 * deadline passed (award, lapse or void, by OverlayService.closeDueRounds), names the nodes under an open
 * round so that dispatch leaves them alone, and says when the next round is due so the loop wakes for it.
 * Rounds that reach their quorum close in the bid's own commit and need nothing from here.
 */
export class Allocation {
  private readonly overlays: OverlayService;

  constructor(ledger: Ledger, private readonly log: (message: string) => void = () => undefined) {
    this.overlays = new OverlayService(ledger);
  }

  /**
   * Closes every due round as `actor`; returns the rounds closed. A failure is logged and leaves the
   * rounds open for the next reconcile: allocation must never stop the rest of the loop.
   */
  async closeDue(actor?: string): Promise<RoundRow[]> {
    try {
      const closed = await this.overlays.closeDueRounds(actor);
      for (const r of closed) {
        this.log(r.status === 'awarded' ? `round ${r.id}: node ${r.nodeId} awarded to ${r.winner} (${r.compared.length} bids, ${r.rule})` : `round ${r.id} on node ${r.nodeId} closed ${r.status}: ${r.reason}`);
      }
      return closed;
    } catch (e) {
      this.log(`closing due allocation rounds failed: ${errorMessage(e)}`);
      return [];
    }
  }

  /**
   * Nodes awarded to `worker` (a bid it made, from one of its turns or for it) that it holds by the award's claim
   * and has not started yet: the controller runs them as its own. Read through the nodes-by-worker index.
   */
  awardedTo(worker: string): Array<{ nodeId: string; runId: string }> {
    return this.overlays.awardedTo(worker);
  }

  /** Node ids under an open round: not to be dispatched until the round closes. */
  announced(): Set<string> {
    return this.overlays.announcedNodeIds();
  }

  /** The earlier of `other` and the next open round's deadline (ISO), either may be null. */
  nextDeadline(other: string | null): string | null {
    const round = this.overlays.nextRoundDeadline();
    if (round && other) return round < other ? round : other;
    return round ?? other;
  }
}
