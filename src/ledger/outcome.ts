// Recording a run's ground truth: the results of its formula's checks decide its outcome, and the
// model's own report is kept beside them as evidence of its own. All of it is one commit, once per run.
import { EVIDENCE_ID_LENGTH, missingRun } from './archive';
import { event } from './events';
import { newId } from './ids';
import type { Ledger } from './ledger';

/** Evidence kinds written when a run's checks decide its outcome. */
export const CHECK_EVIDENCE = {
  /** One row per check: success is whether it passed; the note has its summary and trimmed output. */
  check: 'check',
  /** What the model (the node states) said: success is true when every node ended done. */
  modelReport: 'model_report',
  /** The model called the run done but a check failed: counts against the variant (false-done rate). */
  falseDone: 'false_done',
} as const;

/** One check's result as the ledger keeps it (see src/controller/checks.ts for how it is made). */
export interface CheckedResult {
  id: string;
  kind: string;
  passed: boolean;
  summary: string;
  subject: string;
  output: string;
}

/** The note of a check's evidence row: the verdict line, what ran, then the (already trimmed) output. */
export function checkNote(r: CheckedResult): string {
  const lines = [`check ${r.id} (${r.kind}) ${r.passed ? 'passed' : 'failed'}: ${r.summary}`];
  if (r.kind === 'run') lines.push(`$ ${r.subject}`);
  if (r.output !== '') lines.push(r.output);
  return lines.join('\n');
}

/**
 * Records a finished run's outcome from its checks, in one commit: a `check` evidence row per result,
 * the model's own report (`model_report`, success = every node ended done), `false_done` when the model
 * called the run done and a check failed, and last the `run_outcome` (success = every check passed),
 * which sets the run's outcome. Records nothing, and returns null, when the run is still running or was
 * cancelled, or already has a `run_outcome` (a second controller, or a person who marked it): the first
 * outcome stays. Returns the run_outcome evidence id otherwise. Throws a LedgerError for an unknown run.
 */
export async function recordCheckedOutcome(ledger: Ledger, runId: string, results: readonly CheckedResult[], actor?: string): Promise<string | null> {
  return ledger.commit(({ sql }) => {
    const run = sql.get<{ status: string; family_id: string | null; variant_id: string | null }>(
      'SELECT status, family_id, variant_id FROM runs WHERE id = ?', [runId]);
    if (!run) throw missingRun(sql, 'runId', runId);
    if (run.status === 'running' || run.status === 'cancelled') return { events: [], result: null };
    if (sql.get("SELECT 1 FROM evidence WHERE run_id = ? AND kind = 'run_outcome'", [runId])) return { events: [], result: null };
    const counts = sql.get<{ total: number; done: number; failed: number }>(
      "SELECT count(*) AS total, sum(state = 'done') AS done, sum(state = 'failed') AS failed FROM nodes WHERE run_id = ?", [runId])!;
    const taken = new Set<string>();
    const id = (): string => {
      const x = newId('e', (candidate) => taken.has(candidate) || !!sql.get('SELECT 1 FROM evidence WHERE id = ?', [candidate]), EVIDENCE_ID_LENGTH);
      taken.add(x);
      return x;
    };
    const evidence = (kind: string, success: boolean, note: string) => event('evidence.recorded', {
      evidenceId: id(), familyId: run.family_id, variantId: run.variant_id, runId, nodeId: null, kind, success,
      interventions: null, reviewRejections: null, tokens: null, durationMs: null, note,
    });
    const modelDone = run.status === 'done';
    const failed = results.filter((r) => !r.passed);
    const passed = failed.length === 0;
    const events = results.map((r) => evidence(CHECK_EVIDENCE.check, r.passed, checkNote(r)));
    events.push(evidence(CHECK_EVIDENCE.modelReport, modelDone, modelDone
      ? `the model reported the run done: ${counts.done ?? 0} of ${counts.total} nodes done`
      : `the run ended ${run.status}: ${counts.failed ?? 0} of ${counts.total} nodes failed`));
    if (modelDone && !passed) {
      events.push(evidence(CHECK_EVIDENCE.falseDone, false, `the model reported the run done, but ${failed.length} of ${results.length} checks failed: ${failed.map((r) => r.id).join(', ')}`));
    }
    // Last, so that it is the evidence that sets the run's outcome.
    events.push(evidence('run_outcome', passed, passed
      ? `checks: all ${results.length} passed`
      : `checks: ${failed.length} of ${results.length} failed (${failed.map((r) => `${r.id}: ${r.summary}`).join('; ')})`.slice(0, 4000)));
    return { events, result: events[events.length - 1]!.payload.evidenceId };
  }, actor);
}

/** How often a variant's model said "done" when its checks said otherwise. */
export interface FalseDoneRate {
  /** Runs whose checks decided the outcome and whose model reported them done. */
  reportedDone: number;
  /** Of those, the runs whose checks failed. */
  falseDone: number;
  /** falseDone / reportedDone, or null before any run was reported done. */
  rate: number | null;
}

/**
 * The false-done rate of a variant: of its runs that the model reported done and whose checks decided
 * the outcome (`model_report` with success), the share whose checks failed (`false_done`). The input a
 * promotion guardrail "false-done rate" compares between candidate and incumbent. Two indexed counts, plus
 * those of the variant's archived runs (variant_archived).
 */
export function falseDoneRate(ledger: Ledger, variantId: string): FalseDoneRate {
  const row = ledger.sql.get<{ done: number | null; false_done: number | null }>(
    `SELECT sum(kind = '${CHECK_EVIDENCE.modelReport}' AND success = 1) AS done, sum(kind = '${CHECK_EVIDENCE.falseDone}') AS false_done
     FROM evidence WHERE variant_id = ? AND kind IN ('${CHECK_EVIDENCE.modelReport}', '${CHECK_EVIDENCE.falseDone}')`, [variantId]);
  const archived = ledger.sql.get<{ reported_done: number; false_done: number }>('SELECT reported_done, false_done FROM variant_archived WHERE variant_id = ?', [variantId]);
  const reportedDone = (row?.done ?? 0) + (archived?.reported_done ?? 0);
  const falseDone = (row?.false_done ?? 0) + (archived?.false_done ?? 0);
  return { reportedDone, falseDone, rate: reportedDone === 0 ? null : falseDone / reportedDone };
}
