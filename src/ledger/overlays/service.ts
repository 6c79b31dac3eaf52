import { conflict, invalid, notFound } from '../errors';
import { archivedRows, missingRun, readArchivedRun } from '../archive';
import type { ArchivedRun } from '../archive';
import { event } from '../events';
import type { BlackboardKind, ComparedBid, MailAddressKind } from '../events';
import { newId } from '../ids';
import { parseInput } from '../inputs';
import type { Ledger } from '../ledger';
import type { NewEvent } from '../store/store';
import type { Sql } from '../store/sql';
import { AWARD_RULE, rankBids } from './award';
import { checkGlob, claimMatcher } from './globs';
import {
  announceSchema, bidSchema, bidsViewSchema, blackboardReadSchema, blackboardWriteSchema, changesSchema, coalitionClaimSchema, coalitionFormSchema,
  coalitionMemberSchema, coalitionMergeSchema, coalitionSplitSchema, mailReadSchema, mailSendSchema, markReadSchema, UNSAFE_NAME_CHARS,
} from './inputs';
import type {
  BidRow, BlackboardEntry, CoalitionRow, NodeOverlay, MailRow, OverlapRow, PartnershipRow, RoundRow, RoundStatus, RunOverlays,
} from './types';

/** Files an overlap records and its message lists; a change of thousands of files is told by its first ones. */
const OVERLAP_FILES = 50;
/** Messages a turn's input carries; the rest wait for the next turn (mail_read shows them all). */
export const TURN_MAIL_LIMIT = 20;

/**
 * The coordination overlays' application services (issue 13): a run's blackboard, contract-net rounds with
 * bids and awards, coalitions, and mail. Like Ledger's commands, each validates its input (the schemas of
 * ./inputs, errors are LedgerErrors naming the field), turns it into events and commits them atomically
 * through `ledger.commit`; a command that fails writes nothing. Reads answer from the projection tables
 * (./tables), so call `ledger.refresh()` first to see other processes' writes.
 */
export class OverlayService {
  /** The service keeps no state of its own: any number of them may work on one ledger. */
  constructor(readonly ledger: Ledger) {}

  // ---- blackboard ------------------------------------------------------------------------------------

  /**
   * Writes a blackboard entry of a run. A claim needs `paths` (globs checked by checkGlob; hostile ones are
   * refused naming `paths.N`); other kinds take none. `supersedes` names a current entry of the same run,
   * which stays readable in the history. Throws not_found for an unknown run, node or entry, conflict for
   * an entry that is already superseded.
   */
  async writeEntry(input: unknown, actor?: string): Promise<{ entryId: string }> {
    const p = parseInput(blackboardWriteSchema, input);
    const paths = p.kind === 'claim' ? p.paths.map((g, i) => checkGlob(g, `paths.${i}`)) : p.paths;
    if (p.kind === 'claim' && paths.length === 0) throw invalid('paths', 'a claim names the files or areas it claims: give path globs such as ["src/ledger/**"]');
    if (p.kind !== 'claim' && paths.length > 0) throw invalid('paths', `only a claim names paths; leave paths out of a ${p.kind}`);
    return this.ledger.commit(({ sql }) => {
      requireRun(sql, p.runId, 'runId');
      if (p.nodeId) requireNodeOfRun(sql, p.nodeId, p.runId, 'nodeId');
      if (p.supersedes) {
        const old = sql.get<{ run_id: string; superseded_by: string | null }>('SELECT run_id, superseded_by FROM bb_entries WHERE id = ?', [p.supersedes]);
        if (!old) throw notFound('supersedes', 'blackboard entry', p.supersedes);
        if (old.run_id !== p.runId) throw invalid('supersedes', `entry ${p.supersedes} belongs to run ${old.run_id}, not to run ${p.runId}`);
        if (old.superseded_by) throw conflict(`entry ${p.supersedes} was already superseded by ${old.superseded_by}; supersede that one instead`, 'supersedes');
      }
      const entryId = newId('bb', (x) => !!sql.get('SELECT 1 FROM bb_entries WHERE id = ?', [x]));
      return {
        events: [event('blackboard.written', {
          entryId, runId: p.runId, kind: p.kind, author: p.author, nodeId: p.nodeId ?? null, title: p.title, body: p.body, paths, supersedes: p.supersedes ?? null,
        })],
        result: { entryId },
      };
    }, actor);
  }

  /** The run's entries in the order written: current ones (default) or, with `history`, every entry. */
  readBoard(input: unknown): BlackboardEntry[] {
    const p = parseInput(blackboardReadSchema, input);
    const archived = this.archived(p.runId);
    if (archived) {
      return archivedRows<RawEntry>(archived, 'bb_entries').filter((e) => (!p.kind || e.kind === p.kind) && (p.history || e.superseded_by === null))
        .sort((a, b) => a.seq - b.seq).slice(0, p.limit).map(toEntry);
    }
    requireRun(this.ledger.sql, p.runId, 'runId');
    const where = ['run_id = ?'];
    const params: Array<string | number> = [p.runId];
    if (p.kind) { where.push('kind = ?'); params.push(p.kind); }
    if (!p.history) where.push('superseded_by IS NULL');
    return this.ledger.sql.all<RawEntry>(`SELECT * FROM bb_entries WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${p.limit}`, params).map(toEntry);
  }

  /**
   * The overlap rule: `files` (workspace-relative) changed by `worker` on `nodeId` are compared with the run's
   * current claims of other workers (a claim made on another node, or without a node by another author). For
   * each claim they touch, once per claim and node, both sides are told by mail (the claimant by name, the
   * changing node at its next turn) and a `blackboard.overlap` records it. Returns the overlaps recorded now.
   */
  async recordChanges(input: unknown, actor?: string): Promise<OverlapRow[]> {
    const p = parseInput(changesSchema, input);
    if (p.files.length === 0) return [];
    // Most changes touch no claim: a look at this process's tables first spares them a commit (a lock and a
    // catch-up with other writers). A claim written meanwhile by another process is seen by the next change.
    if (overlapping(this.ledger.sql, p).length === 0) {
      if (!this.ledger.sql.get('SELECT 1 FROM nodes WHERE id = ?', [p.nodeId])) throw notFound('nodeId', 'node', p.nodeId);
      return [];
    }
    const ids = await this.ledger.commit(({ sql }) => {
      const node = sql.get<{ run_id: string }>('SELECT run_id FROM nodes WHERE id = ?', [p.nodeId]);
      if (!node) throw notFound('nodeId', 'node', p.nodeId);
      const runId = node.run_id;
      const events: NewEvent[] = [];
      const drawn = new Set<string>();
      const fresh = (prefix: string, table: string) => {
        const id = newId(prefix, (x) => drawn.has(x) || !!sql.get(`SELECT 1 FROM ${table} WHERE id = ?`, [x]));
        drawn.add(id);
        return id;
      };
      const overlapIds: string[] = [];
      for (const { claim: c, touched } of overlapping(sql, p)) {
        const files = touched.slice(0, OVERLAP_FILES);
        const list = `${files.join(', ')}${touched.length > files.length ? ` and ${touched.length - files.length} more` : ''}`;
        const toClaimant = fresh('m', 'mail');
        const toChanger = fresh('m', 'mail');
        const subject = `overlap on claim "${c.title}"`;
        events.push(
          event('mail.sent', {
            mailId: toClaimant, runId, from: 'gascity', toKind: 'worker', to: c.author, subject, replyTo: null, recipients: [],
            body: `${p.worker} (node ${p.nodeId}) changed files inside your claim ${c.id} (${c.paths.join(', ')}): ${list}. Agree on who changes what, ` +
              'for example on the blackboard or by mail to that node.',
          }),
          event('mail.sent', {
            mailId: toChanger, runId, from: 'gascity', toKind: 'node', to: p.nodeId, subject, replyTo: null, recipients: [],
            body: `You changed files that ${c.author}${c.nodeId ? ` (node ${c.nodeId})` : ''} claimed in ${c.id} (${c.paths.join(', ')}): ${list}. ` +
              `${c.author} has been told; coordinate before changing more there.`,
          }),
        );
        const overlapId = fresh('ov', 'bb_overlaps');
        overlapIds.push(overlapId);
        events.push(event('blackboard.overlap', {
          overlapId, runId, entryId: c.id, claimant: c.author, claimantNodeId: c.nodeId, worker: p.worker, nodeId: p.nodeId, files, mailIds: [toClaimant, toChanger],
        }));
      }
      return { events, result: overlapIds };
    }, actor);
    return ids.map((id) => toOverlap(this.ledger.sql.get<RawOverlap>('SELECT * FROM bb_overlaps WHERE id = ?', [id])!));
  }

  /** Overlaps recorded in a run, oldest first. */
  overlaps(runId: string, limit = 200): OverlapRow[] {
    return this.ledger.sql.all<RawOverlap>(`SELECT * FROM bb_overlaps WHERE run_id = ? ORDER BY seq LIMIT ${clampLimit(limit, 1000)}`, [runId]).map(toOverlap);
  }

  // ---- contract net ----------------------------------------------------------------------------------

  /**
   * Announces a ready node for bids instead of assigning it: the round closes at `deadlineSeconds` from now
   * or as soon as `quorum` bids are in, and is then awarded by AWARD_RULE (or lapses with no bid). While the
   * round is open the controller does not dispatch the node. Throws conflict for a node that is not ready, of
   * a run that is not running, or already under an open round.
   */
  async announce(input: unknown, actor?: string): Promise<RoundRow> {
    const p = parseInput(announceSchema, input);
    const roundId = await this.ledger.commit(({ sql, now }) => {
      const n = sql.get<{ run_id: string; state: string }>('SELECT run_id, state FROM nodes WHERE id = ?', [p.nodeId]);
      if (!n) throw notFound('nodeId', 'node', p.nodeId);
      const run = requireRun(sql, n.run_id, 'nodeId');
      if (run.status !== 'running') throw conflict(`run ${n.run_id} is ${run.status}; its nodes cannot be announced`, 'nodeId');
      if (n.state !== 'ready') throw conflict(`node ${p.nodeId} is ${n.state}; only a ready node can be announced for bids`, 'nodeId');
      const open = sql.get<{ id: string }>(`SELECT id FROM rounds WHERE node_id = ? AND status = 'open'`, [p.nodeId]);
      if (open) throw conflict(`node ${p.nodeId} is already announced in round ${open.id}; bid there (bid_submit)`, 'nodeId');
      const id = newId('rd', (x) => !!sql.get('SELECT 1 FROM rounds WHERE id = ?', [x]));
      const deadline = new Date(now.getTime() + p.deadlineSeconds * 1000).toISOString();
      return {
        events: [event('round.announced', { roundId: id, runId: n.run_id, nodeId: p.nodeId, announcedBy: p.announcedBy, deadline, quorum: p.quorum, leaseSeconds: p.leaseSeconds, rule: AWARD_RULE })],
        result: id,
      };
    }, actor);
    return this.round(roundId)!;
  }

  /**
   * Submits a bid to the open round of `roundId` (or of `nodeId`). One bid per bidder and round. When the bid
   * makes the quorum, the round is awarded in the same commit: the winner's claim of the node and the award
   * with every bid it compared. Throws conflict for a closed round, a round past its deadline, or a second bid.
   */
  async submitBid(input: unknown, actor?: string): Promise<{ bidId: string; round: RoundRow }> {
    const p = parseInput(bidSchema, input);
    if (!p.roundId && !p.nodeId) throw invalid('roundId', 'name the round (roundId) or the announced node (nodeId) to bid on');
    const r = await this.ledger.commit(({ sql, now }) => {
      const round = p.roundId ? sql.get<RawRound>('SELECT * FROM rounds WHERE id = ?', [p.roundId]) : sql.get<RawRound>(`SELECT * FROM rounds WHERE node_id = ? AND status = 'open'`, [p.nodeId!]);
      if (!round) throw p.roundId ? notFound('roundId', 'round', p.roundId) : conflict(`node ${p.nodeId} has no open round; bids_view shows its past rounds`, 'nodeId');
      if (p.nodeId && round.node_id !== p.nodeId) throw invalid('nodeId', `round ${round.id} is for node ${round.node_id}, not ${p.nodeId}`);
      const field = p.roundId ? 'roundId' : 'nodeId';
      if (round.status !== 'open') throw conflict(`round ${round.id} is closed (${round.status}); bids are no longer taken`, field);
      if (round.deadline <= now.toISOString()) throw conflict(`round ${round.id} closed at its deadline ${round.deadline}; bids are no longer taken`, field);
      // A run cancelled (or ended) while its round is open: an award would claim a node nobody may work on.
      const run = sql.get<{ status: string }>('SELECT status FROM runs WHERE id = ?', [round.run_id]);
      if (run && run.status !== 'running') throw conflict(`run ${round.run_id} is ${run.status}; round ${round.id} takes no more bids`, field);
      if (sql.get('SELECT 1 FROM bids WHERE round_id = ? AND bidder = ?', [round.id, p.bidder])) {
        throw conflict(`${p.bidder} already bid in round ${round.id}; one bid per bidder`, 'bidder');
      }
      const bidId = newId('bid', (x) => !!sql.get('SELECT 1 FROM bids WHERE id = ?', [x]));
      const events: NewEvent[] = [event('bid.submitted', { bidId, roundId: round.id, bidder: p.bidder, cost: p.cost, confidence: p.confidence, rationale: p.rationale, ...(p.person ? { person: true } : {}) })];
      const bids = [...bidsOf(sql, round.id), { bidId, bidder: p.bidder, cost: p.cost, confidence: p.confidence, seq: Number.MAX_SAFE_INTEGER, person: p.person }];
      if (bids.length >= round.quorum) events.push(...closeRound(sql, round, bids, now, 'quorum'));
      return { events, result: { bidId, roundId: round.id } };
    }, actor);
    return { bidId: r.bidId, round: this.round(r.roundId)! };
  }

  /**
   * Closes every open round whose deadline has passed by the ledger's clock: awarded to the best bid by
   * AWARD_RULE (a claim for the winner), lapsed when nobody bid (the node goes back to ordinary dispatch),
   * void when the node is no longer ready (taken, cancelled, its run ended). Returns the rounds closed.
   */
  async closeDueRounds(actor?: string): Promise<RoundRow[]> {
    if (!this.ledger.sql.get(`SELECT 1 FROM rounds WHERE status = 'open' AND deadline <= ?`, [this.ledger.now().toISOString()])) return [];
    const ids = await this.ledger.commit(({ sql, now }) => {
      const due = sql.all<RawRound>(`SELECT * FROM rounds WHERE status = 'open' AND deadline <= ? ORDER BY deadline, seq`, [now.toISOString()]);
      const events: NewEvent[] = [];
      for (const round of due) events.push(...closeRound(sql, round, bidsOf(sql, round.id), now, 'deadline', events));
      return { events, result: due.map((r) => r.id) };
    }, actor);
    return ids.map((id) => this.round(id)!);
  }

  /**
   * Nodes `worker` won in a round and holds by the award's claim, not yet started (state claimed), oldest first.
   * Answered through the nodes-by-worker index and the rounds-by-claim index.
   */
  awardedTo(worker: string): Array<{ nodeId: string; runId: string }> {
    return this.ledger.sql.all<{ id: string; run_id: string }>(
      `SELECT n.id, n.run_id FROM nodes n JOIN rounds r ON r.claim_id = n.claim_id
       WHERE n.worker = ? AND n.state = 'claimed' AND r.status = 'awarded' ORDER BY n.created_seq, n.rowid`, [worker]).map((r) => ({ nodeId: r.id, runId: r.run_id }));
  }

  /** Node ids under an open round: the controller leaves them alone until the round closes. */
  announcedNodeIds(): Set<string> {
    return new Set(this.ledger.sql.all<{ node_id: string }>(`SELECT node_id FROM rounds WHERE status = 'open'`).map((r) => r.node_id));
  }

  /** The earliest deadline (ISO) of an open round, or null: when the controller must close one. */
  nextRoundDeadline(): string | null {
    return this.ledger.sql.get<{ t: string | null }>(`SELECT min(deadline) AS t FROM rounds WHERE status = 'open'`)?.t ?? null;
  }

  /** One round as the tables hold it now (without its bids: viewBids has them); undefined for an unknown id. */
  round(roundId: string): RoundRow | undefined {
    const r = this.ledger.sql.get<RawRound>('SELECT * FROM rounds WHERE id = ?', [roundId]);
    return r ? toRound(r) : undefined;
  }

  /** Rounds (newest first) with their bids, of one round, node or run, or the open ones when none is named. */
  viewBids(input: unknown): Array<RoundRow & { bids: BidRow[] }> {
    const p = parseInput(bidsViewSchema, input);
    const sql = this.ledger.sql;
    let rows: RawRound[];
    if (p.roundId) {
      const r = sql.get<RawRound>('SELECT * FROM rounds WHERE id = ?', [p.roundId]);
      if (!r) throw notFound('roundId', 'round', p.roundId);
      rows = [r];
    } else if (p.nodeId) {
      if (!sql.get('SELECT 1 FROM nodes WHERE id = ?', [p.nodeId])) throw notFound('nodeId', 'node', p.nodeId);
      rows = sql.all<RawRound>(`SELECT * FROM rounds WHERE node_id = ? ORDER BY seq DESC LIMIT ${p.limit}`, [p.nodeId]);
    } else if (p.runId) {
      const archived = this.archived(p.runId);
      if (archived) return archivedRounds(archived).slice(0, p.limit);
      requireRun(sql, p.runId, 'runId');
      rows = sql.all<RawRound>(`SELECT * FROM rounds WHERE run_id = ? ORDER BY seq DESC LIMIT ${p.limit}`, [p.runId]);
    } else {
      rows = sql.all<RawRound>(`SELECT * FROM rounds WHERE status = 'open' ORDER BY seq DESC LIMIT ${p.limit}`);
    }
    return rows.map((r) => ({ ...toRound(r), bids: sql.all<RawBid>('SELECT * FROM bids WHERE round_id = ? ORDER BY seq', [r.id]).map(toBid) }));
  }

  // ---- coalitions ------------------------------------------------------------------------------------

  /** Forms a coalition on a running run. `lead` must be a member; `leadScope` names nodes of the run. */
  async formCoalition(input: unknown, actor?: string): Promise<CoalitionRow> {
    const p = parseInput(coalitionFormSchema, input);
    if (p.lead !== undefined && !p.members.includes(p.lead)) throw invalid('lead', `${p.lead} is not among the members; the lead is one of them`);
    const id = await this.ledger.commit(({ sql }) => {
      const run = requireRun(sql, p.runId, 'runId');
      if (run.status !== 'running') throw conflict(`run ${p.runId} is ${run.status}; coalitions form on running runs`, 'runId');
      p.leadScope.forEach((n, i) => requireNodeOfRun(sql, n, p.runId, `leadScope.${i}`));
      const coalitionId = newId('co', (x) => !!sql.get('SELECT 1 FROM coalitions WHERE id = ?', [x]));
      return {
        events: [event('coalition.formed', { coalitionId, runId: p.runId, name: p.name, members: p.members, lead: p.lead ?? null, leadScope: [...new Set(p.leadScope)] })],
        result: coalitionId,
      };
    }, actor);
    return this.coalition(id)!;
  }

  async joinCoalition(input: unknown, actor?: string): Promise<CoalitionRow> {
    const p = parseInput(coalitionMemberSchema, input);
    await this.ledger.commit(({ sql }) => {
      requireActiveCoalition(sql, p.coalitionId, 'coalitionId');
      if (isMember(sql, p.coalitionId, p.member)) throw conflict(`${p.member} is already a member of ${p.coalitionId}`, 'member');
      return { events: [event('coalition.joined', { coalitionId: p.coalitionId, member: p.member })], result: undefined };
    }, actor);
    return this.coalition(p.coalitionId)!;
  }

  /** A member leaves; joint claims it holds stay the coalition's. */
  async leaveCoalition(input: unknown, actor?: string): Promise<CoalitionRow> {
    const p = parseInput(coalitionMemberSchema, input);
    await this.ledger.commit(({ sql }) => {
      requireActiveCoalition(sql, p.coalitionId, 'coalitionId');
      if (!isMember(sql, p.coalitionId, p.member)) throw conflict(`${p.member} is not a member of ${p.coalitionId}`, 'member');
      return { events: [event('coalition.left', { coalitionId: p.coalitionId, member: p.member })], result: undefined };
    }, actor);
    return this.coalition(p.coalitionId)!;
  }

  /**
   * Splits `members` off into a new coalition (at least one member stays). Joint claims go to the part that
   * keeps their node: `nodeIds` when given (each must be a joint claim of the coalition), else the nodes whose
   * claim a leaving member holds. The claims themselves (ids, holders, leases) are untouched. Returns both parts.
   */
  async splitCoalition(input: unknown, actor?: string): Promise<{ kept: CoalitionRow; split: CoalitionRow }> {
    const p = parseInput(coalitionSplitSchema, input);
    if (p.lead !== undefined && !p.members.includes(p.lead)) throw invalid('lead', `${p.lead} is not among the members that leave; the new lead is one of them`);
    const newId_ = await this.ledger.commit(({ sql }) => {
      const c = requireActiveCoalition(sql, p.coalitionId, 'coalitionId');
      const current = currentMembers(sql, p.coalitionId);
      p.members.forEach((m, i) => { if (!current.includes(m)) throw invalid(`members.${i}`, `${m} is not a member of ${p.coalitionId}`); });
      if (p.members.length >= current.length) throw invalid('members', 'a split leaves at least one member behind; to end a coalition, its members leave');
      p.leadScope.forEach((n, i) => requireNodeOfRun(sql, n, c.run_id, `leadScope.${i}`));
      const joint = sql.all<{ node_id: string; member: string }>('SELECT node_id, member FROM coalition_claims WHERE coalition_id = ?', [p.coalitionId]);
      let nodeIds: string[];
      if (p.nodeIds) {
        p.nodeIds.forEach((n, i) => { if (!joint.some((j) => j.node_id === n)) throw invalid(`nodeIds.${i}`, `${p.coalitionId} holds no joint claim of node ${n}`); });
        nodeIds = [...new Set(p.nodeIds)];
      } else {
        nodeIds = [...new Set(joint.filter((j) => p.members.includes(j.member)).map((j) => j.node_id))];
      }
      const newCoalitionId = newId('co', (x) => !!sql.get('SELECT 1 FROM coalitions WHERE id = ?', [x]));
      return {
        events: [event('coalition.split', {
          coalitionId: p.coalitionId, newCoalitionId, name: p.name, members: p.members, lead: p.lead ?? null, leadScope: [...new Set(p.leadScope)], nodeIds,
        })],
        result: newCoalitionId,
      };
    }, actor);
    return { kept: this.coalition(p.coalitionId)!, split: this.coalition(newId_)! };
  }

  /** Merges `absorbedId` into `coalitionId` (same run, both active): members, lead scope and joint claims move. */
  async mergeCoalitions(input: unknown, actor?: string): Promise<CoalitionRow> {
    const p = parseInput(coalitionMergeSchema, input);
    if (p.coalitionId === p.absorbedId) throw invalid('absorbedId', 'a coalition cannot merge with itself');
    await this.ledger.commit(({ sql }) => {
      const a = requireActiveCoalition(sql, p.coalitionId, 'coalitionId');
      const b = requireActiveCoalition(sql, p.absorbedId, 'absorbedId');
      if (a.run_id !== b.run_id) throw invalid('absorbedId', `${p.absorbedId} works on run ${b.run_id}, ${p.coalitionId} on run ${a.run_id}; only coalitions of one run merge`);
      return { events: [event('coalition.merged', { coalitionId: p.coalitionId, absorbedId: p.absorbedId })], result: undefined };
    }, actor);
    return this.coalition(p.coalitionId)!;
  }

  /**
   * A member claims a ready node of the coalition's run on behalf of the coalition: an ordinary claim (the
   * member holds the lease and reports) that the coalition holds jointly. Throws conflict for a node that is
   * not ready or is announced for bids.
   */
  async claimForCoalition(input: unknown, actor?: string): Promise<{ nodeId: string; claimId: string; expiresAt: string; coalition: CoalitionRow }> {
    const p = parseInput(coalitionClaimSchema, input);
    const r = await this.ledger.commit(({ sql, now }) => {
      const c = requireActiveCoalition(sql, p.coalitionId, 'coalitionId');
      if (!isMember(sql, p.coalitionId, p.member)) throw conflict(`${p.member} is not a member of ${p.coalitionId}`, 'member');
      const n = requireNodeOfRun(sql, p.nodeId, c.run_id, 'nodeId');
      const run = requireRun(sql, c.run_id, 'coalitionId');
      if (run.status !== 'running') throw conflict(`run ${c.run_id} is ${run.status}; its nodes cannot be claimed`, 'nodeId');
      if (n.state !== 'ready') throw conflict(`node ${p.nodeId} is ${n.state}; only a ready node can be claimed`, 'nodeId');
      const open = sql.get<{ id: string }>(`SELECT id FROM rounds WHERE node_id = ? AND status = 'open'`, [p.nodeId]);
      if (open) throw conflict(`node ${p.nodeId} is announced for bids in round ${open.id}; bid for it instead`, 'nodeId');
      const claimId = newId('c', (x) => !!sql.get('SELECT 1 FROM claims WHERE id = ?', [x]));
      const expiresAt = new Date(now.getTime() + p.leaseSeconds * 1000).toISOString();
      return {
        events: [
          event('node.claimed', { nodeId: p.nodeId, claimId, worker: p.member, expiresAt }),
          event('coalition.claim_held', { coalitionId: p.coalitionId, nodeId: p.nodeId, claimId, member: p.member }),
        ],
        result: { nodeId: p.nodeId, claimId, expiresAt },
      };
    }, actor);
    return { ...r, coalition: this.coalition(p.coalitionId)! };
  }

  /** One coalition with its current members and joint claims (`live` while the claim still holds the node); undefined for an unknown id. */
  coalition(coalitionId: string): CoalitionRow | undefined {
    const r = this.ledger.sql.get<RawCoalition>('SELECT * FROM coalitions WHERE id = ?', [coalitionId]);
    return r ? this.toCoalition(r) : undefined;
  }

  /** The coalitions of a run, in the order they formed (merged ones included, with `mergedInto`). */
  coalitions(runId: string): CoalitionRow[] {
    return this.ledger.sql.all<RawCoalition>('SELECT * FROM coalitions WHERE run_id = ? ORDER BY seq', [runId]).map((r) => this.toCoalition(r));
  }

  /**
   * Evidence about partnerships: every coalition `worker` was ever a member of (newest first, at most `limit`),
   * with everyone who was ever a member and the run's status and outcome, and per partner the runs shared and
   * how many of those succeeded.
   */
  partnerships(worker: string, limit = 100): { coalitions: PartnershipRow[]; partners: Array<{ partner: string; runs: number; successes: number; failures: number }> } {
    const sql = this.ledger.sql;
    const rows = sql.all<{ id: string; name: string; run_id: string; title: string; status: string; outcome: 'success' | 'failure' | null }>(
      `SELECT c.id, c.name, c.run_id, r.title, r.status, r.outcome FROM coalitions c JOIN runs r ON r.id = c.run_id
       WHERE c.id IN (SELECT coalition_id FROM coalition_members WHERE member = ?) ORDER BY c.seq DESC LIMIT ${clampLimit(limit, 1000)}`, [worker]);
    const coalitions = rows.map((r) => ({
      coalitionId: r.id, name: r.name, runId: r.run_id, runTitle: r.title, runStatus: r.status, runOutcome: r.outcome,
      members: sql.all<{ member: string }>('SELECT DISTINCT member FROM coalition_members WHERE coalition_id = ? ORDER BY member', [r.id]).map((m) => m.member),
    }));
    // One count per partner and run, however many coalitions of the run they shared.
    const perPartner = new Map<string, Map<string, PartnershipRow['runOutcome']>>();
    for (const c of coalitions) {
      for (const m of c.members) {
        if (m === worker) continue;
        const runs = perPartner.get(m) ?? new Map<string, PartnershipRow['runOutcome']>();
        runs.set(c.runId, c.runOutcome);
        perPartner.set(m, runs);
      }
    }
    const partners = [...perPartner].map(([partner, runs]) => ({
      partner, runs: runs.size, successes: [...runs.values()].filter((o) => o === 'success').length, failures: [...runs.values()].filter((o) => o === 'failure').length,
    })).sort((a, b) => b.runs - a.runs || (a.partner < b.partner ? -1 : 1));
    return { coalitions, partners };
  }

  // ---- mail ------------------------------------------------------------------------------------------

  /**
   * Sends a message. Addresses: `worker` / `person` (a name), `node` (read by whoever runs the node's next
   * turn), `run` (every reader working on the run), `coalition` (its members at sending). Node, run and
   * coalition must exist; the message belongs to their run. Mail waits in the ledger until read.
   */
  async sendMail(input: unknown, actor?: string): Promise<MailRow> {
    const p = parseInput(mailSendSchema, input);
    const id = await this.ledger.commit(({ sql }) => {
      let runId: string | null = p.runId ?? null;
      let recipients: string[] = [];
      const fix = (r: string, what: string) => {
        if (runId !== null && runId !== r) throw invalid('runId', `the ${what} ${p.to} belongs to run ${r}, not ${runId}`);
        runId = r;
      };
      if (runId !== null) requireRun(sql, runId, 'runId');
      switch (p.toKind) {
        case 'node': {
          const n = sql.get<{ run_id: string }>('SELECT run_id FROM nodes WHERE id = ?', [p.to]);
          if (!n) throw notFound('to', 'node', p.to);
          fix(n.run_id, 'node');
          break;
        }
        case 'run':
          requireRun(sql, p.to, 'to');
          fix(p.to, 'run');
          break;
        case 'coalition': {
          const c = sql.get<{ run_id: string; status: string; merged_into: string | null }>('SELECT run_id, status, merged_into FROM coalitions WHERE id = ?', [p.to]);
          if (!c) throw notFound('to', 'coalition', p.to);
          if (c.status !== 'active') throw conflict(`coalition ${p.to} merged into ${c.merged_into}; write to that one`, 'to');
          fix(c.run_id, 'coalition');
          recipients = currentMembers(sql, p.to);
          break;
        }
        default:
          if (p.to.trim() === '' || p.to.length > 120 || UNSAFE_NAME_CHARS.test(p.to)) throw invalid('to', 'name the worker or person: up to 120 characters, no control or text-direction characters');
      }
      if (p.replyTo && !sql.get('SELECT 1 FROM mail WHERE id = ?', [p.replyTo])) throw notFound('replyTo', 'message', p.replyTo);
      const mailId = newId('m', (x) => !!sql.get('SELECT 1 FROM mail WHERE id = ?', [x]));
      return {
        events: [event('mail.sent', { mailId, runId, from: p.from, toKind: p.toKind, to: p.to, subject: p.subject, body: p.body, replyTo: p.replyTo ?? null, recipients })],
        result: mailId,
      };
    }, actor);
    return toMail(this.ledger.sql.get<RawMail>('SELECT * FROM mail WHERE id = ?', [id])!, false);
  }

  /**
   * A reader's mail, oldest first: addressed to the reader by name (worker or person), to a coalition the reader
   * was a member of when it was sent, and, with `nodeId`, to that node and to its run. With `markRead`, what is
   * returned is marked read in the same commit (mail to a node or run as read by the node, `node:<id>`), so two turns
   * never both receive one message.
   */
  async readMail(input: unknown, actor?: string): Promise<MailRow[]> {
    const p = parseInput(mailReadSchema, input);
    if (!p.markRead) return inbox(this.ledger.sql, p.reader, p.nodeId, p.unreadOnly, p.limit);
    return this.ledger.commit(({ sql }) => {
      const rows = inbox(sql, p.reader, p.nodeId, p.unreadOnly, p.limit);
      const unread = rows.filter((r) => !r.read);
      return { events: readEvents(unread, p.reader, p.nodeId), result: rows.map((r) => ({ ...r, read: true })) };
    }, actor);
  }

  /**
   * Marks messages read by `reader` (working on `nodeId`, if given): mail to a node or run as read by the node.
   * Throws not_found (`mailIds.N`) for an id that names no message; a message already read stays read.
   */
  async markRead(input: unknown, actor?: string): Promise<void> {
    const p = parseInput(markReadSchema, input);
    await this.ledger.commit(({ sql }) => {
      const rows = p.mailIds.map((id, i) => {
        const m = sql.get<RawMail>('SELECT * FROM mail WHERE id = ?', [id]);
        if (!m) throw notFound(`mailIds.${i}`, 'message', id);
        return toMail(m, false);
      });
      return { events: readEvents(rows, p.reader, p.nodeId), result: undefined };
    }, actor);
  }

  /** The unread mail of a node's next turn (to its worker, node, run and coalitions), marked read: at most TURN_MAIL_LIMIT. */
  takeTurnMail(worker: string, nodeId: string, actor?: string): Promise<MailRow[]> {
    return this.readMail({ reader: worker, nodeId, unreadOnly: true, markRead: true, limit: TURN_MAIL_LIMIT }, actor);
  }

  /**
   * Every message of a run, newest first, a page at a time: at most `limit` (1 to 500) older than `beforeSeq`
   * when given. What a person's mail view lists; `read` is always false here (read state is per reader).
   */
  runMail(runId: string, options: { limit?: number; beforeSeq?: number } = {}): MailRow[] {
    const limit = clampLimit(options.limit ?? 50, 500);
    const before = Number.isFinite(options.beforeSeq) ? options.beforeSeq! : Number.MAX_SAFE_INTEGER;
    return this.ledger.sql.all<RawMail>(`SELECT * FROM mail WHERE run_id = ? AND seq < ? ORDER BY seq DESC LIMIT ${limit}`, [runId, before]).map((m) => toMail(m, false));
  }

  // ---- run view --------------------------------------------------------------------------------------

  /** Everything the overlays hold for a run, bounded: what workflow_view and the run graph's toggles show. */
  runOverlays(runId: string): RunOverlays {
    const archived = this.archived(runId);
    if (archived) return this.archivedOverlays(runId, archived);
    const sql = this.ledger.sql;
    const counts = { claim: 0, finding: 0, decision: 0, question: 0 };
    for (const r of sql.all<{ kind: BlackboardKind; c: number }>('SELECT kind, count(*) AS c FROM bb_entries WHERE run_id = ? AND superseded_by IS NULL GROUP BY kind', [runId])) {
      if (r.kind in counts) counts[r.kind] = r.c;
    }
    return {
      claims: sql.all<RawEntry>(`SELECT * FROM bb_entries WHERE run_id = ? AND kind = 'claim' AND superseded_by IS NULL ORDER BY seq LIMIT 200`, [runId]).map(toEntry),
      entries: counts,
      overlaps: this.overlaps(runId, 100),
      rounds: this.viewBids({ runId, limit: 100 }),
      coalitions: this.coalitions(runId),
      mail: {
        total: sql.get<{ c: number }>('SELECT count(*) AS c FROM mail WHERE run_id = ?', [runId])?.c ?? 0,
        recent: sql.all<RawMail>('SELECT * FROM mail WHERE run_id = ? ORDER BY seq DESC LIMIT 50', [runId]).map((m) => toMail(m, false)),
      },
    };
  }

  /**
   * The overlays of a run by node, for the run graph's toggles: only nodes that have any, in graph order.
   * Reads each overlay table of the run once (through its run index), whatever the number of nodes.
   */
  graphOverlays(runId: string): NodeOverlay[] {
    // A finished run's marks, once archived, are the ones it ended with: claims and rounds from its archive line.
    const archived = this.archived(runId);
    if (archived) {
      const run = this.archivedOverlays(runId, archived);
      const out = new Map<string, NodeOverlay>();
      const at = (nodeId: string): NodeOverlay => out.get(nodeId) ?? out.set(nodeId, { nodeId, claims: [], round: null, coalitions: [], mail: { total: 0, unread: 0 } }).get(nodeId)!;
      for (const c of run.claims) if (c.nodeId) at(c.nodeId).claims.push({ id: c.id, author: c.author, title: c.title, paths: c.paths });
      for (const r of [...run.rounds].reverse()) at(r.nodeId).round = { id: r.id, status: r.status, bids: r.bids.length, winner: r.winner, deadline: r.deadline };
      const reads = new Set(archivedRows<{ mail_id: string; reader: string }>(archived, 'mail_reads').map((r) => `${r.mail_id} ${r.reader}`));
      for (const m of archivedRows<RawMail>(archived, 'mail')) {
        if (m.to_kind !== 'node') continue;
        const o = at(m.to_id).mail;
        o.total++;
        if (!reads.has(`${m.id} node:${m.to_id}`)) o.unread++;
      }
      const order = new Map(archivedRows<{ id: string; created_seq: number }>(archived, 'nodes').sort((a, b) => a.created_seq - b.created_seq).map((n, i) => [n.id, i]));
      return [...out.values()].sort((a, b) => (order.get(a.nodeId) ?? 0) - (order.get(b.nodeId) ?? 0));
    }
    const sql = this.ledger.sql;
    const by = new Map<string, NodeOverlay>();
    const at = (nodeId: string): NodeOverlay => {
      let o = by.get(nodeId);
      if (!o) {
        o = { nodeId, claims: [], round: null, coalitions: [], mail: { total: 0, unread: 0 } };
        by.set(nodeId, o);
      }
      return o;
    };
    for (const c of sql.all<RawEntry>(`SELECT * FROM bb_entries WHERE run_id = ? AND kind = 'claim' AND superseded_by IS NULL AND node_id IS NOT NULL ORDER BY seq`, [runId]).map(toEntry)) {
      at(c.nodeId!).claims.push({ id: c.id, author: c.author, title: c.title, paths: c.paths });
    }
    for (const r of sql.all<RawRound & { bid_count: number }>(
      'SELECT r.*, (SELECT count(*) FROM bids b WHERE b.round_id = r.id) AS bid_count FROM rounds r WHERE r.run_id = ? ORDER BY r.seq', [runId])) {
      at(r.node_id).round = { id: r.id, status: r.status, bids: r.bid_count, winner: r.winner, deadline: r.deadline };
    }
    for (const c of this.coalitions(runId).filter((x) => x.status === 'active')) {
      const held = new Set(c.claims.filter((x) => x.live).map((x) => x.nodeId));
      for (const nodeId of new Set([...c.leadScope, ...held])) {
        const lead = c.leadScope.includes(nodeId);
        at(nodeId).coalitions.push({ id: c.id, name: c.name, role: lead && held.has(nodeId) ? 'both' : lead ? 'lead' : 'joint-claim' });
      }
    }
    for (const m of sql.all<{ to_id: string; total: number; unread: number }>(
      `SELECT m.to_id, count(*) AS total, sum(NOT EXISTS (SELECT 1 FROM mail_reads r WHERE r.mail_id = m.id AND r.reader = 'node:' || m.to_id)) AS unread
       FROM mail m WHERE m.run_id = ? AND m.to_kind = 'node' GROUP BY m.to_id`, [runId])) {
      at(m.to_id).mail = { total: m.total, unread: m.unread };
    }
    const order = new Map(sql.all<{ id: string }>('SELECT id FROM nodes WHERE run_id = ? ORDER BY created_seq, rowid', [runId]).map((n, i) => [n.id, i]));
    return [...by.values()].sort((a, b) => (order.get(a.nodeId) ?? 0) - (order.get(b.nodeId) ?? 0));
  }

  /** The rows of an archived run's graph as its archive line holds them, or undefined for a run whose graph is in the tables. */
  private archived(runId: string): ArchivedRun['tables'] | undefined {
    const run = this.ledger.getRun(runId);
    return run?.archivedIn ? readArchivedRun(this.ledger.store.dir, run.archivedIn, runId).tables : undefined;
  }

  /** runOverlays of an archived run, from the tables on its archive line (read once by the caller). */
  private archivedOverlays(runId: string, archived: ArchivedRun['tables']): RunOverlays {
    const current = archivedRows<RawEntry>(archived, 'bb_entries').filter((e) => e.superseded_by === null).sort((a, b) => a.seq - b.seq);
    const entries = { claim: 0, finding: 0, decision: 0, question: 0 };
    for (const e of current) if (e.kind in entries) entries[e.kind]++;
    const mail = archivedRows<RawMail>(archived, 'mail').sort((a, b) => b.seq - a.seq);
    return {
      claims: current.filter((e) => e.kind === 'claim').slice(0, 200).map(toEntry),
      entries,
      overlaps: archivedRows<RawOverlap>(archived, 'bb_overlaps').sort((a, b) => a.seq - b.seq).slice(0, 100).map(toOverlap),
      rounds: archivedRounds(archived).slice(0, 100),
      coalitions: this.coalitions(runId),
      mail: { total: mail.length, recent: mail.slice(0, 50).map((m) => toMail(m, false)) },
    };
  }

  private toCoalition(r: RawCoalition): CoalitionRow {
    const sql = this.ledger.sql;
    return {
      id: r.id, runId: r.run_id, name: r.name, lead: r.lead, leadScope: JSON.parse(r.lead_scope) as string[], status: r.status as CoalitionRow['status'],
      parentId: r.parent_id, mergedInto: r.merged_into, members: currentMembers(sql, r.id), at: r.at,
      claims: sql.all<{ node_id: string; claim_id: string; member: string; live: number }>(
        `SELECT cc.node_id, cc.claim_id, cc.member, (n.claim_id IS cc.claim_id) AS live FROM coalition_claims cc JOIN nodes n ON n.id = cc.node_id
         WHERE cc.coalition_id = ? ORDER BY cc.seq`, [r.id]).map((c) => ({ nodeId: c.node_id, claimId: c.claim_id, member: c.member, live: c.live === 1 })),
    };
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

/** An archived run's rounds, newest first, each with its bids in order: what viewBids answers for a run. */
function archivedRounds(tables: ArchivedRun['tables']): Array<RoundRow & { bids: BidRow[] }> {
  const bids = archivedRows<RawBid>(tables, 'bids').sort((a, b) => a.seq - b.seq);
  return archivedRows<RawRound>(tables, 'rounds').sort((a, b) => b.seq - a.seq)
    .map((r) => ({ ...toRound(r), bids: bids.filter((b) => b.round_id === r.id).map(toBid) }));
}

/**
 * The run's current claims of other workers that `files` touch and that were not yet told to this worker
 * on this node, each with the files it touches. A claim is another worker's when it was made on another
 * node, or, made without a node, by another author.
 */
function overlapping(sql: Sql, p: { nodeId: string; worker: string; files: string[] }): Array<{ claim: BlackboardEntry; touched: string[] }> {
  const node = sql.get<{ run_id: string }>('SELECT run_id FROM nodes WHERE id = ?', [p.nodeId]);
  if (!node) return [];
  const claims = sql.all<RawEntry>(`SELECT * FROM bb_entries WHERE run_id = ? AND kind = 'claim' AND superseded_by IS NULL ORDER BY seq`, [node.run_id]).map(toEntry);
  const out: Array<{ claim: BlackboardEntry; touched: string[] }> = [];
  for (const c of claims) {
    const others = c.nodeId !== null ? c.nodeId !== p.nodeId : c.author !== p.worker;
    if (!others) continue;
    if (sql.get('SELECT 1 FROM bb_overlaps WHERE entry_id = ? AND worker = ? AND node_id IS ?', [c.id, p.worker, p.nodeId])) continue;
    const touched = p.files.filter(claimMatcher(c.paths));
    if (touched.length > 0) out.push({ claim: c, touched });
  }
  return out;
}

function clampLimit(limit: number, max: number): number {
  return Math.max(1, Math.min(Math.floor(Number.isFinite(limit) ? limit : 1), max));
}

function requireRun(sql: Sql, runId: string, field: string): { status: string } {
  const r = sql.get<{ status: string }>('SELECT status FROM runs WHERE id = ?', [runId]);
  if (!r) throw missingRun(sql, field, runId);
  return r;
}

function requireNodeOfRun(sql: Sql, nodeId: string, runId: string, field: string): { state: string } {
  const n = sql.get<{ run_id: string; state: string }>('SELECT run_id, state FROM nodes WHERE id = ?', [nodeId]);
  if (!n) throw notFound(field, 'node', nodeId);
  if (n.run_id !== runId) throw invalid(field, `node ${nodeId} belongs to run ${n.run_id}, not to run ${runId}`);
  return n;
}

function requireActiveCoalition(sql: Sql, coalitionId: string, field: string): RawCoalition {
  const c = sql.get<RawCoalition>('SELECT * FROM coalitions WHERE id = ?', [coalitionId]);
  if (!c) throw notFound(field, 'coalition', coalitionId);
  if (c.status !== 'active') throw conflict(`coalition ${coalitionId} merged into ${c.merged_into}; use that one`, field);
  return c;
}

function currentMembers(sql: Sql, coalitionId: string): string[] {
  return sql.all<{ member: string }>('SELECT member FROM coalition_members WHERE coalition_id = ? AND left_seq IS NULL ORDER BY joined_seq, rowid', [coalitionId]).map((m) => m.member);
}

function isMember(sql: Sql, coalitionId: string, member: string): boolean {
  return !!sql.get('SELECT 1 FROM coalition_members WHERE coalition_id = ? AND member = ? AND left_seq IS NULL', [coalitionId, member]);
}

function bidsOf(sql: Sql, roundId: string): Array<{ bidId: string; bidder: string; cost: number; confidence: number; seq: number; person: boolean }> {
  return sql.all<{ id: string; bidder: string; cost: number; confidence: number; seq: number; person: number }>('SELECT id, bidder, cost, confidence, seq, person FROM bids WHERE round_id = ? ORDER BY seq', [roundId])
    .map((b) => ({ bidId: b.id, bidder: b.bidder, cost: b.cost, confidence: b.confidence, seq: b.seq, person: b.person === 1 }));
}

/**
 * The events that close a round: with bids and a node still ready in a running run, the winner's claim and
 * the award (with every compared bid); with no bid, a lapse; otherwise void. `pending` are events of the same
 * commit not yet applied, so that claim ids drawn for several awards at once differ.
 */
function closeRound(
  sql: Sql, round: RawRound, bids: Array<{ bidId: string; bidder: string; cost: number; confidence: number; seq: number; person: boolean }>, now: Date,
  closedBy: 'quorum' | 'deadline', pending: readonly NewEvent[] = [],
): NewEvent[] {
  if (bids.length === 0) {
    // Only a deadline closes a round without bids (a quorum needs bids), and the row says so like an award's.
    return [event('round.closed', { roundId: round.id, nodeId: round.node_id, status: 'lapsed', closedBy: 'deadline', reason: 'no bid by the deadline; the node goes to ordinary dispatch' })];
  }
  const n = sql.get<{ state: string; status: string }>('SELECT n.state, r.status FROM nodes n JOIN runs r ON r.id = n.run_id WHERE n.id = ?', [round.node_id]);
  if (!n || n.status !== 'running' || n.state !== 'ready') {
    const why = !n ? 'the node is gone' : n.status !== 'running' ? `the run is ${n.status}` : `the node is ${n.state}, no longer ready`;
    return [event('round.closed', { roundId: round.id, nodeId: round.node_id, status: 'void', closedBy, reason: `not awarded: ${why}` })];
  }
  const ranked: ComparedBid[] = rankBids(bids);
  const winner = ranked[0]!;
  const drawn = new Set(pending.flatMap((e) => (e.kind === 'node.claimed' ? [e.payload.claimId] : [])));
  const claimId = newId('c', (x) => drawn.has(x) || !!sql.get('SELECT 1 FROM claims WHERE id = ?', [x]));
  const expiresAt = new Date(now.getTime() + round.lease_seconds * 1000).toISOString();
  const awarded: NewEvent[] = [
    event('node.claimed', { nodeId: round.node_id, claimId, worker: winner.bidder, expiresAt }),
    event('round.awarded', {
      roundId: round.id, nodeId: round.node_id, winner: winner.bidder, bidId: winner.bidId, rule: round.rule, closedBy, claimId, expiresAt, bids: ranked,
    }),
  ];
  // branch overlays-2: a person who wins holds no lease that could run out under them; like a handoff to a person,
  // the node waits for them behind a human gate (Needs you), in the award's own commit.
  if (bids.find((b) => b.bidId === winner.bidId)?.person) {
    const drawnH = new Set(pending.flatMap((e) => (e.kind === 'node.handed_off' ? [e.payload.handoffId] : [])));
    const handoffId = newId('h', (x) => drawnH.has(x) || !!sql.get('SELECT 1 FROM handoffs WHERE id = ?', [x]));
    awarded.push(event('node.handed_off', {
      nodeId: round.node_id, handoffId, fromWorker: winner.bidder, toWorker: winner.bidder, claimId: '', expiresAt: '',
      note: `${winner.bidder} won round ${round.id} (${round.rule}) and takes the node; open the gate to give it back to the workers`, toPerson: true,
    }));
  }
  return awarded;
}

function inbox(sql: Sql, reader: string, nodeId: string | undefined, unreadOnly: boolean, limit: number): MailRow[] {
  const runId = nodeId ? sql.get<{ run_id: string }>('SELECT run_id FROM nodes WHERE id = ?', [nodeId])?.run_id : undefined;
  if (nodeId && !runId) throw notFound('nodeId', 'node', nodeId);
  const nodeKey = nodeId ? `node:${nodeId}` : null;
  // Mail to a node or a run is read once per node (every node of a run gets run mail, whoever works it);
  // everything else once per reader. Each address is read through its own index (mail_to, mail_members), so
  // an inbox costs what the reader's own mail costs, not what the whole ledger's mail does.
  const parts = [
    `SELECT m.* FROM mail m WHERE m.to_kind IN ('worker', 'person') AND m.to_id = ?`,
    'SELECT m.* FROM mail_members mm JOIN mail m ON m.id = mm.mail_id WHERE mm.member = ?',
  ];
  const params: Array<string | null> = [reader, reader];
  if (nodeId && runId) {
    parts.push(`SELECT m.* FROM mail m WHERE m.to_kind = 'node' AND m.to_id = ?`, `SELECT m.* FROM mail m WHERE m.to_kind = 'run' AND m.to_id = ?`);
    params.push(nodeId, runId);
  }
  const rows = sql.all<RawMail & { is_read: number }>(
    `SELECT u.*, EXISTS (SELECT 1 FROM mail_reads r WHERE r.mail_id = u.id AND r.reader = CASE WHEN u.to_kind IN ('node', 'run') THEN ? ELSE ? END) AS is_read
     FROM (${parts.join(' UNION ALL ')}) u
     ${unreadOnly ? 'WHERE is_read = 0' : ''}
     ORDER BY u.seq LIMIT ${limit}`,
    [nodeKey, reader, ...params]);
  return rows.map((r) => toMail(r, r.is_read === 1));
}

/** The mail.read events for `rows` read by `reader` on `nodeId`: node and run mail counts as read by the node. */
function readEvents(rows: readonly MailRow[], reader: string, nodeId: string | undefined): NewEvent[] {
  const byReader = new Map<string, string[]>();
  for (const r of rows) {
    const key = (r.toKind === 'node' || r.toKind === 'run') && nodeId ? `node:${nodeId}` : reader;
    byReader.set(key, [...(byReader.get(key) ?? []), r.id]);
  }
  return [...byReader].map(([who, mailIds]) => event('mail.read', { reader: who, mailIds }));
}

interface RawEntry {
  id: string; run_id: string; kind: BlackboardKind; author: string; node_id: string | null; title: string; body: string; paths: string;
  supersedes: string | null; superseded_by: string | null; seq: number; at: string;
}
interface RawOverlap {
  id: string; run_id: string; entry_id: string; claimant: string; claimant_node_id: string | null; worker: string; node_id: string | null;
  files: string; mail_ids: string; seq: number; at: string;
}
interface RawRound {
  id: string; run_id: string; node_id: string; announced_by: string; deadline: string; quorum: number; lease_seconds: number; rule: string;
  status: RoundStatus; winner: string | null; bid_id: string | null; claim_id: string | null; closed_by: 'quorum' | 'deadline' | null;
  reason: string | null; detail: string | null; seq: number; at: string; closed_at: string | null;
}
interface RawBid { id: string; round_id: string; bidder: string; cost: number; confidence: number; rationale: string; seq: number; at: string }
interface RawCoalition {
  id: string; run_id: string; name: string; lead: string | null; lead_scope: string; status: string; parent_id: string | null; merged_into: string | null;
  seq: number; at: string;
}
interface RawMail {
  id: string; run_id: string | null; from_id: string; to_kind: MailAddressKind; to_id: string; subject: string; body: string; reply_to: string | null;
  recipients: string; seq: number; at: string;
}

function toEntry(r: RawEntry): BlackboardEntry {
  return {
    id: r.id, runId: r.run_id, kind: r.kind, author: r.author, nodeId: r.node_id, title: r.title, body: r.body, paths: JSON.parse(r.paths) as string[],
    supersedes: r.supersedes, supersededBy: r.superseded_by, seq: r.seq, at: r.at,
  };
}

function toOverlap(r: RawOverlap): OverlapRow {
  return {
    id: r.id, runId: r.run_id, entryId: r.entry_id, claimant: r.claimant, claimantNodeId: r.claimant_node_id, worker: r.worker, nodeId: r.node_id,
    files: JSON.parse(r.files) as string[], mailIds: JSON.parse(r.mail_ids) as string[], seq: r.seq, at: r.at,
  };
}

function toRound(r: RawRound): RoundRow {
  return {
    id: r.id, runId: r.run_id, nodeId: r.node_id, announcedBy: r.announced_by, deadline: r.deadline, quorum: r.quorum, leaseSeconds: r.lease_seconds,
    rule: r.rule, status: r.status, winner: r.winner, bidId: r.bid_id, claimId: r.claim_id, closedBy: r.closed_by, reason: r.reason,
    compared: r.detail ? JSON.parse(r.detail) as ComparedBid[] : [], announcedAt: r.at, closedAt: r.closed_at,
  };
}

function toBid(r: RawBid): BidRow {
  return { id: r.id, roundId: r.round_id, bidder: r.bidder, cost: r.cost, confidence: r.confidence, rationale: r.rationale, seq: r.seq, at: r.at };
}

function toMail(r: RawMail, read: boolean): MailRow {
  return {
    id: r.id, runId: r.run_id, from: r.from_id, toKind: r.to_kind, to: r.to_id, subject: r.subject, body: r.body, replyTo: r.reply_to, seq: r.seq, at: r.at, read,
  };
}
