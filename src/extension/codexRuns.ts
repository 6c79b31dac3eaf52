// VS Code's side of the controller: one Controller per window, started on the first "Run with Codex" (or at
// activation when a previous window left Codex work behind), a cancellable progress notification per run,
// notifications for what needs a person, and the live activity the runs tree shows.
import * as os from 'node:os';
import * as vscode from 'vscode';
import { Controller, explainWait, parseWorkerName } from '../controller/index';
import { parseWorkerProfiles } from '../controller/profiles'; // branch overlays-2
import type { ControllerEvent } from '../controller/index';
import type { TurnActivity } from '../codex/worker';
import type { NodeRow } from '../ledger/index';
import { ACTOR } from './actions';
import type { LedgerModel } from './model';

/** What a person can do about a node that waits for one, from a notification or the Needs you group. */
export type PersonAnswer = 'openGate' | 'approve' | 'requestChanges';

/**
 * Runs workflow runs with Codex from VS Code. Settings: `gascity.codexPath`, `gascity.nodePath`,
 * `gascity.maxConcurrentNodes` (read when the controller starts).
 */
export class CodexRuns implements vscode.Disposable {
  private controller: Controller | undefined;
  private starting: Promise<Controller> | undefined;
  private readonly activityByNode = new Map<string, TurnActivity>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the activity of a running node changes (throttled by the caller's refresh). */
  readonly onDidChangeActivity = this.changed.event;
  private readonly progress = new Map<string, (text: string) => void>();
  private notified = new Set<string>();

  constructor(
    private readonly model: LedgerModel,
    private readonly extensionUri: vscode.Uri,
    private readonly workspaceDir: string,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The running turn on a node, if this window's controller runs it. */
  /** The nodes a Codex turn is working on now. */
  activeNodeIds(): string[] {
    return [...this.activityByNode.keys()];
  }

  activity(nodeId: string): TurnActivity | undefined {
    return this.activityByNode.get(nodeId);
  }

  /** The runs this window drives with Codex now. */
  drivenRuns(): string[] {
    return this.controller?.runs ?? [];
  }

  /**
   * Drives a run with Codex until it ends: a progress notification shows what runs now, and dismissing it
   * (Cancel) stops Codex on the run, releasing its nodes (the run itself stays and can be run again).
   */
  async runWithCodex(runId: string): Promise<void> {
    const run = this.model.ledger.getRun(runId);
    if (!run) throw new Error(`there is no run ${runId}`);
    if (run.status !== 'running') throw new Error(`run ${runId} is ${run.status}; only a running run can be run with Codex`);
    const controller = await this.ensureController();
    controller.include(runId);
    void this.showProgress(controller, runId, run.title);
  }

  /**
   * At activation: runs whose nodes are still held by a Codex controller of this machine that is gone
   * (a window that was reloaded or crashed) are picked up again, so their threads resume.
   */
  async resumeLeftovers(): Promise<void> {
    const host = os.hostname();
    const orphaned = new Set(this.model.ledger.heldNodes()
      .filter((n) => n.worker && parseWorkerName(n.worker)?.host === host)
      .map((n) => n.runId));
    for (const runId of orphaned) {
      this.log.info(`run ${runId} has Codex work left by an earlier window; resuming it`);
      await this.runWithCodex(runId);
    }
  }

  /** Answers a node that waits for a person: opens its gate, approves it, or requests changes. */
  async answer(nodeId: string, answer: PersonAnswer, note?: string): Promise<void> {
    const ledger = this.model.ledger;
    if (answer === 'openGate') await ledger.openGate({ nodeId, note: note ?? 'opened in VS Code' }, ACTOR);
    else await ledger.reviewNode({ nodeId, verdict: answer === 'approve' ? 'approve' : 'reject', note: note ?? '' }, ACTOR);
    this.notified.delete(nodeId);
  }

  /** Cancels one node's turn (it then waits for a person) or a whole run, recorded and interrupted. */
  async cancel(target: { runId?: string; nodeId?: string }, reason: string): Promise<void> {
    const c = this.controller;
    if (target.nodeId) {
      if (c) await c.cancelNode(target.nodeId, reason, ACTOR);
      else await this.model.ledger.cancelNode({ nodeId: target.nodeId, reason }, ACTOR);
    } else if (target.runId) {
      if (c) await c.cancelRun(target.runId, reason, ACTOR);
      else await this.model.ledger.cancelRun({ runId: target.runId, reason }, ACTOR);
    }
  }

  dispose(): void {
    // A closing window leaves its claims: the next window (or `gascity run`) resumes the threads.
    void this.controller?.stop();
    this.controller = undefined;
    this.changed.dispose();
  }

  private ensureController(): Promise<Controller> {
    if (this.controller) return Promise.resolve(this.controller);
    this.starting ??= this.startController().finally(() => { this.starting = undefined; });
    return this.starting;
  }

  private async startController(): Promise<Controller> {
    const config = vscode.workspace.getConfiguration('gascity');
    const codex = config.get<string>('codexPath') || 'codex';
    const node = config.get<string>('nodePath') || 'node';
    const workers = Math.max(1, Math.min(64, Math.floor(config.get<number>('maxConcurrentNodes') ?? 2)));
    const mcp = vscode.Uri.joinPath(this.extensionUri, 'dist', 'mcp.js').fsPath;
    // branch overlays-2: worker profiles that bid for announced nodes; a bad one is an error naming the setting's field.
    const profiles = parseWorkerProfiles(config.get<unknown>('workerProfiles') ?? [], 'gascity.workerProfiles');
    const controller = new Controller({
      profiles,
      ledger: this.model.ledger, formulas: this.model.lineage.formulas, workspaceDir: this.workspaceDir, runIds: [],
      maxConcurrentNodes: workers, actor: 'controller:vscode',
      codex: { command: codex, cwd: this.workspaceDir, log: (line) => this.log.debug(`[codex] ${line}`) },
      threadParams: { approvalPolicy: 'never', sandbox: 'workspace-write' },
      threadConfig: { 'mcp_servers.gascity': { command: node, args: [mcp, '--ledger', this.model.dir, '--workspace', this.workspaceDir], default_tools_approval_mode: 'approve' } },
      requireMcpServers: ['gascity'],
      log: (m) => this.log.info(`[controller] ${m}`),
    });
    controller.onEvent((e) => this.onEvent(e));
    try {
      await controller.start();
    } catch (e) {
      await controller.stop();
      throw new Error(`could not start the Codex app-server (${codex}): ${e instanceof Error ? e.message : String(e)}. ` +
        'Install the Codex CLI (npm i -g @openai/codex) or set gascity.codexPath.');
    }
    this.log.info(`controller ${controller.worker} started: up to ${workers} node(s) at once`);
    this.controller = controller;
    return controller;
  }

  private onEvent(e: ControllerEvent): void {
    switch (e.type) {
      case 'activity':
        this.activityByNode.set(e.activity.nodeId, e.activity);
        this.report(e.activity.nodeId);
        this.changed.fire();
        return;
      case 'dispatched':
        this.report(e.nodeId, `${this.model.ledger.getNode(e.nodeId)?.title ?? e.nodeId}${e.resumed ? ' (resumed)' : ''}`);
        return;
      case 'turnEnded':
        this.activityByNode.delete(e.result.nodeId);
        this.log.info(`${e.result.nodeId}: ${e.result.end}${e.result.outcome ? ` ${e.result.outcome}` : ''}, now ${e.result.state} (${e.result.tokens.totalTokens} tokens)`);
        this.changed.fire();
        return;
      case 'needsPerson':
        this.notifyNeeds(e.nodes);
        return;
      case 'runFinished':
        void vscode.window.showInformationMessage(`Run ${e.run.id} (${e.run.title}) ${e.run.status}${e.run.outcome ? ` with ${e.run.outcome}` : ''}; its outcome is recorded as evidence.`);
        return;
      case 'serverExited':
        this.log.warn(`the Codex app-server exited (${e.info.signal ?? `code ${e.info.code}`}); restarting in ${e.restartInMs} ms`);
        return;
      case 'error':
        this.log.error(`[controller] ${e.message}`);
        return;
      default:
        this.log.trace(`[controller] ${e.type}`);
    }
  }

  private report(nodeId: string, text?: string): void {
    const runId = nodeId.slice(0, nodeId.indexOf('.'));
    const update = this.progress.get(runId);
    if (!update) return;
    const a = this.activityByNode.get(nodeId);
    const elapsed = a ? ` · ${Math.round((Date.now() - a.startedAt) / 1000)} s · ${a.tokens} tokens${a.lastItem ? ` · ${a.lastItem}` : ''}` : '';
    update(`${text ?? this.model.ledger.getNode(nodeId)?.title ?? nodeId}${elapsed}`);
  }

  /** A notification for each node that newly waits for a person, with the answers it takes. */
  private notifyNeeds(nodes: NodeRow[]): void {
    const now = new Set(nodes.map((n) => n.id));
    for (const n of nodes) {
      if (this.notified.has(n.id)) continue;
      this.notified.add(n.id);
      const why = explainWait(n)?.text ?? n.state;
      const buttons = n.state === 'review' ? ['Approve', 'Request Changes', 'Open Graph'] : ['Open Gate', 'Open Graph'];
      void vscode.window.showInformationMessage(`Gas City needs you: ${n.title}. ${why}`, ...buttons).then(async (choice) => {
        try {
          if (choice === 'Approve') await this.answer(n.id, 'approve', 'approved in VS Code');
          else if (choice === 'Request Changes') {
            const note = await vscode.window.showInputBox({ title: `Request changes on ${n.title}`, prompt: 'What should change? The next attempt reads this.' });
            if (note !== undefined) await this.answer(n.id, 'requestChanges', note);
          } else if (choice === 'Open Gate') await this.answer(n.id, 'openGate');
          else if (choice === 'Open Graph') await vscode.commands.executeCommand('gascity.openRunGraph', n.runId, n.id);
        } catch (e) {
          void vscode.window.showErrorMessage(`Could not answer ${n.id}: ${e instanceof Error ? e.message : String(e)}`);
        }
      });
    }
    for (const id of [...this.notified]) if (!now.has(id)) this.notified.delete(id);
  }

  private showProgress(controller: Controller, runId: string, title: string): Thenable<void> {
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Codex: ${title}`, cancellable: true }, async (progress, token) => {
      this.progress.set(runId, (message) => progress.report({ message }));
      const stopped = new Promise<void>((resolve) => token.onCancellationRequested(() => {
        void controller.exclude(runId, 'stopped in VS Code').then(() => {
          this.log.info(`stopped Codex on run ${runId}; its nodes were released`);
          resolve();
        });
      }));
      try {
        await Promise.race([controller.waitForRuns([runId]), stopped]);
      } finally {
        this.progress.delete(runId);
      }
    });
  }
}
