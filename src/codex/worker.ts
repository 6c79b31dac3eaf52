import * as z from 'zod';
import { LedgerError, OverlayService, TURN_MAIL_LIMIT, errorMessage, workspacePath } from '../ledger/index';
import type { FormulaService, Ledger, MailRow, NodeRow, NodeState, PromotionService, RunRow } from '../ledger/index';
import { NODE_OVERLAY_TOOL_NAMES, callNodeOverlayTool, mailInput, nodeOverlayTools } from './nodeOverlayTools';
import { AppServerError } from './appServer';
import type { AppServer, Disposable } from './appServer';
import {
  dynamicToolCallSchema, errorNotificationSchema, itemNotificationSchema, mcpStartupStatusSchema, textInput, tokenUsageUpdatedSchema,
  turnCompletedSchema,
} from './protocol';
import type {
  DynamicToolCallParams, DynamicToolCallResponse, DynamicToolSpec, JsonValue, ServerNotification, ThreadResumeParams, ThreadStartParams,
  TokenUsageBreakdown, TurnStartParams, TurnStatus,
} from './protocol';

export interface CodexWorkerOptions {
  ledger: Ledger;
  /** A started app-server; the worker registers its tool handler on it but does not own it. */
  server: AppServer;
  /** The workspace folder: every thread's cwd. */
  workspaceDir: string;
  /** The worker name claims are held under. Keep it stable across restarts so resumeNode can keep a live claim. */
  worker?: string;
  /**
   * Config overrides for every thread (thread/start and thread/resume `config`), e.g.
   * `{ 'mcp_servers.gascity': { command: 'node', args: ['dist/mcp.js'] } }` so the thread also has the ledger's MCP tools.
   */
  threadConfig?: Record<string, JsonValue>;
  /** Further thread/start fields (model, approval policy, sandbox). */
  threadParams?: Pick<ThreadStartParams, 'model' | 'modelProvider' | 'approvalPolicy' | 'sandbox' | 'baseInstructions'>;
  leaseSeconds?: number;
  /** How often the lease is renewed while a turn runs; a third of the lease unless given. */
  renewEveryMs?: number;
  /** A turn that runs longer is interrupted and counts as a failed attempt. */
  turnTimeoutMs?: number;
  /** Who request_handoff hands the node to. */
  handoffTo?: string;
  /** The ledger actor the worker writes as (the ledger's own actor unless given). */
  actor?: string;
  /**
   * MCP servers (names in `threadConfig`'s mcp_servers) a thread must have started before its turn:
   * Codex starts them in the background, and a turn begun too early runs without their tools.
   */
  requireMcpServers?: string[];
  /** How long to wait for those servers before the turn starts anyway (a warning is logged). Default 30 s. */
  mcpReadyTimeoutMs?: number;
  /** The folder a node's thread works in; the workspace unless given (a run's worktree, for example). */
  cwdFor?: (node: NodeRow) => string;
  log?: (message: string) => void;
  /** The formula services a node's formula tools (formula_list, formula_mutate; with promotions formula_assess, formula_select) call; without them those tools are not offered. */
  formulas?: FormulaService;
  promotions?: PromotionService;
}

/**
 * A named Codex worker profile as a turn runs it (branch overlays-2, issue 13): the worker name its claims, reports
 * and bids go under, and the thread/start settings that replace the worker's own. Built by the controller from a
 * validated WorkerProfile (src/controller/profiles.ts).
 */
export interface TurnProfile {
  name: string;
  /** The bidder and claim holder name, e.g. `codex@host/123:fast`. */
  worker: string;
  threadParams: Pick<ThreadStartParams, 'model' | 'modelProvider' | 'approvalPolicy' | 'sandbox' | 'baseInstructions'>;
  /** Config overrides on top of the worker's threadConfig (`model_reasoning_effort`, …). */
  config?: Record<string, JsonValue>;
}

/** The binding's worker kind of a thread: `codex`, or `codex/<profile>` for a profile's thread. */
export function bindingKind(profile: TurnProfile | undefined): string {
  return profile ? `codex/${profile.name}` : 'codex';
}

/** What a bidding turn is told: the node up for bids, its round, and that its one job is to bid. */
export function biddingInstructions(node: NodeRow, run: RunRow, roundId: string, profile: TurnProfile): string {
  return [
    `You are the Codex worker profile "${profile.name}" of a Gas City controller. A workflow node is announced for bids and you are asked for yours.`,
    '',
    `Node: ${node.title} (node ${node.id}) of run ${run.title}. Round: ${roundId}.`,
    'Its instructions:',
    clip(node.instructions || node.title, 8000),
    '',
    'Do not do the work. Estimate what it would cost you in tokens and how confident you are (0 to 1) that you would finish it, then call ' +
      `bid_submit once with roundId "${roundId}", cost, confidence and a one-sentence rationale, and end your turn. If you should not take it, end your turn without bidding.`,
  ].join('\n');
}

/** What a running turn is doing, for progress displays: refreshed on every item and token update. */
export interface TurnActivity {
  nodeId: string;
  threadId: string;
  turnId: string | null;
  /** Epoch ms at which the turn was started. */
  startedAt: number;
  tokens: number;
  /** The type of the last item Codex started or completed (commandExecution, fileChange, mcpToolCall …). */
  lastItem: string | null;
}

/** How a node's turn ended, as far as the ledger is concerned. */
export type TurnEnd =
  | 'reported' // the model called report_result
  | 'handed_off' // the model called request_handoff
  | 'expanded' // the model called expand_node; the node waits for its children
  | 'no_result' // the turn ended without one of those; the worker reported a failed attempt
  | 'lease_lost' // someone else holds the node now; nothing was reported
  | 'cancelled' // a person cancelled the node or its run while the turn ran; the turn was interrupted
  | 'not_active'; // resumeNode found the node already finished or waiting: nothing to do

export interface NodeTurnResult {
  nodeId: string;
  threadId: string | null;
  turnId: string | null;
  /** True when the turn continued a thread bound earlier. */
  resumed: boolean;
  end: TurnEnd;
  /** The outcome written to the ledger by this turn, if any. */
  outcome: 'done' | 'failed' | null;
  summary: string;
  /** The node's state after the turn. */
  state: NodeState;
  turnStatus: TurnStatus | null;
  tokens: TokenUsageBreakdown;
  durationMs: number;
}

export const TOOL_REPORT_RESULT = 'report_result';
export const TOOL_REQUEST_HANDOFF = 'request_handoff';
export const TOOL_EXPAND_NODE = 'expand_node';

export const NO_RESULT_SUMMARY = 'the turn ended without reporting a result';

// The dynamic tools' input schemas stay flat: Codex flattens anyOf, and models follow plain objects best.
const reportArgs = z.object({
  outcome: z.enum(['done', 'failed'], { message: 'outcome must be "done" or "failed"' }),
  summary: z.string().trim().min(1, 'write a summary of what you did and what a reviewer should check').max(20_000, 'keep the summary under 20000 characters'),
});
const handoffArgs = z.object({
  note: z.string().trim().min(1, 'say why you hand the node off and what the next worker needs to know').max(4000),
});
const childArgs = z.object({
  key: z.string().min(1).max(120).regex(/^[A-Za-z0-9_.-]+$/, 'a child key uses letters, digits, _ . - only'),
  title: z.string().trim().min(1, 'give each child a title').max(200),
  instructions: z.string().max(20_000).default(''),
  needs: z.array(z.string().max(120)).max(50).default([]),
});
const expandArgs = z.object({ children: z.array(childArgs).min(1, 'give at least one child').max(50, 'at most 50 children at once') });

/**
 * The tools a node's thread gets besides Codex's own: each answers by writing to the ledger. After the three
 * that end a node's turn come the overlay tools (blackboard, bids, mail) and, with the services, the formula tools.
 */
export function nodeTools(services: { formulas: boolean; promotions: boolean } = { formulas: false, promotions: false }): DynamicToolSpec[] {
  return [
    {
      type: 'function',
      name: TOOL_REPORT_RESULT,
      description:
        'Report the result of your workflow node to the Gas City ledger. Call it exactly once, when the work is finished ' +
        '(outcome "done") or when you cannot finish it (outcome "failed"). The summary is what the next steps and a reviewer read.',
      inputSchema: {
        type: 'object',
        properties: {
          outcome: { type: 'string', enum: ['done', 'failed'], description: '"done" when the node\'s work is complete, "failed" when it is not.' },
          summary: { type: 'string', description: 'What you did, what you found or changed (files), and what is left or uncertain.' },
        },
        required: ['outcome', 'summary'],
        additionalProperties: false,
      },
    },
    {
      type: 'function',
      name: TOOL_REQUEST_HANDOFF,
      description:
        'Hand this node to another worker (a person by default) instead of finishing it: for work you are not allowed or able ' +
        'to do here. End your turn after calling it.',
      inputSchema: {
        type: 'object',
        properties: { note: { type: 'string', description: 'Why you hand it off, what you did so far, and what the next worker needs to know.' } },
        required: ['note'],
        additionalProperties: false,
      },
    },
    {
      type: 'function',
      name: TOOL_EXPAND_NODE,
      description:
        'Split this node into child nodes that other workers run (for example one per file). This node then waits for all ' +
        'children and comes back to be merged. End your turn after calling it.',
      inputSchema: {
        type: 'object',
        properties: {
          children: {
            type: 'array',
            description: 'The child nodes, in order.',
            items: {
              type: 'object',
              properties: {
                key: { type: 'string', description: 'Short unique key: letters, digits, _ . - (becomes part of the node id).' },
                title: { type: 'string', description: 'What the child does, in a few words.' },
                instructions: { type: 'string', description: 'Everything the child\'s worker needs to do its part.' },
                needs: { type: 'array', items: { type: 'string' }, description: 'Keys of sibling children that must finish first.' },
              },
              required: ['key', 'title', 'instructions'],
              additionalProperties: false,
            },
          },
        },
        required: ['children'],
        additionalProperties: false,
      },
    },
    ...nodeOverlayTools(services),
  ];
}

/** What a thread is told about its node before the turn: its role, the run around it, and how to finish. */
export function developerInstructions(node: NodeRow, run: RunRow, upstream: Array<Pick<NodeRow, 'id' | 'title' | 'result'>>): string {
  const lines = [
    'You are the Codex worker for one node of a Gas City workflow run. Gas City keeps the run in a ledger; you write to it through the tools below.',
    '',
    `Your role: ${node.title} (step "${node.stepId}", node ${node.id}), attempt ${node.attempts + 1} of ${node.maxAttempts}.`,
    `The run: ${run.title}${run.familyId ? ` (formula ${run.familyId}${run.variantId ? `, variant ${run.variantId}` : ''}${run.generation !== null ? `, generation ${run.generation}` : ''})` : ''}.`,
  ];
  const vars = Object.entries(run.vars);
  if (vars.length) {
    lines.push('', 'Run variables:');
    for (const [k, v] of vars) lines.push(`- ${k}: ${clip(typeof v === 'string' ? v : JSON.stringify(v), 2000)}`);
  }
  if (upstream.length) {
    lines.push('', 'Results of the nodes this one builds on:');
    for (const u of upstream) lines.push(`- ${u.title} (${u.id}): ${clip(u.result ?? '(no summary)', 4000)}`);
  }
  lines.push(
    '',
    'How to finish: the user message holds this node\'s instructions. When the work is done, call report_result with outcome "done" ' +
      'and a summary a reviewer can check. If you cannot do it, call report_result with outcome "failed" and say why. If the work ' +
      'splits into independent parts, call expand_node instead; if another worker or a person must take over, call request_handoff. ' +
      'Call exactly one of these, then end your turn with one short sentence. A turn that ends without one counts as a failed attempt.',
    '',
    'Coordinating with other workers of the run: blackboard_write records a claim of the files you are changing (path globs), a finding, a ' +
      'decision or a question, and blackboard_read shows what others wrote; bid_submit bids for a node announced for bids; mail_send and ' +
      'mail_read exchange messages. Mail that arrived for you is at the end of your turn\'s input.',
  );
  return lines.join('\n');
}

/** The input of a turn that continues an interrupted one on the same thread. */
export function resumeInput(node: NodeRow): string {
  return [
    'Your previous turn on this node was cut off before it finished (the Codex app-server stopped). Check what was already done in ' +
      'the workspace, pick up where you left off, and finish with report_result (or expand_node / request_handoff).',
    '',
    'The node\'s instructions, again:',
    '',
    node.instructions || node.title,
  ].join('\n');
}

interface Terminal {
  end: 'reported' | 'handed_off' | 'expanded';
  outcome: 'done' | 'failed' | null;
  summary: string;
}

interface Completion {
  status: TurnStatus;
  error: string | null;
  durationMs: number | null;
}

/** What the worker tracks while one node's turn runs on a thread. */
interface TurnContext {
  nodeId: string;
  runId: string;
  /** The worker name the turn claims, reports and bids as: the controller's, or a profile's (branch overlays-2). */
  worker: string;
  /** A bidding turn (bidTurn): no claim, no lease, only bid_submit. */
  bidding: boolean;
  /** The folder the thread works in: changed files are made relative to it. */
  cwd: string;
  threadId: string;
  turnId: string | null;
  terminal: Terminal | null;
  leaseLost: string | null;
  cancelled: string | null;
  interruptReason: string | null;
  startedAt: number;
  lastItem: string | null;
  lastError: string | null;
  lastMessage: string | null;
  items: Map<string, number>;
  tokens: TokenUsageBreakdown;
  /** Tool calls of one turn run one after another, so a retried call sees the first one's effect. */
  toolQueue: Promise<unknown>;
  /** Overlap checks of the turn's file changes, one after another; awaited before the turn's result. */
  changeQueue: Promise<unknown>;
  done: (c: Completion) => void;
  fail: (e: Error) => void;
}

const zeroTokens = (): TokenUsageBreakdown => ({ totalTokens: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, reasoningOutputTokens: 0 });

/**
 * Runs workflow nodes as Codex turns. A node's instructions become the turn input, its role and run
 * context the thread's developer instructions; the thread id is bound to the node, and the node's
 * dynamic tools (report_result, request_handoff, expand_node) are answered by ledger commands.
 * Token usage and duration become evidence when the turn ends, and a turn that ends without a
 * result is reported as a failed attempt, so a node never hangs on a thread that went quiet.
 *
 * Every step leaves the ledger recoverable: a crash before the report leaves the node claimed or
 * active under a lease that runs out (recoverNodes makes it ready again), or resumeNode picks the
 * bound thread up again.
 */
export class CodexWorker implements Disposable {
  readonly worker: string;
  private readonly ledger: Ledger;
  private readonly server: AppServer;
  private readonly leaseSeconds: number;
  private readonly renewEveryMs: number;
  private readonly turnTimeoutMs: number;
  private readonly log: (message: string) => void;
  private readonly turns = new Map<string, TurnContext>();
  private readonly subscriptions: Disposable[] = [];
  /** Startup states of MCP servers by `threadId|name` (threadId '' for process-wide servers). */
  private readonly mcpStates = new Map<string, { status: string; error: string | null }>();
  private readonly mcpWaiters = new Set<() => void>();
  private readonly activityListeners = new Set<(a: TurnActivity) => void>();
  private readonly overlays: OverlayService;

  constructor(private readonly options: CodexWorkerOptions) {
    this.ledger = options.ledger;
    this.server = options.server;
    this.worker = options.worker ?? 'codex';
    this.leaseSeconds = options.leaseSeconds ?? 900;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(1000, (this.leaseSeconds * 1000) / 3);
    this.turnTimeoutMs = options.turnTimeoutMs ?? 60 * 60 * 1000;
    this.log = options.log ?? (() => undefined);
    this.overlays = new OverlayService(this.ledger);
    this.subscriptions.push(
      this.server.handleRequest('item/tool/call', (params) => this.onToolCall(params)),
      this.server.onNotification((n) => this.onNotification(n)),
      // Registered before any thread starts, so a server that is ready before thread/start answers is not missed.
      this.server.onNotification((n) => this.onMcpStatus(n)),
      this.server.onExit((info) => {
        const why = new AppServerError(`the Codex app-server exited (${info.signal ? `signal ${info.signal}` : `code ${info.code}`}) during the turn`, 'exited');
        for (const ctx of this.turns.values()) ctx.fail(why);
      }),
    );
  }

  /**
   * Stops listening to the app-server. Turns still running end at once with an `exited` AppServerError
   * (their claims stay, for a later resumeNode): a turn nobody listens to would never finish.
   */
  dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    const why = new AppServerError('the Codex worker was stopped during the turn', 'exited');
    for (const ctx of this.turns.values()) ctx.fail(why);
  }

  /** The turns running now, with what each is doing. */
  activity(): TurnActivity[] {
    return [...this.turns.values()].filter((ctx) => !ctx.bidding).map((ctx) => this.activityOf(ctx));
  }

  /** Called whenever a running turn does something (an item, a token update, its start and its end). */
  onActivity(listener: (a: TurnActivity) => void): Disposable {
    this.activityListeners.add(listener);
    return { dispose: () => this.activityListeners.delete(listener) };
  }

  /**
   * Interrupts the turn running `nodeId` (`turn/interrupt`) because a person cancelled the node or its
   * run; the turn then ends as `cancelled` and reports nothing. False when no turn of this worker runs it.
   */
  async cancelNode(nodeId: string, reason: string): Promise<boolean> {
    const ctx = [...this.turns.values()].find((c) => c.nodeId === nodeId && !c.bidding);
    if (!ctx) return false;
    ctx.cancelled ??= reason;
    await this.interrupt(ctx, reason);
    return true;
  }

  /** Claims the oldest ready node (of `runId` if given) and runs it; null when nothing is ready. */
  async runNext(runId?: string): Promise<NodeTurnResult | null> {
    await this.ledger.refresh();
    const claim = await this.ledger.claimNode({ worker: this.worker, runId, leaseSeconds: this.leaseSeconds }, this.options.actor);
    if (!claim) return null;
    return this.runNode(claim.nodeId);
  }

  /**
   * Runs one node on a new thread: claims it (or keeps this worker's live claim), starts the thread,
   * binds it, and runs the turn to its end.
   */
  async runNode(nodeId: string, options: { claimed?: boolean; profile?: TurnProfile } = {}): Promise<NodeTurnResult> {
    const worker = options.profile?.worker ?? this.worker;
    const node = options.claimed ? await this.requireMine(nodeId, worker) : await this.ensureClaim(nodeId, worker);
    const threadId = await this.startThread(node, options.profile);
    await this.ledger.dispatchNode({ nodeId, worker, workerKind: bindingKind(options.profile), threadId }, this.options.actor);
    return this.runTurn(node, threadId, node.instructions || node.title, false, worker);
  }

  /**
   * Continues a node on the thread bound to it (after the app-server or the editor restarted): resumes
   * the thread and sends a turn that picks up the interrupted work. A node that has finished or is
   * waiting is left alone; one that was never bound is run afresh; a thread Codex cannot find any
   * more is replaced by a new one.
   */
  async resumeNode(nodeId: string, profile?: TurnProfile): Promise<NodeTurnResult> {
    const worker = profile?.worker ?? this.worker;
    await this.ledger.refresh();
    const current = this.requireNode(nodeId);
    const threadId = this.boundThread(current);
    if (!threadId) return this.runNode(nodeId, { profile });
    if (!['ready', 'claimed', 'active'].includes(current.state)) {
      return { ...this.emptyResult(current, threadId), end: 'not_active', summary: current.result ?? '' };
    }
    const node = await this.ensureClaim(nodeId, worker);
    const params: ThreadResumeParams = { threadId, cwd: this.cwdFor(node), excludeTurns: true, ...profile?.threadParams, ...this.threadOverrides(profile) };
    try {
      await this.server.request('thread/resume', params);
      await this.mcpReady(threadId);
    } catch (e) {
      if (!(e instanceof AppServerError) || e.code !== 'rpc') throw e;
      this.log(`thread ${threadId} of node ${nodeId} could not be resumed (${e.message}); starting a new thread`);
      const fresh = await this.startThread(node, profile);
      await this.ledger.dispatchNode({ nodeId, worker, workerKind: bindingKind(profile), threadId: fresh }, this.options.actor);
      return this.runTurn(node, fresh, resumeInput(node), false, worker);
    }
    // The binding already names this thread; dispatch only moves a fresh claim back to active.
    await this.ledger.dispatchNode({ nodeId, worker, workerKind: bindingKind(profile) }, this.options.actor);
    return this.runTurn(node, threadId, resumeInput(node), true, worker);
  }

  /**
   * A bidding turn (branch overlays-2, issue 13): a fresh read-only thread with the profile's settings, whose only
   * tool is bid_submit (bidder filled in as `profile.worker`), asked to bid in round `roundId` for `nodeId`. Resolves
   * true when the turn bid, false when it ended, failed or ran past `timeoutMs` (then it is interrupted) without a
   * bid. It claims nothing. Throws an AppServerError when the app-server is gone.
   */
  async bidTurn(nodeId: string, roundId: string, profile: TurnProfile, timeoutMs = 120_000): Promise<boolean> {
    const node = this.requireNode(nodeId);
    const run = this.ledger.getRun(node.runId);
    if (!run) throw new LedgerError(`nodeId: the run ${node.runId} of node ${node.id} is gone`, 'not_found', 'nodeId');
    const tools = nodeTools({ formulas: false, promotions: false }).filter((t) => t.name === 'bid_submit');
    // The bid needs no MCP servers: leave them out so a bidding thread starts none.
    const config = Object.fromEntries(Object.entries(this.threadOverrides(profile).config ?? {}).filter(([k]) => !k.startsWith('mcp_servers')));
    const params: ThreadStartParams = {
      cwd: this.cwdFor(node), developerInstructions: biddingInstructions(node, run, roundId, profile), dynamicTools: tools,
      ...this.options.threadParams, ...profile.threadParams, sandbox: 'read-only', ...(Object.keys(config).length ? { config } : {}),
    };
    const r = await this.server.request('thread/start', params);
    const threadId = r.thread.id;
    let done!: (c: Completion) => void;
    let fail!: (e: Error) => void;
    const completion = new Promise<Completion>((resolve, reject) => { done = resolve; fail = reject; });
    completion.catch(() => undefined);
    const ctx: TurnContext = {
      nodeId, runId: node.runId, worker: profile.worker, bidding: true, cwd: this.cwdFor(node), threadId, turnId: null, terminal: null,
      leaseLost: null, cancelled: null, interruptReason: null, startedAt: Date.now(), lastItem: null, lastError: null, lastMessage: null,
      items: new Map(), tokens: zeroTokens(), toolQueue: Promise.resolve(), changeQueue: Promise.resolve(), done, fail,
    };
    this.turns.set(threadId, ctx);
    const timeout = setTimeout(() => {
      void this.interrupt(ctx, 'the bidding turn ran too long');
      done({ status: 'interrupted', error: 'timed out', durationMs: null });
    }, timeoutMs);
    try {
      const t = await this.server.request('turn/start', { threadId, input: [textInput(`Bid for node ${nodeId} in round ${roundId}, or decline.`)] });
      ctx.turnId = t.turn.id;
      await completion;
      await ctx.toolQueue;
    } finally {
      clearTimeout(timeout);
      this.turns.delete(threadId);
      await this.recordBiddingEvidence(ctx, roundId, profile);
    }
    return ctx.terminal !== null;
  }

  /**
   * A bidding turn's tokens as evidence of kind `bidding` on the node bid for, so that they count in its run's
   * and its variant's tokens like any turn's (branch leftovers). Only tokens: the turn ran beside the node's
   * work and its wall time is in the note, not added to the node's duration. A turn that spent nothing (it never
   * reached the model) records nothing; a failure to record is logged, never thrown (the bid stands regardless).
   */
  private async recordBiddingEvidence(ctx: TurnContext, roundId: string, profile: TurnProfile): Promise<void> {
    const t = ctx.tokens;
    if (t.totalTokens <= 0) return;
    const seconds = ((Date.now() - ctx.startedAt) / 1000).toFixed(1);
    const note = `bidding turn of profile ${profile.name} in round ${roundId} (codex thread ${ctx.threadId}): ${ctx.terminal ? 'bid' : 'no bid'}; ` +
      `${t.inputTokens} input tokens (${t.cachedInputTokens} cached), ${t.outputTokens} output (${t.reasoningOutputTokens} reasoning); ${seconds} s`;
    try {
      await this.ledger.recordEvidence({ nodeId: ctx.nodeId, kind: 'bidding', tokens: t.totalTokens, note }, this.options.actor);
    } catch (e) {
      this.log(`node ${ctx.nodeId}: could not record the bidding turn's tokens: ${(e as Error).message}`);
    }
  }

  // ---- steps ----------------------------------------------------------------------------------------

  /**
   * The node as this worker just claimed it (the caller committed the claim in this process, so the
   * tables already show it): no catch-up with other processes' writes, which waits behind every queued
   * write. Falls back to ensureClaim when the claim is not this worker's after all.
   */
  private requireMine(nodeId: string, worker: string = this.worker): NodeRow | Promise<NodeRow> {
    const n = this.requireNode(nodeId);
    const mine = (n.state === 'claimed' || n.state === 'active') && n.worker === worker;
    return mine ? n : this.ensureClaim(nodeId, worker);
  }

  private async ensureClaim(nodeId: string, worker: string = this.worker): Promise<NodeRow> {
    await this.ledger.refresh();
    const n = this.requireNode(nodeId);
    const mine = (n.state === 'claimed' || n.state === 'active') && n.worker === worker && n.leaseExpires !== null && Date.parse(n.leaseExpires) > Date.now();
    if (!mine) await this.ledger.claimNode({ worker, nodeId, leaseSeconds: this.leaseSeconds }, this.options.actor);
    return this.requireNode(nodeId);
  }

  private async startThread(node: NodeRow, profile?: TurnProfile): Promise<string> {
    const run = this.ledger.getRun(node.runId);
    if (!run) throw new LedgerError(`nodeId: the run ${node.runId} of node ${node.id} is gone`, 'not_found', 'nodeId');
    // Only the node's inputs, through the edges into it (edges_to): reading the whole run graph here made
    // each dispatch cost grow with the run's size (about 27 ms a node in a 100-node run).
    const upstream = this.ledger.upstreamNodes(node.id);
    const params: ThreadStartParams = {
      cwd: this.cwdFor(node),
      developerInstructions: developerInstructions(node, run, upstream),
      dynamicTools: nodeTools({ formulas: !!this.options.formulas, promotions: !!this.options.promotions }),
      ...this.options.threadParams,
      // branch overlays-2: a profile's settings replace the controller's for the threads of nodes it won.
      ...profile?.threadParams,
      ...this.threadOverrides(profile),
    };
    const r = await this.server.request('thread/start', params);
    this.log(`node ${node.id}: thread ${r.thread.id} started${profile ? ` with profile ${profile.name}` : ''}`);
    await this.mcpReady(r.thread.id);
    return r.thread.id;
  }

  private cwdFor(node: NodeRow): string {
    return this.options.cwdFor?.(node) ?? this.options.workspaceDir;
  }

  private onMcpStatus(n: ServerNotification): void {
    if (n.method !== 'mcpServer/startupStatus/updated') return;
    const p = mcpStartupStatusSchema.safeParse(n.params);
    if (!p.success) return;
    this.mcpStates.set(`${p.data.threadId ?? ''}|${p.data.name}`, { status: p.data.status, error: p.data.error ?? null });
    for (const w of [...this.mcpWaiters]) w();
  }

  /**
   * Waits until every required MCP server of the thread has started (ready, or failed: then the turn
   * goes on without it and the log says why), or until the timeout, after which the turn starts anyway.
   */
  private async mcpReady(threadId: string): Promise<void> {
    const names = this.options.requireMcpServers ?? [];
    if (names.length === 0) return;
    const settled = (name: string) => {
      const s = this.mcpStates.get(`${threadId}|${name}`) ?? this.mcpStates.get(`|${name}`);
      return s && s.status !== 'starting' ? s : undefined;
    };
    const pending = () => names.filter((name) => !settled(name));
    if (pending().length) {
      const timeoutMs = this.options.mcpReadyTimeoutMs ?? 30_000;
      await new Promise<void>((resolve) => {
        const check = () => {
          if (pending().length) return;
          finish();
        };
        const finish = () => {
          clearTimeout(timer);
          this.mcpWaiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          this.log(`thread ${threadId}: MCP server(s) ${pending().join(', ')} not ready after ${timeoutMs} ms; the turn starts without waiting longer`);
          finish();
        }, timeoutMs);
        this.mcpWaiters.add(check);
      });
    }
    for (const name of names) {
      const s = settled(name);
      if (s && s.status !== 'ready') this.log(`thread ${threadId}: MCP server ${name} is ${s.status}${s.error ? `: ${s.error}` : ''}; the turn has only its node tools`);
    }
  }

  private activityOf(ctx: TurnContext): TurnActivity {
    return { nodeId: ctx.nodeId, threadId: ctx.threadId, turnId: ctx.turnId, startedAt: ctx.startedAt, tokens: ctx.tokens.totalTokens, lastItem: ctx.lastItem };
  }

  private emitActivity(ctx: TurnContext): void {
    const a = this.activityOf(ctx);
    for (const l of this.activityListeners) {
      try {
        l(a);
      } catch (e) {
        this.log(`an activity listener threw: ${(e as Error).message}`);
      }
    }
  }

  private threadOverrides(profile?: TurnProfile): Pick<ThreadStartParams, 'config'> {
    const config = profile?.config ? { ...this.options.threadConfig, ...profile.config } : this.options.threadConfig;
    return config ? { config } : {};
  }

  private async runTurn(node: NodeRow, threadId: string, text: string, resumed: boolean, worker: string = this.worker): Promise<NodeTurnResult> {
    const started = Date.now();
    let done!: (c: Completion) => void;
    let fail!: (e: Error) => void;
    const completion = new Promise<Completion>((resolve, reject) => { done = resolve; fail = reject; });
    // The server can die before anyone awaits the completion; the rejection is read below or dropped.
    completion.catch(() => undefined);
    const ctx: TurnContext = {
      nodeId: node.id, runId: node.runId, worker, bidding: false, cwd: this.cwdFor(node), changeQueue: Promise.resolve(), threadId, turnId: null, terminal: null, leaseLost: null, cancelled: null, interruptReason: null, startedAt: started, lastItem: null,
      lastError: null, lastMessage: null,
      items: new Map(), tokens: zeroTokens(), toolQueue: Promise.resolve(), done, fail,
    };
    // Registered before turn/start so that no event of the turn can slip past.
    this.turns.set(threadId, ctx);
    const renew = setInterval(() => void this.renew(ctx), this.renewEveryMs);
    const timeout = setTimeout(() => void this.interrupt(ctx, `the turn ran longer than ${Math.round(this.turnTimeoutMs / 1000)} s`), this.turnTimeoutMs);
    let result: Completion;
    try {
      // Unread mail goes into the turn's input, and is marked read only once Codex took the turn: a refused
      // turn leaves it for the next one, so nothing sent while this worker was not running is lost.
      const mail = await this.unreadMail(node, worker);
      const params: TurnStartParams = { threadId, input: [textInput(mail.length ? `${text}\n\n${mailInput(mail)}` : text)] };
      try {
        const r = await this.server.request('turn/start', params);
        ctx.turnId = r.turn.id;
        if (mail.length) await this.markMailRead(node, mail, worker);
        this.emitActivity(ctx);
        // A cancel that came while the turn was being started interrupts it now.
        if (ctx.cancelled) void this.interrupt(ctx, ctx.cancelled);
      } catch (e) {
        // Refused outright (not a dead server, which resumeNode can recover from): report it so the
        // node gets its next attempt now rather than when the lease runs out.
        if (!(e instanceof AppServerError) || e.code !== 'rpc') throw e;
        done({ status: 'failed', error: `Codex refused to start the turn: ${e.message}`, durationMs: 0 });
      }
      result = await completion;
    } finally {
      clearInterval(renew);
      clearTimeout(timeout);
      this.turns.delete(threadId);
    }
    await ctx.toolQueue;
    await ctx.changeQueue;
    const durationMs = result.durationMs ?? Date.now() - started;

    let end: TurnEnd;
    let outcome: 'done' | 'failed' | null = null;
    let summary = '';
    if (ctx.terminal) {
      ({ end, outcome, summary } = ctx.terminal);
    } else if (ctx.cancelled) {
      end = 'cancelled';
      summary = ctx.cancelled;
    } else if (ctx.leaseLost) {
      end = 'lease_lost';
      summary = ctx.leaseLost;
    } else {
      summary = this.noResultSummary(ctx, result);
      try {
        await this.ledger.reportNode({ nodeId: node.id, worker: ctx.worker, outcome: 'failed', summary }, this.options.actor);
        end = 'no_result';
        outcome = 'failed';
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e;
        // The lease ran out or someone took the node over; the ledger already moved on without us.
        end = 'lease_lost';
        summary = `${summary}; not reported: ${e.message}`;
      }
    }
    await this.recordTurnEvidence(ctx, result, durationMs);
    const after = this.requireNode(node.id);
    return {
      nodeId: node.id, threadId, turnId: ctx.turnId, resumed, end, outcome, summary, state: after.state, turnStatus: result.status,
      tokens: ctx.tokens, durationMs,
    };
  }

  private noResultSummary(ctx: TurnContext, c: Completion): string {
    const parts = [NO_RESULT_SUMMARY];
    if (ctx.interruptReason) parts.push(`interrupted: ${ctx.interruptReason}`);
    else if (c.status !== 'completed') parts.push(`turn ${c.status}${c.error ? `: ${c.error}` : ''}`);
    else if (ctx.lastError) parts.push(`last error: ${ctx.lastError}`);
    if (ctx.lastMessage) parts.push(`Codex's last message: "${clip(ctx.lastMessage, 1000)}"`);
    return parts.join('; ');
  }

  private async recordTurnEvidence(ctx: TurnContext, c: Completion, durationMs: number): Promise<void> {
    const t = ctx.tokens;
    const items = [...ctx.items].map(([type, n]) => `${n} ${type}`).join(', ') || 'no items';
    const note = `codex thread ${ctx.threadId} turn ${ctx.turnId ?? '?'} ${c.status}: ${t.inputTokens} input tokens (${t.cachedInputTokens} cached), ` +
      `${t.outputTokens} output (${t.reasoningOutputTokens} reasoning); ${items}`;
    try {
      // Tokens and duration go into evidence only, not into the report: evidence already adds them to
      // the run's totals, and the report of a result usually comes before the turn's last tokens.
      await this.ledger.recordEvidence({ nodeId: ctx.nodeId, kind: 'tokens', tokens: t.totalTokens, durationMs, note }, this.options.actor);
    } catch (e) {
      this.log(`node ${ctx.nodeId}: could not record the turn's evidence: ${(e as Error).message}`);
    }
  }

  private async renew(ctx: TurnContext): Promise<void> {
    if (ctx.terminal || ctx.leaseLost || ctx.bidding) return;
    try {
      await this.ledger.renewLease({ nodeId: ctx.nodeId, worker: ctx.worker, leaseSeconds: this.leaseSeconds }, this.options.actor);
    } catch (e) {
      if (ctx.terminal) return;
      ctx.leaseLost = `the lease on node ${ctx.nodeId} was lost during the turn: ${(e as Error).message}`;
      this.log(ctx.leaseLost);
      // Another worker may own the node now; going on would only spend tokens on work nobody records.
      await this.interrupt(ctx, 'the lease was lost');
    }
  }

  private async interrupt(ctx: TurnContext, reason: string): Promise<void> {
    ctx.interruptReason ??= reason;
    if (!ctx.turnId) return;
    try {
      await this.server.request('turn/interrupt', { threadId: ctx.threadId, turnId: ctx.turnId }, { timeoutMs: 10_000 });
    } catch (e) {
      this.log(`could not interrupt turn ${ctx.turnId}: ${(e as Error).message}`);
    }
  }

  // ---- events and tools -----------------------------------------------------------------------------

  private onNotification(n: ServerNotification): void {
    switch (n.method) {
      case 'thread/tokenUsage/updated': {
        const p = tokenUsageUpdatedSchema.safeParse(n.params);
        const ctx = p.success ? this.turns.get(p.data.threadId) : undefined;
        if (!p.success || !ctx) return;
        // `last` is the usage of one model response; summing it gives the turn's usage even when the
        // thread's running total does not start from zero (a resumed thread).
        const last = p.data.tokenUsage.last;
        ctx.tokens.totalTokens += last.totalTokens;
        ctx.tokens.inputTokens += last.inputTokens;
        ctx.tokens.cachedInputTokens += last.cachedInputTokens;
        ctx.tokens.outputTokens += last.outputTokens;
        ctx.tokens.reasoningOutputTokens += last.reasoningOutputTokens;
        this.emitActivity(ctx);
        return;
      }
      case 'item/completed': {
        const p = itemNotificationSchema.safeParse(n.params);
        const ctx = p.success ? this.turns.get(p.data.threadId) : undefined;
        if (!p.success || !ctx) return;
        const item = p.data.item;
        ctx.items.set(item.type, (ctx.items.get(item.type) ?? 0) + 1);
        if (item.type === 'agentMessage' && typeof item.text === 'string') ctx.lastMessage = item.text;
        if (item.type === 'fileChange') this.noteChanges(ctx, item);
        ctx.lastItem = item.type;
        this.emitActivity(ctx);
        return;
      }
      case 'item/started': {
        const p = itemNotificationSchema.safeParse(n.params);
        const ctx = p.success ? this.turns.get(p.data.threadId) : undefined;
        if (!p.success || !ctx) return;
        ctx.lastItem = p.data.item.type;
        this.emitActivity(ctx);
        return;
      }
      case 'error': {
        const p = errorNotificationSchema.safeParse(n.params);
        const ctx = p.success ? this.turns.get(p.data.threadId) : undefined;
        if (p.success && ctx && !p.data.willRetry) ctx.lastError = p.data.error.message;
        return;
      }
      case 'turn/completed': {
        const p = turnCompletedSchema.safeParse(n.params);
        const ctx = p.success ? this.turns.get(p.data.threadId) : undefined;
        if (!p.success || !ctx) return;
        if (ctx.turnId && p.data.turn.id !== ctx.turnId) return;
        ctx.done({ status: p.data.turn.status, error: p.data.turn.error?.message ?? null, durationMs: p.data.turn.durationMs ?? null });
        return;
      }
      default:
        return;
    }
  }

  private onToolCall(raw: DynamicToolCallParams): Promise<DynamicToolCallResponse> {
    const parsed = dynamicToolCallSchema.safeParse(raw);
    if (!parsed.success) return Promise.resolve(toolError('the tool call did not carry threadId, tool and arguments'));
    const call = parsed.data;
    const ctx = this.turns.get(call.threadId);
    if (!ctx) return Promise.resolve(toolError(`no Gas City node is running on thread ${call.threadId} in this window; the call was not recorded`));
    const run = ctx.toolQueue.then(() => this.callTool(ctx, call.tool, call.arguments));
    ctx.toolQueue = run.catch(() => undefined);
    return run;
  }

  private async callTool(ctx: TurnContext, tool: string, args: unknown): Promise<DynamicToolCallResponse> {
    try {
      // branch overlays-2: a bidding turn has one tool, and its answer ends the turn's job.
      if (ctx.bidding) {
        if (tool !== 'bid_submit') return toolError(`this turn only bids: call bid_submit (not ${tool}), then end the turn`);
        const r = await this.overlayTool(ctx, tool, args);
        ctx.terminal = { end: 'reported', outcome: null, summary: 'bid' };
        return toolOk({ ...r, next: 'Your bid is recorded. End your turn now with one short sentence.' });
      }
      switch (tool) {
        case TOOL_REPORT_RESULT: return await this.reportResult(ctx, args);
        case TOOL_REQUEST_HANDOFF: return await this.requestHandoff(ctx, args);
        case TOOL_EXPAND_NODE: return await this.expand(ctx, args);
        default:
          if (NODE_OVERLAY_TOOL_NAMES.includes(tool)) return toolOk(await this.overlayTool(ctx, tool, args));
          return toolError(`unknown tool ${tool}; the node's tools are ${[TOOL_REPORT_RESULT, TOOL_REQUEST_HANDOFF, TOOL_EXPAND_NODE, ...NODE_OVERLAY_TOOL_NAMES].join(', ')}`);
      }
    } catch (e) {
      if (e instanceof LedgerError) return toolError(e.message);
      this.log(`tool ${tool} on node ${ctx.nodeId} failed: ${(e as Error).stack ?? String(e)}`);
      return toolError(`the ledger could not record this: ${(e as Error).message}`);
    }
  }

  private async reportResult(ctx: TurnContext, args: unknown): Promise<DynamicToolCallResponse> {
    if (ctx.terminal) return this.alreadyFinished(ctx);
    const a = parseArgs(reportArgs, args);
    if (typeof a === 'string') return toolError(a);
    const r = await this.ledger.reportNode({ nodeId: ctx.nodeId, worker: ctx.worker, outcome: a.outcome, summary: a.summary }, this.options.actor);
    ctx.terminal = { end: 'reported', outcome: a.outcome, summary: a.summary };
    return toolOk({
      recorded: true, nodeId: ctx.nodeId, outcome: a.outcome, nodeState: r.state, runStatus: r.runStatus,
      next: 'The result is recorded. End your turn now with one short sentence; do not call report_result again.',
    });
  }

  private async requestHandoff(ctx: TurnContext, args: unknown): Promise<DynamicToolCallResponse> {
    if (ctx.terminal) return this.alreadyFinished(ctx);
    const a = parseArgs(handoffArgs, args);
    if (typeof a === 'string') return toolError(a);
    const toWorker = this.options.handoffTo ?? 'person';
    // The default is a person: the node then waits for them (Needs you) instead of under a lease that runs out.
    const toPerson = toWorker === 'person';
    const r = await this.ledger.handoffNode({ nodeId: ctx.nodeId, fromWorker: ctx.worker, toWorker, note: a.note, leaseSeconds: this.leaseSeconds, toPerson }, this.options.actor);
    ctx.terminal = { end: 'handed_off', outcome: null, summary: a.note };
    return toolOk({
      handedOff: true, nodeId: ctx.nodeId, toWorker, handoffId: r.handoffId,
      next: toPerson ? 'The node now waits for a person, who reads your note. End your turn now.' : 'The node is handed off. End your turn now.',
    });
  }

  private async expand(ctx: TurnContext, args: unknown): Promise<DynamicToolCallResponse> {
    if (ctx.terminal) return this.alreadyFinished(ctx);
    const a = parseArgs(expandArgs, args);
    if (typeof a === 'string') return toolError(a);
    const r = await this.ledger.expandNode({ nodeId: ctx.nodeId, worker: ctx.worker, children: a.children }, this.options.actor);
    ctx.terminal = { end: 'expanded', outcome: null, summary: `expanded into ${r.childIds.join(', ')}` };
    return toolOk({
      expanded: true, nodeId: ctx.nodeId, childIds: r.childIds,
      next: 'The children are in the ledger; this node comes back once they are done. End your turn now.',
    });
  }

  /** An overlay or formula tool of the node (nodeOverlayTools.ts), called as this worker on this node. */
  private overlayTool(ctx: TurnContext, tool: string, args: unknown): Promise<Record<string, unknown>> {
    return callNodeOverlayTool(tool, args, {
      ledger: this.ledger, formulas: this.options.formulas, promotions: this.options.promotions, actor: this.options.actor,
      worker: ctx.worker, nodeId: ctx.nodeId, runId: ctx.runId,
    });
  }

  /**
   * The overlap rule's input: the files a `fileChange` item changed, relative to the thread's folder (files
   * outside it are left out), compared with the run's claims in the order the items completed.
   */
  private noteChanges(ctx: TurnContext, item: Record<string, unknown>): void {
    const parsed = fileChangesSchema.safeParse(item.changes);
    if (!parsed.success) return;
    const files = [...new Set(parsed.data.map((c) => workspacePath(ctx.cwd, c.path)).filter((f): f is string => f !== null))];
    if (files.length === 0) return;
    ctx.changeQueue = ctx.changeQueue.then(() => this.overlays.recordChanges({ nodeId: ctx.nodeId, worker: ctx.worker, files }, this.options.actor))
      .then((overlaps) => {
        for (const o of overlaps) this.log(`node ${ctx.nodeId}: changes touched claim ${o.entryId} of ${o.claimant} (${o.files.join(', ')}); both were told by mail`);
      }, (e: unknown) => this.log(`node ${ctx.nodeId}: could not check the turn's changes against the run's claims: ${errorMessage(e)}`));
  }

  /** The node's unread mail for its next turn (a failure to read it is logged: the turn goes on without it). */
  private async unreadMail(node: NodeRow, reader: string): Promise<MailRow[]> {
    try {
      return await this.overlays.readMail({ reader, nodeId: node.id, unreadOnly: true, limit: TURN_MAIL_LIMIT });
    } catch (e) {
      this.log(`node ${node.id}: could not read its mail: ${errorMessage(e)}`);
      return [];
    }
  }

  private async markMailRead(node: NodeRow, mail: MailRow[], reader: string): Promise<void> {
    try {
      await this.overlays.markRead({ reader, nodeId: node.id, mailIds: mail.map((m) => m.id) }, this.options.actor);
    } catch (e) {
      this.log(`node ${node.id}: the mail its turn received could not be marked read: ${errorMessage(e)}`);
    }
  }

  private alreadyFinished(ctx: TurnContext): DynamicToolCallResponse {
    const t = ctx.terminal!;
    // A repeated report is answered as a success so a model that retries does not loop on an error.
    if (t.end === 'reported') return toolOk({ recorded: true, nodeId: ctx.nodeId, outcome: t.outcome, next: 'Already recorded. End your turn now.' });
    return toolError(`this node was already ${t.end === 'handed_off' ? 'handed off' : 'expanded'} in this turn; end your turn now`);
  }

  // ---- helpers --------------------------------------------------------------------------------------

  private requireNode(nodeId: string): NodeRow {
    const n = this.ledger.getNode(nodeId);
    if (!n) throw new LedgerError(`nodeId: no node with id "${nodeId}"`, 'not_found', 'nodeId');
    return n;
  }

  /** The Codex thread most recently bound to the node, if any. */
  private boundThread(node: NodeRow): string | null {
    const bindings = this.ledger.runGraph(node.runId)?.bindings.filter((b) => b.nodeId === node.id && (b.workerKind === 'codex' || b.workerKind.startsWith('codex/'))) ?? [];
    return bindings.at(-1)?.threadId ?? null;
  }

  private emptyResult(node: NodeRow, threadId: string | null): NodeTurnResult {
    return {
      nodeId: node.id, threadId, turnId: null, resumed: false, end: 'not_active', outcome: null, summary: '', state: node.state,
      turnStatus: null, tokens: zeroTokens(), durationMs: 0,
    };
  }
}

/** The changes of a `fileChange` item as the app-server reports them (v2 `FileUpdateChange`); only paths are read, at most 10,000. */
const fileChangesSchema = z.array(z.looseObject({ path: z.string().max(4096) })).max(10_000);

function parseArgs<S extends z.ZodType>(schema: S, args: unknown): z.output<S> | string {
  const r = schema.safeParse(args);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  return `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
}

function toolOk(value: Record<string, unknown>): DynamicToolCallResponse {
  return { success: true, contentItems: [{ type: 'inputText', text: JSON.stringify(value) }] };
}

function toolError(message: string): DynamicToolCallResponse {
  return { success: false, contentItems: [{ type: 'inputText', text: `Error: ${message}` }] };
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
