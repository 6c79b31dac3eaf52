// Families and variants as the extension reads and changes them: a thin layer over the ledger's FormulaService
// that maps its rows to the view types and adds the few reads the views need beyond it.
import type { EvidenceSummary } from '../shared/protocol';
import type { EvaluationResult, FamilyRow, Ledger, TrialRow, VariantRow } from '../ledger/index';
import { FormulaService, PromotionService } from '../ledger/index';
import type { Formula, Mutation, Problem, VarValue } from '../ledger/formula/index';
import type { FamilyInfo, TrialInfo, VariantInfo } from './viewModel';
import { variantStatus } from './viewModel';
import { variantStandings } from '../ledger/variantStanding';

function toFamily(r: FamilyRow): FamilyInfo {
  return { id: r.id, description: r.description, activeVariantId: r.activeVariantId };
}

function toVariant(r: VariantRow): VariantInfo {
  return {
    id: r.id,
    familyId: r.familyId,
    generation: r.generation,
    parents: r.parents,
    summary: r.summary,
    status: variantStatus(r.status),
    contentHash: r.contentHash,
    createdAt: r.createdAt,
    runs: r.runs,
    finishedRuns: r.finishedRuns,
    successes: r.successes,
  };
}

function toTrial(t: TrialRow): TrialInfo {
  return { id: t.id, familyId: t.familyId, candidateId: t.candidateId, incumbentId: t.incumbentId, stage: t.stage, share: t.share, status: t.status };
}

export class Lineage {
  readonly formulas: FormulaService;
  /** Evidence-gated promotion: trials, their routing of new runs, and every promotion as a recorded decision. */
  readonly promotion: PromotionService;

  constructor(
    private readonly ledger: Ledger,
    workspaceDir: string | undefined,
  ) {
    this.formulas = new FormulaService(ledger, workspaceDir ? { workspaceDir } : {});
    this.promotion = new PromotionService(ledger, this.formulas);
  }

  dispose(): void {
    this.promotion.dispose();
  }

  families(): FamilyInfo[] {
    return this.formulas.listFamilies().map(toFamily);
  }

  family(id: string): FamilyInfo | undefined {
    const f = this.formulas.getFamily(id);
    return f ? toFamily(f) : undefined;
  }

  variants(familyId: string): VariantInfo[] {
    return this.formulas.listVariants(familyId).map(toVariant);
  }

  variant(id: string): VariantInfo | undefined {
    const v = this.formulas.getVariant(id);
    return v ? toVariant(v) : undefined;
  }

  variantText(id: string): string | undefined {
    return this.formulas.variantText(id);
  }

  formulaOf(variantId: string): Formula {
    return this.formulas.variantFormula(variantId);
  }

  /** Live (open or paused) promotion trials, of one family or of all. */
  openTrials(familyId?: string): TrialInfo[] {
    const ids = familyId ? [familyId] : this.formulas.listFamilies().map((f) => f.id);
    return ids
      .map((id) => this.promotion.liveTrialOf(id))
      .filter((t): t is TrialRow => t !== undefined)
      .map(toTrial);
  }

  /**
   * Every variant of a family with its standing (run outcomes from its runs, interventions and tokens summed over
   * its evidence), read in one query (src/ledger/variantStanding.ts) rather than one evidence query per variant.
   */
  standings(familyId: string): Array<{ variant: VariantInfo; evidence: EvidenceSummary }> {
    return variantStandings(this.ledger.sql, { familyId }).map((s) => ({
      variant: {
        id: s.id, familyId: s.familyId, generation: s.generation, parents: s.parents, summary: s.summary, status: variantStatus(s.status),
        contentHash: s.contentHash, createdAt: s.createdAt, runs: s.runs, finishedRuns: s.finishedRuns, successes: s.successes,
      },
      evidence: { runs: s.finishedRuns, successes: s.successes, failures: s.finishedRuns - s.successes, interventions: s.interventions, tokens: s.tokens },
    }));
  }

  /**
   * Run outcomes from the runs the variant ran; interventions and tokens summed over all its evidence,
   * archived runs' included (variantStandings: one aggregate, not the newest 10,000 rows read and summed).
   */
  evidenceSummary(variant: VariantInfo): EvidenceSummary {
    const standing = variantStandings(this.ledger.sql, { variantId: variant.id })[0];
    return {
      runs: variant.finishedRuns,
      successes: variant.successes,
      failures: variant.finishedRuns - variant.successes,
      interventions: standing?.interventions ?? 0,
      tokens: standing?.tokens ?? 0,
    };
  }

  /** The variant a rollback would restore: the one active before the current one. */
  previousActive(familyId: string): string | undefined {
    const lineage = this.formulas.lineage(familyId);
    if (!lineage?.activeVariantId) return undefined;
    const last = [...lineage.selections].reverse().find((s) => s.variantId === lineage.activeVariantId);
    return last?.previousVariantId ?? undefined;
  }

  async importFormulas(dir: string, actor: string): Promise<{ families: number; variants: number; problems: Problem[] }> {
    const before = new Set(this.formulas.listFamilies().map((f) => f.id));
    const r = await this.formulas.importFormulas(dir, actor);
    const created = r.imported.filter((i) => i.created);
    const families = new Set(created.filter((i) => !before.has(i.familyId)).map((i) => i.familyId)).size;
    return { families, variants: created.length - families, problems: r.problems };
  }

  mutate(variantId: string, mutations: readonly Mutation[], actor: string): ReturnType<FormulaService['mutateVariant']> {
    return this.formulas.mutateVariant({ variantId, mutations, proposedBy: actor }, actor);
  }

  /** A person's promotion: recorded as a decision, and watched against the variant it replaces. */
  promote(variantId: string, reason: string, actor: string): Promise<EvaluationResult> {
    return this.promotion.promote(variantId, { actor, reason });
  }

  /**
   * A person's rollback. While a promotion is being watched, rejecting the promoted variant is the rollback (a
   * recorded decision that ends the watch); otherwise the family goes back to its previous active variant.
   */
  async rollback(familyId: string, reason: string, actor: string): Promise<{ variantId: string }> {
    const family = this.formulas.getFamily(familyId);
    const watched = this.promotion.liveTrialOf(familyId);
    if (family?.activeVariantId && watched?.stage === 'watch' && watched.candidateId === family.activeVariantId) {
      await this.promotion.reject(family.activeVariantId, { actor, reason });
      return { variantId: this.formulas.getFamily(familyId)?.activeVariantId ?? watched.incumbentId };
    }
    const r = await this.formulas.rollback({ familyId, reason }, actor);
    return { variantId: r.variantId };
  }

  startRun(family: string, variantId: string | undefined, vars: Record<string, VarValue>, title: string | undefined, actor: string): ReturnType<FormulaService['startRunFromFormula']> {
    return this.formulas.startRunFromFormula({ family, ...(variantId ? { variantId } : {}), vars, ...(title ? { title } : {}) }, actor);
  }

  exportEvolution(): Promise<string[]> {
    return this.formulas.exportEvolutionFiles();
  }
}
