/**
 * The overlays' projection tables (schema migration 5 on branch overlays; the lead renumbers on merge).
 * The statements are idempotent (IF NOT EXISTS): a ledger migrated from an older schema and one that already
 * has the tables end up alike, and a branch's migration renumbered on merge runs safely once more.
 * Every row is put there by replaying an overlay event (src/ledger/overlays/projection.ts), so a ledger
 * replayed from its journal has the same rows. Times are ISO 8601 text; `seq` is the event's sequence number.
 *
 * - bb_entries: one row per `blackboard.written`. `paths` is a JSON list of globs (claims only);
 *   `superseded_by` is set when a later entry supersedes it, never cleared: nothing is deleted.
 * - bb_overlaps: one row per `blackboard.overlap`: the claim entry, both workers, the files (JSON).
 * - rounds: contract-net rounds: status open | awarded | lapsed | void; `detail` holds the award's compared bids (JSON).
 * - bids: one per bidder and round.
 * - coalitions: status active | merged; `lead_scope` is a JSON list of node ids the lead leads; `parent_id`
 *   names the coalition it split from, `merged_into` the one that absorbed it.
 * - coalition_members: membership spells; `left_seq` is set when the member left (or moved in a split or merge).
 * - coalition_claims: a member's claim held on behalf of a coalition; `coalition_id` follows splits and merges.
 * - mail: messages with their address (`to_kind`, `to_id`) and, for coalition mail, the recipients at sending (JSON).
 * - mail_members: one row per recipient of coalition mail, so a reader's inbox is read through indexes only.
 * - mail_reads: which reader read which message, once.
 */
export const OVERLAY_TABLES = `
CREATE TABLE IF NOT EXISTS bb_entries (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  author TEXT NOT NULL,
  node_id TEXT,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  paths TEXT NOT NULL,
  supersedes TEXT,
  superseded_by TEXT,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bb_entries_run ON bb_entries(run_id, seq);
CREATE INDEX IF NOT EXISTS bb_entries_claims ON bb_entries(run_id, kind, seq) WHERE superseded_by IS NULL;
CREATE TABLE IF NOT EXISTS bb_overlaps (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  entry_id TEXT NOT NULL,
  claimant TEXT NOT NULL,
  claimant_node_id TEXT,
  worker TEXT NOT NULL,
  node_id TEXT,
  files TEXT NOT NULL,
  mail_ids TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bb_overlaps_run ON bb_overlaps(run_id, seq);
CREATE INDEX IF NOT EXISTS bb_overlaps_entry ON bb_overlaps(entry_id, worker);
CREATE TABLE IF NOT EXISTS rounds (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  announced_by TEXT NOT NULL,
  deadline TEXT NOT NULL,
  quorum INTEGER NOT NULL,
  lease_seconds INTEGER NOT NULL,
  rule TEXT NOT NULL,
  status TEXT NOT NULL,
  winner TEXT,
  bid_id TEXT,
  claim_id TEXT,
  closed_by TEXT,
  reason TEXT,
  detail TEXT,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  closed_at TEXT
);
CREATE INDEX IF NOT EXISTS rounds_node ON rounds(node_id, seq);
CREATE INDEX IF NOT EXISTS rounds_run ON rounds(run_id, seq);
CREATE INDEX IF NOT EXISTS rounds_open ON rounds(deadline) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS rounds_claim ON rounds(claim_id) WHERE claim_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS bids (
  id TEXT PRIMARY KEY,
  round_id TEXT NOT NULL,
  bidder TEXT NOT NULL,
  cost REAL NOT NULL,
  confidence REAL NOT NULL,
  rationale TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  UNIQUE (round_id, bidder)
);
CREATE TABLE IF NOT EXISTS coalitions (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  lead TEXT,
  lead_scope TEXT NOT NULL,
  status TEXT NOT NULL,
  parent_id TEXT,
  merged_into TEXT,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS coalitions_run ON coalitions(run_id, seq);
CREATE TABLE IF NOT EXISTS coalition_members (
  coalition_id TEXT NOT NULL,
  member TEXT NOT NULL,
  joined_seq INTEGER NOT NULL,
  left_seq INTEGER,
  PRIMARY KEY (coalition_id, member, joined_seq)
);
CREATE INDEX IF NOT EXISTS coalition_members_member ON coalition_members(member, joined_seq);
CREATE TABLE IF NOT EXISTS coalition_claims (
  claim_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  coalition_id TEXT NOT NULL,
  member TEXT NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS coalition_claims_coalition ON coalition_claims(coalition_id);
CREATE INDEX IF NOT EXISTS coalition_claims_node ON coalition_claims(node_id);
CREATE TABLE IF NOT EXISTS mail (
  id TEXT PRIMARY KEY,
  run_id TEXT,
  from_id TEXT NOT NULL,
  to_kind TEXT NOT NULL,
  to_id TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  reply_to TEXT,
  recipients TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mail_to ON mail(to_kind, to_id, seq);
CREATE INDEX IF NOT EXISTS mail_run ON mail(run_id, seq);
CREATE TABLE IF NOT EXISTS mail_members (
  mail_id TEXT NOT NULL,
  member TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (member, seq, mail_id)
);
CREATE TABLE IF NOT EXISTS mail_reads (
  mail_id TEXT NOT NULL,
  reader TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (mail_id, reader)
);
`;

/** The overlay tables in a fixed order, for comparing two databases (dumpProjection). */
export const OVERLAY_TABLE_NAMES = [
  'bb_entries', 'bb_overlaps', 'rounds', 'bids', 'coalitions', 'coalition_members', 'coalition_claims', 'mail', 'mail_members', 'mail_reads',
] as const;
