// formula_evidence: step-level attribution of a formula variant's runs (and of every variant of a family),
// the evidence reflective mutation reads before it proposes a change. Everything here reads the tables
// through their indexes over a bounded window of runs; nothing writes except the migration's backfill.
import * as z from 'zod';
import { invalid, notFound } from './errors';
import { parseInput } from './inputs';
import type { Ledger } from './ledger';
import { findUnsafeKey } from './formula/names';
import type { Sql } from './store/sql';
import type { VariantStatus } from './events';

/** Longest check output or failure summary returned per item, in characters; the rest is cut with a marker. */
export const EVIDENCE_TEXT_LIMIT = 2000;

/**
 * What formulaEvidence reads. Exactly one of `variantId` and `familyId`. Limits keep the cost bounded
 * whatever the ledger's size: at most `runs` runs per variant (newest first), `failures` failing runs
 * listed per variant, `variants` variants of a family.
 */
export const formulaEvidenceSchema = z.object({
  /** One variant: its own attribution. */
  variantId: z.string().min(1, 'name the variant').max(200, 'variant id is longer than 200 characters').optional(),
  /** Every variant of the family (newest generation first), each with its attribution. */
  familyId: z.string().min(1, 'name the family').max(200, 'family id is longer than 200 characters').optional(),
  /** Runs counted per variant, newest first (default 200, at most 1000). */
  runs: z.number().int('must be a whole number').min(1, 'count at least 1 run').max(1000, 'count at most 1000 runs per page').default(200),
  /** Page back: count only runs created before this ledger seq (the previous page's `window.nextBefore`). */
  before: z.number().int('must be a whole number').min(1, 'must be a ledger seq (1 or more)').max(Number.MAX_SAFE_INTEGER).optional(),
  /** Failing runs listed per variant with their check output and failed steps (default 5, at most 50). */
  failures: z.number().int('must be a whole number').min(0, 'must not be negative').max(50, 'list at most 50 failing runs').default(5),
  /** Variants of a family returned (default 20, at most 100), newest generation first. */
  variants: z.number().int('must be a whole number').min(1, 'return at least 1 variant').max(100, 'return at most 100 variants').default(20),
}).strict();

export type FormulaEvidenceQuery = z.input<typeof formulaEvidenceSchema>;

/** One step of a formula over the runs counted: what it cost and how often it failed. */
export interface StepAttribution {
  /** The formula step's id (a for-each step's expanded nodes count under their own step id). */
  stepId: string;
  /** The title of the step's newest node. */
  title: string;
  /** Runs counted in which the step had at least one node. */
  runs: number;
  /** Nodes of the step (more than `runs` for expanded steps). */
  nodes: number;
  /** Attempts made: failed attempts plus nodes that ended done. */
  attempts: number;
  /** Failed attempts: reported failed, rejected in review or a failed run gate. */
  failures: number;
  /** Failed attempts after which the node was tried again (a node that ended failed had one attempt too few to retry). */
  retries: number;
  /** A person stepped in: escalation after the last attempt, a cancel, a handoff to a person, or reported interventions. */
  interventions: number;
  /** Review rejections of the step's nodes. */
  reviewRejections: number;
  /** Tokens the step's nodes used (reported by the workers). */
  tokens: number;
  /** Wall time of the step's nodes, in milliseconds (reported by the workers). */
  durationMs: number;
  /** Nodes by how they ended: done, failed (the run failed on them), skipped, or still open. */
  done: number;
  failed: number;
  skipped: number;
  open: number;
  /** failures / attempts, or null before any attempt: the figure a heat map colours. */
  failureRate: number | null;
  /** Operations of this variant's own mutation (from its parent) that touched this step, e.g. ["edit_instructions"]. */
  changedBy: string[];
  /** The newest failures of the step's nodes (at most 3), each with the node's last summary. */
  lastFailures: Array<{ runId: string; nodeId: string; summary: string }>;
}

/** A failing run of the variant: why it failed, in the checks' and the nodes' own words. */
export interface FailingRun {
  runId: string;
  title: string;
  taskKey: string | null;
  createdSeq: number;
  /** 'failure', or null for a run that ended failed before any outcome was recorded. */
  outcome: string | null;
  status: string;
  /** The model reported the run done, but its checks failed. */
  falseDone: boolean;
  /** The failed checks' notes: the verdict line, the command and the trimmed output. */
  failedChecks: string[];
  /** The outcome evidence's note (e.g. "checks: 1 of 2 failed (…)"), if any. */
  outcomeNote: string | null;
  /** The run's nodes that failed at least once, with their last summary. */
  failedSteps: Array<{ stepId: string; nodeId: string; state: string; failures: number; summary: string }>;
}

/** A variant's evidence over one window of its runs. */
export interface VariantEvidence {
  variantId: string;
  familyId: string;
  generation: number;
  status: VariantStatus;
  parents: string[];
  summary: string;
  /** Why its mutation was proposed, as the proposer wrote it; null for imported variants and older mutations. */
  rationale: string | null;
  /** The window of runs counted: how many, their seq range, and `nextBefore` to page further back (null at the oldest). */
  window: { runs: number; fromSeq: number | null; toSeq: number | null; nextBefore: number | null };
  /** Totals over the window. Replays (arm "replay") count here: they are runs of the variant too. */
  totals: {
    runs: number; succeeded: number; failed: number; open: number;
    /** Runs the model reported done whose checks decided the outcome, and those of them whose checks failed. */
    reportedDone: number; falseDone: number;
    interventions: number; reviewRejections: number; tokens: number; durationMs: number;
  };
  /** One row per step, in the order the steps first appear in the runs. */
  steps: StepAttribution[];
  /** The newest failing runs of the window (at most `failures`). */
  failingRuns: FailingRun[];
}

/** What formulaEvidence returns: one variant, or a family's variants newest generation first. */
export interface FormulaEvidence {
  familyId: string;
  activeVariantId: string | null;
  variants: VariantEvidence[];
  /** Variants of the family left out by the `variants` limit (0 for a single variant). */
  moreVariants: number;
}

interface RawVariant {
  id: string; family_id: string; generation: number; parents: string; mutation: string | null; summary: string; status: VariantStatus;
}

/**
 * Step-level attribution of a variant, or of every variant of a family: attempts, failures with their
 * summaries and check output, retries, interventions, review rejections, tokens and duration per step,
 * and the newest failing runs. Reads the ledger as it is (call `ledger.refresh()` first to see other
 * processes' writes). Cost: per variant, one indexed range of at most `runs` runs and their nodes and
 * evidence (runs_variant, nodes_run, evidence_run), so it does not grow with the ledger's history.
 * Page back with `before: window.nextBefore`. Throws LedgerError invalid_input (naming the field) for a
 * bad query and not_found for an unknown variant or family.
 */
export function formulaEvidence(ledger: Pick<Ledger, 'sql'>, query: unknown): FormulaEvidence {
  const unsafe = findUnsafeKey(query);
  if (unsafe) throw invalid(unsafe.path, `"${unsafe.key}" cannot be used as a key; remove it`);
  const q = parseInput(formulaEvidenceSchema, query);
  if ((q.variantId === undefined) === (q.familyId === undefined)) throw invalid('variantId', 'name either a variant or a family, not both or neither');
  const sql = ledger.sql;
  if (q.variantId !== undefined) {
    const v = sql.get<RawVariant>('SELECT id, family_id, generation, parents, mutation, summary, status FROM variants WHERE id = ?', [q.variantId]);
    if (!v) throw notFound('variantId', 'variant', q.variantId);
    const fam = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [v.family_id]);
    return { familyId: v.family_id, activeVariantId: fam?.active_variant ?? null, variants: [variantEvidence(sql, v, q.runs, q.before, q.failures)], moreVariants: 0 };
  }
  const fam = sql.get<{ active_variant: string | null }>('SELECT active_variant FROM families WHERE id = ?', [q.familyId!]);
  if (!fam) throw notFound('familyId', 'family', q.familyId!);
  const total = sql.get<{ n: number }>('SELECT count(*) AS n FROM variants WHERE family_id = ?', [q.familyId!])!.n;
  const rows = sql.all<RawVariant>(
    `SELECT id, family_id, generation, parents, mutation, summary, status FROM variants WHERE family_id = ?
     ORDER BY generation DESC, created_seq DESC LIMIT ${q.variants}`, [q.familyId!]);
  return {
    familyId: q.familyId!, activeVariantId: fam.active_variant,
    variants: rows.map((v) => variantEvidence(sql, v, q.runs, q.before, q.failures)), moreVariants: Math.max(0, total - rows.length),
  };
}

/** The rationale kept with a variant's mutation (`{ ops, rationale }`), or null. */
export function mutationRationale(mutation: unknown): string | null {
  if (mutation && typeof mutation === 'object' && 'rationale' in mutation) {
    const r = (mutation as { rationale?: unknown }).rationale;
    return typeof r === 'string' && r !== '' ? r : null;
  }
  return null;
}

/** The step ids each operation of a mutation touched: `{ ops: [{ op, stepId | step: { id } | after }] }`. */
function changedSteps(mutation: unknown): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const ops = mutation && typeof mutation === 'object' ? (mutation as { ops?: unknown }).ops : undefined;
  if (!Array.isArray(ops)) return out;
  for (const o of ops.slice(0, 100)) {
    if (!o || typeof o !== 'object') continue;
    const op = (o as { op?: unknown }).op;
    if (typeof op !== 'string') continue;
    const ids = new Set<string>();
    const r = o as { stepId?: unknown; step?: { id?: unknown } };
    if (typeof r.stepId === 'string') ids.add(r.stepId);
    if (r.step && typeof r.step === 'object' && typeof r.step.id === 'string') ids.add(r.step.id);
    for (const id of ids) out.set(id, [...(out.get(id) ?? []), op]);
  }
  return out;
}

function cut(text: string, limit = EVIDENCE_TEXT_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}… (${text.length - limit} more characters)`;
}

interface RawStep {
  step_id: string; runs: number; nodes: number; failures: number; retries: number; interventions: number | null; review_rejections: number | null;
  tokens: number | null; duration_ms: number | null; done: number | null; failed: number | null; skipped: number | null; open: number | null; first_seq: number;
}

function variantEvidence(sql: Sql, v: RawVariant, limit: number, before: number | undefined, failureLimit: number): VariantEvidence {
  const bound = before ?? Number.MAX_SAFE_INTEGER;
  // The window: the newest `limit` runs of the variant before `bound`, through runs_variant(variant_id, created_seq).
  const window = `SELECT id FROM runs WHERE variant_id = ? AND created_seq < ? ORDER BY created_seq DESC LIMIT ${limit}`;
  const span = sql.get<{ runs: number; from_seq: number | null; to_seq: number | null }>(
    `SELECT count(*) AS runs, min(created_seq) AS from_seq, max(created_seq) AS to_seq FROM runs WHERE id IN (${window})`, [v.id, bound])!;
  const older = span.from_seq !== null
    && !!sql.get('SELECT 1 FROM runs WHERE variant_id = ? AND created_seq < ? LIMIT 1', [v.id, span.from_seq]);
  const t = sql.get<{ succeeded: number | null; failed: number | null; open: number | null; interventions: number | null; rr: number | null; tokens: number | null; duration: number | null }>(
    `SELECT sum(outcome = 'success') AS succeeded, sum(outcome = 'failure' OR (outcome IS NULL AND status = 'failed')) AS failed,
       sum(outcome IS NULL AND status = 'running') AS open, sum(interventions) AS interventions, sum(review_rejections) AS rr,
       sum(tokens) AS tokens, sum(duration_ms) AS duration
     FROM runs WHERE id IN (${window})`, [v.id, bound])!;
  const fd = sql.get<{ done: number | null; false_done: number | null }>(
    `SELECT sum(kind = 'model_report' AND success = 1) AS done, sum(kind = 'false_done') AS false_done
     FROM evidence WHERE run_id IN (${window}) AND kind IN ('model_report', 'false_done')`, [v.id, bound])!;
  // Per step, over the window's nodes (nodes_run). A retry is a failed attempt after which the node was tried
  // again: every failed attempt, less the last one of a node that ended failed or skipped after failing.
  const steps = sql.all<RawStep>(
    `SELECT step_id, count(DISTINCT run_id) AS runs, count(*) AS nodes, sum(attempts) AS failures,
       sum(CASE WHEN attempts > 0 AND state IN ('failed', 'skipped') THEN attempts - 1 ELSE attempts END) AS retries,
       sum(interventions) AS interventions, sum(review_rejections) AS review_rejections, sum(tokens) AS tokens, sum(duration_ms) AS duration_ms,
       sum(state = 'done') AS done, sum(state = 'failed') AS failed, sum(state = 'skipped') AS skipped,
       sum(state NOT IN ('done', 'failed', 'skipped')) AS open, min(rowid) AS first_seq
     FROM nodes WHERE run_id IN (${window}) GROUP BY step_id ORDER BY first_seq, step_id`, [v.id, bound]);
  const changed = changedSteps(v.mutation ? JSON.parse(v.mutation) as unknown : null);
  const stepRows: StepAttribution[] = steps.map((s) => {
    const title = sql.get<{ title: string }>(
      `SELECT title FROM nodes WHERE run_id IN (${window}) AND step_id = ? ORDER BY created_seq DESC LIMIT 1`, [v.id, bound, s.step_id])?.title ?? s.step_id;
    const lastFailures = sql.all<{ run_id: string; id: string; result: string | null }>(
      `SELECT run_id, id, result FROM nodes WHERE run_id IN (${window}) AND step_id = ? AND attempts > 0 ORDER BY created_seq DESC LIMIT 3`,
      [v.id, bound, s.step_id]).map((n) => ({ runId: n.run_id, nodeId: n.id, summary: cut(n.result ?? '') }));
    const failures = s.failures ?? 0;
    const done = s.done ?? 0;
    const attempts = failures + done;
    return {
      stepId: s.step_id, title, runs: s.runs, nodes: s.nodes, attempts, failures, retries: s.retries ?? 0,
      interventions: s.interventions ?? 0, reviewRejections: s.review_rejections ?? 0, tokens: s.tokens ?? 0, durationMs: s.duration_ms ?? 0,
      done, failed: s.failed ?? 0, skipped: s.skipped ?? 0, open: s.open ?? 0,
      failureRate: attempts === 0 ? null : failures / attempts, changedBy: changed.get(s.step_id) ?? [], lastFailures,
    };
  });
  const failing = failureLimit === 0 ? [] : sql.all<{ id: string; title: string; task_key: string | null; created_seq: number; outcome: string | null; status: string }>(
    `SELECT id, title, task_key, created_seq, outcome, status FROM runs WHERE id IN (${window})
       AND (outcome = 'failure' OR (outcome IS NULL AND status = 'failed')) ORDER BY created_seq DESC LIMIT ${failureLimit}`, [v.id, bound]);
  const failingRuns: FailingRun[] = failing.map((r) => {
    const ev = sql.all<{ kind: string; success: number | null; note: string }>(
      "SELECT kind, success, note FROM evidence WHERE run_id = ? AND kind IN ('check', 'false_done', 'run_outcome') ORDER BY seq", [r.id]);
    const outcomeNote = ev.filter((e) => e.kind === 'run_outcome').at(-1)?.note ?? null;
    const failedSteps = sql.all<{ step_id: string; id: string; state: string; attempts: number; result: string | null }>(
      'SELECT step_id, id, state, attempts, result FROM nodes WHERE run_id = ? AND attempts > 0 ORDER BY created_seq LIMIT 50', [r.id])
      .map((n) => ({ stepId: n.step_id, nodeId: n.id, state: n.state, failures: n.attempts, summary: cut(n.result ?? '') }));
    return {
      runId: r.id, title: r.title, taskKey: r.task_key, createdSeq: r.created_seq, outcome: r.outcome, status: r.status,
      falseDone: ev.some((e) => e.kind === 'false_done'),
      failedChecks: ev.filter((e) => e.kind === 'check' && e.success === 0).slice(0, 20).map((e) => cut(e.note)),
      outcomeNote: outcomeNote === null ? null : cut(outcomeNote), failedSteps,
    };
  });
  const mutation = v.mutation ? JSON.parse(v.mutation) as unknown : null;
  return {
    variantId: v.id, familyId: v.family_id, generation: v.generation, status: v.status, parents: JSON.parse(v.parents) as string[], summary: v.summary,
    rationale: mutationRationale(mutation),
    window: { runs: span.runs, fromSeq: span.from_seq, toSeq: span.to_seq, nextBefore: older ? span.from_seq : null },
    totals: {
      runs: span.runs, succeeded: t.succeeded ?? 0, failed: t.failed ?? 0, open: t.open ?? 0, reportedDone: fd.done ?? 0, falseDone: fd.false_done ?? 0,
      interventions: t.interventions ?? 0, reviewRejections: t.rr ?? 0, tokens: t.tokens ?? 0, durationMs: t.duration ?? 0,
    },
    steps: stepRows,
    failingRuns,
  };
}

interface NodeTally { attempts: number; max: number; escalate: boolean; interventions: number; reviewRejections: number }

/**
 * Schema migration 5's backfill (branch evidence): each node's review rejections and a person's
 * interventions, recounted from the events as the projection counts them (escalation after the last
 * attempt, a cancel, a handoff to a person, reported counts about the node), so a migrated ledger
 * equals one replayed from its journal. Events already archived out of the table are not recounted.
 */
export function backfillNodeAttribution(sql: Sql): void {
  const tally = new Map<string, NodeTally>();
  const add = (specs: unknown): void => {
    if (!Array.isArray(specs)) return;
    for (const n of specs as Array<{ id?: string; maxAttempts?: number; onExhausted?: string }>) {
      if (typeof n.id === 'string') tally.set(n.id, { attempts: 0, max: n.maxAttempts ?? 1, escalate: n.onExhausted === 'escalate', interventions: 0, reviewRejections: 0 });
    }
  };
  const fail = (t: NodeTally): void => {
    t.attempts++;
    if (t.attempts >= t.max && t.escalate) t.interventions++;
  };
  const events = sql.all<{ kind: string; payload: string }>(
    `SELECT kind, payload FROM events WHERE kind IN ('run.started', 'node.expanded', 'node.reported', 'node.reviewed', 'node.gate_failed',
       'node.gate_opened', 'node.cancelled', 'node.handed_off', 'evidence.recorded') ORDER BY seq`);
  for (const e of events) {
    const p = JSON.parse(e.payload) as Record<string, unknown>;
    if (e.kind === 'run.started') { add(p.nodes); continue; }
    if (e.kind === 'node.expanded') { add(p.children); continue; }
    const t = typeof p.nodeId === 'string' ? tally.get(p.nodeId) : undefined;
    if (!t) continue;
    switch (e.kind) {
      case 'node.reported': if (p.outcome === 'failed') fail(t); break;
      case 'node.reviewed': if (p.verdict === 'reject') { t.reviewRejections++; fail(t); } break;
      case 'node.gate_failed': fail(t); break;
      case 'node.gate_opened': if (t.attempts >= t.max) t.max = t.attempts + 1; break;
      case 'node.cancelled': t.interventions++; break;
      case 'node.handed_off': if (p.toPerson) t.interventions++; break;
      case 'evidence.recorded':
        t.interventions += typeof p.interventions === 'number' ? p.interventions : 0;
        t.reviewRejections += typeof p.reviewRejections === 'number' ? p.reviewRejections : 0;
        break;
      default: break;
    }
  }
  for (const [id, t] of tally) {
    if (t.interventions || t.reviewRejections) sql.run('UPDATE nodes SET interventions = ?, review_rejections = ? WHERE id = ?', [t.interventions, t.reviewRejections, id]);
  }
}
