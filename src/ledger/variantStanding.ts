// The standing of every variant of a family (or of all families) in one set-based read, for views that show a row
// per variant: the Formula Families tree read a family's variants and then the evidence of each variant in its own
// query, which cost about 0.15 ms a variant (75 ms at 500 variants) and grew with the family (issue 11).
import type { VariantStatus } from './events';
import type { Sql } from './store/sql';

/** One variant as a row of a view: its place in the lineage, its runs' outcomes, and the sums of its evidence. */
export interface VariantStanding {
  id: string;
  familyId: string;
  generation: number;
  /** The variants it was made from (none for the first variant of a family). */
  parents: string[];
  summary: string;
  status: VariantStatus;
  contentHash: string;
  createdAt: string;
  /** Runs that ran this variant, those that finished (have an outcome), and how many of those succeeded. */
  runs: number;
  finishedRuns: number;
  successes: number;
  /** Evidence rows about this variant, and the sums of their `interventions` and `tokens` (null counts as 0). */
  evidence: number;
  interventions: number;
  tokens: number;
}

interface Raw {
  id: string; family_id: string; generation: number; parents: string; summary: string; status: VariantStatus; content_hash: string; created_at: string;
  runs: number; finished: number; successes: number; evidence: number; interventions: number; tokens: number;
}

// Each aggregate is one grouped pass over the family's rows (by the runs_variant and evidence_variant indexes),
// joined to the variants once, plus the counts of runs whose row was archived (variant_archived); the formula text (variants.content) is not read, since no row shows it.
const SELECT = `
SELECT v.id, v.family_id, v.generation, v.parents, v.summary, v.status, v.content_hash, v.created_at,
  coalesce(r.runs, 0) + coalesce(a.runs, 0) AS runs, coalesce(r.finished, 0) + coalesce(a.finished, 0) AS finished,
  coalesce(r.successes, 0) + coalesce(a.successes, 0) AS successes,
  coalesce(e.evidence, 0) + coalesce(a.evidence, 0) AS evidence, coalesce(e.interventions, 0) + coalesce(a.interventions, 0) AS interventions,
  coalesce(e.tokens, 0) + coalesce(a.tokens, 0) AS tokens
FROM variants v
LEFT JOIN (
  SELECT variant_id, count(*) AS runs, count(outcome) AS finished, sum(outcome = 'success') AS successes
  FROM runs WHERE variant_id IN (SELECT id FROM variants WHERE $scope) GROUP BY variant_id
) r ON r.variant_id = v.id
LEFT JOIN (
  SELECT variant_id, count(*) AS evidence, sum(coalesce(interventions, 0)) AS interventions, sum(coalesce(tokens, 0)) AS tokens
  FROM evidence WHERE variant_id IN (SELECT id FROM variants WHERE $scope) GROUP BY variant_id
) e ON e.variant_id = v.id
LEFT JOIN variant_archived a ON a.variant_id = v.id
WHERE $scope
ORDER BY v.family_id, v.generation, v.created_seq`;

const BY_FAMILY = SELECT.replaceAll('$scope', 'family_id = ?');
const BY_VARIANT = SELECT.replaceAll('$scope', 'id = ?');
const ALL = SELECT.replaceAll('$scope', '1');

/**
 * The standing of the variants of one family (`{ familyId }`), of one variant (`{ variantId }`), or of every family
 * (`{}`), ordered by family, generation and creation, in one query whatever the number of variants. Run figures
 * count the `runs` rows of each variant (finished = with an outcome; successes = outcome 'success'); evidence
 * figures sum every `evidence` row about the variant. An unknown family or variant gives an empty list.
 */
export function variantStandings(sql: Sql, scope: { familyId?: string; variantId?: string } = {}): VariantStanding[] {
  const raw = scope.variantId !== undefined
    ? sql.all<Raw>(BY_VARIANT, [scope.variantId, scope.variantId, scope.variantId])
    : scope.familyId !== undefined
      ? sql.all<Raw>(BY_FAMILY, [scope.familyId, scope.familyId, scope.familyId])
      : sql.all<Raw>(ALL);
  return raw.map((r) => ({
    id: r.id, familyId: r.family_id, generation: r.generation, parents: JSON.parse(r.parents) as string[], summary: r.summary, status: r.status,
    contentHash: r.content_hash, createdAt: r.created_at, runs: r.runs, finishedRuns: r.finished, successes: r.successes,
    evidence: r.evidence, interventions: r.interventions, tokens: r.tokens,
  }));
}
