// The commands that close the evolution loop from VS Code: start a trial of a candidate, see where it stands,
// reject it, mark a run's result as a person (evidence the rule weighs), and hand a node to a Codex thread.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AppServer, AppServerError } from '../codex/appServer';
import { CodexWorker } from '../codex/worker';
import { errorMessage } from '../ledger/index';
import type { Assessment } from '../ledger/index';
import { ACTOR } from './actions';
import type { LedgerModel } from './model';
import type { Reports } from './reports';
import { variantLabel } from './viewModel';

type Arg = string | { readonly variant?: { readonly id: string }; readonly run?: { readonly id: string }; readonly node?: { readonly id: string } } | undefined;

function idOf(arg: Arg, key: 'variant' | 'run' | 'node'): string | undefined {
  return typeof arg === 'string' ? arg : arg?.[key]?.id;
}


/** A plain-words report of an assessment, for a person deciding whether to wait, promote or reject. */
export function renderAssessment(a: Assessment): string {
  const pct = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)} %`);
  const arm = (name: string, s: Assessment['arms']['candidate']) =>
    `| ${name} | ${s.runs} | ${s.successes} | ${s.runs ? pct(s.successes / s.runs) : '–'} | ${s.interventions} | ${s.tokens} |`;
  return [
    `# ${a.variantId} (${a.familyId})`,
    '',
    `Status **${a.status}**, stage **${a.stage}**. The rule says **${a.verdict}**${a.verdict !== a.ruleVerdict ? ` (on its own: ${a.ruleVerdict})` : ''}.`,
    '',
    '| arm | runs | succeeded | rate | interventions | tokens |',
    '|---|---|---|---|---|---|',
    arm('candidate', a.arms.candidate),
    arm('incumbent', a.arms.incumbent),
    '',
    `P(candidate better) = ${a.statistics.probBetter.toFixed(3)}, expected loss = ${a.statistics.expectedLoss.toFixed(4)}.`,
    '',
    '## Guardrails',
    ...a.guardrails.map((g) => `- ${g.name}: **${g.status}**`),
    '',
    '## Still missing',
    ...(a.missing.length ? a.missing.map((m) => `- ${m}`) : ['- nothing: the rule can decide']),
  ].join('\n');
}

export class LoopActions {
  constructor(
    private readonly model: LedgerModel,
    private readonly log: vscode.LogOutputChannel,
    private readonly extensionUri: vscode.Uri,
    private readonly reports: Reports,
  ) {}

  private async pickVariant(placeHolder: string, statuses: readonly string[]): Promise<string | undefined> {
    const items = this.model.lineage.families().flatMap((f) =>
      this.model.lineage.variants(f.id).filter((v) => statuses.includes(v.status)).map((v) => ({ label: variantLabel(v), description: `${f.id} · ${v.status}`, detail: v.summary, id: v.id })));
    if (items.length === 0) {
      void vscode.window.showInformationMessage(`No variant is ${statuses.join(' or ')}. Mutate a formula first.`);
      return undefined;
    }
    return (await vscode.window.showQuickPick(items, { placeHolder }))?.id;
  }

  async startTrial(arg?: Arg): Promise<string | undefined> {
    const id = idOf(arg, 'variant') ?? (await this.pickVariant('Start a trial of which candidate?', ['candidate']));
    if (!id) return undefined;
    try {
      const t = await this.model.lineage.promotion.startTrial({ variantId: id }, ACTOR);
      const message = `Trial ${t.id}: ${id} gets ${Math.round(t.share * 100)} % of new runs of ${t.familyId}, against ${t.incumbentId}.`;
      this.log.info(message);
      void vscode.window.showInformationMessage(message);
      return t.id;
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not start a trial of ${id}: ${errorMessage(e)}`);
      return undefined;
    }
  }

  async assess(arg?: Arg): Promise<string | undefined> {
    const id = idOf(arg, 'variant') ?? (await this.pickVariant('Assess which variant?', ['candidate', 'trial', 'active', 'retired']));
    if (!id) return undefined;
    try {
      const text = renderAssessment(await this.model.lineage.promotion.assess(id));
      // A read-only view: an assessment is a report to read, not a file to save.
      await this.reports.show(`Assessment of ${id}.md`, text);
      return text;
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not assess ${id}: ${errorMessage(e)}`);
      return undefined;
    }
  }

  async reject(arg?: Arg, reason?: string): Promise<boolean> {
    const id = idOf(arg, 'variant') ?? (await this.pickVariant('Reject which variant?', ['candidate', 'trial']));
    if (!id) return false;
    const why = reason ?? (await vscode.window.showInputBox({ title: `Reject ${id}`, prompt: 'Why? (recorded with the decision)', ignoreFocusOut: true }));
    if (why === undefined) return false;
    try {
      const r = await this.model.lineage.promotion.reject(id, { actor: ACTOR, reason: why || 'rejected by a person in VS Code' });
      void vscode.window.showInformationMessage(`${id} rejected: ${r.reason}`);
      return true;
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not reject ${id}: ${errorMessage(e)}`);
      return false;
    }
  }

  /** A person's verdict on a run: evidence for the variant that ran, weighed by the family's rule. */
  async markRunResult(arg?: Arg, success?: boolean, note?: string): Promise<boolean> {
    let runId = idOf(arg, 'run');
    if (!runId) {
      const runs = this.model.ledger.listRuns({ limit: 50 });
      runId = (await vscode.window.showQuickPick(runs.map((r) => ({ label: r.title, description: `${r.id} · ${r.status}${r.outcome ? ` · ${r.outcome}` : ''}`, id: r.id })), { placeHolder: 'Mark the result of which run?' }))?.id;
    }
    if (!runId) return false;
    if (success === undefined) {
      const pick = await vscode.window.showQuickPick([{ label: 'Succeeded', ok: true }, { label: 'Failed', ok: false }], { placeHolder: `Result of ${runId}` });
      if (!pick) return false;
      success = pick.ok;
    }
    try {
      await this.model.ledger.recordEvidence({ runId, kind: 'run_outcome', success, note: note ?? 'marked by a person in VS Code' }, ACTOR);
      void vscode.window.showInformationMessage(`${runId} marked as ${success ? 'succeeded' : 'failed'}.`);
      return true;
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not mark ${runId}: ${errorMessage(e)}`);
      return false;
    }
  }

  /**
   * Hands a ready node to a Codex thread through `codex app-server`: the node's instructions become the turn,
   * the thread also gets this workspace's Gas City MCP server, and the result, binding and tokens land in the ledger.
   */
  async runNodeWithCodex(arg?: Arg): Promise<string | undefined> {
    let nodeId = idOf(arg, 'node');
    if (!nodeId) {
      const ready = this.model.ledger.readyWork({ limit: 100 });
      nodeId = (await vscode.window.showQuickPick(ready.map((n) => ({ label: n.title, description: n.id, id: n.id })), { placeHolder: ready.length ? 'Run which node with Codex?' : 'Nothing is ready' }))?.id;
    }
    if (!nodeId) return undefined;
    const config = vscode.workspace.getConfiguration('gascity');
    const codex = config.get<string>('codexPath') || 'codex';
    const node = config.get<string>('nodePath') || 'node';
    const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? path.dirname(this.model.dir);
    const mcp = vscode.Uri.joinPath(this.extensionUri, 'dist', 'mcp.js').fsPath;
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Codex is working on ${nodeId}`, cancellable: false }, async () => {
      let server: AppServer | undefined;
      let worker: CodexWorker | undefined;
      try {
        ({ server } = await AppServer.start({ command: codex, cwd: workspace, log: (m) => this.log.debug(`[codex] ${m}`) }));
        worker = new CodexWorker({
          ledger: this.model.ledger, server, workspaceDir: workspace, worker: `codex@vscode:${path.basename(workspace)}`, actor: ACTOR.replace('person', 'worker'),
          threadConfig: { 'mcp_servers.gascity': { command: node, args: [mcp, '--ledger', this.model.dir, '--workspace', workspace] } },
          log: (m) => this.log.info(`[worker] ${m}`),
        });
        const r = await worker.runNode(nodeId!);
        const message = `${nodeId}: ${r.end}${r.outcome ? ` (${r.outcome})` : ''}, now ${r.state}; thread ${r.threadId ?? '–'}.`;
        this.log.info(message);
        void vscode.window.showInformationMessage(message);
        return r.state;
      } catch (e) {
        // Only a Codex that could not be started is a question of installation; the ledger's refusals say what to fix.
        const notStarted = e instanceof AppServerError && (e.code === 'spawn' || e.code === 'exited');
        void vscode.window.showErrorMessage(notStarted
          ? `Codex could not be started (${errorMessage(e)}). Is the Codex CLI installed? Set its path in the setting gascity.codexPath.`
          : `Could not run ${nodeId} with Codex: ${errorMessage(e)}`);
        return undefined;
      } finally {
        worker?.dispose();
        await server?.dispose();
      }
    });
  }
}
