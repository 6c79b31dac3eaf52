// VS Code's side of the replay lab and of run worktrees: "Replay Variant" (with progress and cancel),
// "Merge Run Worktree" and "Discard Run Worktree". The replay starts a controller of its own, scoped
// to the replay's runs, so it never takes over the window's other Codex work; cancelling it cancels
// the replay runs still going and leaves nothing claimed.
import * as vscode from 'vscode';
import { Controller, Worktrees, replayVariant } from '../controller/index';
import type { ReplayReport } from '../controller/index';
import { errorMessage } from '../ledger/errors';
import { worktreeStats } from '../shared/worktree';
import type { LedgerModel } from './model';
import { toRunWorktree } from './viewModel';

/** The actor of a person's merges and discards in VS Code. */
const ACTOR = 'person:vscode';

type Arg = string | { readonly variant?: { readonly id: string }; readonly run?: { readonly id: string } } | undefined;

function idOf(arg: Arg, key: 'variant' | 'run'): string | undefined {
  return typeof arg === 'string' ? arg : arg?.[key]?.id;
}

/** The replay and worktree commands of one window. */
export class ReplayCommands implements vscode.Disposable {
  /** Replays in progress, aborted when the window closes (their runs are cancelled, nothing stays claimed). */
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly model: LedgerModel,
    private readonly extensionUri: vscode.Uri,
    private readonly workspaceDir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /**
   * Replays the incumbent's past tasks on a candidate and the incumbent (src/controller/replay.ts), with
   * a cancellable progress notification that counts pairs; ends with the lab's summary. Returns the
   * report, or undefined when the person backed out or it could not start.
   */
  async replayVariant(arg?: Arg, tasks?: number): Promise<ReplayReport | undefined> {
    const variantId = idOf(arg, 'variant') ?? (await this.pickCandidate());
    if (!variantId) return undefined;
    let count = tasks;
    if (count === undefined) {
      const text = await vscode.window.showInputBox({
        title: `Replay ${variantId}`, prompt: 'How many past tasks of the incumbent to replay (each runs on both variants)?', value: '10', ignoreFocusOut: true,
        validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= 200 ? undefined : 'A whole number from 1 to 200'),
      });
      if (text === undefined) return undefined;
      count = Number(text.trim());
    }
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Replaying ${variantId}`, cancellable: true }, async (progress, token) => {
      const abort = new AbortController();
      this.running.add(abort);
      const cancel = token.onCancellationRequested(() => abort.abort());
      let controller: Controller | undefined;
      try {
        controller = await this.startController();
        const report = await replayVariant({ variantId, tasks: count }, {
          ledger: this.model.ledger, formulas: this.model.lineage.formulas, promotion: this.model.lineage.promotion, controller, signal: abort.signal, actor: ACTOR,
          onProgress: (p) => {
            if (p.type === 'planned') progress.report({ message: `${p.tasks} past task(s) in screen ${p.trialId}` });
            else if (p.type === 'pairStarted') progress.report({ message: `pair ${p.index} of ${p.of}: ${p.pastRunId}` });
            else if (p.type === 'pairEnded') progress.report({ increment: 100 / Math.max(1, p.of), message: `pair ${p.index} of ${p.of}: candidate ${p.pair.candidateSuccess ? 'passed' : 'failed'}, incumbent ${p.pair.incumbentSuccess ? 'passed' : 'failed'}` });
          },
        });
        this.log.info(`[replay] ${report.summary}`);
        void vscode.window.showInformationMessage(report.summary, 'Assess').then((c) => {
          if (c === 'Assess') void vscode.commands.executeCommand('gascity.assessVariant', variantId);
        });
        return report;
      } catch (e) {
        void vscode.window.showErrorMessage(`Could not replay ${variantId}: ${errorMessage(e)}`);
        return undefined;
      } finally {
        cancel.dispose();
        this.running.delete(abort);
        await controller?.stop({ cancelTurns: true, reason: abort.signal.aborted ? 'the replay was cancelled in VS Code' : 'the replay ended' });
      }
    });
  }

  /** Merges a finished run's branch into the workspace's branch, after the person confirms. */
  async merge(arg?: Arg): Promise<boolean> {
    return this.close(arg, 'merge');
  }

  /** Discards a run's worktree and branch, after the person confirms. */
  async discard(arg?: Arg): Promise<boolean> {
    return this.close(arg, 'discard');
  }

  dispose(): void {
    for (const a of this.running) a.abort();
  }

  private async close(arg: Arg, what: 'merge' | 'discard'): Promise<boolean> {
    const worktrees = new Worktrees({ ledger: this.model.ledger, workspaceDir: this.workspaceDir, actor: ACTOR });
    let runId = idOf(arg, 'run');
    if (!runId) {
      const open = worktrees.list().filter((w) => w.status === 'finished' || w.status === 'open');
      if (open.length === 0) {
        void vscode.window.showInformationMessage('No run has a worktree to merge or discard.');
        return false;
      }
      runId = (await vscode.window.showQuickPick(open.map((w) => ({
        label: w.runId, description: `${w.branch} · ${w.status}`, detail: w.filesChanged === null ? 'running' : `${w.filesChanged} file(s), +${w.insertions} -${w.deletions}`, id: w.runId,
      })), { placeHolder: `${what === 'merge' ? 'Merge' : 'Discard'} which run's worktree?` }))?.id;
      if (!runId) return false;
    }
    if (!(await this.confirm(worktrees, runId, what))) return false;
    try {
      const w = what === 'merge' ? await worktrees.merge(runId, ACTOR) : await worktrees.discard(runId, ACTOR, 'discarded in VS Code');
      void vscode.window.showInformationMessage(what === 'merge' ? `Merged run ${runId} as ${w.mergeCommit?.slice(0, 12) ?? '?'}.` : `Discarded run ${runId}'s worktree and branch.`);
      return true;
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not ${what} run ${runId}: ${errorMessage(e)}`);
      return false;
    }
  }

  /**
   * Asks the person to confirm with a quick pick that names the branch, its changes and what happens. A quick pick,
   * not a modal dialog: it shows the diff stats where the choice is made, is answered from the keyboard, and is
   * what VS Code's own Git commands use for such questions.
   */
  private async confirm(worktrees: Worktrees, runId: string, what: 'merge' | 'discard'): Promise<boolean> {
    const row = worktrees.get(runId);
    const w = row ? toRunWorktree(row) : undefined;
    const branch = w?.branch ?? `the branch of run ${runId}`;
    const stats = w ? worktreeStats(w) : '';
    const yes = what === 'merge'
      ? { label: `$(git-merge) Merge ${branch}`, description: stats, detail: 'Merges it into the workspace\'s branch (a merge commit), then removes the worktree and the branch.', yes: true }
      : { label: `$(trash) Discard ${branch}`, description: stats, detail: 'Removes the worktree and deletes the branch: the run\'s changes are lost.', yes: true };
    const no = { label: 'Cancel', detail: 'Leave the worktree as it is.', yes: false };
    // A discard cannot be undone, so Enter on its question keeps the worktree.
    const pick = await vscode.window.showQuickPick(what === 'merge' ? [yes, no] : [no, yes], {
      title: `${what === 'merge' ? 'Merge' : 'Discard'} the worktree of run ${runId}?`, ignoreFocusOut: true,
    });
    return pick?.yes === true;
  }

  private async pickCandidate(): Promise<string | undefined> {
    const items = this.model.lineage.families().flatMap((f) =>
      this.model.lineage.variants(f.id).filter((v) => v.status === 'candidate' || v.status === 'trial').map((v) => ({ label: v.id, description: `${f.id} · ${v.status}`, detail: v.summary, id: v.id })));
    if (items.length === 0) {
      void vscode.window.showInformationMessage('No candidate variant to replay. Mutate a formula first.');
      return undefined;
    }
    return (await vscode.window.showQuickPick(items, { placeHolder: 'Replay which candidate against its family\'s active variant?' }))?.id;
  }

  /** A controller for the replay's runs only, configured as the window's (gascity.codexPath, nodePath). */
  private async startController(): Promise<Controller> {
    const config = vscode.workspace.getConfiguration('gascity');
    const codex = config.get<string>('codexPath') || 'codex';
    const node = config.get<string>('nodePath') || 'node';
    const mcp = vscode.Uri.joinPath(this.extensionUri, 'dist', 'mcp.js').fsPath;
    const controller = new Controller({
      ledger: this.model.ledger, formulas: this.model.lineage.formulas, promotion: this.model.lineage.promotion, workspaceDir: this.workspaceDir, runIds: [],
      maxConcurrentNodes: 2, actor: 'controller:vscode-replay',
      codex: { command: codex, cwd: this.workspaceDir, log: (line) => this.log.debug(`[codex] ${line}`) },
      threadParams: { approvalPolicy: 'never', sandbox: 'workspace-write' },
      threadConfig: { 'mcp_servers.gascity': { command: node, args: [mcp, '--ledger', this.model.dir, '--workspace', this.workspaceDir], default_tools_approval_mode: 'approve' } },
      requireMcpServers: ['gascity'],
      log: (m) => this.log.info(`[replay] ${m}`),
    });
    try {
      await controller.start();
    } catch (e) {
      await controller.stop();
      throw new Error(`could not start the Codex app-server (${codex}): ${errorMessage(e)}. Install the Codex CLI or set gascity.codexPath.`);
    }
    return controller;
  }
}
