import type { EventPayloads } from '../events';
import type { StoredEvent } from '../store/journal';
import type { Sql } from '../store/sql';

/** The overlay events' kinds (the block of src/ledger/events.ts marked branch overlays). */
export type OverlayEventKind =
  | 'blackboard.written' | 'blackboard.overlap' | 'round.announced' | 'bid.submitted' | 'round.awarded' | 'round.closed'
  | 'coalition.formed' | 'coalition.joined' | 'coalition.left' | 'coalition.split' | 'coalition.merged' | 'coalition.claim_held'
  | 'mail.sent' | 'mail.read';

type Handler<K extends OverlayEventKind> = (sql: Sql, p: EventPayloads[K], e: StoredEvent) => void;

/**
 * How each overlay event changes the tables of src/ledger/overlays/tables.ts. Like the core handlers these are
 * deterministic functions of the event and the tables: no clock, no chance, so a replay rebuilds the same rows.
 */
export const OVERLAY_HANDLERS: { [K in OverlayEventKind]: Handler<K> } = {
  'blackboard.written'(sql, p, e) {
    sql.run(
      `INSERT INTO bb_entries(id, run_id, kind, author, node_id, title, body, paths, supersedes, seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.entryId, p.runId, p.kind, p.author, p.nodeId, p.title, p.body, JSON.stringify(p.paths), p.supersedes, e.seq, e.ts],
    );
    if (p.supersedes) sql.run('UPDATE bb_entries SET superseded_by = ? WHERE id = ? AND superseded_by IS NULL', [p.entryId, p.supersedes]);
  },
  'blackboard.overlap'(sql, p, e) {
    sql.run(
      `INSERT INTO bb_overlaps(id, run_id, entry_id, claimant, claimant_node_id, worker, node_id, files, mail_ids, seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.overlapId, p.runId, p.entryId, p.claimant, p.claimantNodeId, p.worker, p.nodeId, JSON.stringify(p.files), JSON.stringify(p.mailIds), e.seq, e.ts],
    );
  },
  'round.announced'(sql, p, e) {
    sql.run(
      `INSERT INTO rounds(id, run_id, node_id, announced_by, deadline, quorum, lease_seconds, rule, status, seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`,
      [p.roundId, p.runId, p.nodeId, p.announcedBy, p.deadline, p.quorum, p.leaseSeconds, p.rule, e.seq, e.ts],
    );
  },
  'bid.submitted'(sql, p, e) {
    sql.run('INSERT INTO bids(id, round_id, bidder, cost, confidence, rationale, seq, at, person) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [p.bidId, p.roundId, p.bidder, p.cost, p.confidence, p.rationale, e.seq, e.ts, p.person ? 1 : 0]);
  },
  'round.awarded'(sql, p, e) {
    sql.run(
      `UPDATE rounds SET status = 'awarded', winner = ?, bid_id = ?, claim_id = ?, closed_by = ?, detail = ?, closed_at = ? WHERE id = ?`,
      [p.winner, p.bidId, p.claimId, p.closedBy, JSON.stringify(p.bids), e.ts, p.roundId],
    );
  },
  'round.closed'(sql, p, e) {
    // Events written before closedBy was recorded leave it null, as their live rows had it.
    sql.run('UPDATE rounds SET status = ?, reason = ?, closed_by = ?, closed_at = ? WHERE id = ?', [p.status, p.reason, p.closedBy ?? null, e.ts, p.roundId]);
  },
  'coalition.formed'(sql, p, e) {
    sql.run(`INSERT INTO coalitions(id, run_id, name, lead, lead_scope, status, seq, at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?)`,
      [p.coalitionId, p.runId, p.name, p.lead, JSON.stringify(p.leadScope), e.seq, e.ts]);
    for (const m of p.members) addMember(sql, p.coalitionId, m, e.seq);
  },
  'coalition.joined'(sql, p, e) {
    addMember(sql, p.coalitionId, p.member, e.seq);
  },
  'coalition.left'(sql, p, e) {
    sql.run('UPDATE coalition_members SET left_seq = ? WHERE coalition_id = ? AND member = ? AND left_seq IS NULL', [e.seq, p.coalitionId, p.member]);
  },
  'coalition.split'(sql, p, e) {
    const old = sql.get<{ run_id: string }>('SELECT run_id FROM coalitions WHERE id = ?', [p.coalitionId]);
    if (!old) throw new Error(`event names unknown coalition ${p.coalitionId}`);
    sql.run(`INSERT INTO coalitions(id, run_id, name, lead, lead_scope, status, parent_id, seq, at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?)`,
      [p.newCoalitionId, old.run_id, p.name, p.lead, JSON.stringify(p.leadScope), p.coalitionId, e.seq, e.ts]);
    for (const m of p.members) {
      sql.run('UPDATE coalition_members SET left_seq = ? WHERE coalition_id = ? AND member = ? AND left_seq IS NULL', [e.seq, p.coalitionId, m]);
      addMember(sql, p.newCoalitionId, m, e.seq);
    }
    // The part that leaves takes the nodes it now leads out of the old lead's scope.
    const scope = (JSON.parse(sql.get<{ lead_scope: string }>('SELECT lead_scope FROM coalitions WHERE id = ?', [p.coalitionId])!.lead_scope) as string[])
      .filter((n) => !p.leadScope.includes(n));
    const lead = sql.get<{ lead: string | null }>('SELECT lead FROM coalitions WHERE id = ?', [p.coalitionId])!.lead;
    sql.run('UPDATE coalitions SET lead_scope = ?, lead = ? WHERE id = ?', [JSON.stringify(scope), lead !== null && p.members.includes(lead) ? null : lead, p.coalitionId]);
    for (const nodeId of p.nodeIds) sql.run('UPDATE coalition_claims SET coalition_id = ? WHERE coalition_id = ? AND node_id = ?', [p.newCoalitionId, p.coalitionId, nodeId]);
  },
  'coalition.merged'(sql, p, e) {
    const members = sql.all<{ member: string }>('SELECT member FROM coalition_members WHERE coalition_id = ? AND left_seq IS NULL ORDER BY joined_seq, rowid', [p.absorbedId]);
    sql.run('UPDATE coalition_members SET left_seq = ? WHERE coalition_id = ? AND left_seq IS NULL', [e.seq, p.absorbedId]);
    for (const m of members) addMember(sql, p.coalitionId, m.member, e.seq);
    const scopeOf = (id: string) => JSON.parse(sql.get<{ lead_scope: string }>('SELECT lead_scope FROM coalitions WHERE id = ?', [id])!.lead_scope) as string[];
    const scope = [...new Set([...scopeOf(p.coalitionId), ...scopeOf(p.absorbedId)])];
    sql.run('UPDATE coalitions SET lead_scope = ? WHERE id = ?', [JSON.stringify(scope), p.coalitionId]);
    sql.run(`UPDATE coalitions SET status = 'merged', merged_into = ? WHERE id = ?`, [p.coalitionId, p.absorbedId]);
    sql.run('UPDATE coalition_claims SET coalition_id = ? WHERE coalition_id = ?', [p.coalitionId, p.absorbedId]);
  },
  'coalition.claim_held'(sql, p, e) {
    sql.run('INSERT OR REPLACE INTO coalition_claims(claim_id, node_id, coalition_id, member, seq) VALUES (?, ?, ?, ?, ?)', [p.claimId, p.nodeId, p.coalitionId, p.member, e.seq]);
  },
  'mail.sent'(sql, p, e) {
    sql.run(
      `INSERT INTO mail(id, run_id, from_id, to_kind, to_id, subject, body, reply_to, recipients, seq, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [p.mailId, p.runId, p.from, p.toKind, p.to, p.subject, p.body, p.replyTo, JSON.stringify(p.recipients), e.seq, e.ts],
    );
    for (const m of new Set(p.recipients)) sql.run('INSERT INTO mail_members(mail_id, member, seq) VALUES (?, ?, ?)', [p.mailId, m, e.seq]);
  },
  'mail.read'(sql, p, e) {
    for (const id of p.mailIds) sql.run('INSERT OR IGNORE INTO mail_reads(mail_id, reader, seq, at) VALUES (?, ?, ?, ?)', [id, p.reader, e.seq, e.ts]);
  },
};

/** A member joins unless already a current member (a merge of overlapping coalitions keeps one spell). */
function addMember(sql: Sql, coalitionId: string, member: string, seq: number): void {
  if (sql.get('SELECT 1 FROM coalition_members WHERE coalition_id = ? AND member = ? AND left_seq IS NULL', [coalitionId, member])) return;
  sql.run('INSERT INTO coalition_members(coalition_id, member, joined_seq) VALUES (?, ?, ?)', [coalitionId, member, seq]);
}

/** Every overlay event kind: a view refreshes its overlays when a change carries one of these. */
export const OVERLAY_EVENT_KINDS: readonly OverlayEventKind[] = Object.keys(OVERLAY_HANDLERS) as OverlayEventKind[];
