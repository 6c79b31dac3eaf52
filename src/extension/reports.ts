// Read-only documents for what the extension reports (a registration's change to Codex's config.toml, an assessment):
// shown in an editor a person can read, search and copy from, that never asks to be saved. The reports live as long
// as the window; each is addressed by a name.
import * as vscode from 'vscode';

export const REPORT_SCHEME = 'gascity-report';

export class Reports implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, this);

  /** The report's address; `name` ends in .md so markdown highlighting applies. */
  uri(name: string): vscode.Uri {
    return vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${name}` });
  }

  /** Sets (or replaces) a report's text and shows it in a preview editor beside what is open. */
  async show(name: string, markdown: string): Promise<vscode.TextEditor> {
    const uri = this.uri(name);
    this.texts.set(uri.path, markdown);
    this.changed.fire(uri);
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(doc, { preview: true });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.path) ?? '_This report is gone: it lived only until the window was reloaded._\n';
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
