import type { BlackboardKind, ComparedBid, MailAddressKind } from '../events';

export type { BlackboardKind, ComparedBid, MailAddressKind };

/** One blackboard entry. Entries are never deleted: a later entry that supersedes one sets `supersededBy`. */
export interface BlackboardEntry {
  id: string;
  runId: string;
  kind: BlackboardKind;
  author: string;
  /** The node the author worked on when writing, if any. */
  nodeId: string | null;
  title: string;
  body: string;
  /** Path globs (workspace-relative) of a claim; [] for other kinds. */
  paths: string[];
  supersedes: string | null;
  supersededBy: string | null;
  seq: number;
  /** ISO time of the write. */
  at: string;
}

/** A worker's changes touched an area another worker claimed; both were told by mail (`mailIds`). */
export interface OverlapRow {
  id: string;
  runId: string;
  /** The claim entry that was touched. */
  entryId: string;
  claimant: string;
  claimantNodeId: string | null;
  /** The worker whose changes touched it, and its node. */
  worker: string;
  nodeId: string | null;
  files: string[];
  mailIds: string[];
  seq: number;
  at: string;
}

export type RoundStatus = 'open' | 'awarded' | 'lapsed' | 'void';

/** A contract-net round: a node announced for bids. */
export interface RoundRow {
  id: string;
  runId: string;
  nodeId: string;
  announcedBy: string;
  /** ISO time at which the round closes if the quorum was not reached first. */
  deadline: string;
  quorum: number;
  /** Lease in seconds of the claim the winner gets. */
  leaseSeconds: number;
  /** The award rule's name (AWARD_RULE). */
  rule: string;
  status: RoundStatus;
  winner: string | null;
  bidId: string | null;
  claimId: string | null;
  /** What closed the round (awarded, lapsed — always the deadline — or void); null while open, and for rounds closed before this was recorded. */
  closedBy: 'quorum' | 'deadline' | null;
  /** Why a lapsed or void round closed. */
  reason: string | null;
  /** The bids the award compared, ranked (empty until awarded). */
  compared: ComparedBid[];
  announcedAt: string;
  closedAt: string | null;
}

export interface BidRow {
  id: string;
  roundId: string;
  bidder: string;
  /** Estimated cost in tokens. */
  cost: number;
  /** 0 to 1. */
  confidence: number;
  rationale: string;
  seq: number;
  at: string;
}

export type CoalitionStatus = 'active' | 'merged';

export interface CoalitionRow {
  id: string;
  runId: string;
  name: string;
  lead: string | null;
  /** Node ids the lead leads. */
  leadScope: string[];
  status: CoalitionStatus;
  /** The coalition this one split from. */
  parentId: string | null;
  /** The coalition that absorbed this one. */
  mergedInto: string | null;
  /** Current members, in the order they joined. */
  members: string[];
  /** Joint claims: nodes held by a member on behalf of the coalition. */
  claims: Array<{ nodeId: string; claimId: string; member: string; live: boolean }>;
  at: string;
}

/** A past (or present) partnership: a coalition a worker was in, who else was, and how the run went. */
export interface PartnershipRow {
  coalitionId: string;
  name: string;
  runId: string;
  runTitle: string;
  runStatus: string;
  runOutcome: 'success' | 'failure' | null;
  /** Everyone who was ever a member, the worker included. */
  members: string[];
}

export interface MailRow {
  id: string;
  runId: string | null;
  from: string;
  toKind: MailAddressKind;
  to: string;
  subject: string;
  body: string;
  replyTo: string | null;
  seq: number;
  at: string;
  /** Whether the reader the query was made for has read it. */
  read: boolean;
}

/** Everything the overlays hold for one run, for workflow_view and the run graph's overlay toggles. */
export interface RunOverlays {
  /** Current (not superseded) claim entries. */
  claims: BlackboardEntry[];
  /** Counts of current entries by kind. */
  entries: Record<BlackboardKind, number>;
  overlaps: OverlapRow[];
  rounds: Array<RoundRow & { bids: BidRow[] }>;
  coalitions: CoalitionRow[];
  /** Messages of the run (newest first, at most 50) and how many there are in all. */
  mail: { total: number; recent: MailRow[] };
}

/**
 * What the run graph's overlay toggles draw on one node: its current blackboard claims (count and titles), its
 * latest contract-net round (status, bids, winner), the coalitions that lead it or hold it jointly, and the mail
 * addressed to it (all, and unread by the node).
 */
export interface NodeOverlay {
  nodeId: string;
  claims: Array<{ id: string; author: string; title: string; paths: string[] }>;
  round: { id: string; status: RoundStatus; bids: number; winner: string | null; deadline: string } | null;
  coalitions: Array<{ id: string; name: string; role: 'lead' | 'joint-claim' | 'both' }>;
  mail: { total: number; unread: number };
}
