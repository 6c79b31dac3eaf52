// Turns a run's coordination overlays (OverlayService.runOverlays, docs/overlays.md) into the marks the run graph
// draws when a person turns an overlay on: what each says about a node, and what it says about the run as a whole.
// Pure (no vscode import), so what a person reads is unit-tested.
import type { RunOverlays } from '../ledger/index';
import type { OverlayMark, RunOverlayView } from '../shared/protocol';

/** Text taken from workers (titles, rationales, subjects) is cut here: a mark is a line to read, not a document. */
const MAX_LINE = 300;

function cut(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_LINE ? `${oneLine.slice(0, MAX_LINE - 1)}…` : oneLine;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The marks of every overlay of one run. Node marks are grouped (one mark per node and overlay, its lines listing
 * each item); a mark without a node is about the run. `known` holds the run's node ids: an item naming a node the
 * graph does not show is shown on the run instead.
 */
export function toOverlayView(runId: string, overlays: RunOverlays, known: ReadonlySet<string>): RunOverlayView {
  const groups = new Map<string, { kind: OverlayMark['kind']; nodeId?: string; lines: string[]; count: number; badge: (n: number) => string }>();
  const add = (kind: OverlayMark['kind'], nodeId: string | null | undefined, line: string, badge: (n: number) => string) => {
    const on = nodeId && known.has(nodeId) ? nodeId : undefined;
    const key = `${kind}\u0000${on ?? ''}`;
    const g = groups.get(key) ?? { kind, ...(on ? { nodeId: on } : {}), lines: [], count: 0, badge };
    g.count++;
    if (g.lines.length < 100) g.lines.push(cut(line));
    groups.set(key, g);
  };

  for (const c of overlays.claims) {
    add('claims', c.nodeId, `${c.author} claims ${c.paths.join(', ') || '(no paths)'}${c.title ? `: ${c.title}` : ''}`, (n) => plural(n, 'claim'));
  }
  for (const o of overlays.overlaps) {
    add('claims', o.nodeId, `overlap: ${o.worker} changed ${o.files.join(', ')} inside ${o.claimant}'s claim`, (n) => plural(n, 'claim note'));
  }
  for (const r of overlays.rounds) {
    const head = r.status === 'awarded'
      ? `round ${r.id}: awarded to ${r.winner ?? '?'} (${r.rule}, closed by ${r.closedBy ?? '?'})`
      : r.status === 'open'
        ? `round ${r.id}: open until ${r.deadline}, ${plural(r.bids.length, 'bid')} of ${r.quorum} wanted`
        : `round ${r.id}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`;
    add('bids', r.nodeId, head, () => (r.status === 'open' ? `bidding · ${plural(r.bids.length, 'bid')}` : r.status === 'awarded' ? `awarded · ${r.winner ?? ''}` : r.status));
    const rank = new Map(r.compared.map((c) => [c.bidId, c.rank]));
    for (const b of r.bids) {
      const place = rank.has(b.id) ? `#${rank.get(b.id)} ` : '';
      add('bids', r.nodeId, `${place}${b.bidder}: ${b.cost.toLocaleString('en-US')} tokens at confidence ${b.confidence}${b.rationale ? ` — ${b.rationale}` : ''}`, () => '');
    }
  }
  for (const c of overlays.coalitions) {
    const who = `${c.name} (${c.members.join(', ') || 'no members'})${c.status === 'merged' ? `, merged into ${c.mergedInto ?? '?'}` : ''}`;
    const nodes = new Set([...c.leadScope, ...c.claims.filter((j) => j.live).map((j) => j.nodeId)]);
    if (nodes.size === 0) add('coalitions', undefined, who, () => 'coalition');
    for (const nodeId of nodes) {
      const role = c.leadScope.includes(nodeId) ? `led by ${c.lead ?? 'no one'}` : `held by ${c.claims.find((j) => j.nodeId === nodeId)?.member ?? '?'}`;
      add('coalitions', nodeId, `${who}: ${role}`, () => c.name);
    }
  }
  for (const m of overlays.mail.recent) {
    const nodeId = m.toKind === 'node' ? m.to : undefined;
    add('mail', nodeId, `${m.at.slice(0, 16).replace('T', ' ')} ${m.from} → ${m.toKind} ${m.to}: ${m.subject || '(no subject)'} — ${m.body}`, (n) => plural(n, 'message'));
  }
  if (overlays.mail.total > overlays.mail.recent.length) {
    add('mail', undefined, `… and ${overlays.mail.total - overlays.mail.recent.length} older messages (Gas City: Read Mail lists them)`, (n) => plural(n, 'message'));
  }

  const marks: OverlayMark[] = [];
  for (const g of groups.values()) {
    marks.push({ kind: g.kind, ...(g.nodeId ? { nodeId: g.nodeId } : {}), badge: g.badge(g.count), lines: g.lines });
  }
  return { runId, marks };
}
