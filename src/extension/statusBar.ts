// The status bar item: how many runs are running and how many promotion trials are open, at a glance.
import * as vscode from 'vscode';
import { COMMANDS } from './commands';
import type { LedgerModel } from './model';

export function statusText(running: number, trials: number): string {
  const runs = `${running} run${running === 1 ? '' : 's'}`;
  const open = `${trials} trial${trials === 1 ? '' : 's'}`;
  return `$(type-hierarchy) ${runs} · ${open}`;
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('gascity.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: LedgerModel) {
    this.item.name = 'Gas City';
    this.item.command = COMMANDS.openLedgerGraph.id;
    this.subscription = model.onDidChange(() => this.update());
    this.update();
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  update(): void {
    const running = this.model.ledger.listRuns({ status: 'running', limit: 10_000 });
    const trials = this.model.lineage.openTrials();
    this.item.text = statusText(running.length, trials.length);
    const lines = ['**Gas City**', '', ...running.slice(0, 10).map((r) => `- run ${r.title} (${r.openNodes} open nodes)`)];
    for (const t of trials.slice(0, 10)) lines.push(`- trial of ${t.candidateId} vs ${t.incumbentId} (${t.stage}, ${Math.round(t.share * 100)}%)`);
    lines.push('', 'Click to open the ledger graph.');
    this.item.tooltip = new vscode.MarkdownString(lines.join('\n'));
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}
