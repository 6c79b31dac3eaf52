// `gascity evidence VARIANT|FAMILY`: step-level attribution of a formula variant (or of every variant of a
// family) from a terminal, the same figures the formula_evidence MCP tool and VS Code show.
import * as path from 'node:path';
import { formulaEvidence } from '../ledger/evidence';
import { parseOptions, refuseExtra } from './args';
import type { FormulaEvidence, VariantEvidence } from '../ledger/evidence';
import { LedgerError, errorMessage, openLedger, resolveLedgerDir } from '../ledger/index';

export const EVIDENCE_USAGE = `Usage: gascity evidence VARIANT|FAMILY [options]

  Per step of the variant (or of each variant of the family, newest generation first): attempts, failures,
  retries, interventions, review rejections, tokens and time over its newest runs, and its failing runs
  with their failed checks.

Options:
  --runs N        newest runs counted per variant (default 200, at most 1000)
  --before SEQ    page back: only runs created before SEQ (the "older runs" line names it)
  --failures N    failing runs listed per variant (default 5, at most 50)
  --variants N    variants of a family shown (default 20, at most 100)
  --json          the whole answer as JSON
  --ledger DIR, --workspace DIR   as for every gascity command
`;

/** Where evidenceCommand writes; the CLI passes the process's streams, tests their own. */
export interface EvidenceIo {
  out(text: string): void;
  err(text: string): void;
}

function whole(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value)) throw new LedgerError(`--${flag}: give a whole number, not "${value.slice(0, 40)}"`, 'invalid_input', flag);
  return Number(value);
}

/**
 * Runs `gascity evidence` with its own arguments (after the word "evidence"). Returns the exit code:
 * 0 on success, 2 for bad arguments or an unknown variant or family (the message names the field).
 */
export async function evidenceCommand(argv: string[], io: EvidenceIo): Promise<number> {
  let parsed;
  try {
    // The one parser of the CLI (src/cli/args.ts): it refuses an option given twice (`--variants 1 --variants 9`) by name.
    parsed = parseOptions(argv, {
      ledger: { type: 'string' }, workspace: { type: 'string' }, json: { type: 'boolean' }, runs: { type: 'string' }, before: { type: 'string' },
      failures: { type: 'string' }, variants: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    }, 'gascity evidence --help');
    if (!parsed.values.help) {
      if (parsed.positionals.length === 0) throw new LedgerError('missing argument: VARIANT|FAMILY (name one variant id or family)', 'invalid_input', 'VARIANT|FAMILY');
      refuseExtra('evidence', parsed.positionals, 1, 'evidence VARIANT|FAMILY [options]');
    }
  } catch (e) {
    io.err(`${errorMessage(e)}\n\n${EVIDENCE_USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    io.out(EVIDENCE_USAGE);
    return 0;
  }
  const target = parsed.positionals[0]!;
  let ledger;
  try {
    const workspace = path.resolve(v.workspace ?? process.cwd());
    const query = { runs: whole('runs', v.runs), before: whole('before', v.before), failures: whole('failures', v.failures), variants: whole('variants', v.variants) };
    ledger = await openLedger(resolveLedgerDir({ dir: v.ledger, cwd: workspace }), { actor: `cli:${process.pid}` });
    // A variant id names a variant; anything else is taken as a family.
    const isVariant = !!ledger.sql.get('SELECT 1 FROM variants WHERE id = ?', [target]);
    const { runs, before, failures, variants } = query;
    const clean = Object.fromEntries(Object.entries({ runs, before, failures, variants }).filter(([, x]) => x !== undefined));
    const e = formulaEvidence(ledger, isVariant ? { variantId: target, ...clean } : { familyId: target, ...clean });
    io.out(v.json ? `${JSON.stringify(e, null, 2)}\n` : renderEvidence(e));
    return 0;
  } catch (e) {
    if (e instanceof LedgerError) {
      io.err(`${e.code === 'not_found' && e.field === 'familyId' ? `no variant or family "${target}"` : e.message}\n`);
      return 2;
    }
    io.err(`${errorMessage(e)}\n`);
    return 1;
  } finally {
    ledger?.close();
  }
}

function pct(x: number | null): string {
  return x === null ? '–' : `${Math.round(100 * x)}%`;
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${(ms / 60_000).toFixed(1)}m` : `${(ms / 1000).toFixed(1)}s`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

function renderVariant(v: VariantEvidence, active: boolean): string[] {
  const t = v.totals;
  const lines = [
    `g${v.generation}·${v.variantId}  ${v.status}${active ? ' (active)' : ''}  ${v.summary}`,
  ];
  if (v.rationale) lines.push(`  rationale: ${v.rationale.replace(/\s+/g, ' ').slice(0, 300)}`);
  lines.push(`  ${t.runs} run${t.runs === 1 ? '' : 's'}: ${t.succeeded} succeeded, ${t.failed} failed, ${t.open} open; ${t.falseDone} of ${t.reportedDone} reported done failed their checks; ` +
    `${t.interventions} interventions, ${t.reviewRejections} review rejections, ${t.tokens} tokens`);
  if (v.steps.length) {
    const rows = [['  step', 'runs', 'attempts', 'failures', 'fail%', 'retries', 'interv', 'rejected', 'tokens', 'time', 'changed']];
    for (const s of v.steps) {
      rows.push([`  ${s.stepId}`, String(s.runs), String(s.attempts), String(s.failures), pct(s.failureRate), String(s.retries), String(s.interventions),
        String(s.reviewRejections), String(s.tokens), seconds(s.durationMs), s.changedBy.join(',') || '']);
    }
    lines.push(...table(rows));
  }
  for (const r of v.failingRuns) {
    lines.push(`  failed ${r.runId} ${r.title}${r.falseDone ? ' — the model said done, the checks did not' : ''}`);
    for (const c of r.failedChecks) lines.push(...c.split('\n').slice(0, 6).map((l) => `      ${l}`));
    for (const s of r.failedSteps) lines.push(`      step ${s.stepId} (${s.state}, ${s.failures} failed): ${s.summary.replace(/\s+/g, ' ').slice(0, 200)}`);
  }
  if (v.window.nextBefore !== null) lines.push(`  older runs: gascity evidence ${v.variantId} --before ${v.window.nextBefore}`);
  return lines;
}

/** The evidence as text: per variant its totals, the step table and the failing runs. */
export function renderEvidence(e: FormulaEvidence): string {
  const lines = [`family ${e.familyId}`];
  for (const v of e.variants) lines.push('', ...renderVariant(v, v.variantId === e.activeVariantId));
  if (e.moreVariants) lines.push('', `${e.moreVariants} older variants not shown (--variants N)`);
  return `${lines.join('\n')}\n`;
}
