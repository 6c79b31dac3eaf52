import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { conflict, invalid, LedgerError, notFound } from './errors';
import type { NewEvent } from './store/store';
import type { VariantStatus } from './events';
import { event } from './events';
import type { Formula, NodeSpec as FormulaNode, Problem, VarValue } from './formula/index';
import {
  applyMutations, checkEvolutionFolder, contentHash, diffFormulas, instantiate, loadFormulaDir, parseFormula, readEvolutionDir, renderDiff,
  summarizeMutations, toToml, writeEvolutionFile,
} from './formula/index';
import type { Mutation } from './formula/index';
import { newId } from './ids';
import { parseInput } from './inputs';
import { findUnsafeKey } from './formula/names';
import { mutationRationale } from './evidence';
import { supersededTrialEvents } from './promotion/supersede';
import type { Ledger } from './ledger';
import type { Sql } from './store/sql';

export interface FamilyRow {
  id: string;
  description: string;
  activeVariantId: string | null;
  activeGeneration: number | null;
  variantCount: number;
  candidateCount: number;
  policyVersion: number | null;
  policyHash: string | null;
}

export interface VariantRow {
  id: string;
  familyId: string;
  generation: number;
  parents: string[];
  mutation: unknown;
  summary: string;
  /** Why the mutation was proposed (formula_mutate's `rationale`, kept in the mutation); null when none was given. */
  rationale: string | null;
  proposedBy: string;
  contentHash: string;
  status: VariantStatus;
  statusReason: string | null;
  createdAt: string;
  /** Runs that ran this variant, and how many of the finished ones succeeded. */
  runs: number;
  finishedRuns: number;
  successes: number;
}

export interface SelectionRow {
  seq: number;
  variantId: string;
  previousVariantId: string | null;
  reason: string;
  actor: string;
  at: string;
}

export interface Lineage {
  familyId: string;
  activeVariantId: string | null;
  variants: VariantRow[];
  edges: Array<{ parent: string; child: string }>;
  selections: SelectionRow[];
}

/** Who asked for a change of the active variant: the verdict of its decision record. */
export type ActiveChangeVerdict = 'select' | 'rollback' | 'promote';

/**
 * How a change of the active variant is recorded: `{ verdict }` writes a decision record with it;
 * `{ decisionId }` says the caller (the promotion service) records that decision, with its numbers, in the same commit.
 */
export type ActiveChange = { verdict: ActiveChangeVerdict } | { decisionId: string };

/** The detail of a decision record written for a change of the active variant outside the promotion rule. */
export interface ActiveChangeDetail {
  kind: 'active_change';
  /** The variant active before, or null for the first variant of a family. */
  from: string | null;
  /** The variant made active. */
  to: string;
}

/** What a change of the active variant did, and the decision that records it. */
export interface ActiveChangeResult {
  familyId: string;
  variantId: string;
  previousVariantId: string | null;
  decisionId: string;
}

/**
 * Chooses which variant of a family a new run uses. The promotion service installs one that sends a
 * share of runs to a candidate in trial; without it every run uses the active variant.
 */
export type VariantChooser = (sql: Sql, familyId: string, taskKey: string | null) => { variantId: string; arm: string | null } | undefined;

const mutateSchema = z.object({
  variantId: z.string().min(1, 'name the variant to mutate').max(200),
  mutations: z.array(z.unknown()).min(1, 'give at least one mutation').max(100),
  summary: z.string().max(500).optional(),
  proposedBy: z.string().min(1).max(120).default('unknown'),
  // Why the change should help, in the proposer's words (the evidence it read): kept on the variant, shown in the lineage.
  rationale: z.string().trim().min(1, 'say why the change should help, or leave rationale out').max(4000, 'rationale is longer than 4000 characters').optional(),
});

const startFromFormulaSchema = z.object({
  family: z.string().min(1, 'name the formula family').max(200),
  variantId: z.string().max(200).optional(),
  title: z.string().max(200).optional(),
  vars: z.record(z.string(), z.union([z.string().max(20_000), z.boolean(), z.array(z.string().max(2000)).max(1000)])).default({}),
  taskKey: z.string().max(400).optional(),
  // A replay of a past task (the replay lab): the run pairs up in a screen and never counts as a live trial run.
  arm: z.literal('replay').optional(),
  items: z.record(z.string(), z.array(z.string().max(2000)).max(1000)).optional(),
});

const selectSchema = z.object({ variantId: z.string().min(1, 'name the variant').max(200), reason: z.string().max(2000).default('selected by hand') });
const rollbackSchema = z.object({ familyId: z.string().min(1, 'name the family').max(200), reason: z.string().max(2000).default('rolled back by hand') });
const rejectSchema = z.object({ variantId: z.string().min(1, 'name the variant').max(200), reason: z.string().max(2000).default('rejected by hand') });

/**
 * parseInput, after refusing `__proto__`, `constructor` and `prototype` as keys anywhere in the input:
 * zod's records would drop an own `__proto__` key silently, and the call would write without it.
 * Throws LedgerError invalid_input naming the key's path.
 */
function parseFormulaInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const unsafe = findUnsafeKey(input);
  if (unsafe) throw invalid(unsafe.path, `"${unsafe.key}" cannot be used as a key (it would change how every object behaves); rename it`);
  return parseInput(schema, input);
}

/**
 * Formula families and their variants: importing formula files, mutating a variant into a new one,
 * choosing the active variant, rolling back, and starting runs from a family. Lineage is data: every
 * variant names its parents and the mutation that made it, and every selection is kept.
 */
export class FormulaService {
  private chooser: VariantChooser | undefined;

  constructor(readonly ledger: Ledger, private readonly options: { workspaceDir?: string } = {}) {}

  setVariantChooser(chooser: VariantChooser | undefined): void {
    this.chooser = chooser;
  }

  /**
   * Imports every `*.formula.toml` in `dir` and every evolution file under `<workspace>/formulas/evolution`.
   * Idempotent: content already in a family is the same variant. A bad file is reported, the rest still load.
   */
  async importFormulas(dir: string, actor?: string): Promise<{ imported: Array<{ familyId: string; variantId: string; created: boolean }>; problems: Problem[] }> {
    const problems: Problem[] = [];
    const items: Array<{ formula: Formula; generation?: number; parentHashes?: string[]; summary: string }> = [];
    if (fs.existsSync(dir)) {
      const loaded = await loadFormulaDir(dir);
      problems.push(...loaded.problems);
      for (const f of loaded.formulas) if (f.resolved) items.push({ formula: f.resolved, summary: `imported from ${path.basename(f.file)}` });
    }
    const root = this.options.workspaceDir;
    if (root && fs.existsSync(path.join(root, 'formulas', 'evolution'))) {
      const evo = await readEvolutionDir(root);
      problems.push(...evo.problems);
      // Parents before children, so that lineage links resolve.
      for (const e of [...evo.entries].sort((a, b) => a.generation - b.generation)) {
        items.push({ formula: e.formula, generation: e.generation, parentHashes: e.parents, summary: e.summary });
      }
    }
    const imported: Array<{ familyId: string; variantId: string; created: boolean }> = [];
    for (const item of items) {
      const r = await this.ledger.commit(({ sql }) => this.importOne(sql, item), actor);
      imported.push(r);
    }
    return { imported, problems };
  }

  private importOne(sql: Sql, item: { formula: Formula; generation?: number; parentHashes?: string[]; summary: string }) {
    const familyId = item.formula.name;
    const hash = contentHash(item.formula);
    const existing = sql.get<{ id: string }>('SELECT id FROM variants WHERE family_id = ? AND content_hash = ?', [familyId, hash]);
    if (existing) return { events: [] as NewEvent[], result: { familyId, variantId: existing.id, created: false } };
    const events: NewEvent[] = [];
    const family = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [familyId]);
    if (!family) events.push(event('family.created', { familyId, description: item.formula.description }));
    let parents: string[] = [];
    if (item.parentHashes) {
      parents = item.parentHashes
        .map((h) => sql.get<{ id: string }>("SELECT id FROM variants WHERE family_id = ? AND content_hash LIKE ? || '%'", [familyId, h])?.id)
        .filter((x): x is string => !!x);
    } else if (family?.active_variant) {
      parents = [family.active_variant];
    }
    const generation = item.generation ?? (parents.length ? this.maxGeneration(sql, parents) + 1 : 1);
    const variantId = this.variantIdFor(sql, hash);
    const first = !family;
    events.push(event('variant.created', {
      variantId, familyId, generation, parents, mutation: { op: 'import' }, summary: item.summary, proposedBy: 'import',
      contentHash: hash, content: toToml(item.formula), status: first ? 'active' : 'candidate',
    }));
    if (first) {
      const reason = 'first variant of the family';
      const decision = this.changeDecision(sql, familyId, variantId, null, reason, { verdict: 'select' });
      if (decision.event) events.push(decision.event);
      events.push(event('family.active_set', { familyId, variantId, previousVariantId: null, reason }));
    }
    return { events, result: { familyId, variantId, created: true } };
  }

  listFamilies(): FamilyRow[] {
    return this.ledger.sql.all<{ id: string; description: string; active_variant: string | null; gen: number | null; n: number; c: number; policy_version: number | null; policy_hash: string | null }>(
      `SELECT f.id, f.description, f.active_variant, a.generation AS gen, f.policy_version, f.policy_hash,
         (SELECT count(*) FROM variants v WHERE v.family_id = f.id) AS n,
         (SELECT count(*) FROM variants v WHERE v.family_id = f.id AND v.status IN ('candidate', 'trial')) AS c
       FROM families f LEFT JOIN variants a ON a.id = f.active_variant ORDER BY f.id`)
      .map((r) => ({ id: r.id, description: r.description, activeVariantId: r.active_variant, activeGeneration: r.gen, variantCount: r.n, candidateCount: r.c, policyVersion: r.policy_version, policyHash: r.policy_hash }));
  }

  getFamily(familyId: string): FamilyRow | undefined {
    return this.listFamilies().find((f) => f.id === familyId);
  }

  listVariants(familyId: string): VariantRow[] {
    return this.ledger.sql.all<RawVariant>(`${VARIANT_SELECT} WHERE v.family_id = ? ORDER BY v.generation, v.created_seq`, [familyId]).map(toVariant);
  }

  getVariant(variantId: string): VariantRow | undefined {
    const r = this.ledger.sql.get<RawVariant>(`${VARIANT_SELECT} WHERE v.id = ?`, [variantId]);
    return r ? toVariant(r) : undefined;
  }

  /** The canonical formula text of a variant: exactly what its runs instantiate. */
  variantText(variantId: string): string | undefined {
    return this.ledger.sql.get<{ content: string }>('SELECT content FROM variants WHERE id = ?', [variantId])?.content;
  }

  variantFormula(variantId: string): Formula {
    const text = this.variantText(variantId);
    if (text === undefined) throw notFound('variantId', 'variant', variantId);
    const parsed = parseFormula(text, `${variantId}.formula.toml`);
    if (!parsed.formula) throw new LedgerError(`variant ${variantId} no longer parses: ${parsed.problems.map((p) => p.message).join('; ')}`, 'corrupt');
    return parsed.formula;
  }

  /**
   * Applies structured mutations to a variant, producing a candidate one generation later. The same
   * content as an existing variant is that variant; content that was rejected before is refused.
   */
  async mutateVariant(input: unknown, actor?: string): Promise<{ variantId: string; familyId: string; generation: number; created: boolean; summary: string; diff: string; evolutionFile: string | null }> {
    const p = parseFormulaInput(mutateSchema, input);
    const parent = this.variantFormula(p.variantId);
    const applied = applyMutations(parent, p.mutations);
    if (!applied.ok) {
      const first = applied.problems[0]!;
      throw new LedgerError(
        applied.problems.map((x) => `${x.field}: ${x.message}${x.fix ? ` (${x.fix})` : ''}`).join('; '),
        'invalid_input',
        first.field.startsWith('mutations') ? first.field : `mutations.${first.field}`,
      );
    }
    const child = applied.formula;
    // The evolution file is written after the commit; a folder that leads outside the workspace is refused before it.
    if (this.options.workspaceDir) {
      try {
        await checkEvolutionFolder(this.options.workspaceDir, child.name);
      } catch (error) {
        throw new LedgerError(`${(error as Error).message}; nothing was recorded`, 'invalid_input', 'workspace');
      }
    }
    const hash = contentHash(child);
    const summary = p.summary ?? summarizeMutations(p.mutations as Mutation[]);
    const result = await this.ledger.commit(({ sql }) => {
      const parentRow = sql.get<{ family_id: string; generation: number }>('SELECT family_id, generation FROM variants WHERE id = ?', [p.variantId]);
      if (!parentRow) throw notFound('variantId', 'variant', p.variantId);
      if (child.name !== parentRow.family_id) throw invalid('mutations', `a mutation may not rename the formula (family ${parentRow.family_id})`);
      const same = sql.get<{ id: string; status: string; status_reason: string | null; generation: number }>(
        'SELECT id, status, status_reason, generation FROM variants WHERE family_id = ? AND content_hash = ?', [parentRow.family_id, hash]);
      if (same?.status === 'rejected') {
        throw conflict(`this content was proposed before as variant ${same.id} and rejected${same.status_reason ? `: ${same.status_reason}` : ''}; propose a different change`, 'mutations');
      }
      if (same) return { events: [] as NewEvent[], result: { variantId: same.id, familyId: parentRow.family_id, generation: same.generation, created: false } };
      const variantId = this.variantIdFor(sql, hash);
      const generation = parentRow.generation + 1;
      return {
        events: [event('variant.created', {
          variantId, familyId: parentRow.family_id, generation, parents: [p.variantId], mutation: p.rationale ? { ops: p.mutations, rationale: p.rationale } : { ops: p.mutations }, summary,
          proposedBy: p.proposedBy, contentHash: hash, content: toToml(child), status: 'candidate',
        })],
        result: { variantId, familyId: parentRow.family_id, generation, created: true },
      };
    }, actor);
    const diff = renderDiff(diffFormulas(parent, child), { before: p.variantId, after: result.variantId });
    const evolutionFile = result.created ? await this.writeEvolution(result.variantId) : null;
    return { ...result, summary, diff, evolutionFile };
  }

  /** Makes a variant the active one of its family by hand; the one it replaces is retired, kept for rollback. */
  async selectVariant(input: unknown, actor?: string): Promise<{ familyId: string; variantId: string; previousVariantId: string | null; decisionId: string }> {
    const p = parseFormulaInput(selectSchema, input);
    return this.ledger.commit(({ sql }) => this.activationEvents(sql, p.variantId, p.reason, { verdict: 'select' }), actor);
  }

  /**
   * The events that make `variantId` active: the previous active variant is retired (never deleted),
   * the new one marked active, the selection recorded, and, unless `change.decisionId` names a decision
   * the caller records in the same commit, a decision record saying who changed it and why. Every change
   * of a family's active variant goes through here or through rollbackEvents, so each one has a decision
   * whatever surface (CLI, MCP, VS Code, the promotion rule) asked for it.
   * Throws LedgerError: not_found for an unknown variant; conflict when it is already active or was rejected.
   */
  activationEvents(sql: Sql, variantId: string, reason: string, change: ActiveChange): { events: NewEvent[]; result: ActiveChangeResult } {
    const v = sql.get<{ family_id: string; status: string; status_reason: string | null }>('SELECT family_id, status, status_reason FROM variants WHERE id = ?', [variantId]);
    if (!v) throw notFound('variantId', 'variant', variantId);
    const fam = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [v.family_id])!;
    if (fam.active_variant === variantId) throw conflict(`variant ${variantId} is already the active variant of ${v.family_id}`, 'variantId');
    if (v.status === 'rejected') {
      throw conflict(`variant ${variantId} was rejected${v.status_reason ? ` (${v.status_reason})` : ''}; a rejected variant is never made active again — propose a different change`, 'variantId');
    }
    const events: NewEvent[] = [];
    const decision = this.changeDecision(sql, v.family_id, variantId, fam.active_variant, reason, change);
    if (decision.event) events.push(decision.event);
    if (fam.active_variant) events.push(event('variant.status_changed', { variantId: fam.active_variant, status: 'retired', reason: `replaced by ${variantId}` }));
    events.push(event('variant.status_changed', { variantId, status: 'active', reason }));
    events.push(event('family.active_set', { familyId: v.family_id, variantId, previousVariantId: fam.active_variant, reason }));
    // A change by hand (not the promotion rule's own, which names its decision) ends a trial it leaves comparing
    // something else, in this same commit: nothing may decide on that trial afterwards.
    if (!('decisionId' in change)) events.push(...(supersededTrialEvents(sql, v.family_id, variantId)?.events ?? []));
    return { events, result: { familyId: v.family_id, variantId, previousVariantId: fam.active_variant, decisionId: decision.id } };
  }

  /**
   * Goes back to the variant that was active before the current one: the latest variant in the family's
   * selection history, other than the current one, that was not rejected since. The variant rolled away
   * from is rejected. Throws LedgerError conflict when no such variant exists.
   */
  async rollback(input: unknown, actor?: string): Promise<{ familyId: string; variantId: string; previousVariantId: string | null; decisionId: string }> {
    const p = parseFormulaInput(rollbackSchema, input);
    return this.ledger.commit(({ sql }) => this.rollbackEvents(sql, p.familyId, p.reason, { verdict: 'rollback' }), actor);
  }

  /** The variant a rollback of the family would make active now, or null when there is none (see rollback). */
  rollbackTarget(familyId: string): string | null {
    return this.rollbackTargetIn(this.ledger.sql, familyId);
  }

  private rollbackTargetIn(sql: Sql, familyId: string): string | null {
    const fam = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [familyId]);
    if (!fam?.active_variant) return null;
    // The selections are the history of the active pointer; walking it backwards skips the current variant
    // and every variant rejected since it was active, so a rollback never revives a rejected variant.
    const row = sql.get<{ variant_id: string }>(
      `SELECT s.variant_id FROM selections s JOIN variants v ON v.id = s.variant_id
       WHERE s.family_id = ? AND s.variant_id <> ? AND v.status <> 'rejected' ORDER BY s.seq DESC LIMIT 1`,
      [familyId, fam.active_variant]);
    return row?.variant_id ?? null;
  }

  /** The events of a rollback (see rollback); `change` as in activationEvents. */
  rollbackEvents(sql: Sql, familyId: string, reason: string, change: ActiveChange): { events: NewEvent[]; result: ActiveChangeResult } {
    const fam = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [familyId]);
    if (!fam) throw notFound('familyId', 'family', familyId);
    const target = this.rollbackTargetIn(sql, familyId);
    if (!target || !fam.active_variant) throw conflict(`family ${familyId} has no earlier active variant that was not rejected to roll back to`, 'familyId');
    const activation = this.activationEvents(sql, target, reason, change);
    // The variant rolled away from is rejected rather than merely retired, so it is not proposed again unnoticed.
    const retiredAt = activation.events.findIndex((e) => e.kind === 'variant.status_changed' && (e.payload as { variantId: string }).variantId === fam.active_variant);
    activation.events.splice(retiredAt, 1, event('variant.status_changed', { variantId: fam.active_variant, status: 'rejected', reason: `rolled back: ${reason}` }));
    return activation;
  }

  /** The decision record of a change of the active variant, unless the caller records its own. */
  private changeDecision(sql: Sql, familyId: string, variantId: string, previous: string | null, reason: string, change: ActiveChange): { id: string; event: NewEvent | null } {
    if ('decisionId' in change) return { id: change.decisionId, event: null };
    const decisionId = newId('d', (x) => !!sql.get('SELECT 1 FROM decisions WHERE id = ?', [x]));
    const policy = sql.get<{ policy_version: number | null; policy_hash: string | null }>('SELECT policy_version, policy_hash FROM families WHERE id = ?', [familyId]);
    // A rollback is about the variant rolled away from; a selection or promotion about the one made active.
    const rollingBack = change.verdict === 'rollback' && previous !== null;
    const detail: ActiveChangeDetail = { kind: 'active_change', from: previous, to: variantId };
    return {
      id: decisionId,
      event: event('decision.recorded', {
        decisionId, familyId, candidateId: rollingBack ? previous : variantId, incumbentId: rollingBack ? variantId : previous, trialId: null,
        stage: 'manual', verdict: change.verdict, reason, policyVersion: policy?.policy_version ?? null, policyHash: policy?.policy_hash ?? null, detail,
      }),
    };
  }

  /** Rejects a variant that is not active, so it is never trialled or made active again. */
  async rejectVariant(input: unknown, actor?: string): Promise<{ variantId: string }> {
    const p = parseFormulaInput(rejectSchema, input);
    return this.ledger.commit(({ sql }) => {
      const v = sql.get<{ status: string }>('SELECT status FROM variants WHERE id = ?', [p.variantId]);
      if (!v) throw notFound('variantId', 'variant', p.variantId);
      if (v.status === 'active') throw conflict(`variant ${p.variantId} is active; roll back or select another variant first`, 'variantId');
      if (v.status === 'rejected') return { events: [], result: { variantId: p.variantId } };
      return { events: [event('variant.status_changed', { variantId: p.variantId, status: 'rejected', reason: p.reason })], result: { variantId: p.variantId } };
    }, actor);
  }

  /**
   * Starts a run of a family: of the variant named, or the one the trial assigns to this task, or the
   * active one. The run records the family, variant and generation that actually ran. `arm: "replay"` (with
   * a variantId) marks a replay of a past task: it pairs up in a screen and never counts as a live trial run.
   */
  async startRunFromFormula(input: unknown, actor?: string): Promise<{ runId: string; variantId: string; generation: number; arm: string | null; nodeIds: string[] }> {
    const p = parseFormulaInput(startFromFormulaSchema, input);
    const sql = this.ledger.sql;
    await this.ledger.refresh();
    if (!sql.get('SELECT 1 FROM families WHERE id = ?', [p.family])) {
      const known = this.listFamilies().map((f) => f.id);
      throw new LedgerError(`family: no formula family "${p.family}"${known.length ? `; known families: ${known.join(', ')}` : ''}`, 'not_found', 'family');
    }
    let variantId = p.variantId;
    let arm: string | null = p.arm ?? null;
    if (arm && !variantId) throw invalid('variantId', 'a replay run names the variant it replays the task on');
    if (variantId) {
      const v = sql.get<{ family_id: string }>('SELECT family_id FROM variants WHERE id = ?', [variantId]);
      if (!v) throw notFound('variantId', 'variant', variantId);
      if (v.family_id !== p.family) throw invalid('variantId', `variant ${variantId} belongs to family ${v.family_id}`);
    } else {
      const chosen = this.chooser?.(sql, p.family, p.taskKey ?? null);
      if (chosen) ({ variantId, arm } = chosen);
      variantId ??= sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [p.family])?.active_variant ?? undefined;
      if (!variantId) throw conflict(`family ${p.family} has no active variant`, 'family');
    }
    const formula = this.variantFormula(variantId);
    const planned = instantiate(formula, p.vars as Record<string, VarValue>, { items: p.items });
    if (!planned.ok) {
      const first = planned.problems[0]!;
      throw new LedgerError(planned.problems.map((x) => `${x.field}: ${x.message} ${x.fix}`).join('; '), 'invalid_input', first.field);
    }
    const nodes = planned.plan.nodes.map(toPlanNode);
    const title = p.title ?? `${formula.name}${p.taskKey ? `: ${p.taskKey}` : ''}`;
    const { runId, nodeIds } = await this.ledger.startRun(
      { title, variantId, vars: planned.plan.vars, taskKey: p.taskKey ?? null, arm, nodes, awaitsChecks: formula.checks.length > 0 }, actor);
    const generation = this.getVariant(variantId)!.generation;
    return { runId, variantId, generation, arm, nodeIds };
  }

  lineage(familyId: string): Lineage | undefined {
    const fam = this.getFamily(familyId);
    if (!fam) return undefined;
    const variants = this.listVariants(familyId);
    const edges = variants.flatMap((v) => v.parents.map((parent) => ({ parent, child: v.id })));
    const selections = this.ledger.sql.all<{ seq: number; variant_id: string; previous_variant_id: string | null; reason: string; actor: string; at: string }>(
      'SELECT * FROM selections WHERE family_id = ? ORDER BY seq', [familyId])
      .map((s) => ({ seq: s.seq, variantId: s.variant_id, previousVariantId: s.previous_variant_id, reason: s.reason, actor: s.actor, at: s.at }));
    return { familyId, activeVariantId: fam.activeVariantId, variants, edges, selections };
  }

  /** A readable diff of a variant against its (first) parent; a first variant is shown whole. */
  diffVariant(variantId: string): string {
    const v = this.getVariant(variantId);
    if (!v) throw notFound('variantId', 'variant', variantId);
    const child = this.variantFormula(variantId);
    const parentId = v.parents[0];
    if (!parentId) return `variant ${variantId} is the first of family ${v.familyId}; it has no parent to compare with.\n\n${this.variantText(variantId)}`;
    return renderDiff(diffFormulas(this.variantFormula(parentId), child), { before: parentId, after: variantId });
  }

  /** Writes every variant of every family under formulas/evolution/ (idempotent: same content, same file). */
  async exportEvolutionFiles(): Promise<string[]> {
    const ids = this.ledger.sql.all<{ id: string }>('SELECT id FROM variants ORDER BY family_id, generation, created_seq').map((r) => r.id);
    const written: string[] = [];
    for (const id of ids) {
      const file = await this.writeEvolution(id);
      if (file) written.push(file);
    }
    return written;
  }

  private async writeEvolution(variantId: string): Promise<string | null> {
    const root = this.options.workspaceDir;
    if (!root) return null;
    const v = this.getVariant(variantId)!;
    const parents = v.parents.map((id) => this.getVariant(id)?.contentHash).filter((h): h is string => !!h);
    const written = await writeEvolutionFile(root, this.variantFormula(variantId), { generation: v.generation, parents, summary: v.summary });
    return written.path;
  }

  private maxGeneration(sql: Sql, ids: string[]): number {
    return Math.max(0, ...ids.map((id) => sql.get<{ generation: number }>('SELECT generation FROM variants WHERE id = ?', [id])?.generation ?? 0));
  }

  /** Variant ids come from the content hash, so the same formula gets the same id in every clone. */
  private variantIdFor(sql: Sql, hash: string): string {
    for (let len = 8; len <= hash.length; len += 4) {
      const id = `v-${hash.slice(0, len)}`;
      if (!sql.get('SELECT 1 FROM variants WHERE id = ?', [id])) return id;
    }
    throw new Error('content hash collision');
  }
}

function toPlanNode(n: FormulaNode) {
  return {
    key: n.key,
    title: n.title,
    instructions: n.instructions,
    needs: n.needs,
    maxAttempts: n.retry ? n.retry.max + 1 : 1,
    onExhausted: n.retry?.onExhausted ?? 'fail',
    gate: n.gate ? { kind: n.gate.kind, seconds: n.gate.kind === 'timer' ? n.gate.seconds : undefined, formula: n.gate.kind === 'run' ? n.gate.formula : undefined } : null,
    review: n.review,
    skipped: n.skipped,
  };
}

const VARIANT_SELECT = `
SELECT v.*,
  (SELECT count(*) FROM runs r WHERE r.variant_id = v.id) + coalesce(a.runs, 0) AS runs,
  (SELECT count(*) FROM runs r WHERE r.variant_id = v.id AND r.outcome IS NOT NULL) + coalesce(a.finished, 0) AS finished,
  (SELECT count(*) FROM runs r WHERE r.variant_id = v.id AND r.outcome = 'success') + coalesce(a.successes, 0) AS successes
FROM variants v LEFT JOIN variant_archived a ON a.variant_id = v.id`;

interface RawVariant {
  id: string; family_id: string; generation: number; parents: string; mutation: string | null; summary: string; proposed_by: string;
  content_hash: string; status: VariantStatus; status_reason: string | null; created_at: string; runs: number; finished: number; successes: number;
}

function toVariant(r: RawVariant): VariantRow {
  const mutation = r.mutation ? JSON.parse(r.mutation) as unknown : null;
  return {
    id: r.id, familyId: r.family_id, generation: r.generation, parents: JSON.parse(r.parents) as string[],
    mutation, summary: r.summary, rationale: mutationRationale(mutation), proposedBy: r.proposed_by, contentHash: r.content_hash,
    status: r.status, statusReason: r.status_reason, createdAt: r.created_at, runs: r.runs, finishedRuns: r.finished, successes: r.successes,
  };
}

/**
 * The one display id of a variant: its generation and its id, e.g. `g3·v-7ecaea40`. The id is what every
 * command and tool accepts, so a person can copy it from anywhere it is shown; the generation says where
 * it stands in the family. Trial ids (`t-…`) name trials, not variants, and are shown as themselves.
 */
export function formatVariant(v: { id: string; generation: number }): string {
  return `g${v.generation}·${v.id}`;
}
