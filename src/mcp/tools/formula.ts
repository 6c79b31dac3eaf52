// The formula tools: families and variants (list, view), proposing a variant (mutate), rolling a family
// back, and a family's lineage.
import * as z from 'zod';
import { formulaEvidence } from '../../ledger/evidence';
import { LedgerError } from '../../ledger/index';
import type { VariantRow } from '../../ledger/index';
import { toMutation } from '../mutations';
import { clip, pageOf } from '../paging';
import * as s from '../schemas';
import { decider, invalid, needFamily, needFormulas, READ, tool, unknownFamily, withActive, write } from './shared';
import type { ToolDefinition } from './shared';

/** Default page size of variants and families; a page also ends before its answer passes the budget. */
const DEFAULT_LIMIT = 20;
/** Characters of formula text, diff, a mutation's JSON, a summary and a reason that one answer shows. */
const TEXT = { formula: 3500, diff: 2000, mutation: 300, summary: 300, reason: 200, rationale: 600 } as const;

/** A variant row with its mutation (JSON of up to 100 edits) and summary clipped; formula_view shows the diff whole. */
function variantView(v: VariantRow): z.input<typeof s.formulaViewOutput>['variant'] {
  const more = () => `formula_view ${JSON.stringify({ variantId: v.id })}`;
  const mutation = v.mutation === null || v.mutation === undefined ? null : JSON.stringify(v.mutation);
  return {
    ...v,
    mutation: mutation !== null && mutation.length > TEXT.mutation ? clip(mutation, TEXT.mutation, more) : v.mutation,
    summary: clip(v.summary, TEXT.summary, more),
    rationale: v.rationale === null ? null : clip(v.rationale, TEXT.rationale, more),
    statusReason: v.statusReason === null ? null : clip(v.statusReason, TEXT.reason, more),
  };
}

const formulaList = tool({
  name: 'formula_list',
  title: 'List formula families or variants',
  description:
    'Without `family`: the formula families (workflow templates) in the ledger with their active variant. With `family`: that family and ' +
    'its variants (generation, parents, status, how many runs and successes). A page at a time: `cursor` (the previous answer\'s ' +
    'nextCursor) gives the next. Start a run with workflow_start { family }.',
  input: s.formulaListInput,
  output: s.formulaListOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    const limit = a.limit ?? DEFAULT_LIMIT;
    if (a.family === undefined) {
      const page = pageOf(f.listFamilies(), {
        query: 'formula_list:*', cursor: a.cursor, limit, key: (x) => x.id,
        wrap: (p) => ({ families: p.rows, total: p.total, nextCursor: p.nextCursor }),
      });
      return { families: page.rows, total: page.total, nextCursor: page.nextCursor };
    }
    const family = needFamily(f, a.family);
    const page = pageOf(f.listVariants(a.family).map(variantView), {
      query: `formula_list:${a.family}`, cursor: a.cursor, limit, key: (x) => x.id,
      wrap: (p) => ({ family, variants: p.rows, total: p.total, nextCursor: p.nextCursor }),
    });
    return { family, variants: page.rows, total: page.total, nextCursor: page.nextCursor };
  },
});

const formulaView = tool({
  name: 'formula_view',
  title: 'View a formula variant',
  description:
    'A formula variant\'s text (TOML: vars and steps with their instructions), its lineage record and, unless `diff` is false, the diff ' +
    'against its parent. Give `variantId`, or `family` for the active variant. Use it before formula_mutate to see the step ids. Long text ' +
    'is clipped; `formulaFrom` / `diffFrom` show it from the character the clipped text names.',
  input: s.formulaViewInput,
  output: s.formulaViewOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    let variantId = a.variantId;
    if (variantId === undefined) {
      if (a.family === undefined) throw invalid('variantId', 'give `variantId`, or `family` for its active variant');
      const family = needFamily(f, a.family);
      if (!family.activeVariantId) throw new LedgerError(`family: ${a.family} has no active variant; give variantId`, 'conflict', 'family');
      variantId = family.activeVariantId;
    }
    const variant = f.getVariant(variantId);
    if (!variant) throw new LedgerError(`variantId: no variant with id "${variantId}"`, 'not_found', 'variantId');
    if (a.family !== undefined && a.variantId !== undefined && variant.familyId !== a.family) {
      throw invalid('variantId', `variant ${variantId} belongs to family ${variant.familyId}, not ${a.family}`);
    }
    if (a.diff === false && a.diffFrom !== undefined) throw invalid('diffFrom', 'shows the diff from a character on; leave out `diff: false`');
    const id = variantId;
    const more = (field: string) => (next: number) => `formula_view ${JSON.stringify({ variantId: id, [`${field}From`]: next })}`;
    const diff = a.diff === false ? null : f.diffVariant(variantId);
    return {
      variant: variantView(variant), active: f.getFamily(variant.familyId)?.activeVariantId === variant.id,
      formula: clip(f.variantText(variantId) ?? '', TEXT.formula, more('formula'), a.formulaFrom),
      diff: diff === null ? null : clip(diff, TEXT.diff, more('diff'), a.diffFrom),
    };
  },
});

const formulaMutate = tool({
  name: 'formula_mutate',
  title: 'Propose a formula mutation',
  description:
    'Propose a change to a formula: apply structured edits (`mutations`, in order) to a variant and record the result as a new candidate ' +
    'variant one generation later, with the diff and the lineage. It does not become active: promotion needs evidence or a person. The same ' +
    'content as an existing variant returns that variant (created false); content that was rejected before is refused. Get step ids from formula_view.',
  input: s.formulaMutateInput,
  output: s.formulaMutateOutput,
  annotations: write({ destructive: false, idempotent: true }),
  async run(a, ctx) {
    const r = await needFormulas(ctx).mutateVariant({
      variantId: a.variantId, mutations: a.mutations.map(toMutation), summary: a.summary, proposedBy: a.proposedBy ?? ctx.actor ?? 'codex',
      rationale: a.rationale,
    }, ctx.actor);
    const more = (next: number) => `formula_view ${JSON.stringify({ variantId: r.variantId, diffFrom: next })}`;
    return { ...r, summary: clip(r.summary, TEXT.summary, more), diff: clip(r.diff, TEXT.diff, more) };
  },
});

const formulaRollback = tool({
  name: 'formula_rollback',
  title: 'Roll a family back',
  description:
    'Make the variant that was active before the current one active again, recorded with your `reason`. The variant rolled away from is ' +
    'marked rejected so it is not proposed again. Use it when the current variant does worse than the one before.',
  input: s.formulaRollbackInput,
  output: s.evaluationOutput,
  annotations: write({ destructive: true, idempotent: false }),
  fields: { familyId: 'family' },
  async run(a, ctx) {
    const f = needFormulas(ctx);
    needFamily(f, a.family);
    // A promotion under watch is rolled back through the promotion service, so the decision is recorded with its numbers.
    const watch = ctx.promotions?.liveTrialOf(a.family);
    if (ctx.promotions && watch?.stage === 'watch') {
      return withActive(ctx, await ctx.promotions.reject(watch.candidateId, { actor: decider(ctx, undefined), reason: a.reason }));
    }
    const r = await f.rollback({ familyId: a.family, reason: a.reason }, ctx.actor);
    return withActive(ctx, { familyId: r.familyId, trialId: null, action: 'rolled_back', verdict: null, decisionId: null, reason: a.reason });
  },
});

/** How many of the latest changes of the active variant lineage_view shows. */
const SELECTIONS = 8;

const lineageView = tool({
  name: 'lineage_view',
  title: 'View a family\'s lineage',
  description:
    'A formula family\'s lineage: its variants with their parents, generation, status and run counts (a page at a time: `cursor` is the ' +
    'previous answer\'s nextCursor), and the latest changes of the active variant with their reasons.',
  input: s.lineageViewInput,
  output: s.lineageViewOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    const l = f.lineage(a.family);
    if (!l) throw unknownFamily(f, a.family, 'family');
    const more = () => `lineage_view ${JSON.stringify({ family: a.family })} (the reason is kept whole in the ledger)`;
    const selections = l.selections.slice(-SELECTIONS).map((x) => ({ ...x, reason: clip(x.reason, TEXT.reason, more) }));
    const lineage = l;
    const view = (rows: Array<ReturnType<typeof variantView>>, total: number, nextCursor: string | null): z.input<typeof s.lineageViewOutput> => {
      const ids = new Set(rows.map((v) => v.id));
      return {
        familyId: lineage.familyId, activeVariantId: lineage.activeVariantId, variants: rows, total, nextCursor,
        edges: lineage.edges.filter((e) => ids.has(e.child)), selections, selectionsTotal: lineage.selections.length,
      };
    };
    const page = pageOf(l.variants.map(variantView), {
      query: `lineage_view:${a.family}`, cursor: a.cursor, limit: a.limit ?? DEFAULT_LIMIT, key: (v) => v.id,
      wrap: (p) => view(p.rows, p.total, p.nextCursor),
    });
    return view(page.rows, page.total, page.nextCursor);
  },
});

// ---- branch evidence: formula_evidence ----------------------------------------------------------------

/** Characters of a failure summary and of a failed check's note that formula_evidence shows per item. */
const EVIDENCE_TEXT = { summary: 300, check: 700 } as const;

const formulaEvidenceInput = z.strictObject({
  variantId: z.string().min(1, 'give the variant id').max(200, 'variant id is longer than 200 characters').optional()
    .describe('One variant (e.g. the active one from formula_view). Give this or `family`.'),
  family: z.string().min(1, 'name the family').max(200, 'family is longer than 200 characters').optional()
    .describe('Every variant of the family, newest generation first, to compare them step by step. Give this or `variantId`.'),
  runs: z.number().int('must be a whole number').min(1, 'must be at least 1').max(1000, 'must be at most 1000').optional()
    .describe('Newest runs counted per variant (default 100).'),
  before: z.number().int('must be a whole number').min(1, 'must be at least 1').max(Number.MAX_SAFE_INTEGER).optional()
    .describe('Page back: only runs created before this seq (the previous answer\'s window.nextBefore).'),
  failures: z.number().int('must be a whole number').min(0, 'must not be negative').max(20, 'must be at most 20').optional()
    .describe('Failing runs listed per variant with their failed checks and steps (default 3).'),
  variants: z.number().int('must be a whole number').min(1, 'must be at least 1').max(20, 'must be at most 20').optional()
    .describe('With `family`: at most this many variants (default 5).'),
});

const formulaEvidenceOutput = z.object({
  familyId: z.string(), activeVariantId: z.string().nullable(), variants: z.array(z.record(z.string(), z.unknown())), moreVariants: z.number(),
});

const formulaEvidenceTool = tool({
  name: 'formula_evidence',
  title: 'Step-level evidence of a formula',
  description:
    'Where a formula variant fails, step by step, over its newest runs: per step the attempts, failures (with the last summaries), retries, ' +
    'interventions by a person, review rejections, tokens and duration, and the steps its own mutation changed; per variant the run totals ' +
    '(including runs the model called done whose checks failed) and the newest failing runs with their failed checks\' output. Give ' +
    '`variantId`, or `family` to compare its variants. Read it before proposing a change with formula_mutate.',
  input: formulaEvidenceInput,
  output: formulaEvidenceOutput,
  annotations: READ,
  reads: true,
  fields: { familyId: 'family' },
  run(a, ctx) {
    const e = formulaEvidence(ctx.ledger, {
      variantId: a.variantId, familyId: a.family, runs: a.runs ?? 100, before: a.before, failures: a.failures ?? 3, variants: a.variants ?? 5,
    });
    const short = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max)}…(clipped; ${text.length} chars in the ledger)`);
    return {
      ...e,
      variants: e.variants.map((v) => ({
        ...v,
        rationale: v.rationale === null ? null : short(v.rationale, TEXT.rationale),
        steps: v.steps.map((st) => ({ ...st, lastFailures: st.lastFailures.map((f) => ({ ...f, summary: short(f.summary, EVIDENCE_TEXT.summary) })) })),
        failingRuns: v.failingRuns.map((r) => ({
          ...r, failedChecks: r.failedChecks.map((c) => short(c, EVIDENCE_TEXT.check)), outcomeNote: r.outcomeNote === null ? null : short(r.outcomeNote, EVIDENCE_TEXT.check),
          failedSteps: r.failedSteps.map((f) => ({ ...f, summary: short(f.summary, EVIDENCE_TEXT.summary) })),
        })),
      })),
    };
  },
});

export const FORMULA_TOOLS: readonly ToolDefinition[] = [formulaList, formulaView, formulaMutate, formulaRollback, lineageView, formulaEvidenceTool];
