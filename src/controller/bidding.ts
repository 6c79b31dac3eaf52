import { OverlayService, errorMessage } from '../ledger/index';
import type { Ledger } from '../ledger/index';
import type { CodexWorker, TurnProfile } from '../codex/worker';

/** How bidding turns are bounded. */
export interface BiddingOptions {
  /** Bidding turns running at once, over all rounds and profiles. Default 2. */
  maxTurns?: number;
  /** A bidding turn that runs longer is interrupted and its profile is absent from the round. Default 120 s. */
  turnTimeoutMs?: number;
}

/**
 * The controller's profiles bidding in contract-net rounds (issue 13, branch overlays-2). For each open round
 * of a node the controller drives, each profile that has not bid gets one bidding turn (CodexWorker.bidTurn: a
 * read-only thread with the profile's settings whose one tool is bid_submit). At most one turn per profile and
 * round in this controller's life, at most `maxTurns` at once, each under a timeout; the turns run beside the
 * loop and never hold up dispatch. A profile whose turn fails or declines is simply absent from the round.
 */
export class Bidding {
  private readonly overlays: OverlayService;
  /** `roundId|profile` pairs asked already (or found to have bid): never asked twice. */
  private readonly asked = new Set<string>();
  private readonly turns = new Set<Promise<void>>();
  private readonly max: number;
  private readonly timeoutMs: number;

  constructor(ledger: Ledger, private readonly profiles: readonly TurnProfile[], private readonly log: (message: string) => void, options: BiddingOptions = {}) {
    this.overlays = new OverlayService(ledger);
    this.max = Math.max(1, Math.floor(options.maxTurns ?? 2));
    this.timeoutMs = options.turnTimeoutMs ?? 120_000;
  }

  /**
   * Starts the bidding turns that are due, up to the bound; `inScope` says which runs this controller drives,
   * `done` is called when a turn ends (the controller reconciles again). Returns how many turns it started.
   */
  ask(codex: CodexWorker, inScope: (runId: string) => boolean, done: () => void): number {
    if (this.profiles.length === 0 || this.turns.size >= this.max) return 0;
    let started = 0;
    for (const round of this.overlays.viewBids({})) {
      if (round.status !== 'open' || !inScope(round.runId)) continue;
      for (const p of this.profiles) {
        const key = `${round.id}|${p.name}`;
        if (this.asked.has(key)) continue;
        this.asked.add(key);
        if (round.bids.some((b) => b.bidder === p.worker)) continue;
        if (this.turns.size >= this.max) {
          // Not asked after all: it waits for a free slot.
          this.asked.delete(key);
          return started;
        }
        started++;
        const turn: Promise<void> = codex.bidTurn(round.nodeId, round.id, p, this.timeoutMs).then(
          (bid) => this.log(`round ${round.id}: profile ${p.name} ${bid ? 'bid' : 'did not bid'} for node ${round.nodeId}`),
          (e: unknown) => this.log(`round ${round.id}: the bidding turn of profile ${p.name} failed (${errorMessage(e)}); it is absent from the round`),
        ).finally(() => {
          this.turns.delete(turn);
          done();
        });
        this.turns.add(turn);
      }
    }
    return started;
  }

  /** Waits for the bidding turns running now (on stop, after the worker was disposed they end at once). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.turns]);
  }
}
