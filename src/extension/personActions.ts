// The commands a person uses on runs and the nodes that wait for them: Run with Codex, Open Gate, Approve,
// Request Changes, Cancel Node and Cancel Run. Each takes a tree row, an id, or nothing (then it asks).
import * as vscode from 'vscode';
import { explainWait } from '../controller/explain';
import type { NodeRow } from '../ledger/index';
import type { CodexRuns, PersonAnswer } from './codexRuns';
import type { LedgerModel } from './model';

/** A run or node id from what a command was given: a tree row ({run} / {node}), an id, or nothing. */
function idFrom(arg: unknown, key: 'run' | 'node'): string | undefined {
  if (typeof arg === 'string') return arg;
  if (arg && typeof arg === 'object') {
    const row = (arg as Record<string, unknown>)[key] as { id?: unknown } | undefined;
    if (row && typeof row.id === 'string') return row.id;
    if (key === 'run') {
      const node = (arg as { node?: { runId?: unknown } }).node;
      if (node && typeof node.runId === 'string') return node.runId;
    }
  }
  return undefined;
}

export class PersonActions {
  constructor(private readonly model: LedgerModel, private readonly codex: CodexRuns) {}

  /** Run with Codex: the given run, or one picked from the running runs. */
  async runWithCodex(arg?: unknown): Promise<string | undefined> {
    let runId = idFrom(arg, 'run');
    if (!runId) {
      const running = this.model.ledger.listRuns({ status: 'running', limit: 200 });
      if (running.length === 0) {
        const start = 'Start Run';
        const choice = await vscode.window.showInformationMessage('No run is running. Start one first.', start);
        if (choice) await vscode.commands.executeCommand('gascity.startRun');
        return undefined;
      }
      runId = (await vscode.window.showQuickPick(running.map((r) => ({ label: r.title, description: `${r.id} · ${r.openNodes} open`, id: r.id })),
        { placeHolder: 'Run which run with Codex?' }))?.id;
    }
    if (!runId) return undefined;
    await this.codex.runWithCodex(runId);
    return runId;
  }

  /** Opens a gate, approves, or requests changes on a node that waits for a person. */
  async answer(arg: unknown, answer: PersonAnswer, note?: string): Promise<string | undefined> {
    const wanted = answer === 'openGate' ? 'blocked' : 'review';
    let nodeId = idFrom(arg, 'node');
    if (!nodeId) {
      const waiting = this.model.ledger.needsPerson().filter((n) => n.state === wanted);
      nodeId = (await vscode.window.showQuickPick(waiting.map((n) => ({ label: n.title, description: n.id, detail: explainWait(n)?.text, id: n.id })),
        { placeHolder: waiting.length ? 'Which node?' : 'Nothing waits for that now' }))?.id;
    }
    if (!nodeId) return undefined;
    if (answer === 'requestChanges' && note === undefined) {
      note = await vscode.window.showInputBox({ title: 'Request changes', prompt: 'What should change? The next attempt reads this note.', ignoreFocusOut: true });
      if (note === undefined) return undefined;
    }
    await this.codex.answer(nodeId, answer, note);
    return this.model.ledger.getNode(nodeId)?.state;
  }

  /** Cancels one node's turn or a whole run, after the person confirms what that means. */
  async cancel(arg: unknown, what: 'node' | 'run', reason?: string): Promise<boolean> {
    const id = idFrom(arg, what);
    if (!id) return false;
    if (reason === undefined) {
      const node: NodeRow | undefined = what === 'node' ? this.model.ledger.getNode(id) : undefined;
      const message = what === 'node'
        ? `Cancel ${node?.title ?? id}? Codex stops working on it, and it waits for you (Open Gate runs it again).`
        : `Cancel run ${id}? Codex stops, and the run ends as cancelled.`;
      const ok = await vscode.window.showWarningMessage(message, { modal: true }, what === 'node' ? 'Cancel Node' : 'Cancel Run');
      if (!ok) return false;
      reason = 'cancelled in VS Code';
    }
    await this.codex.cancel(what === 'node' ? { nodeId: id } : { runId: id }, reason);
    return true;
  }
}
