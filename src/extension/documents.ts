// Read-only documents for what lives only in the ledger: a variant's formula text (so it can be diffed against its
// parent with VS Code's own diff editor) and a node's instructions and result.
import * as vscode from 'vscode';
import type { LedgerModel } from './model';
import { attemptsText } from './viewModel';

export const SCHEME = 'gascity';

export function variantUri(familyId: string, variantId: string): vscode.Uri {
  // The file name ends in .formula.toml so TOML highlighting applies where a TOML extension is installed.
  return vscode.Uri.from({ scheme: SCHEME, path: `/variant/${encodeURIComponent(variantId)}/${familyId}.formula.toml` });
}

export function nodeUri(runId: string, nodeId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: `/node/${encodeURIComponent(runId)}/${encodeURIComponent(nodeId)}.md` });
}

export class LedgerDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: LedgerModel) {
    // Node documents change as the run moves on; variant documents never change (a variant is immutable).
    this.subscription = model.onDidChange(() => {
      for (const doc of vscode.workspace.textDocuments) {
        if (doc.uri.scheme === SCHEME && doc.uri.path.startsWith('/node/')) this.changed.fire(doc.uri);
      }
    });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const parts = uri.path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'variant' && parts[1]) {
      return this.model.lineage.variantText(parts[1]) ?? `# variant ${parts[1]} is not in the ledger\n`;
    }
    if (parts[0] === 'node' && parts[1] && parts[2]) {
      const nodeId = parts[2].replace(/\.md$/, '');
      const n = this.model.ledger.getNode(nodeId);
      if (!n) return `# node ${nodeId} is not in the ledger\n`;
      const lines = [`# ${n.title}`, '', `- node: \`${n.id}\` (step \`${n.stepId}\`)`, `- state: **${n.state}**`, `- attempts: ${attemptsText(n)}`];
      if (n.worker) lines.push(`- worker: ${n.worker}${n.leaseExpires ? ` (lease until ${n.leaseExpires})` : ''}`);
      lines.push('', '## Instructions', '', n.instructions || '_none_');
      if (n.result) lines.push('', '## Result', '', n.result);
      return `${lines.join('\n')}\n`;
    }
    return '';
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
