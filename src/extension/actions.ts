// What the commands do. Each action picks what it needs (from its arguments, or by asking the person), calls the
// ledger, and says what happened; ledger errors are shown as they are, since they say what to fix.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { errorMessage } from '../ledger/index';
import type { Mutation, VarValue } from '../ledger/formula/index';
import type { GraphActions, GraphPanel } from './graphPanel';
import type { LedgerModel } from './model';
import { nodeUri, variantUri } from './documents';
import { followersOf, insertStepMutations } from './stepInsert';
import type { VariantInfo } from './viewModel';
import { variantLabel } from './viewModel';

/** The actor name this window writes as in the ledger's events. */
export const ACTOR = 'person:vscode';

export interface ActionResult {
  readonly ok: boolean;
  readonly message: string;
}

/** Tree items and graph messages hand over ids; commands from the palette hand over nothing. */
type VariantArg = string | { readonly variant?: { readonly id: string } } | undefined;
type FamilyArg = string | { readonly family?: { readonly id: string }; readonly variant?: { readonly familyId: string } } | undefined;
type RunArg = string | { readonly run?: { readonly id: string } } | undefined;

function variantIdOf(arg: VariantArg): string | undefined {
  return typeof arg === 'string' ? arg : arg?.variant?.id;
}
function familyIdOf(arg: FamilyArg): string | undefined {
  return typeof arg === 'string' ? arg : (arg?.family?.id ?? arg?.variant?.familyId);
}
function runIdOf(arg: RunArg): string | undefined {
  return typeof arg === 'string' ? arg : arg?.run?.id;
}

/** Whether a folder holds at least one *.formula.toml (at its top; evolution files alone do not make a start). */
function hasFormulas(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((f) => f.endsWith('.formula.toml'));
  } catch {
    return false;
  }
}


export class Actions implements GraphActions {
  private graph: GraphPanel | undefined;

  /**
   * `starterFormulasDir`: the formulas shipped inside the extension (its formulas/ folder), offered to a repository
   * that has none.
   */
  constructor(
    private readonly model: LedgerModel,
    private readonly log: vscode.LogOutputChannel,
    private readonly starterFormulasDir: string,
  ) {}

  /** The graph panel and the actions need each other; the composition root ties the knot once. */
  attachGraph(graph: GraphPanel): void {
    this.graph = graph;
  }

  private get lineage() {
    return this.model.lineage;
  }

  // ---- pickers --------------------------------------------------------------------------------------------

  private async pickFamily(placeHolder: string): Promise<string | undefined> {
    const families = this.lineage.families();
    if (families.length === 0) {
      // A dead end otherwise: offer the import (which itself offers the starter formulas to a repository without any).
      const importNow = 'Import Formulas';
      const choice = await vscode.window.showInformationMessage('The ledger has no formula families yet: import the formulas of this workspace first.', importNow);
      if (choice !== importNow) return undefined;
      await this.importFormulas();
      const imported = this.lineage.families();
      if (imported.length === 1) return imported[0]!.id;
      if (imported.length === 0) return undefined;
      return (await vscode.window.showQuickPick(imported.map((f) => ({ label: f.id, description: f.description })), { placeHolder }))?.label;
    }
    if (families.length === 1) return families[0]!.id;
    const pick = await vscode.window.showQuickPick(
      families.map((f) => ({ label: f.id, description: f.description })),
      { placeHolder },
    );
    return pick?.label;
  }

  private async pickVariant(placeHolder: string, filter: (v: VariantInfo, activeId: string | null) => boolean = () => true): Promise<VariantInfo | undefined> {
    const familyId = await this.pickFamily('Formula family');
    if (!familyId) return undefined;
    const activeId = this.lineage.family(familyId)?.activeVariantId ?? null;
    const variants = this.lineage.variants(familyId).filter((v) => filter(v, activeId));
    if (variants.length === 0) {
      void vscode.window.showInformationMessage(`Family ${familyId} has no variant to choose for this.`);
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      variants.map((v) => ({
        label: variantLabel(v),
        description: v.id === activeId ? '★ active' : v.status,
        detail: v.summary,
        variant: v,
      })),
      { placeHolder },
    );
    return pick?.variant;
  }

  // ---- runs -----------------------------------------------------------------------------------------------

  async startRun(arg?: VariantArg | FamilyArg): Promise<string | undefined> {
    let variant: VariantInfo | undefined;
    // A run of a family (not of a named variant) lets the ledger choose: the active variant, or a trial's candidate.
    let chosenByLedger = false;
    const explicitVariant = typeof arg === 'object' && arg && 'variant' in arg && arg.variant && 'id' in arg.variant ? arg.variant.id : undefined;
    const id = typeof arg === 'string' ? arg : explicitVariant;
    if (id) variant = this.lineage.variant(id);
    if (!variant) {
      const familyId = (id && this.lineage.family(id)?.id) ?? familyIdOf(arg as FamilyArg) ?? (await this.pickFamily('Start a run of which formula family?'));
      if (!familyId) return undefined;
      const activeId = this.lineage.family(familyId)?.activeVariantId;
      variant = activeId ? this.lineage.variant(activeId) : undefined;
      chosenByLedger = true;
    }
    if (!variant) {
      void vscode.window.showErrorMessage('That family has no active variant to run: promote one first.');
      return undefined;
    }
    const formula = this.lineage.formulaOf(variant.id);
    const given: Record<string, VarValue> = {};
    for (const [name, spec] of Object.entries(formula.vars)) {
      if (!spec.required) continue;
      const value = await vscode.window.showInputBox({
        title: `Start ${formula.name}: ${name}`,
        prompt: spec.description || name,
        ignoreFocusOut: true,
        validateInput: (v) => (v.trim() ? undefined : `${name} is required`),
      });
      if (value === undefined) return undefined;
      given[name] = value;
    }
    const firstValue = Object.values(given)[0];
    const title = typeof firstValue === 'string' ? `${formula.name}: ${firstValue.slice(0, 60)}` : undefined;
    try {
      const { runId } = await this.lineage.startRun(variant.familyId, chosenByLedger ? undefined : variant.id, given, title, ACTOR);
      this.log.info(`started run ${runId} of ${variant.id}`);
      this.openRunGraph(runId);
      // The Start Run flow ends where the work begins: hand the run to Codex, or leave it for workers to claim.
      void vscode.window.showInformationMessage(`Started run ${runId}. Run it with Codex now?`, 'Run with Codex').then((choice) => {
        if (choice) void vscode.commands.executeCommand('gascity.runWithCodex', runId);
      });
      return runId;
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not start the run: ${errorMessage(e)}`);
      return undefined;
    }
  }

  openRunGraph(arg?: RunArg, nodeId?: string): void {
    const runId = runIdOf(arg);
    if (!runId) return void this.openLedgerGraph();
    this.graph?.show({ kind: 'run', runId }, nodeId);
  }

  openLineage(arg?: FamilyArg, variantId?: string): void {
    const familyId = familyIdOf(arg);
    if (!familyId) return void this.openLedgerGraph();
    this.graph?.show({ kind: 'lineage', familyId }, variantId);
  }

  async openLedgerGraph(): Promise<void> {
    type Item = vscode.QuickPickItem & { target?: { kind: 'lineage'; id: string } | { kind: 'run'; id: string } };
    const items: Item[] = [];
    const families = this.lineage.families();
    if (families.length) items.push({ label: 'Lineage', kind: vscode.QuickPickItemKind.Separator });
    for (const f of families) items.push({ label: `$(type-hierarchy) ${f.id}`, description: 'lineage', target: { kind: 'lineage', id: f.id } });
    const runs = this.model.ledger.listRuns({ limit: 50 });
    if (runs.length) items.push({ label: 'Runs', kind: vscode.QuickPickItemKind.Separator });
    for (const r of runs) items.push({ label: `$(graph) ${r.title}`, description: `${r.status} · ${r.id}`, target: { kind: 'run', id: r.id } });
    if (!families.length && !runs.length) {
      void vscode.window.showInformationMessage('The ledger is empty: import formulas or start a run first.');
      return;
    }
    const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Open which graph?' });
    if (!pick?.target) return;
    if (pick.target.kind === 'lineage') this.openLineage(pick.target.id);
    else this.openRunGraph(pick.target.id);
  }

  async openNode(runId: string, nodeId: string): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(nodeUri(runId, nodeId));
    await vscode.window.showTextDocument(doc, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }

  // ---- variants -------------------------------------------------------------------------------------------

  /** Opens a variant's formula: as a diff against its first parent when it has one, else as plain text. */
  async openVariant(arg?: VariantArg): Promise<void> {
    const id = variantIdOf(arg) ?? (await this.pickVariant('Open which variant?'))?.id;
    if (!id) return;
    const v = this.lineage.variant(id);
    if (!v) return void vscode.window.showErrorMessage(`No variant ${id} in the ledger.`);
    if (this.graph?.current?.kind === 'lineage' && this.graph.current.familyId === v.familyId) this.graph.select(v.id);
    const parent = v.parents[0] ? this.lineage.variant(v.parents[0]) : undefined;
    if (parent) {
      await vscode.commands.executeCommand(
        'vscode.diff',
        variantUri(parent.familyId, parent.id),
        variantUri(v.familyId, v.id),
        `${variantLabel(parent)} ↔ ${variantLabel(v)} (${v.familyId})`,
        { preview: true },
      );
    } else {
      const doc = await vscode.workspace.openTextDocument(variantUri(v.familyId, v.id));
      await vscode.window.showTextDocument(doc, { preview: true });
    }
  }

  async openVariantText(arg?: VariantArg): Promise<void> {
    const id = variantIdOf(arg) ?? (await this.pickVariant('Open which variant?'))?.id;
    const v = id ? this.lineage.variant(id) : undefined;
    if (!v) return;
    const doc = await vscode.workspace.openTextDocument(variantUri(v.familyId, v.id));
    await vscode.window.showTextDocument(doc, { preview: true });
  }

  async promote(arg?: VariantArg, confirmed = false): Promise<ActionResult> {
    const id =
      variantIdOf(arg) ?? (await this.pickVariant('Promote which variant?', (v, activeId) => v.id !== activeId && v.status !== 'active'))?.id;
    if (!id) return { ok: false, message: 'Nothing promoted.' };
    const v = this.lineage.variant(id);
    if (!v) return this.fail(`No variant ${id} in the ledger.`);
    if (!confirmed) {
      const yes = 'Promote';
      // Promoting by hand skips the evidence the family's rule waits for; say so when there is none at all.
      const runs = this.lineage.evidenceSummary(v).runs;
      const untried = runs === 0 ? ' It has no runs yet: nothing shows that it works.' : '';
      const answer = await vscode.window.showWarningMessage(
        `Make ${variantLabel(v)} the active variant of ${v.familyId}?${untried} New runs will use it; the current one stays available for rollback.`,
        { modal: true },
        yes,
      );
      if (answer !== yes) return { ok: false, message: 'Promotion cancelled.' };
    }
    try {
      const r = await this.lineage.promote(id, 'promoted by a person in VS Code', ACTOR);
      const message = `${variantLabel(v)} is now the active variant of ${r.familyId}${r.trialId ? ', watched against the previous one' : ''}.`;
      this.log.info(`promoted ${id}: ${r.action} (decision ${r.decisionId ?? 'none'}, trial ${r.trialId ?? 'none'})`);
      void vscode.window.showInformationMessage(message);
      return { ok: true, message };
    } catch (e) {
      return this.fail(`Could not promote ${variantLabel(v)}: ${errorMessage(e)}`);
    }
  }

  async rollback(arg?: FamilyArg, confirmed = false): Promise<ActionResult> {
    const familyId = familyIdOf(arg) ?? (await this.pickFamily('Roll back which family?'));
    if (!familyId) return { ok: false, message: 'Nothing rolled back.' };
    const previous = this.lineage.previousActive(familyId);
    const target = previous ? this.lineage.variant(previous) : undefined;
    if (!target) return this.fail(`${familyId} has no earlier active variant to roll back to.`);
    if (!confirmed) {
      const yes = 'Roll Back';
      const activeId = this.lineage.family(familyId)?.activeVariantId;
      const current = activeId ? this.lineage.variant(activeId) : undefined;
      const answer = await vscode.window.showWarningMessage(
        `Roll ${familyId} back to ${variantLabel(target)}?${current ? ` ${variantLabel(current)} will be marked rejected.` : ''}`, { modal: true }, yes);
      if (answer !== yes) return { ok: false, message: 'Rollback cancelled.' };
    }
    try {
      await this.lineage.rollback(familyId, 'rolled back by a person in VS Code', ACTOR);
      const message = `${familyId} rolled back to ${variantLabel(target)}.`;
      this.log.info(message);
      void vscode.window.showInformationMessage(message);
      return { ok: true, message };
    } catch (e) {
      return this.fail(`Could not roll back ${familyId}: ${errorMessage(e)}`);
    }
  }

  private fail(message: string): ActionResult {
    this.log.warn(message);
    void vscode.window.showErrorMessage(message);
    return { ok: false, message };
  }

  /**
   * Proposes a mutation of a variant. `mutations` may be passed by a caller (tests, other tools); otherwise the
   * person picks one of the common edits and fills it in.
   */
  async mutate(arg?: VariantArg, mutations?: readonly Mutation[]): Promise<string | undefined> {
    const id = variantIdOf(arg) ?? (await this.pickVariant('Mutate which variant?'))?.id;
    const v = id ? this.lineage.variant(id) : undefined;
    if (!v) return undefined;
    const edits = mutations ?? (await this.askMutation(v));
    if (!edits) return undefined;
    try {
      const r = await this.lineage.mutate(v.id, edits, ACTOR);
      const open = 'Compare with Parent';
      const what = r.created ? `New candidate ${r.variantId}` : `That change is variant ${r.variantId}, which the family already has`;
      void vscode.window.showInformationMessage(`${what}: ${r.summary}`, open).then((c) => {
        if (c === open) void this.openVariant(r.variantId);
      });
      return r.variantId;
    } catch (e) {
      void vscode.window.showErrorMessage(`Mutation refused: ${errorMessage(e)}`);
      return undefined;
    }
  }

  private async askMutation(v: VariantInfo): Promise<Mutation[] | undefined> {
    const formula = this.lineage.formulaOf(v.id);
    const steps = formula.steps.map((s) => ({ label: s.id, description: s.title }));
    const op = await vscode.window.showQuickPick(
      [
        { label: 'Edit a step’s instructions', op: 'edit_instructions' as const },
        { label: 'Require (or drop) review of a step', op: 'set_review' as const },
        { label: 'Retry a step on failure', op: 'set_retry' as const },
        { label: 'Add a step', op: 'add_step' as const },
        { label: 'Remove a step', op: 'remove_step' as const },
        { label: 'Mutations as JSON…', op: 'json' as const },
      ],
      { placeHolder: `Mutate ${variantLabel(v)} of ${v.familyId}` },
    );
    if (!op) return undefined;
    const pickStep = async (placeHolder: string) => (await vscode.window.showQuickPick(steps, { placeHolder }))?.label;
    switch (op.op) {
      case 'edit_instructions': {
        const stepId = await pickStep('Which step?');
        const step = formula.steps.find((s) => s.id === stepId);
        if (!step || !stepId) return undefined;
        const instructions = await vscode.window.showInputBox({ title: `Instructions of ${stepId}`, value: step.instructions, ignoreFocusOut: true });
        return instructions === undefined ? undefined : [{ op: 'edit_instructions', stepId, instructions }];
      }
      case 'set_review': {
        const stepId = await pickStep('Which step?');
        const step = formula.steps.find((s) => s.id === stepId);
        return step && stepId ? [{ op: 'set_review', stepId, review: !step.review }] : undefined;
      }
      case 'set_retry': {
        const stepId = await pickStep('Which step?');
        if (!stepId) return undefined;
        const max = await vscode.window.showInputBox({ title: `Retries of ${stepId}`, value: '2', validateInput: (x) => (/^\d+$/.test(x) && Number(x) >= 1 ? undefined : 'a whole number ≥ 1') });
        return max === undefined ? undefined : [{ op: 'set_retry', stepId, retry: { max: Number(max), onExhausted: 'fail' } }];
      }
      case 'add_step': {
        const after = await pickStep('Add the new step after which step?');
        if (!after) return undefined;
        const taken = new Set(formula.steps.map((st) => st.id));
        const newId = await vscode.window.showInputBox({
          title: 'New step id', prompt: 'Used in needs = [...] and in node ids', ignoreFocusOut: true,
          validateInput: (x) => (!/^[a-z][a-z0-9_-]*$/.test(x) ? 'lowercase letters, digits, - and _, starting with a letter' : taken.has(x) ? `there is a step "${x}" already` : undefined),
        });
        if (!newId) return undefined;
        const title = await vscode.window.showInputBox({
          title: `Title of ${newId}`, prompt: 'What a person sees in the runs tree and the graph', ignoreFocusOut: true,
          validateInput: (x) => (x.trim() ? undefined : 'a short title, e.g. "Update the changelog"'),
        });
        if (!title) return undefined;
        const instructions = await vscode.window.showInputBox({ title: `Instructions of ${newId}`, prompt: 'What the worker is asked to do', ignoreFocusOut: true });
        if (instructions === undefined) return undefined;
        const followers = followersOf(formula.steps, after);
        if (followers.length) this.log.info(`add_step ${newId}: ${followers.join(', ')} now wait for it instead of ${after}`);
        return insertStepMutations(formula.steps, after, { id: newId, title: title.trim(), instructions });
      }
      case 'remove_step': {
        const stepId = await pickStep('Remove which step?');
        return stepId ? [{ op: 'remove_step', stepId, rewire: true }] : undefined;
      }
      case 'json': {
        const text = await vscode.window.showInputBox({
          title: 'Mutations (a JSON array of ops, see docs/formulas.md)',
          value: '[{"op":"set_review","stepId":"","review":true}]',
          ignoreFocusOut: true,
        });
        if (text === undefined) return undefined;
        try {
          const parsed = JSON.parse(text) as unknown;
          return Array.isArray(parsed) ? (parsed as Mutation[]) : [parsed as Mutation];
        } catch (e) {
          void vscode.window.showErrorMessage(`That is not JSON: ${errorMessage(e)}`);
          return undefined;
        }
      }
    }
  }

  // ---- files ----------------------------------------------------------------------------------------------

  private workspaceRoot(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  /** The shipped starter formulas (file names), for the offer to a repository without formulas. */
  private starterFiles(): string[] {
    try {
      return fs.readdirSync(this.starterFormulasDir).filter((f) => f.endsWith('.formula.toml')).sort();
    } catch {
      return [];
    }
  }

  /**
   * Copies the shipped starter formulas into <workspace>/formulas/, never over a file that is there. Returns the
   * names of the files it wrote.
   */
  addStarterFormulas(root: string): string[] {
    const target = path.join(root, 'formulas');
    fs.mkdirSync(target, { recursive: true });
    const written: string[] = [];
    for (const name of this.starterFiles()) {
      try {
        fs.copyFileSync(path.join(this.starterFormulasDir, name), path.join(target, name), fs.constants.COPYFILE_EXCL);
        written.push(name);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    this.log.info(`added ${written.length} starter formula(s) to ${target}: ${written.join(', ')}`);
    return written;
  }

  /**
   * Imports formulas/*.formula.toml of the workspace: new families, or new candidate variants of edited files. A
   * workspace without any is offered the starter formulas first (`options.addStarters` answers for scripted use).
   */
  async importFormulas(options: { readonly addStarters?: boolean } = {}): Promise<{ families: number; variants: number; problems: number; startersAdded: number }> {
    const root = this.workspaceRoot();
    const counts = { families: 0, variants: 0, problems: 0, startersAdded: 0 };
    if (!root) {
      void vscode.window.showWarningMessage('Open a folder to import formulas: Gas City keeps them in its formulas/ folder.');
      return counts;
    }
    const dir = path.join(root, 'formulas');
    if (!hasFormulas(dir)) {
      const starters = this.starterFiles();
      const add = `Add ${starters.length} Starter Formulas`;
      const yes = options.addStarters ?? (starters.length > 0 && (await vscode.window.showInformationMessage(
        `This workspace has no formulas/*.formula.toml. Add the ${starters.length} starter formulas (${starters.map((f) => f.replace(/\.formula\.toml$/, '')).join(', ')}) to formulas/ and import them?`,
        add,
      )) === add);
      if (!yes) return counts;
      counts.startersAdded = this.addStarterFormulas(root).length;
    }
    let result;
    try {
      result = await this.lineage.importFormulas(dir, ACTOR);
    } catch (e) {
      void vscode.window.showErrorMessage(`Could not import ${dir}: ${errorMessage(e)}`);
      return counts;
    }
    for (const p of result.problems) this.log.warn(`${p.file}:${p.line} ${p.field}: ${p.message} — ${p.fix}`);
    counts.families = result.families;
    counts.variants = result.variants;
    counts.problems = result.problems.length;
    const added = counts.startersAdded ? `Added ${counts.startersAdded} starter formula${counts.startersAdded === 1 ? '' : 's'} to formulas/. ` : '';
    const message = `${added}Imported ${counts.families} new famil${counts.families === 1 ? 'y' : 'ies'} and ${counts.variants} new variant${counts.variants === 1 ? '' : 's'}.`;
    if (counts.problems) {
      void vscode.window.showWarningMessage(`${message} ${counts.problems} problem(s): see the Gas City log.`, 'Show Log').then((c) => {
        if (c) this.log.show();
      });
    } else void vscode.window.showInformationMessage(message);
    return counts;
  }

  /** Writes every variant to formulas/evolution/<family>/ so it can be reviewed and committed like code. */
  async exportEvolution(): Promise<string[]> {
    if (!this.workspaceRoot()) {
      void vscode.window.showWarningMessage('Open a folder to export evolution files into.');
      return [];
    }
    const written = await this.lineage.exportEvolution();
    void vscode.window.showInformationMessage(`Wrote ${written.length} evolution file${written.length === 1 ? '' : 's'} under formulas/evolution/.`);
    return written;
  }
}
