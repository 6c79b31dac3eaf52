// The formula tools: families and variants (list, view), proposing a variant (mutate), rolling a family
// back, and a family's lineage.
import { LedgerError } from '../../ledger/index';
import { toMutation } from '../mutations';
import * as s from '../schemas';
import { decider, invalid, needFamily, needFormulas, READ, tool, unknownFamily, withActive, write } from './shared';
import type { ToolDefinition } from './shared';

const formulaList = tool({
  name: 'formula_list',
  title: 'List formula families or variants',
  description:
    'Without `family`: the formula families (workflow templates) in the ledger with their active variant. With `family`: that family and ' +
    'its variants (generation, parents, status, how many runs and successes). Start a run with workflow_start { family }.',
  input: s.formulaListInput,
  output: s.formulaListOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    if (a.family === undefined) return { families: f.listFamilies() };
    return { family: needFamily(f, a.family), variants: f.listVariants(a.family) };
  },
});

const formulaView = tool({
  name: 'formula_view',
  title: 'View a formula variant',
  description:
    'A formula variant\'s text (TOML: vars and steps with their instructions), its lineage record and, unless `diff` is false, the diff ' +
    'against its parent. Give `variantId`, or `family` for the active variant. Use it before formula_mutate to see the step ids.',
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
    return {
      variant, active: f.getFamily(variant.familyId)?.activeVariantId === variant.id, formula: f.variantText(variantId) ?? '',
      diff: a.diff === false ? null : f.diffVariant(variantId),
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
  run(a, ctx) {
    return needFormulas(ctx).mutateVariant({
      variantId: a.variantId, mutations: a.mutations.map(toMutation), summary: a.summary, proposedBy: a.proposedBy ?? ctx.actor ?? 'codex',
    }, ctx.actor);
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

const lineageView = tool({
  name: 'lineage_view',
  title: 'View a family\'s lineage',
  description: 'A formula family\'s lineage: every variant with its parents, generation, status and run counts, and every change of the active variant with its reason.',
  input: s.lineageViewInput,
  output: s.lineageViewOutput,
  annotations: READ,
  reads: true,
  run(a, ctx) {
    const f = needFormulas(ctx);
    const l = f.lineage(a.family);
    if (!l) throw unknownFamily(f, a.family, 'family');
    return l;
  },
});

export const FORMULA_TOOLS: readonly ToolDefinition[] = [formulaList, formulaView, formulaMutate, formulaRollback, lineageView];
