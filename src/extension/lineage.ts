// Families and variants as the extension reads and changes them.
//
// Reads come from the ledger's projection tables (families, variants, selections, trials, evidence) through the
// ledger's own read connection. Writes go through Ledger.commit with the ledger's own event kinds, so they take the
// cross-process lock, validate against caught-up tables and land in the journal like every other command.
// TODO(ledger): src/ledger does not export family/variant commands yet (create family, add variant, promote,
// roll back); when it does, these writers become thin calls to those and the SQL below goes away.
import type { EvidenceSummary } from '../shared/protocol';
import type { Ledger } from '../ledger/index';
import { LedgerError } from '../ledger/index';
import { applyMutations, canonicalize, contentHash, parseFormula, summarizeMutations } from '../ledger/formula/index';
import type { Formula, Mutation } from '../ledger/formula/index';
import { event } from '../ledger/events';
import type { FamilyInfo, TrialInfo, VariantInfo } from './viewModel';
import { summarizeEvidence, variantStatus } from './viewModel';

interface FamilyRaw {
  id: string;
  description: string;
  active_variant: string | null;
}
interface VariantRaw {
  id: string;
  family_id: string;
  generation: number;
  parents: string;
  summary: string;
  status: string;
  content_hash: string;
  content: string;
  created_at: string;
}
interface TrialRaw {
  id: string;
  family_id: string;
  candidate_id: string;
  incumbent_id: string;
  stage: string;
  share: number;
  status: string;
}

function toFamily(r: FamilyRaw): FamilyInfo {
  return { id: r.id, description: r.description, activeVariantId: r.active_variant };
}
function toVariant(r: VariantRaw): VariantInfo {
  let parents: string[] = [];
  try {
    const parsed = JSON.parse(r.parents) as unknown;
    if (Array.isArray(parsed)) parents = parsed.filter((p): p is string => typeof p === 'string');
  } catch {
    // A malformed parents column shows as a root rather than breaking the whole tree.
  }
  return {
    id: r.id,
    familyId: r.family_id,
    generation: r.generation,
    parents,
    summary: r.summary,
    status: variantStatus(r.status),
    contentHash: r.content_hash,
    content: r.content,
    createdAt: r.created_at,
  };
}

function conflict(message: string, field?: string): LedgerError {
  return new LedgerError(message, 'conflict', field);
}
function notFound(field: string, what: string, id: string): LedgerError {
  return new LedgerError(`${field}: no ${what} with id "${id}"`, 'not_found', field);
}

/** A variant id: readable, unique across families, derived from the content so re-imports find the same one. */
export function variantIdFor(familyId: string, hash: string): string {
  return `${familyId}@${hash.slice(0, 10)}`;
}

export class Lineage {
  constructor(private readonly ledger: Ledger) {}

  families(): FamilyInfo[] {
    return this.ledger.sql.all<FamilyRaw>('SELECT id, description, active_variant FROM families ORDER BY id').map(toFamily);
  }

  family(id: string): FamilyInfo | undefined {
    const r = this.ledger.sql.get<FamilyRaw>('SELECT id, description, active_variant FROM families WHERE id = ?', [id]);
    return r ? toFamily(r) : undefined;
  }

  variants(familyId: string): VariantInfo[] {
    return this.ledger.sql
      .all<VariantRaw>('SELECT * FROM variants WHERE family_id = ? ORDER BY generation, created_seq', [familyId])
      .map(toVariant);
  }

  variant(id: string): VariantInfo | undefined {
    const r = this.ledger.sql.get<VariantRaw>('SELECT * FROM variants WHERE id = ?', [id]);
    return r ? toVariant(r) : undefined;
  }

  openTrials(familyId?: string): TrialInfo[] {
    const rows = familyId
      ? this.ledger.sql.all<TrialRaw>("SELECT * FROM trials WHERE status = 'open' AND family_id = ?", [familyId])
      : this.ledger.sql.all<TrialRaw>("SELECT * FROM trials WHERE status = 'open'");
    return rows.map((t) => ({
      id: t.id,
      familyId: t.family_id,
      candidateId: t.candidate_id,
      incumbentId: t.incumbent_id,
      stage: t.stage,
      share: t.share,
      status: t.status,
    }));
  }

  evidenceSummary(variantId: string): EvidenceSummary {
    return summarizeEvidence(this.ledger.evidence({ variantId, limit: 10_000 }));
  }

  /** The variant that was active before the current one, if the family has a selection history. */
  previousActive(familyId: string): string | undefined {
    const r = this.ledger.sql.get<{ previous_variant_id: string | null }>(
      'SELECT previous_variant_id FROM selections WHERE family_id = ? ORDER BY seq DESC LIMIT 1',
      [familyId],
    );
    return r?.previous_variant_id ?? undefined;
  }

  /** The parsed formula of a variant (its stored canonical text). */
  formulaOf(variant: VariantInfo): Formula {
    const parsed = parseFormula(variant.content, `${variant.id}.formula.toml`);
    if (!parsed.formula) {
      throw new LedgerError(`variant ${variant.id} holds a formula that no longer parses: ${parsed.problems.map((p) => p.message).join('; ')}`, 'corrupt');
    }
    return parsed.formula;
  }

  // ---- writers (bridge until src/ledger has them, see the note at the top) -------------------------------------

  /**
   * Imports a flat formula: a new family with this formula as its active generation-0 variant, or, for a family
   * that exists, a new candidate variant when the content is new. Returns what happened.
   */
  async importFormula(formula: Formula, actor: string): Promise<{ familyId: string; variantId: string; created: 'family' | 'variant' | 'none' }> {
    const content = canonicalize(formula);
    const hash = contentHash(formula);
    const familyId = formula.name;
    type Imported = { familyId: string; variantId: string; created: 'family' | 'variant' | 'none' };
    return this.ledger.commit<Imported>(({ sql }) => {
      const family = sql.get<FamilyRaw>('SELECT id, description, active_variant FROM families WHERE id = ?', [familyId]);
      const existing = sql.get<{ id: string }>('SELECT id FROM variants WHERE family_id = ? AND content_hash = ?', [familyId, hash]);
      if (existing) return { events: [], result: { familyId, variantId: existing.id, created: 'none' as const } };
      const variantId = variantIdFor(familyId, hash);
      if (!family) {
        return {
          events: [
            event('family.created', { familyId, description: formula.description }),
            event('variant.created', { variantId, familyId, generation: 0, parents: [], mutation: null, summary: 'imported', proposedBy: actor, contentHash: hash, content, status: 'active' }),
            event('family.active_set', { familyId, variantId, previousVariantId: null, reason: 'first import' }),
          ],
          result: { familyId, variantId, created: 'family' as const },
        };
      }
      const top = sql.get<{ g: number | null }>('SELECT MAX(generation) AS g FROM variants WHERE family_id = ?', [familyId]);
      const parents = family.active_variant ? [family.active_variant] : [];
      return {
        events: [
          event('variant.created', {
              variantId, familyId, generation: (top?.g ?? -1) + 1, parents, mutation: null, summary: 'imported edit of the formula file',
              proposedBy: actor, contentHash: hash, content, status: 'candidate',
            }),
        ],
        result: { familyId, variantId, created: 'variant' as const },
      };
    }, actor);
  }

  /** Applies mutations to a variant and records the result as a new candidate one generation below it. */
  async mutate(parentId: string, mutations: readonly Mutation[], actor: string): Promise<{ variantId: string; summary: string }> {
    const parent = this.variant(parentId);
    if (!parent) throw notFound('variantId', 'variant', parentId);
    const result = applyMutations(this.formulaOf(parent), mutations);
    if (!result.ok) {
      throw new LedgerError(result.problems.map((p) => `${p.message} (${p.fix})`).join('\n'), 'invalid_input', result.problems[0]?.field);
    }
    const content = canonicalize(result.formula);
    const hash = contentHash(result.formula);
    const summary = summarizeMutations(mutations);
    return this.ledger.commit(({ sql }) => {
      const same = sql.get<{ id: string; status: string }>('SELECT id, status FROM variants WHERE family_id = ? AND content_hash = ?', [parent.familyId, hash]);
      if (same) throw conflict(`that change gives variant ${same.id} (${same.status}), which the family already has`, 'mutations');
      const variantId = variantIdFor(parent.familyId, hash);
      return {
        events: [
          event('variant.created', {
              variantId, familyId: parent.familyId, generation: parent.generation + 1, parents: [parent.id], mutation: mutations,
              summary, proposedBy: actor, contentHash: hash, content, status: 'candidate',
            }),
        ],
        result: { variantId, summary },
      };
    }, actor);
  }

  /** A person's decision to make `variantId` the family's active variant; the previous one is kept for rollback. */
  async promote(variantId: string, reason: string, actor: string): Promise<{ familyId: string; previousVariantId: string | null }> {
    return this.ledger.commit(({ sql }) => {
      const v = sql.get<VariantRaw>('SELECT * FROM variants WHERE id = ?', [variantId]);
      if (!v) throw notFound('variantId', 'variant', variantId);
      const family = sql.get<FamilyRaw>('SELECT id, description, active_variant FROM families WHERE id = ?', [v.family_id])!;
      if (family.active_variant === variantId) throw conflict(`variant ${variantId} is already the active variant of ${family.id}`, 'variantId');
      const previous = family.active_variant;
      const decisionId = `d-${variantId}-${Date.now().toString(36)}`;
      return {
        events: [
          event('decision.recorded', {
              decisionId, familyId: family.id, candidateId: variantId, incumbentId: previous, trialId: null, stage: 'manual', verdict: 'promote',
              reason, policyVersion: null, policyHash: null, detail: { by: 'person' },
          }),
          ...(previous ? [event('variant.status_changed', { variantId: previous, status: 'retired' as const, reason: `replaced by ${variantId}` })] : []),
          event('variant.status_changed', { variantId, status: 'active', reason }),
          event('family.active_set', { familyId: family.id, variantId, previousVariantId: previous, reason }),
        ],
        result: { familyId: family.id, previousVariantId: previous },
      };
    }, actor);
  }

  /** Restores the variant that was active before the current one. */
  async rollback(familyId: string, reason: string, actor: string): Promise<{ variantId: string; previousVariantId: string }> {
    return this.ledger.commit(({ sql }) => {
      const family = sql.get<FamilyRaw>('SELECT id, description, active_variant FROM families WHERE id = ?', [familyId]);
      if (!family) throw notFound('familyId', 'family', familyId);
      const last = sql.get<{ previous_variant_id: string | null }>('SELECT previous_variant_id FROM selections WHERE family_id = ? ORDER BY seq DESC LIMIT 1', [familyId]);
      const target = last?.previous_variant_id;
      if (!target || !family.active_variant) throw conflict(`family ${familyId} has no earlier active variant to roll back to`, 'familyId');
      const current = family.active_variant;
      const decisionId = `d-${familyId}-rb-${Date.now().toString(36)}`;
      return {
        events: [
          event('decision.recorded', {
              decisionId, familyId, candidateId: current, incumbentId: target, trialId: null, stage: 'manual', verdict: 'rollback',
              reason, policyVersion: null, policyHash: null, detail: { by: 'person' },
          }),
          event('variant.status_changed', { variantId: current, status: 'retired', reason: `rolled back to ${target}` }),
          event('variant.status_changed', { variantId: target, status: 'active', reason }),
          event('family.active_set', { familyId, variantId: target, previousVariantId: current, reason }),
        ],
        result: { variantId: target, previousVariantId: current },
      };
    }, actor);
  }
}
