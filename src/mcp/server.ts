import * as z from 'zod';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { LedgerError, OverlayService } from '../ledger/index';
import type { EvaluationResult, FormulaService, Ledger, PromotionService } from '../ledger/index';
import { explainPromotion } from '../controller/explain';
import { clip, jsonBytes, RESULT_LIMIT } from './paging';
import { FORMULA_TOOLS, OVERLAY_TOOLS, PROMOTION_TOOLS, REPLAY_TOOLS, WORKFLOW_TOOLS } from './tools';
import type { ToolContext, ToolDefinition } from './tools';
import { checkRawArguments } from './validate';

export const SERVER_NAME = 'gascity';
export const SERVER_VERSION = '0.1.0';

export interface ServerOptions {
  /** Formula families and variants; without it the formula tools and resources are not offered. */
  formulas?: FormulaService;
  /**
   * Trials and decisions over the same ledger and formula service; without it formula_assess, formula_select
   * and formula_promote are not offered. Evidence this server writes is evaluated against open trials at once.
   */
  promotions?: PromotionService;
  /** The actor the ledger records for this server's writes (defaults to the ledger's own). */
  actor?: string;
  /** Where diagnostics go; never stdout, which carries the protocol. */
  log?: (message: string) => void;
}

/** What the tools work on: a ledger and, optionally, the formula and promotion services over it. */
export interface LedgerServices {
  ledger: Ledger;
  formulas?: FormulaService;
  promotions?: PromotionService;
}

/** Options of a server whose ledger is opened after it has answered `initialize` and `tools/list`. */
export interface LazyServerOptions {
  /** Which tool groups to list before the ledger is open (the services the opener returns must match). */
  offers: { formulas: boolean; promotions: boolean };
  actor?: string;
  log?: (message: string) => void;
  /**
   * Milliseconds after `notifications/initialized` at which the open starts anyway, for a client that does
   * not list tools (default 1000). It starts at once after `tools/list` is answered, or when a call needs it.
   */
  openAfterMs?: number;
}

const INSTRUCTIONS = `Gas City keeps this workspace's workflows in a durable ledger shared with the editor and other agents.
Working loop: ready_work (or workflow_start to begin a run) → node_claim with your worker name → node_dispatch with your thread id →
do the node's instructions → node_report done/failed with a summary. Renew long claims with node_renew; pass work on with node_handoff.
Answers say in \`next\` what happens next; nodes that wait for a person (a human gate, an escalation, a review) move only when the person
acts: tell them, do not poll. Lists come a page at a time (pass \`nextCursor\` back as \`cursor\`); long text is clipped with a marker naming the call that shows the rest.
Formulas are workflow templates that evolve: formula_list / formula_view to read them, formula_mutate to propose a better variant
(a candidate, not active), formula_select to put it on trial, formula_assess for the evidence, lineage_view for its history.
Record real outcomes with evidence_record; a family's recorded rule promotes or rejects on them.
Coordinating with other workers of a run: blackboard_write / blackboard_read (claims of files, findings, decisions, questions),
node_announce / bid_submit / bids_view (a node allocated by bids), coalition (groups that hold claims jointly), mail_send / mail_read.
Every error names the field to fix; a failed call writes nothing.`;

/**
 * The tools/call request as it arrives, with `arguments` untouched. The SDK's own CallToolRequestSchema copies
 * the arguments into a new object, and an own `__proto__` key is lost in the copy (it sets the prototype
 * instead), so a call with one would write without it; this schema keeps the raw object to check it.
 */
const RawCallToolRequest = z.object({
  method: z.literal('tools/call'),
  params: z.looseObject({ name: z.string(), arguments: z.unknown().optional() }),
});

/**
 * The Gas City MCP server: an McpServer whose ledger may still be opening. It watches the requests it
 * receives so that a lazily opened ledger starts opening right after `tools/list` has been answered.
 */
export class GasCityServer extends McpServer {
  /** @internal Called with each request's method as it arrives. */
  onRequestMethod: ((method: string) => void) | undefined;

  override async connect(transport: Transport): Promise<void> {
    await super.connect(transport);
    const handle = transport.onmessage;
    transport.onmessage = (message: JSONRPCMessage, extra) => {
      if ('method' in message) this.onRequestMethod?.(message.method);
      handle?.(message, extra);
    };
  }
}

/**
 * Builds the MCP server over an open ledger. Tools are listed by the SDK from their zod schemas, but calls
 * are validated and answered here: a bad argument becomes an `isError` result in the ledger's words
 * ("field: what to fix"), with the error code and field as JSON too, instead of the SDK's dump of
 * zod issues, so a model gets the same message a person gets from the CLI or the editor.
 */
export function createServer(ledger: Ledger, options: ServerOptions = {}): GasCityServer {
  const ctx: ToolContext = { ledger, formulas: options.formulas, promotions: options.formulas ? options.promotions : undefined, actor: options.actor };
  const offers = { formulas: !!options.formulas, promotions: !!(options.formulas && options.promotions) };
  return build(() => Promise.resolve(ctx), offers, options.log ?? (() => undefined));
}

/**
 * Builds the MCP server before its ledger is open, so that `initialize` and `tools/list` are answered at
 * once: Codex gives a server about a second, and opening a ledger with a few thousand journal lines takes
 * longer on a busy machine (the replay runs on this thread, so it starts only after `tools/list` is
 * answered). Every call and resource read awaits the open; if it fails, each answers with the reason.
 * `services()` gives the opened services (for closing them), starting the open if it has not started.
 */
export function createLazyServer(open: () => Promise<LedgerServices>, options: LazyServerOptions): { server: GasCityServer; services(): Promise<LedgerServices> } {
  const log = options.log ?? (() => undefined);
  let opening: Promise<LedgerServices> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const services = (): Promise<LedgerServices> => {
    if (timer) clearTimeout(timer);
    if (!opening) {
      const started = Date.now();
      opening = open().then((s) => {
        log(`ledger opened in ${Date.now() - started} ms`);
        return s;
      }, (e: unknown) => {
        const message = e instanceof Error ? e.message : String(e);
        log(`the ledger could not be opened: ${message}`);
        throw new LedgerError(`the ledger could not be opened: ${message}`, e instanceof LedgerError ? e.code : 'io');
      });
    }
    return opening;
  };
  const context = async (): Promise<ToolContext> => {
    const s = await services();
    return { ledger: s.ledger, formulas: s.formulas, promotions: s.formulas ? s.promotions : undefined, actor: options.actor };
  };
  const server = build(context, options.offers, log);
  server.onRequestMethod = (method) => {
    if (opening) return;
    // After the answer to tools/list is written (a setImmediate runs after the handler's promise settles and
    // its reply is sent), or a while after initialization for a client that never lists tools.
    if (method === 'tools/list') setImmediate(() => void services().catch(() => undefined));
    else if (method === 'notifications/initialized' && !timer) {
      timer = setTimeout(() => void services().catch(() => undefined), options.openAfterMs ?? 1000);
      timer.unref();
    }
  };
  return { server, services };
}

function build(context: () => Promise<ToolContext>, offers: { formulas: boolean; promotions: boolean }, log: (message: string) => void): GasCityServer {
  const server = new GasCityServer({ name: SERVER_NAME, version: SERVER_VERSION }, { instructions: INSTRUCTIONS });
  const tools = toolTable(offers);
  for (const t of tools.values()) {
    server.registerTool(t.name, {
      title: t.title, description: t.description, inputSchema: t.input, outputSchema: t.output, annotations: t.annotations,
    }, () => {
      // Never reached: calls are routed by the handler installed below.
      throw new Error(`${t.name} is called through the Gas City dispatcher`);
    });
  }
  server.server.setRequestHandler(RawCallToolRequest, async (request) => {
    const name = request.params.name;
    let ctx: ToolContext;
    try {
      ctx = await context();
    } catch (e) {
      return errorResult(name, e);
    }
    return callTool(tools, ctx, name, request.params.arguments, log);
  });
  registerResources(server, context, offers.formulas);
  return server;
}

/**
 * Closes the contract-net rounds whose deadline has passed (award, lapse or void), as the controller does
 * on each pass. Without it, workers that use only this server (no controller running) would find an
 * announced node neither claimable nor biddable forever once its deadline passed. One indexed query when
 * nothing is due. A failure here (a full disk) is logged and does not fail the tool the caller asked for.
 */
async function closeDueRounds(ctx: ToolContext, log: (message: string) => void): Promise<void> {
  try {
    await new OverlayService(ctx.ledger).closeDueRounds(ctx.actor);
  } catch (e) {
    log(`closing rounds past their deadline failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Calls one tool by name; exported for the benchmark and tests that measure the tool layer alone. */
export async function callTool(
  tools: ReadonlyMap<string, ToolDefinition>, ctx: ToolContext, name: string, args: unknown, log: (message: string) => void = () => undefined,
): Promise<CallToolResult> {
  const t = tools.get(name);
  if (!t) {
    return errorResult(name, new LedgerError(`name: there is no tool "${name}"; the tools are ${[...tools.keys()].join(', ')}`, 'not_found', 'name'));
  }
  try {
    // Before the schema sees them: a copy by the schema would drop an own `__proto__` key without a word.
    checkRawArguments(args);
    // Writes too: a write tool checks its input against the ledger before it commits (formula_mutate reads
    // the parent variant), so it must see what other processes (the CLI, the editor, workers) wrote since.
    await ctx.ledger.refresh();
    await closeDueRounds(ctx, log);
    const before = ctx.ledger.seq;
    const out = await t.invoke(args, ctx);
    if (!t.reads && ctx.promotions && ctx.ledger.seq > before) {
      const promotion = await evaluate(ctx, ctx.promotions, before, log);
      if (promotion.length > 0) out.promotion = promotion;
    }
    const text = JSON.stringify(out);
    if (jsonBytes(out) > RESULT_LIMIT) log(`${name}: the answer is ${jsonBytes(out)} bytes, over the ${RESULT_LIMIT} a model receives whole`);
    return { content: [{ type: 'text', text }], structuredContent: out };
  } catch (e) {
    if (!(e instanceof LedgerError)) log(`${name} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return errorResult(name, e);
  }
}

/** At most this many promotion decisions are told in one answer, each in at most PROMOTION_TEXT characters. */
const PROMOTION_NOTES = 2;
const PROMOTION_TEXT = 350;

/**
 * Lets the family's recorded rule look at evidence this call wrote (a finished run, a review, an outcome),
 * so a trial is decided as soon as its evidence suffices even when no editor is open, and returns the
 * decisions it made, in words, for the answer. A failure here is logged, not returned: the tool's own
 * write has succeeded.
 */
async function evaluate(ctx: ToolContext, promotions: PromotionService, afterSeq: number, log: (message: string) => void): Promise<Array<Record<string, unknown>>> {
  let results: EvaluationResult[];
  try {
    results = await promotions.evaluateAndRecord(afterSeq);
  } catch (e) {
    log(`promotion evaluation failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return [];
  }
  const notes: Array<Record<string, unknown>> = [];
  for (const r of results) {
    log(`promotion: ${r.familyId} ${r.action} (${r.reason})`);
    if (notes.length >= PROMOTION_NOTES) continue;
    const decision = r.decisionId ? promotions.decisions(r.familyId, { limit: 5 }).find((d) => d.id === r.decisionId) : undefined;
    const candidateId = decision?.candidateId ?? promotions.liveTrialOf(r.familyId)?.candidateId ?? null;
    const activeVariantId = ctx.formulas?.getFamily(r.familyId)?.activeVariantId ?? null;
    const text = explainPromotion(r, { candidateId, activeVariantId });
    if (text) {
      notes.push({
        familyId: r.familyId, action: r.action, decisionId: r.decisionId,
        text: clip(text, PROMOTION_TEXT, () => `formula_assess ${JSON.stringify({ family: r.familyId })}`),
      });
    }
  }
  return notes;
}

function errorResult(tool: string, e: unknown): CallToolResult {
  const err = e instanceof LedgerError ? e : new LedgerError(`internal error: ${e instanceof Error ? e.message : String(e)}`, 'io');
  const field = err.field;
  const next: Record<string, string> = {
    invalid_input: field ? `Fix "${field}" and call ${tool} again.` : `Fix the arguments and call ${tool} again.`,
    not_found: field ? `Check "${field}": list what exists with ready_work, workflow_view or formula_list.` : 'Check the ids you passed.',
    conflict: 'The ledger\'s current state does not allow this; look at it (workflow_view, worker_peek) before trying something else.',
    lock_timeout: 'The ledger is busy; call again in a moment.',
    corrupt: 'The ledger needs attention from a person.',
    io: 'This is not a problem with your arguments; tell the person.',
  };
  // Every message starts with the field it is about, so that a model knows what to change.
  const said = err.message.replace(/[.\s]+$/, '');
  const named = field && !said.startsWith(`${field}: `) ? `${field}: ${said}` : said;
  // A refused command writes nothing; an unexpected failure may have come after a write, so it is not promised.
  const written = err.code === 'io' || err.code === 'corrupt' ? 'Check the ledger before retrying: the call may or may not have been recorded.' : 'Nothing was written.';
  const message = `${tool} failed: ${named}. ${next[err.code] ?? ''} ${written}`;
  return {
    isError: true,
    content: [
      { type: 'text', text: message },
      { type: 'text', text: JSON.stringify({ error: { code: err.code, field: field ?? null, message: named } }) },
    ],
  };
}

/** Tools by name, for callers (the benchmark, tests) that call the tool layer without a transport. */
export function toolTable(services: { formulas: boolean; promotions: boolean }): Map<string, ToolDefinition> {
  const tools = [...WORKFLOW_TOOLS, ...(services.formulas ? FORMULA_TOOLS : []), ...(services.promotions ? PROMOTION_TOOLS : []),
    ...OVERLAY_TOOLS /* branch overlays (issue 13) */,
    ...(services.promotions ? REPLAY_TOOLS : []) /* branch replay */];
  return new Map(tools.map((t) => [t.name, t]));
}

function registerResources(server: McpServer, context: () => Promise<ToolContext>, formulas: boolean): void {
  server.registerResource('run', new ResourceTemplate('gascity://run/{runId}', {
    list: async () => {
      const { ledger } = await context();
      await ledger.refresh();
      return {
        resources: ledger.listRuns({ limit: 50 }).map((r) => ({
          uri: `gascity://run/${r.id}`, name: r.id, title: `${r.title} (${r.status})`, mimeType: 'application/json',
        })),
      };
    },
  }), { title: 'Run graph', description: 'A run with its nodes, edges and thread bindings, as JSON.', mimeType: 'application/json' },
  async (uri, vars) => {
    const { ledger } = await context();
    await ledger.refresh();
    const runId = String(vars.runId);
    const g = ledger.runGraph(runId);
    if (!g) throw new LedgerError(`runId: no run with id "${runId}"`, 'not_found', 'runId');
    return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(g, null, 2) }] };
  });

  if (!formulas) return;
  server.registerResource('formula', new ResourceTemplate('gascity://formula/{family}', {
    list: async () => {
      const { ledger, formulas: f } = await context();
      await ledger.refresh();
      return {
        resources: (f?.listFamilies() ?? []).map((x) => ({
          uri: `gascity://formula/${x.id}`, name: x.id, title: x.description || x.id, mimeType: 'application/toml',
        })),
      };
    },
  }), { title: 'Formula', description: 'The active variant of a formula family, as formula TOML.', mimeType: 'application/toml' },
  async (uri, vars) => {
    const { ledger, formulas: f } = await context();
    await ledger.refresh();
    const family = String(vars.family);
    const active = f?.getFamily(family)?.activeVariantId;
    if (!f || !active) throw new LedgerError(`family: no formula family "${family}" with an active variant`, 'not_found', 'family');
    return { contents: [{ uri: uri.href, mimeType: 'application/toml', text: f.variantText(active) ?? '' }] };
  });
}
