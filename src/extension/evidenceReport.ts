// The "Formula Evidence" report (issue 14): a family's variants newest first, each with its totals, the rationale
// of its mutation, a table of its steps (failures, retries, tokens, the operations of its mutation that changed
// the step) and its newest failing runs, from the ledger's formulaEvidence (src/ledger/evidence.ts). Pure: markdown
// text from the evidence, unit-tested without an editor.
import type { FormulaEvidence, VariantEvidence } from '../ledger/evidence';
import { formatVariant } from '../ledger/families';

/** Table cells hold worker text: pipes and line breaks would break the table, so they are escaped or folded. */
function cell(text: string, max = 160): string {
  const one = text.replace(/\s+/g, ' ').trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return cut.replace(/\|/g, '\\|');
}

function percent(rate: number | null): string {
  return rate === null ? '–' : `${Math.round(rate * 100)}%`;
}

/** How hot a step ran, as a mark a person reads at a glance (the lineage graph's heat strip uses the same bands). */
export function heatMark(rate: number | null): string {
  return rate === null ? '·' : rate < 0.1 ? '▁' : rate < 0.25 ? '▃' : rate < 0.5 ? '▅' : '▇';
}

function variantSection(v: VariantEvidence, activeVariantId: string | null): string[] {
  const t = v.totals;
  const lines = [
    `## ${formatVariant({ id: v.variantId, generation: v.generation })}${v.variantId === activeVariantId ? ' ★ active' : ''} — ${v.status}`,
    '',
    `${t.runs} runs in the window: ${t.succeeded} succeeded, ${t.failed} failed, ${t.open} open · ${t.falseDone} reported done but failed their checks · ` +
      `${t.interventions} interventions · ${t.reviewRejections} review rejections · ${t.tokens.toLocaleString('en-US')} tokens`,
    '',
  ];
  if (v.summary) lines.push(`**Mutation:** ${cell(v.summary, 500)}`, '');
  if (v.rationale) lines.push(`**Rationale:** ${cell(v.rationale, 2000)}`, '');
  if (v.steps.length) {
    lines.push('| heat | step | failed / attempts | retries | tokens | changed by |', '|---|---|---|---|---|---|');
    for (const s of v.steps) {
      lines.push(`| ${heatMark(s.failureRate)} | ${cell(s.title || s.stepId)} (\`${cell(s.stepId, 80)}\`) | ${s.failures} / ${s.attempts} (${percent(s.failureRate)}) | ${s.retries} | ` +
        `${s.tokens.toLocaleString('en-US')} | ${cell(s.changedBy.join(', ')) || ''} |`);
    }
    lines.push('');
  }
  if (v.failingRuns.length) {
    lines.push('Newest failing runs:', '');
    for (const r of v.failingRuns) {
      const why = [r.falseDone ? 'reported done, checks failed' : '', r.outcomeNote ?? '', ...r.failedSteps.map((s) => `${s.stepId}: ${s.summary}`)]
        .filter(Boolean).map((x) => cell(x, 200)).join('; ');
      lines.push(`- \`${r.runId}\` ${cell(r.title, 80)}${why ? ` — ${why}` : ''}`);
    }
    lines.push('');
  }
  return lines;
}

/** The whole report for a family (or one variant), as markdown. */
export function evidenceReport(e: FormulaEvidence): string {
  return [
    `# Formula evidence: ${e.familyId}`,
    '',
    'Heat per step: · not run, ▁ under 10 % of attempts failed, ▃ under 25 %, ▅ under 50 %, ▇ 50 % or more.',
    '',
    ...e.variants.flatMap((v) => variantSection(v, e.activeVariantId)),
    e.moreVariants ? `_${e.moreVariants} older variants are not shown._` : '',
  ].join('\n');
}
