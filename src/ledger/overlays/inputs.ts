import * as z from 'zod';

/**
 * Input schemas of the overlay commands. The MCP tools and a node's dynamic tools pass their arguments
 * through these (parseInput), so a bad field gets the same message everywhere. Objects stay flat because
 * Codex flattens `anyOf` in tool schemas. Every text has a bound, every list a length limit.
 */
/**
 * Characters a name or a path glob must not hold: C0 and C1 controls and DEL, and the Unicode
 * text-direction controls (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069), which make a name or a
 * path read differently on screen than it is stored ("Trojan Source", CVE-2021-42574).
 */
// eslint-disable-next-line no-control-regex
export const UNSAFE_NAME_CHARS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const name = (what: string) => z.string().trim().min(1, `name the ${what}`).max(120, `the ${what} name is longer than 120 characters`)
  .refine((s) => !UNSAFE_NAME_CHARS.test(s), `the ${what} name contains a control or text-direction character`);
const id = (what: string) => z.string().min(1, `give the ${what} id`).max(200, `${what} id is longer than 200 characters`);
const text = (what: string, max: number) => z.string().max(max, `${what} is longer than ${max} characters`);

export const BLACKBOARD_KINDS = ['claim', 'finding', 'decision', 'question'] as const;
export const MAIL_ADDRESS_KINDS = ['worker', 'node', 'run', 'coalition', 'person'] as const;

export const blackboardWriteSchema = z.object({
  runId: id('run'),
  kind: z.enum(BLACKBOARD_KINDS, { message: 'kind must be one of claim, finding, decision, question' }),
  author: name('author'),
  nodeId: id('node').optional(),
  title: z.string().trim().min(1, 'give the entry a title').max(200, 'title is longer than 200 characters'),
  body: text('body', 20_000).default(''),
  /** Path globs of a claim (required for kind claim, not allowed otherwise); checked by checkGlob. */
  paths: z.array(z.string().max(4096, 'a glob longer than 4096 characters')).max(32, 'a claim names at most 32 globs').default([]),
  supersedes: id('entry').optional(),
});

export const blackboardReadSchema = z.object({
  runId: id('run'),
  kind: z.enum(BLACKBOARD_KINDS, { message: 'kind must be one of claim, finding, decision, question' }).optional(),
  /** True: every entry ever written, superseded ones included; false (default): only current entries. */
  history: z.boolean().default(false),
  limit: z.number().int().min(1).max(1000).default(200),
});

export const changesSchema = z.object({
  nodeId: id('node'),
  worker: name('worker'),
  /** Changed files, workspace-relative POSIX paths (workspacePath turns Codex's absolute ones into these). */
  files: z.array(z.string().max(4096)).max(2000, 'at most 2000 changed files at once'),
});

export const announceSchema = z.object({
  nodeId: id('node'),
  announcedBy: name('announcer'),
  /** Seconds from now until the round closes if the quorum is not reached first. */
  deadlineSeconds: z.number().int('must be a whole number of seconds').min(1, 'give the round at least 1 second').max(7 * 24 * 3600, 'a round lasts at most 7 days'),
  /** Bids that close the round at once. */
  quorum: z.number().int('must be a whole number').min(1, 'a quorum is at least 1 bid').max(100, 'a quorum is at most 100 bids').default(1),
  /** The lease of the winner's claim. */
  leaseSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(900),
});

export const bidSchema = z.object({
  roundId: id('round').optional(),
  nodeId: id('node').optional(),
  bidder: name('bidder'),
  /** Estimated cost in tokens. */
  cost: z.number().int('cost is a whole number of tokens').min(0, 'cost must not be negative').max(1e12, 'cost is implausibly large'),
  confidence: z.number().finite().min(0, 'confidence is between 0 and 1').max(1, 'confidence is between 0 and 1'),
  rationale: text('rationale', 4000).default(''),
  /** branch overlays-2: the bidder is a person; if they win, the node waits for them behind a human gate (Needs you). */
  person: z.boolean({ message: 'person is true (a person bids) or false' }).default(false),
});

export const bidsViewSchema = z.object({
  roundId: id('round').optional(),
  nodeId: id('node').optional(),
  runId: id('run').optional(),
  limit: z.number().int().min(1).max(500).default(50),
});

const members = z.array(name('member')).min(1, 'name at least one member').max(100, 'at most 100 members')
  .refine((m) => new Set(m).size === m.length, 'a member is named twice');
const scope = z.array(id('node')).max(500, 'a lead scope names at most 500 nodes').default([]);

export const coalitionFormSchema = z.object({
  runId: id('run'),
  name: name('coalition'),
  members,
  lead: name('lead').optional(),
  leadScope: scope,
});

export const coalitionMemberSchema = z.object({ coalitionId: id('coalition'), member: name('member') });

export const coalitionSplitSchema = z.object({
  coalitionId: id('coalition'),
  name: name('new coalition'),
  /** The members that leave to form the new coalition. */
  members,
  lead: name('lead').optional(),
  leadScope: scope,
  /** Nodes whose joint claims go with the new part; by default the nodes held by the members that leave. */
  nodeIds: z.array(id('node')).max(500).optional(),
});

export const coalitionMergeSchema = z.object({ coalitionId: id('coalition'), absorbedId: id('coalition') });

export const coalitionClaimSchema = z.object({
  coalitionId: id('coalition'),
  member: name('member'),
  nodeId: id('node'),
  leaseSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(900),
});

export const mailSendSchema = z.object({
  from: name('sender'),
  toKind: z.enum(MAIL_ADDRESS_KINDS, { message: 'toKind must be one of worker, node, run, coalition, person' }),
  to: z.string().min(1, 'name the recipient').max(200, 'the recipient is longer than 200 characters'),
  subject: z.string().trim().max(200, 'subject is longer than 200 characters').default(''),
  body: z.string().trim().min(1, 'write the message').max(20_000, 'body is longer than 20000 characters'),
  runId: id('run').optional(),
  replyTo: id('mail').optional(),
});

export const mailReadSchema = z.object({
  /** A worker or person name. */
  reader: name('reader'),
  /** The node the reader works on: adds mail addressed to that node and to its run. */
  nodeId: id('node').optional(),
  unreadOnly: z.boolean().default(true),
  /** Mark what is returned as read by `reader` (mail to a node: read by the node). */
  markRead: z.boolean().default(false),
  limit: z.number().int().min(1).max(500).default(50),
});

export const markReadSchema = z.object({
  reader: name('reader'),
  nodeId: id('node').optional(),
  mailIds: z.array(id('mail')).min(1, 'name at least one message').max(500, 'at most 500 messages at once'),
});
