// The "Formula Evidence" command (issue 14): a family's (or one variant's) step-level evidence from the ledger's
// formulaEvidence, shown as a read-only document (src/extension/evidenceReport.ts). It takes a Formula Families row, a
// family or variant id, or nothing (then it asks for the family).
import * as vscode from 'vscode';
import type { FormulaEvidence } from '../ledger/evidence';
import { formulaEvidence } from '../ledger/evidence';
import { evidenceReport } from './evidenceReport';
import type { LedgerModel } from './model';
import type { Reports } from './reports';

/** How many runs per variant and how many variants the report counts (the ledger's defaults, named here). */
const RUNS = 200;
const VARIANTS = 20;

export class EvidenceActions {
  constructor(private readonly model: LedgerModel, private readonly reports: Reports) {}

  /** The family or variant a command's argument names: a families-tree row, an id, or nothing. */
  private targetOf(arg: unknown): { familyId: string } | { variantId: string } | undefined {
    if (typeof arg === 'string') {
      if (this.model.lineage.family(arg)) return { familyId: arg };
      if (this.model.lineage.variant(arg)) return { variantId: arg };
      throw new Error(`familyId: no family or variant ${arg} in this ledger; pick a family in the Formula Families view`);
    }
    if (typeof arg === 'object' && arg !== null) {
      const row = arg as { family?: { id?: unknown }; variant?: { id?: unknown }; familyId?: unknown };
      if (typeof row.variant?.id === 'string') return { variantId: row.variant.id };
      if (typeof row.family?.id === 'string') return { familyId: row.family.id };
      if (typeof row.familyId === 'string') return { familyId: row.familyId };
    }
    return undefined;
  }

  /** Shows the report and returns the evidence it shows (undefined when the person picked nothing). */
  async show(arg?: unknown): Promise<FormulaEvidence | undefined> {
    let target = this.targetOf(arg);
    if (!target) {
      const families = this.model.lineage.families();
      const pick = await vscode.window.showQuickPick(families.map((f) => ({ label: f.id, description: f.description, id: f.id })),
        { placeHolder: families.length ? 'The evidence of which formula family?' : 'No formula family yet: import formulas first' });
      if (!pick) return undefined;
      target = { familyId: pick.id };
    }
    // Other processes (MCP servers, the controller) may have written since the last file event.
    await this.model.ledger.refresh();
    const evidence = formulaEvidence(this.model.ledger, { ...target, runs: RUNS, variants: VARIANTS });
    await this.reports.show(`evidence-${'familyId' in target ? target.familyId : target.variantId}.md`, evidenceReport(evidence));
    return evidence;
  }
}
