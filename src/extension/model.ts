// The extension's view of one workspace's ledger: the ledger service itself, the lineage reads and writes over it,
// and one debounced change event that every view listens to (changes from this process and from MCP servers or
// the CLI writing the same ledger arrive the same way). The event says which runs changed, so a view of 91k runs
// refreshes the one that did.
import * as vscode from 'vscode';
import { Worktrees } from '../controller/worktree';
import type { Ledger, StoredEvent } from '../ledger/index';
import { OverlayService } from '../ledger/index';
import type { LedgerChangeSummary } from './changes';
import { ChangeAccumulator } from './changes';
import { Lineage } from './lineage';
import type { RunWorktree } from '../shared/protocol';
import { toRunWorktree } from './viewModel';

export type { LedgerChangeSummary } from './changes';

export class LedgerModel implements vscode.Disposable {
  readonly lineage: Lineage;
  /** Blackboard, contract net, coalitions and mail over the same ledger (docs/overlays.md). */
  readonly overlays: OverlayService;
  private readonly changed = new vscode.EventEmitter<LedgerChangeSummary>();
  /** Fires at most every 50 ms with what changed since the last time (which runs, whether runs started). */
  readonly onDidChange = this.changed.event;
  private readonly pending: ChangeAccumulator;
  private readonly subscription: { dispose(): void };
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly worktrees: Worktrees;

  constructor(
    readonly ledger: Ledger,
    readonly dir: string,
    workspaceDir: string | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.lineage = new Lineage(ledger, workspaceDir);
    this.overlays = new OverlayService(ledger);
    this.worktrees = new Worktrees({ ledger, workspaceDir: workspaceDir ?? dir });
    this.pending = new ChangeAccumulator((nodeId) => ledger.getNode(nodeId)?.runId);
    this.subscription = ledger.onDidChange((change) => {
      this.log.trace(`ledger changed: ${change.events.length} event(s) from ${change.local ? 'this window' : 'another process'}`);
      this.pending.add(change.events);
      this.fireSoon();
      this.evaluate(change.events);
    });
  }

  /**
   * Lets each family's recorded rule look at new evidence, whichever process wrote it (an MCP server, a
   * worker, the CLI or this window), so trials are decided while the editor is open. The service decides
   * inside a commit against an evidence watermark, so several processes evaluating the same evidence
   * record one decision.
   */
  private evaluate(events: readonly StoredEvent[]): void {
    this.lineage.promotion.evaluateAndRecord(events).then(
      (results) => {
        for (const r of results) this.log.info(`promotion: ${r.familyId} ${r.action} (${r.reason})`);
      },
      (e: unknown) => this.log.error(`promotion evaluation failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
    );
  }

  /** A run's git worktree as the views show it, or undefined when the run has none (no git, or not dispatched yet). */
  worktreeOf(runId: string): RunWorktree | undefined {
    const row = this.worktrees.get(runId);
    return row ? toRunWorktree(row) : undefined;
  }

  /** Bursts of events (a run start writes many) become one refresh of the views. */
  private fireSoon(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire(this.pending.take());
    }, 50);
  }

  /** Re-reads the journal now (the Refresh command), in case a file event was missed. */
  async refresh(): Promise<void> {
    await this.ledger.refresh();
    this.pending.addEverything();
    this.changed.fire(this.pending.take());
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.subscription.dispose();
    this.changed.dispose();
    this.lineage.dispose();
    this.ledger.close();
  }
}
