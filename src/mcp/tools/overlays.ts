// The coordination overlay tools (issue 13): a run's blackboard, contract-net rounds and bids, coalitions,
// partnerships as evidence, and mail. Each tool checks its arguments against the ledger's overlay schemas
// (src/ledger/overlays/inputs.ts) and calls OverlayService; a node's dynamic tools (src/codex/worker.ts) call
// these same definitions with the worker's identity filled in.
import * as z from 'zod';
import { OverlayService, overlayInputs } from '../../ledger/index';
import type { BlackboardEntry, CoalitionRow, MailRow, RoundRow, BidRow } from '../../ledger/index';
import { clip, jsonBytes } from '../paging';
import { invalid, READ, tool, write } from './shared';
import type { ToolContext, ToolDefinition } from './shared';

/** Characters of an entry body, a bid rationale or a message body that an answer shows. */
const TEXT = { body: 1500, rationale: 500, mail: 4000, section: 200 } as const;

/** The overlay service of a tool call's ledger (cheap: it holds only the ledger). */
function overlays(ctx: ToolContext): OverlayService {
  return new OverlayService(ctx.ledger);
}

/** A strict copy of a ledger schema's shape, each field with the description a model reads. */
function described<S extends z.ZodRawShape>(shape: S, docs: { [K in keyof S]?: string }): z.ZodObject<S, z.core.$strict> {
  const out: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(shape)) out[k] = docs[k] ? (v as z.ZodType).describe(docs[k]) : (v as z.ZodType);
  // describe() returns a copy of the same schema with metadata, so each field keeps the type the shape says.
  return z.strictObject(out as unknown as S);
}

const entryOut = z.object({
  id: z.string(), runId: z.string(), kind: z.string(), author: z.string(), nodeId: z.string().nullable(), title: z.string(), body: z.string(),
  paths: z.array(z.string()), supersedes: z.string().nullable(), supersededBy: z.string().nullable(), seq: z.number(), at: z.string(),
});
const comparedOut = z.object({ bidId: z.string(), bidder: z.string(), cost: z.number(), confidence: z.number(), score: z.number().nullable(), rank: z.number() });
const bidOut = z.object({ id: z.string(), roundId: z.string(), bidder: z.string(), cost: z.number(), confidence: z.number(), rationale: z.string(), seq: z.number(), at: z.string() });
const roundOut = z.object({
  id: z.string(), runId: z.string(), nodeId: z.string(), announcedBy: z.string(), deadline: z.string(), quorum: z.number(), leaseSeconds: z.number(),
  rule: z.string(), status: z.enum(['open', 'awarded', 'lapsed', 'void']), winner: z.string().nullable(), bidId: z.string().nullable(),
  claimId: z.string().nullable(), closedBy: z.enum(['quorum', 'deadline']).nullable(), reason: z.string().nullable(),
  compared: z.array(comparedOut).describe('The bids the award compared, ranked by the rule (1 = winner).'), announcedAt: z.string(), closedAt: z.string().nullable(),
  bids: z.array(bidOut).optional(),
});
const coalitionOut = z.object({
  id: z.string(), runId: z.string(), name: z.string(), lead: z.string().nullable(), leadScope: z.array(z.string()), status: z.enum(['active', 'merged']),
  parentId: z.string().nullable(), mergedInto: z.string().nullable(), members: z.array(z.string()),
  claims: z.array(z.object({ nodeId: z.string(), claimId: z.string(), member: z.string(), live: z.boolean() })), at: z.string(),
});
const mailOut = z.object({
  id: z.string(), runId: z.string().nullable(), from: z.string(), toKind: z.string(), to: z.string(), subject: z.string(), body: z.string(),
  replyTo: z.string().nullable(), seq: z.number(), at: z.string(), read: z.boolean(),
});
const next = z.string().describe('What to do next.');

const entryView = (e: BlackboardEntry) => ({ ...e, body: clip(e.body, TEXT.body, () => `blackboard_read ${JSON.stringify({ runId: e.runId, history: true })}`) });
const bidView = (b: BidRow) => ({ ...b, rationale: clip(b.rationale, TEXT.rationale, () => 'bids_view') });
const roundView = (r: RoundRow & { bids?: BidRow[] }) => ({ ...r, ...(r.bids ? { bids: r.bids.map(bidView) } : {}) });
const mailView = (m: MailRow) => ({ ...m, body: clip(m.body, TEXT.mail, () => 'mail_read') });

const blackboardWrite = tool({
  name: 'blackboard_write',
  title: 'Write to a run\'s blackboard',
  description:
    'Write an entry on the shared blackboard of a run: `kind` claim (files or an area you are changing, as path globs in `paths`, e.g. ' +
    '["src/ledger/store/**"]), finding, decision or question. Entries are never deleted; to change one, write a new entry with `supersedes`. ' +
    'When another worker changes files inside your claim (or you change files inside theirs), both of you get mail.',
  input: described(overlayInputs.blackboardWriteSchema.shape, {
    runId: 'The run the entry belongs to.',
    author: 'Your worker name (or your name, for a person).',
    nodeId: 'The node you work on, if any: claims made from a node are compared by node.',
    paths: 'For a claim: workspace-relative path globs (no braces, no "..", at most 3 wildcards per segment); leave out for other kinds.',
    supersedes: 'The id of a current entry of this run that this one replaces.',
  }),
  output: z.object({ entryId: z.string(), entry: entryOut, next }),
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const o = overlays(ctx);
    const { entryId } = await o.writeEntry(a, ctx.actor);
    const entry = o.readBoard({ runId: a.runId, history: true, limit: 1000 }).find((e) => e.id === entryId)
      ?? o.readBoard({ runId: a.runId, history: true, limit: 1000 }).at(-1)!;
    return { entryId, entry: entryView(entry), next: 'Read the board with blackboard_read; supersede an entry to change it.' };
  },
});

const blackboardRead = tool({
  name: 'blackboard_read',
  title: 'Read a run\'s blackboard',
  description: 'The entries of a run\'s blackboard in the order written: the current ones, or with `history` every entry (superseded ones name their successor).',
  input: described(overlayInputs.blackboardReadSchema.shape, { history: 'True: include superseded entries.', limit: 'At most this many entries (default 200).' }),
  output: z.object({ entries: z.array(entryOut), next }),
  annotations: READ,
  reads: true,
  run(a, ctx) {
    return { entries: overlays(ctx).readBoard(a).map(entryView), next: 'Write with blackboard_write; claims name path globs.' };
  },
});

const nodeAnnounce = tool({
  name: 'node_announce',
  title: 'Announce a node for bids',
  description:
    'Put a ready node up for bids instead of assigning it (contract net). The round closes after `deadlineSeconds` or as soon as `quorum` ' +
    'bids are in; the award goes to the lowest cost / confidence (ties: higher confidence, lower cost, earlier bid, bidder name) and becomes a ' +
    'claim for the winner. With no bid the node goes back to ordinary dispatch. While the round is open the controller does not dispatch the node.',
  input: described(overlayInputs.announceSchema.shape, {
    announcedBy: 'Your worker name (or your name).',
    deadlineSeconds: 'Seconds until the round closes if the quorum is not reached first (1 to 604800).',
    quorum: 'Bids that close the round at once (default 1).',
    leaseSeconds: 'Lease of the winner\'s claim in seconds (default 900).',
  }),
  output: roundOut.extend({ next }),
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await overlays(ctx).announce(a, ctx.actor);
    return { ...roundView(r), next: `Round ${r.id} is open until ${r.deadline}. Workers bid with bid_submit; bids_view shows the round.` };
  },
});

const bidSubmit = tool({
  name: 'bid_submit',
  title: 'Bid for an announced node',
  description:
    'Bid for a node announced with node_announce: your estimated cost in tokens, your confidence (0 to 1) that you will finish it, and why. ' +
    'One bid per bidder and round. If your bid completes the quorum the round is awarded at once; the answer says to whom.',
  input: described(overlayInputs.bidSchema.shape, {
    roundId: 'The round (from node_announce or bids_view); or give nodeId for its open round.',
    nodeId: 'The announced node, instead of roundId.',
    bidder: 'Your worker name (or your name).',
    cost: 'Estimated cost in tokens.',
    confidence: 'Your confidence that you will finish the node, from 0 to 1.',
    rationale: 'Why you are a good fit, in a sentence or two.',
    person: 'True when a person bids (not a Codex worker): if the bid wins, the node waits for that person behind a human gate (Needs you).',
  }),
  output: z.object({ bidId: z.string(), round: roundOut, next }),
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const r = await overlays(ctx).submitBid(a, ctx.actor);
    const said = r.round.status === 'awarded'
      ? `The round closed on quorum: ${r.round.winner} won and holds the claim ${r.round.claimId}.`
      : `Your bid is in; the round closes at ${r.round.deadline} or when ${r.round.quorum} bids are in.`;
    return { bidId: r.bidId, round: roundView(r.round), next: said };
  },
});

const bidsView = tool({
  name: 'bids_view',
  title: 'View rounds and bids',
  description: 'Contract-net rounds with their bids, newest first: one round, a node\'s rounds, a run\'s rounds, or (with nothing named) every open round. Awarded rounds list the compared bids ranked.',
  input: described(overlayInputs.bidsViewSchema.shape, { limit: 'At most this many rounds (default 50).' }),
  output: z.object({ rounds: z.array(roundOut) }),
  annotations: READ,
  reads: true,
  run(a, ctx) {
    return { rounds: overlays(ctx).viewBids(a).map(roundView) };
  },
});

const COALITION_FIELDS = {
  form: ['runId', 'name', 'members', 'lead', 'leadScope'],
  join: ['coalitionId', 'member'],
  leave: ['coalitionId', 'member'],
  split: ['coalitionId', 'name', 'members', 'lead', 'leadScope', 'nodeIds'],
  merge: ['coalitionId', 'absorbedId'],
  claim: ['coalitionId', 'member', 'nodeId', 'leaseSeconds'],
  view: ['coalitionId', 'runId'],
} as const;

const coalitionInput = z.strictObject({
  action: z.enum(['form', 'join', 'leave', 'split', 'merge', 'claim', 'view'], { message: 'action must be one of form, join, leave, split, merge, claim, view' })
    .describe('form (runId, name, members, lead?, leadScope?), join / leave (coalitionId, member), split (coalitionId, name, members that leave, lead?, leadScope?, nodeIds?), merge (coalitionId, absorbedId), claim (coalitionId, member, nodeId), view (coalitionId, or runId for all of a run).'),
  runId: z.string().max(200).optional().describe('The run (form, view).'),
  coalitionId: z.string().max(200).optional().describe('The coalition (join, leave, split, merge: the one that stays, claim, view).'),
  name: z.string().max(200).optional().describe('Name of the coalition (form) or of the new part (split).'),
  members: z.array(z.string().max(200)).max(200).optional().describe('Members (form), or the members that leave to form the new part (split).'),
  member: z.string().max(200).optional().describe('The member who joins, leaves or claims.'),
  lead: z.string().max(200).optional().describe('The lead: one of the members.'),
  leadScope: z.array(z.string().max(200)).max(600).optional().describe('Node ids the lead leads.'),
  nodeIds: z.array(z.string().max(200)).max(600).optional().describe('split: nodes whose joint claims go with the new part (default: those held by the leaving members).'),
  absorbedId: z.string().max(200).optional().describe('merge: the coalition absorbed into coalitionId.'),
  nodeId: z.string().max(200).optional().describe('claim: the ready node a member claims on behalf of the coalition.'),
  leaseSeconds: z.number().int().min(1).max(7 * 24 * 3600).optional().describe('claim: lease in seconds (default 900).'),
});

const coalition = tool({
  name: 'coalition',
  title: 'Form, change or view a coalition',
  description:
    'Coalitions are named groups of workers on a run with a lead scoped to some nodes. A member can claim a node on behalf of the coalition; ' +
    'that claim stays with the part that keeps the node when the coalition splits, and moves with it when coalitions merge. `action` says what to do.',
  input: coalitionInput,
  output: z.object({ coalition: coalitionOut.nullable(), split: coalitionOut.optional(), coalitions: z.array(coalitionOut).optional(), claim: z.object({ nodeId: z.string(), claimId: z.string(), expiresAt: z.string() }).optional(), next }),
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const allowed: readonly string[] = COALITION_FIELDS[a.action];
    for (const k of Object.keys(a)) {
      if (k !== 'action' && (a as Record<string, unknown>)[k] !== undefined && !allowed.includes(k)) throw invalid(k, `does not apply to action ${a.action}; it takes ${allowed.join(', ')}`);
    }
    const o = overlays(ctx);
    const { action: _action, ...args } = a;
    switch (a.action) {
      case 'form': {
        const c = await o.formCoalition(args, ctx.actor);
        return { coalition: c, next: `Coalition ${c.id} formed. Members claim nodes for it with action claim.` };
      }
      case 'join': return { coalition: await o.joinCoalition(args, ctx.actor), next: 'Joined.' };
      case 'leave': return { coalition: await o.leaveCoalition(args, ctx.actor), next: 'Left; joint claims stay with the coalition.' };
      case 'split': {
        const r = await o.splitCoalition(args, ctx.actor);
        return { coalition: r.kept, split: r.split, next: `Split: ${r.split.id} took ${r.split.members.join(', ')} and ${r.split.claims.length} joint claim(s).` };
      }
      case 'merge': return { coalition: await o.mergeCoalitions(args, ctx.actor), next: 'Merged; members, lead scope and joint claims moved.' };
      case 'claim': {
        const r = await o.claimForCoalition(args, ctx.actor);
        return { coalition: r.coalition, claim: { nodeId: r.nodeId, claimId: r.claimId, expiresAt: r.expiresAt }, next: `${a.member} holds ${r.nodeId} for the coalition; report it as usual (node_report).` };
      }
      case 'view': {
        await ctx.ledger.refresh();
        if (a.coalitionId !== undefined) {
          const c = o.coalition(a.coalitionId);
          if (!c) throw invalid('coalitionId', `no coalition with id "${a.coalitionId}"`);
          return { coalition: c, next: 'coalition with action join / split / merge / claim changes it.' };
        }
        if (a.runId === undefined) throw invalid('coalitionId', 'give coalitionId, or runId for every coalition of a run');
        if (!ctx.ledger.getRun(a.runId)) throw invalid('runId', `no run with id "${a.runId}"`);
        return { coalition: null, coalitions: o.coalitions(a.runId), next: 'coalition with action form starts one.' };
      }
    }
  },
});

const partnerships = tool({
  name: 'partnerships',
  title: 'Past partnerships of a worker',
  description: 'Evidence about working together: every coalition a worker was in (newest first) with its members and the run\'s status and outcome, and per partner the runs shared with their successes and failures.',
  input: z.strictObject({
    worker: overlayInputs.coalitionMemberSchema.shape.member.describe('The worker (or person) whose partnerships to list.'),
    limit: z.number().int().min(1).max(1000).optional().describe('At most this many coalitions (default 100).'),
  }),
  output: z.object({
    coalitions: z.array(z.object({ coalitionId: z.string(), name: z.string(), runId: z.string(), runTitle: z.string(), runStatus: z.string(), runOutcome: z.enum(['success', 'failure']).nullable(), members: z.array(z.string()) })),
    partners: z.array(z.object({ partner: z.string(), runs: z.number(), successes: z.number(), failures: z.number() })),
  }),
  annotations: READ,
  reads: true,
  run(a, ctx) {
    return overlays(ctx).partnerships(a.worker, a.limit ?? 100);
  },
});

const mailSend = tool({
  name: 'mail_send',
  title: 'Send mail',
  description:
    'Send a message to a worker or a person (by name), to a node (whoever runs its next turn reads it), to every node of a run, or to a ' +
    'coalition\'s members. Mail waits in the ledger until read: a Codex worker gets its unread mail in its next turn.',
  input: described(overlayInputs.mailSendSchema.shape, {
    from: 'Your worker name (or your name).',
    toKind: 'worker, node, run, coalition or person.',
    to: 'The name (worker, person), or the node, run or coalition id.',
    replyTo: 'The id of the message this answers.',
  }),
  output: mailOut.extend({ next }),
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const m = await overlays(ctx).sendMail(a, ctx.actor);
    return { ...mailView(m), next: 'Sent; it waits until the recipient reads it.' };
  },
});

const mailRead = tool({
  name: 'mail_read',
  title: 'Read mail',
  description:
    'Your mail, oldest first: to you by name, to coalitions you were in when it was sent, and with `nodeId` to that node and its run. ' +
    'Unread only by default; `markRead` marks what is returned as read.',
  input: described(overlayInputs.mailReadSchema.shape, {
    reader: 'Your worker name (or your name).',
    nodeId: 'The node you work on: adds the mail to that node and its run.',
    unreadOnly: 'False: read mail too (default true).',
    markRead: 'Mark the returned messages as read (default false).',
    limit: 'At most this many messages (default 50).',
  }),
  output: z.object({ messages: z.array(mailOut), next }),
  annotations: write({ destructive: false, idempotent: true }),
  reads: true,
  async run(a, ctx) {
    const messages = await overlays(ctx).readMail(a, ctx.actor);
    return { messages: messages.map(mailView), next: messages.length ? 'Answer with mail_send (replyTo the message id).' : 'No mail.' };
  },
});

export const OVERLAY_TOOLS: readonly ToolDefinition[] = [
  blackboardWrite, blackboardRead, nodeAnnounce, bidSubmit, bidsView, coalition, partnerships, mailSend, mailRead,
];

// ---- sections of workflow_view and worker_peek ----------------------------------------------------------

/** At most this many items of each overlay list appear in a workflow_view or worker_peek section. */
const SECTION_ITEMS = 8;
/** Bytes (JSON) an overlays section may take; lists are cut to fit, and `more` says what was left out. */
export const OVERLAY_SECTION_BUDGET = 2500;

/** The overlays section of workflow_view and worker_peek: compact, with counts of what is not listed. */
export const overlaySection = z.object({
  claims: z.array(z.object({ id: z.string(), author: z.string(), nodeId: z.string().nullable(), title: z.string(), paths: z.array(z.string()) })).describe('Current blackboard claims.'),
  entries: z.object({ claim: z.number(), finding: z.number(), decision: z.number(), question: z.number() }).describe('Current blackboard entries by kind (blackboard_read lists them).'),
  overlaps: z.number().describe('Changes that touched another worker\'s claim.'),
  rounds: z.array(z.object({ id: z.string(), nodeId: z.string(), status: z.string(), deadline: z.string(), bids: z.number(), winner: z.string().nullable() })).describe('Contract-net rounds, newest first (bids_view has the bids).'),
  coalitions: z.array(z.object({ id: z.string(), name: z.string(), status: z.string(), lead: z.string().nullable(), members: z.array(z.string()), jointClaims: z.array(z.string()) })),
  mail: z.object({ total: z.number(), unread: z.number().optional().describe('For worker_peek: unread messages to the node and its run.') }),
  more: z.string().optional().describe('What was left out and where to see it.'),
}).describe('Coordination overlays: blackboard claims, bids, coalitions, mail.');

/**
 * The overlays of a run for workflow_view (or, with `nodeId`, only what concerns that node, for worker_peek);
 * undefined when the run has none, so answers about runs without overlays stay as they were.
 */
export function overlaysOf(ctx: ToolContext, runId: string, nodeId?: string): z.input<typeof overlaySection> | undefined {
  const o = overlays(ctx);
  const all = o.runOverlays(runId);
  const rounds = nodeId ? all.rounds.filter((r) => r.nodeId === nodeId) : all.rounds;
  const coalitions = nodeId ? all.coalitions.filter((c) => c.leadScope.includes(nodeId) || c.claims.some((x) => x.nodeId === nodeId)) : all.coalitions;
  const claims = nodeId ? all.claims.filter((c) => c.nodeId === nodeId) : all.claims;
  const counted = Object.values(all.entries).reduce((n, x) => n + x, 0);
  if (counted === 0 && all.rounds.length === 0 && all.coalitions.length === 0 && all.mail.total === 0 && all.overlaps.length === 0) return undefined;
  const left: string[] = [];
  if (claims.length > SECTION_ITEMS) left.push(`${claims.length - SECTION_ITEMS} more claims (blackboard_read)`);
  if (rounds.length > SECTION_ITEMS) left.push(`${rounds.length - SECTION_ITEMS} more rounds (bids_view)`);
  if (coalitions.length > SECTION_ITEMS) left.push(`${coalitions.length - SECTION_ITEMS} more coalitions (coalition view)`);
  const short = (s: string, max: number = TEXT.section) => clip(s, max, () => 'the overlay tools');
  const unread = nodeId ? ctx.ledger.sql.get<{ c: number }>(
    `SELECT count(*) AS c FROM mail m WHERE ((m.to_kind = 'node' AND m.to_id = ?) OR (m.to_kind = 'run' AND m.to_id = ?))
     AND NOT EXISTS (SELECT 1 FROM mail_reads r WHERE r.mail_id = m.id AND r.reader = ?)`, [nodeId, runId, `node:${nodeId}`])?.c ?? 0 : undefined;
  const section = {
    claims: claims.slice(0, SECTION_ITEMS).map((c) => ({ id: c.id, author: short(c.author, 60), nodeId: c.nodeId, title: short(c.title, 100), paths: c.paths.slice(0, 3).map((g) => short(g, 80)) })),
    entries: all.entries,
    overlaps: all.overlaps.length,
    rounds: rounds.slice(0, SECTION_ITEMS).map((r) => ({ id: r.id, nodeId: r.nodeId, status: r.status, deadline: r.deadline, bids: r.bids.length, winner: r.winner === null ? null : short(r.winner, 60) })),
    coalitions: coalitions.slice(0, SECTION_ITEMS).map((c: CoalitionRow) => ({
      id: c.id, name: short(c.name, 60), status: c.status, lead: c.lead === null ? null : short(c.lead, 60), members: c.members.slice(0, 6).map((m) => short(m, 40)),
      jointClaims: c.claims.filter((x) => x.live).map((x) => x.nodeId).slice(0, 6),
    })),
    mail: unread === undefined ? { total: all.mail.total } : { total: all.mail.total, unread },
  };
  // Cut the longest list until the section fits its budget, saying what was cut.
  const cut = { claims: 0, rounds: 0, coalitions: 0 };
  const size = () => jsonBytes({ ...section, more: 'x'.repeat(200) });
  while (size() > OVERLAY_SECTION_BUDGET) {
    const longest = (['claims', 'rounds', 'coalitions'] as const).reduce((a, b) => (jsonBytes(section[a]) >= jsonBytes(section[b]) ? a : b));
    if (section[longest].length === 0) break;
    section[longest].pop();
    cut[longest]++;
  }
  if (cut.claims) left.push(`${cut.claims} claims cut to fit (blackboard_read)`);
  if (cut.rounds) left.push(`${cut.rounds} rounds cut to fit (bids_view)`);
  if (cut.coalitions) left.push(`${cut.coalitions} coalitions cut to fit (coalition view)`);
  return { ...section, ...(left.length ? { more: clip(left.join('; '), 200, () => 'the overlay tools') } : {}) };
}
