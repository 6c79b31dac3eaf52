// Which runs a burst of ledger events touched, so the views refresh those runs and nothing else. Pure (no vscode
// import): the model feeds it the events it hears (from this window and from other processes alike) and hands the
// views one summary per debounced change.

/** What one debounced change of the ledger touched, as the views need to know it. */
export interface LedgerChangeSummary {
  /** Runs whose row, nodes, edges, bindings or evidence changed. */
  readonly runIds: ReadonlySet<string>;
  /** A run was started: the runs list gains a row (its order is by start). */
  readonly runsStarted: boolean;
  /**
   * Events that are about no run (families, variants, trials, decisions, overlays) were among the change. Evidence
   * about a variant alone is not counted here: views find it among `events` (the families tree drops that variant's
   * figures only).
   */
  readonly otherThanRuns: boolean;
  /** Anything may have changed (the Refresh command, a missed file event): every view reads everything again. */
  readonly everything: boolean;
  /** The events themselves, oldest first (empty with `everything`), for views that follow single nodes. */
  readonly events: readonly ChangeEvent[];
}

/** An event as the store delivers it: its kind and its payload (not yet checked). */
export interface ChangeEvent {
  readonly kind: string;
  readonly payload: unknown;
}

/**
 * A burst longer than this (another process catching up after a long pause, a checkpoint folding thousands of
 * commits) is summarized as `everything`: reading the views once is cheaper than following each event, and the
 * events are not kept.
 */
export const MAX_FOLLOWED_EVENTS = 10_000;

/** The summary of a change nothing is known about: every view reads everything again. */
export const EVERYTHING: LedgerChangeSummary = { runIds: new Set(), runsStarted: true, otherThanRuns: true, everything: true, events: [] };

/** The one field of an event's payload this module reads, if it is a non-empty string. */
function stringField(payload: unknown, field: 'runId' | 'nodeId'): string | undefined {
  if (typeof payload !== 'object' || payload === null || !Object.hasOwn(payload, field)) return undefined;
  const value = (payload as Record<string, unknown>)[field];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/**
 * Collects the runs a series of events touched, until `take()` hands over the summary and starts again. An event
 * names its run (`runId`) or its node (`nodeId`); a node's run comes from `runOfNode` (the ledger's row), or, for a
 * node the ledger does not know (yet), from the node id's prefix, since node ids are `<runId>.<key>` (see
 * buildGraph in src/ledger/ledger.ts).
 */
export class ChangeAccumulator {
  private runIds = new Set<string>();
  private runsStarted = false;
  private otherThanRuns = false;
  private everything = false;
  private events: ChangeEvent[] = [];

  constructor(private readonly runOfNode: (nodeId: string) => string | undefined) {}

  /** Notes what `events` (each `{ kind, payload }`, as the store delivers them) touched. */
  add(events: readonly ChangeEvent[]): void {
    if (this.everything) return;
    if (this.events.length + events.length > MAX_FOLLOWED_EVENTS) {
      this.addEverything();
      return;
    }
    for (const e of events) {
      this.events.push(e);
      if (e.kind === 'run.started') this.runsStarted = true;
      const runId = stringField(e.payload, 'runId');
      const nodeId = stringField(e.payload, 'nodeId');
      if (runId) this.runIds.add(runId);
      if (nodeId) {
        const run = this.runOfNode(nodeId) ?? (nodeId.includes('.') ? nodeId.slice(0, nodeId.indexOf('.')) : undefined);
        if (run) this.runIds.add(run);
      }
      if (!runId && !nodeId && e.kind !== 'evidence.recorded') this.otherThanRuns = true;
    }
  }

  /** Marks that anything may have changed (the next summary says `everything`). */
  addEverything(): void {
    this.everything = true;
    this.events = [];
  }

  /** True when nothing was added since the last `take()`. */
  get empty(): boolean {
    return !this.everything && !this.runsStarted && !this.otherThanRuns && this.runIds.size === 0;
  }

  /** The summary of everything added since the last call, and a fresh start. */
  take(): LedgerChangeSummary {
    const summary: LedgerChangeSummary = this.everything
      ? EVERYTHING
      : { runIds: this.runIds, runsStarted: this.runsStarted, otherThanRuns: this.otherThanRuns, everything: false, events: this.events };
    this.runIds = new Set();
    this.runsStarted = false;
    this.otherThanRuns = false;
    this.everything = false;
    this.events = [];
    return summary;
  }
}
