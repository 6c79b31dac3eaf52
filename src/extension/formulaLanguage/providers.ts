// Formula files (`*.formula.toml`) as a language in the editor: problems as you type (the import's own parser and
// validator, with the field and the fix), completion of step ids in `needs` and of family names in `extends`, go to
// definition for both, a hover on a step id, and a hover and CodeLens on `name` with the family's live figures.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { COMMANDS } from '../commands';
import { variantUri } from '../documents';
import type { LedgerModel } from '../model';
import { cursorContext, figuresLine, formulaProblems, needsCompletions, outline } from './analysis';

/** Which documents are formulas: by file name, whatever language mode a TOML extension gives them. */
export const FORMULA_SELECTOR: vscode.DocumentSelector = [{ pattern: '**/*.formula.toml' }];

function isFormula(doc: vscode.TextDocument): boolean {
  return doc.uri.fsPath.endsWith('.formula.toml') && doc.uri.scheme !== 'gascity';
}

export class FormulaLanguage implements vscode.Disposable, vscode.CompletionItemProvider, vscode.DefinitionProvider, vscode.HoverProvider, vscode.CodeLensProvider {
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('gascity-formulas');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.lensesChanged.event;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly model: LedgerModel, private readonly workspaceRoot: string | undefined) {
    this.disposables.push(
      this.diagnostics,
      this.lensesChanged,
      vscode.languages.registerCompletionItemProvider(FORMULA_SELECTOR, this, '"', ',', '['),
      vscode.languages.registerDefinitionProvider(FORMULA_SELECTOR, this),
      vscode.languages.registerHoverProvider(FORMULA_SELECTOR, this),
      vscode.languages.registerCodeLensProvider(FORMULA_SELECTOR, this),
      vscode.workspace.onDidOpenTextDocument((d) => this.check(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.check(e.document, 150)),
      vscode.workspace.onDidCloseTextDocument((d) => this.diagnostics.delete(d.uri)),
      // The figures follow the ledger: runs finish, variants are promoted.
      model.onDidChange(() => this.lensesChanged.fire()),
    );
    for (const d of vscode.workspace.textDocuments) this.check(d, 0);
  }

  /** Checks a formula now (delay 0) or after typing pauses, with the same parser and validator as the import. */
  private check(doc: vscode.TextDocument, delayMs: number): void {
    if (!isFormula(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      const problems = formulaProblems(doc.getText(), path.basename(doc.uri.fsPath));
      this.diagnostics.set(doc.uri, problems.map((p) => {
        const line = Math.min(Math.max(0, p.line - 1), Math.max(0, doc.lineCount - 1));
        const text = doc.lineAt(line).text;
        const start = p.column ? Math.min(p.column - 1, text.length) : text.length - text.trimStart().length;
        const d = new vscode.Diagnostic(new vscode.Range(line, start, line, Math.max(start + 1, text.length)),
          `${p.field ? `${p.field}: ` : ''}${p.message}. ${p.fix}`, vscode.DiagnosticSeverity.Error);
        d.source = 'Gas City';
        return d;
      }));
    }, delayMs));
  }

  provideCompletionItems(doc: vscode.TextDocument, position: vscode.Position): vscode.CompletionItem[] {
    const text = doc.getText();
    const context = cursorContext(text, position.line, position.character);
    const range = context.kind === 'none' ? undefined : new vscode.Range(position.line, context.range[0], position.line, context.range[1]);
    if (context.kind === 'needs') {
      return needsCompletions(text, context).map((s, i) => {
        const item = new vscode.CompletionItem(s.id, vscode.CompletionItemKind.Reference);
        item.detail = s.title ?? 'step';
        item.sortText = String(i).padStart(4, '0');
        if (range) item.range = range;
        return item;
      });
    }
    if (context.kind === 'extends') {
      const own = outline(text).name?.value;
      return this.model.lineage.families().filter((f) => f.id !== own).map((f) => {
        const item = new vscode.CompletionItem(f.id, vscode.CompletionItemKind.Module);
        item.detail = f.description || 'formula family';
        if (range) item.range = range;
        return item;
      });
    }
    return [];
  }

  provideDefinition(doc: vscode.TextDocument, position: vscode.Position): vscode.Location | undefined {
    const text = doc.getText();
    const context = cursorContext(text, position.line, position.character);
    if (context.kind === 'needs' && context.word) {
      const step = outline(text).steps.find((s) => s.id === context.word);
      return step ? new vscode.Location(doc.uri, new vscode.Range(step.line, step.column, step.line, step.column + step.id.length)) : undefined;
    }
    if (context.kind === 'extends' && context.word) {
      // The parent's file in this workspace when there is one, else its active variant as the ledger holds it.
      const file = this.workspaceRoot ? path.join(this.workspaceRoot, 'formulas', `${context.word}.formula.toml`) : undefined;
      if (file && fs.existsSync(file)) return new vscode.Location(vscode.Uri.file(file), new vscode.Position(0, 0));
      const active = this.model.lineage.family(context.word)?.activeVariantId;
      if (active) return new vscode.Location(variantUri(context.word, active), new vscode.Position(0, 0));
    }
    return undefined;
  }

  provideHover(doc: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const text = doc.getText();
    const context = cursorContext(text, position.line, position.character);
    if (context.kind === 'needs' && context.word) {
      const step = outline(text).steps.find((s) => s.id === context.word);
      return new vscode.Hover(step ? `**${step.id}**: ${step.title ?? 'a step of this formula'} (line ${step.line + 1})` : `No step \`${context.word}\` in this formula.`);
    }
    const name = outline(text).name;
    if (name && position.line === name.line) {
      const figures = this.figures(name.value);
      return new vscode.Hover(figures ? `**${name.value}**: ${figures}` : `**${name.value}** is not in the ledger yet: Import Formulas adds it.`);
    }
    return undefined;
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const name = outline(doc.getText()).name;
    if (!name) return [];
    const figures = this.figures(name.value);
    const range = new vscode.Range(name.line, 0, name.line, 0);
    return [new vscode.CodeLens(range, figures
      ? { title: figures, command: COMMANDS.openLineage.id, arguments: [name.value], tooltip: 'Open the lineage graph' }
      : { title: 'not in the ledger yet: Import Formulas', command: COMMANDS.importFormulas.id, arguments: [] })];
  }

  /** The family's active variant's figures, or undefined when the family is not in the ledger. */
  private figures(familyId: string): string | undefined {
    const lineage = this.model.lineage;
    const family = lineage.family(familyId);
    const active = family?.activeVariantId ? lineage.variant(family.activeVariantId) : undefined;
    if (!family || !active) return undefined;
    return figuresLine({ generation: active.generation, status: active.status, active: true }, lineage.evidenceSummary(active));
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const d of this.disposables) d.dispose();
  }
}
