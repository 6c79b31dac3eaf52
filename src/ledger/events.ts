/**
 * Every change to the ledger is one of these events. Payloads carry every value the projection
 * needs (ids, deadlines), so applying an event never consults the clock or chance.
 */
export type NodeState = 'pending' | 'ready' | 'claimed' | 'active' | 'review' | 'done' | 'failed' | 'blocked' | 'skipped';
export type EdgeKind = 'needs' | 'blocks' | 'parent-child' | 'discovered-from';
export type OnExhausted = 'fail' | 'skip' | 'escalate';
export type VariantStatus = 'candidate' | 'trial' | 'active' | 'retired' | 'rejected';

/** Edges of these kinds hold their target back until their source is done or skipped. */
export const BLOCKING_EDGE_KINDS: readonly EdgeKind[] = ['needs', 'blocks'];
export const TERMINAL_NODE_STATES: readonly NodeState[] = ['done', 'failed', 'skipped'];

export interface GateSpec {
  kind: 'human' | 'timer' | 'run';
  seconds?: number;
  formula?: string;
}

export interface NodeSpec {
  id: string;
  stepId: string;
  title: string;
  instructions: string;
  maxAttempts: number;
  onExhausted: OnExhausted;
  gate: GateSpec | null;
  review: boolean;
  /** A step whose condition was false when the run started: present in the graph, already satisfied. */
  skipped: boolean;
}

export interface EdgeSpec {
  from: string;
  to: string;
  kind: EdgeKind;
}

export interface EventPayloads {
  'family.created': { familyId: string; description: string };
  'variant.created': {
    variantId: string;
    familyId: string;
    generation: number;
    parents: string[];
    mutation: unknown;
    summary: string;
    proposedBy: string;
    contentHash: string;
    content: string;
    status: VariantStatus;
  };
  'variant.status_changed': { variantId: string; status: VariantStatus; reason: string };
  'family.active_set': { familyId: string; variantId: string; previousVariantId: string | null; reason: string };
  'family.policy_set': { familyId: string; policy: unknown; version: number; hash: string };
  'run.started': {
    runId: string;
    familyId: string | null;
    variantId: string | null;
    generation: number | null;
    title: string;
    vars: Record<string, unknown>;
    taskKey: string | null;
    arm: string | null;
    nodes: NodeSpec[];
    edges: EdgeSpec[];
    /** The formula declares checks: the run's outcome is theirs, recorded as evidence, never derived from its nodes. */
    awaitsChecks?: boolean;
  };
  'run.cancelled': { runId: string; reason: string };
  /**
   * Finished runs whose graphs moved to `archive` (a file in the ledger's archive folder, written and
   * fsynced first; `sha256` of its content); their rows leave the run-scoped tables (src/ledger/archive.ts).
   */
  /** `evicted` (absent in events before schema 10): runs whose `runs` row left memory too, its line in `archive`. */
  'runs.archived': { runIds: string[]; archive: string; sha256: string; before: string; evicted?: string[] };
  'node.claimed': { nodeId: string; claimId: string; worker: string; expiresAt: string };
  'node.lease_renewed': { nodeId: string; claimId: string; expiresAt: string };
  'node.dispatched': { nodeId: string; worker: string };
  'worker.bound': { nodeId: string; workerKind: string; threadId: string };
  'node.reported': { nodeId: string; outcome: 'done' | 'failed'; summary: string; tokens: number; durationMs: number };
  'node.reviewed': { nodeId: string; verdict: 'approve' | 'reject'; note: string };
  'node.recovered': { nodeId: string; claimId: string | null; reason: string };
  /** With `toPerson`, no claim is made: the node waits behind a human gate for the person (claimId and expiresAt are empty). */
  'node.handed_off': { nodeId: string; handoffId: string; fromWorker: string; toWorker: string; claimId: string; expiresAt: string; note: string; toPerson?: boolean };
  'node.expanded': { nodeId: string; children: NodeSpec[]; edges: EdgeSpec[] };
  'node.gate_opened': { nodeId: string; note: string };
  /** A claim's lease ran out before its holder reported: the node is free again; `worker` was the holder. */
  'node.lease_expired': { nodeId: string; claimId: string; worker: string; expiredAt: string };
  /** A run gate started (or adopted) the run it waits for. */
  'node.gate_run_started': { nodeId: string; runId: string };
  /** A person (or a reviewer) stopped a node's work: its claim ends and it waits behind a human gate. */
  'node.cancelled': { nodeId: string; reason: string };
  /** The run a run gate waited for ended without success: a failed attempt of the gated node. */
  'node.gate_failed': { nodeId: string; reason: string };
  'evidence.recorded': {
    evidenceId: string;
    familyId: string | null;
    variantId: string | null;
    runId: string | null;
    nodeId: string | null;
    kind: string;
    success: boolean | null;
    interventions: number | null;
    reviewRejections: number | null;
    tokens: number | null;
    durationMs: number | null;
    note: string;
  };
  'trial.started': { trialId: string; familyId: string; candidateId: string; incumbentId: string; stage: string; share: number };
  'trial.stage_changed': { trialId: string; stage: string; share: number };
  'trial.ended': { trialId: string; status: string };
  /** A trial paused for a person (or resumed) without ending: `status` is 'paused' or 'open'. */
  'trial.status_changed': { trialId: string; status: string; reason: string };
  'decision.recorded': {
    decisionId: string;
    familyId: string;
    candidateId: string;
    incumbentId: string | null;
    trialId: string | null;
    stage: string;
    verdict: string;
    reason: string;
    policyVersion: number | null;
    policyHash: string | null;
    detail: unknown;
  };
  // ---- branch replay: worktrees (docs/replay.md). A run in a git repository works in its own worktree.
  /** The controller gave the run its own git worktree at `path` on `branch`, checked out at `baseCommit`. */
  'run.worktree_created': { runId: string; path: string; branch: string; baseCommit: string };
  /** The run ended: what its branch changed against its base commit (commits made for it included). */
  'run.worktree_finished': { runId: string; headCommit: string; commits: number; filesChanged: number; insertions: number; deletions: number };
  /** The worktree is gone: merged into the workspace's branch (`mergeCommit`), discarded, or removed as a throwaway. */
  'run.worktree_closed': { runId: string; action: 'merged' | 'discarded' | 'removed'; mergeCommit: string | null; note: string };
  // ---- end branch replay
}

export type EventKind = keyof EventPayloads;
export type LedgerEvent = { [K in EventKind]: { kind: K; payload: EventPayloads[K] } }[EventKind];

export function event<K extends EventKind>(kind: K, payload: EventPayloads[K]): { kind: K; payload: EventPayloads[K] } {
  return { kind, payload };
}

// ---- branch overlays (issue 13): coordination overlays. The shapes are documented in docs/overlays.md and
// their tables in src/ledger/overlays/projection.ts; declaration merging keeps this block apart from the core list.

/** A blackboard entry's kind: a claim of files or an area (path globs), a finding, a decision, an open question. */
export type BlackboardKind = 'claim' | 'finding' | 'decision' | 'question';
/** Who a message is addressed to: a worker by name, a node (whoever runs its next turn), every worker of a run, a coalition's members, or a person. */
export type MailAddressKind = 'worker' | 'node' | 'run' | 'coalition' | 'person';

/** One bid as the award event records it: what was compared, with its score under the rule and its rank (1 = winner). */
export interface ComparedBid {
  bidId: string;
  bidder: string;
  cost: number;
  confidence: number;
  /** cost / confidence; null when confidence is 0 (such a bid ranks after every other). */
  score: number | null;
  rank: number;
}

export interface EventPayloads {
  'blackboard.written': {
    entryId: string; runId: string; kind: BlackboardKind; author: string; nodeId: string | null; title: string; body: string;
    /** Path globs (relative to the run's workspace) of a claim; empty for other kinds. */
    paths: string[];
    supersedes: string | null;
  };
  /** A worker's changed files touched an area another worker claimed; `mailIds` are the two messages that told both. */
  'blackboard.overlap': {
    overlapId: string; runId: string; entryId: string; claimant: string; claimantNodeId: string | null; worker: string; nodeId: string | null;
    files: string[]; mailIds: string[];
  };
  'round.announced': {
    roundId: string; runId: string; nodeId: string; announcedBy: string; deadline: string; quorum: number; leaseSeconds: number; rule: string;
  };
  /** `person` (branch overlays-2): a person's bid; an award to it holds the node for them behind a human gate. */
  'bid.submitted': { bidId: string; roundId: string; bidder: string; cost: number; confidence: number; rationale: string; person?: boolean };
  /** The round closed with a winner; a `node.claimed` event for the winner precedes it in the same commit. */
  'round.awarded': {
    roundId: string; nodeId: string; winner: string; bidId: string; rule: string; closedBy: 'quorum' | 'deadline'; claimId: string;
    expiresAt: string; bids: ComparedBid[];
  };
  /**
   * The round closed with no bid (`lapsed`, the node goes to ordinary dispatch) or was withdrawn or overtaken (`void`).
   * `closedBy` (branch leftovers): what closed it, as for an award (a lapse is always the deadline); absent in older events.
   */
  'round.closed': { roundId: string; nodeId: string; status: 'lapsed' | 'void'; reason: string; closedBy?: 'quorum' | 'deadline' };
  'coalition.formed': { coalitionId: string; runId: string; name: string; members: string[]; lead: string | null; leadScope: string[] };
  'coalition.joined': { coalitionId: string; member: string };
  'coalition.left': { coalitionId: string; member: string };
  /** `members` move from `coalitionId` to the new `newCoalitionId`; joint claims in `nodeIds` move with them. */
  'coalition.split': {
    coalitionId: string; newCoalitionId: string; name: string; members: string[]; lead: string | null; leadScope: string[]; nodeIds: string[];
  };
  /** `absorbedId`'s members, lead scope and joint claims go to `coalitionId`; `absorbedId` ends as merged. */
  'coalition.merged': { coalitionId: string; absorbedId: string };
  /** A member's claim (the `node.claimed` just before it, same commit) is held on behalf of the coalition. */
  'coalition.claim_held': { coalitionId: string; nodeId: string; claimId: string; member: string };
  'mail.sent': {
    mailId: string; runId: string | null; from: string; toKind: MailAddressKind; to: string; subject: string; body: string; replyTo: string | null;
    /** Coalition members at the time of sending (for `coalition` mail), so a later leaver still gets it and a later joiner does not. */
    recipients: string[];
  };
  /** `reader` read these messages: a worker or person name, or `node:<id>` for mail a node's turn received. */
  'mail.read': { reader: string; mailIds: string[] };
  // ---- branch leftovers: merge and discard decide inside the commit (src/controller/worktree.ts)
  /**
   * A process (`holder`, `<host>/<pid>`) took the closing of a run's worktree (`merge` or `discard`), which was
   * `from` (open or finished): while it is `closing`, any other merge or discard of it is refused.
   */
  'run.worktree_closing': { runId: string; action: 'merge' | 'discard'; from: 'open' | 'finished'; holder: string };
  /** The closing failed (git could not merge; nothing was changed): the worktree is `from` again, `reason` says why. */
  'run.worktree_close_failed': { runId: string; from: 'open' | 'finished'; reason: string };
  // ---- end branch leftovers
}
