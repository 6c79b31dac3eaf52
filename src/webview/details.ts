// The details panel beside the graph. Built with DOM calls and textContent only: ledger text (titles, mutation notes)
// is never parsed as HTML.
import { worktreeFields } from '../shared/worktree';
import type { LineageGraph, LineageVariant, OverlayMark, RunGraph, RunGraphNode } from '../shared/protocol';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fields(rows: readonly (readonly [string, string | HTMLElement])[]): HTMLDListElement {
  const dl = el('dl');
  for (const [label, value] of rows) {
    dl.append(el('dt', undefined, label));
    const dd = el('dd');
    if (typeof value === 'string') dd.textContent = value;
    else dd.append(value);
    dl.append(dd);
  }
  return dl;
}

function chip(text: string, kind: string): HTMLSpanElement {
  return el('span', `chip chip-${kind}`, text);
}

export function renderEmpty(panel: HTMLElement, hint: string): void {
  panel.replaceChildren(el('p', 'hint', hint));
}

/**
 * The run's git worktree (branch, base, diff stats, state) as a details section, or null when the run has none.
 * The words are the runs tree's (src/shared/worktree.ts).
 */
export function worktreeSection(graph: RunGraph): HTMLElement | null {
  if (!graph.worktree) return null;
  const section = el('section', 'worktree');
  section.append(el('h3', undefined, 'Worktree'), fields(worktreeFields(graph.worktree)));
  return section;
}

/** The details of a run with no node selected: a hint, and the run's worktree when it has one. */
export function renderRunSummary(panel: HTMLElement, graph: RunGraph, hint: string): void {
  renderEmpty(panel, hint);
  const worktree = worktreeSection(graph);
  if (worktree) panel.append(worktree);
}

export function renderRunNode(panel: HTMLElement, graph: RunGraph, node: RunGraphNode): void {
  const rows: [string, string | HTMLElement][] = [
    ['State', chip(node.state, `state-${node.state}`)],
    ['Node', node.id],
  ];
  if (node.kind) rows.push(['Kind', node.kind]);
  rows.push(['Run', graph.title || graph.runId]);
  if (graph.variantId) rows.push(['Variant', graph.variantId]);
  const worker = node.worker;
  const workerSection = el('section', 'worker');
  workerSection.append(el('h3', undefined, 'Worker'));
  if (worker) {
    const w: [string, string][] = [['Worker', worker.worker]];
    if (worker.threadId) w.push(['Thread', worker.threadId]);
    if (worker.leaseExpiresAt) w.push(['Lease until', worker.leaseExpiresAt]);
    workerSection.append(fields(w));
  } else {
    workerSection.append(el('p', 'hint', 'Not bound to a worker.'));
  }
  const evidence = el('section', 'evidence');
  evidence.append(el('h3', undefined, 'Evidence'));
  if (node.evidence.length) evidence.append(fields(node.evidence.map((e) => [e.label, e.value] as const)));
  else evidence.append(el('p', 'hint', 'No evidence recorded yet.'));
  panel.replaceChildren(el('h2', undefined, node.title || node.id), fields(rows), workerSection, evidence);
  const worktree = worktreeSection(graph);
  if (worktree) panel.append(worktree);
}

const OVERLAY_TITLES: Readonly<Record<OverlayMark['kind'], string>> = {
  claims: 'Claims',
  bids: 'Bids',
  coalitions: 'Coalitions',
  mail: 'Mail',
};

/**
 * Appends what the overlays that are on say about the node (or, with no node selected, about the run): one section
 * per overlay, its lines as written (text only).
 */
export function renderOverlayMarks(panel: HTMLElement, marks: readonly OverlayMark[]): void {
  for (const m of marks) {
    const section = el('section', `overlay overlay-${m.kind}`);
    section.append(el('h3', undefined, `${OVERLAY_TITLES[m.kind]}${m.badge ? ` · ${m.badge}` : ''}`));
    const list = el('ul');
    for (const line of m.lines) list.append(el('li', undefined, line));
    section.append(list);
    panel.append(section);
  }
}

export function successRate(v: LineageVariant): string {
  return v.evidence.runs === 0 ? '–' : `${Math.round((100 * v.evidence.successes) / v.evidence.runs)}%`;
}

export function renderVariant(
  panel: HTMLElement,
  lineage: LineageGraph,
  v: LineageVariant,
  onSelect: (id: string) => void,
  onOpenDiff?: (variantId: string) => void,
): void {
  const active = v.status === 'active' || v.id === lineage.activeVariantId;
  const parents = el('span', 'parents');
  if (v.parentIds.length === 0) parents.textContent = 'none (root)';
  for (const p of v.parentIds) {
    // A parent is a link-like button: following lineage upward is the common move.
    const b = el('button', 'link', lineage.variants.find((x) => x.id === p)?.label ?? p);
    b.type = 'button';
    b.addEventListener('click', () => onSelect(p));
    parents.append(b, ' ');
  }
  const rows: [string, string | HTMLElement][] = [
    ['Status', chip(active ? 'active' : v.status, `status-${active ? 'active' : v.status}`)],
    ['Generation', String(v.generation)],
    ['Parents', parents],
  ];
  if (v.mutation) rows.push(['Mutation', v.mutation]);
  if (v.rationale) rows.push(['Rationale', v.rationale]);
  if (v.trial) rows.push(['Trial', v.trial]);
  const evidence = el('section', 'evidence');
  evidence.append(el('h3', undefined, 'Evidence'));
  evidence.append(
    fields([
      ['Runs', String(v.evidence.runs)],
      ['Succeeded', `${v.evidence.successes} (${successRate(v)})`],
      ['Failed', String(v.evidence.failures)],
      ['Interventions', String(v.evidence.interventions)],
      ['Tokens', v.evidence.tokens.toLocaleString('en-US')],
    ]),
  );
  panel.replaceChildren(el('h2', undefined, `${v.label}${active ? ' ★' : ''}`), fields(rows), evidence);
  if (v.steps?.length) panel.append(stepsSection(v, onOpenDiff));
}

/** How hot a failure rate is, as the class the stylesheet colours (cool to hot). */
export function heatClass(rate: number | null): string {
  return rate === null ? 'heat-none' : rate < 0.1 ? 'heat-0' : rate < 0.25 ? 'heat-1' : rate < 0.5 ? 'heat-2' : 'heat-3';
}

/** The variant's steps: failures, retries and tokens per step, and which steps its mutation changed (with its diff). */
function stepsSection(v: LineageVariant, onOpenDiff: ((variantId: string) => void) | undefined): HTMLElement {
  const section = el('section', 'steps');
  section.append(el('h3', undefined, 'Steps'));
  const table = el('table', 'heat');
  const head = el('tr');
  for (const h of ['Step', 'Failed', 'Retries', 'Tokens', 'Changed by']) head.append(el('th', undefined, h));
  table.append(head);
  for (const s of v.steps ?? []) {
    const row = el('tr', heatClass(s.failureRate));
    row.dataset.step = s.stepId;
    const name = el('td');
    name.append(el('span', `swatch ${heatClass(s.failureRate)}`), ` ${s.title || s.stepId}`);
    const rate = s.failureRate === null ? 'not run' : `${s.failures}/${s.attempts} (${Math.round(s.failureRate * 100)}%)`;
    const changed = el('td');
    if (s.changedBy.length) {
      changed.append(s.changedBy.join(', '));
      if (onOpenDiff) {
        const b = el('button', 'link', 'diff');
        b.type = 'button';
        b.title = 'Open the formula as a diff against its parent';
        b.addEventListener('click', () => onOpenDiff(v.id));
        changed.append(' ', b);
      }
    }
    row.append(name, el('td', undefined, rate), el('td', undefined, String(s.retries)), el('td', undefined, s.tokens.toLocaleString('en-US')), changed);
    table.append(row);
  }
  section.append(table);
  return section;
}
