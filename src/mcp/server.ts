import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { LedgerError } from '../ledger/index';
import type { FormulaService, Ledger, PromotionService } from '../ledger/index';
import { FORMULA_TOOLS, PROMOTION_TOOLS, WORKFLOW_TOOLS } from './tools';
import type { ToolContext, ToolDefinition } from './tools';

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

const INSTRUCTIONS = `Gas City keeps this workspace's workflows in a durable ledger shared with the editor and other agents.
Working loop: ready_work (or workflow_start to begin a run) → node_claim with your worker name → node_dispatch with your thread id →
do the node's instructions → node_report done/failed with a summary. Renew long claims with node_renew; pass work on with node_handoff.
Formulas are workflow templates that evolve: formula_list / formula_view to read them, formula_mutate to propose a better variant
(a candidate, not active), formula_select to put it on trial, formula_assess for the evidence, lineage_view for its history.
Record real outcomes with evidence_record; a family's recorded rule promotes or rejects on them.
Every error names the field to fix; a failed call writes nothing.`;

/**
 * Builds the MCP server over a ledger. Tools are listed by the SDK from their zod schemas, but calls
 * are validated and answered here: a bad argument becomes an `isError` result in the ledger's words
 * ("field: what to fix"), with the error code and field as JSON too, instead of the SDK's dump of
 * zod issues, so a model gets the same message a person gets from the CLI or the editor.
 */
export function createServer(ledger: Ledger, options: ServerOptions = {}): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version: SERVER_VERSION }, { instructions: INSTRUCTIONS });
  const tools = toolTable({ formulas: !!options.formulas, promotions: !!(options.formulas && options.promotions) });
  for (const t of tools.values()) {
    server.registerTool(t.name, {
      title: t.title, description: t.description, inputSchema: t.input, outputSchema: t.output, annotations: t.annotations,
    }, () => {
      // Never reached: calls are routed by the handler installed below.
      throw new Error(`${t.name} is called through the Gas City dispatcher`);
    });
  }
  const ctx: ToolContext = { ledger, formulas: options.formulas, promotions: options.formulas ? options.promotions : undefined, actor: options.actor };
  const log = options.log ?? (() => undefined);
  server.server.setRequestHandler(CallToolRequestSchema, (request) => callTool(tools, ctx, request.params.name, request.params.arguments, log));
  registerResources(server, ledger, options.formulas);
  return server;
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
    if (t.reads) await ctx.ledger.refresh();
    const before = ctx.ledger.seq;
    const out = await t.invoke(args, ctx);
    if (!t.reads && ctx.promotions && ctx.ledger.seq > before) await evaluate(ctx.promotions, ctx.ledger, before, log);
    return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
  } catch (e) {
    if (!(e instanceof LedgerError)) log(`${name} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return errorResult(name, e);
  }
}

/**
 * Lets the family's recorded rule look at evidence this call wrote (a finished run, a review, an outcome),
 * so a trial is decided as soon as its evidence suffices even when no editor is open. A failure here is
 * logged, not returned: the tool's own write has succeeded.
 */
async function evaluate(promotions: PromotionService, ledger: Ledger, afterSeq: number, log: (message: string) => void): Promise<void> {
  try {
    for (const r of await promotions.evaluateAffected(ledger.events(afterSeq))) {
      if (r.action !== 'none') log(`promotion: ${r.familyId} ${r.action} (${r.reason})`);
    }
  } catch (e) {
    log(`promotion evaluation failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  }
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
  const tools = [...WORKFLOW_TOOLS, ...(services.formulas ? FORMULA_TOOLS : []), ...(services.promotions ? PROMOTION_TOOLS : [])];
  return new Map(tools.map((t) => [t.name, t]));
}

function registerResources(server: McpServer, ledger: Ledger, formulas: FormulaService | undefined): void {
  server.registerResource('run', new ResourceTemplate('gascity://run/{runId}', {
    list: async () => {
      await ledger.refresh();
      return {
        resources: ledger.listRuns({ limit: 50 }).map((r) => ({
          uri: `gascity://run/${r.id}`, name: r.id, title: `${r.title} (${r.status})`, mimeType: 'application/json',
        })),
      };
    },
  }), { title: 'Run graph', description: 'A run with its nodes, edges and thread bindings, as JSON.', mimeType: 'application/json' },
  async (uri, vars) => {
    await ledger.refresh();
    const runId = String(vars.runId);
    const g = ledger.runGraph(runId);
    if (!g) throw new LedgerError(`runId: no run with id "${runId}"`, 'not_found', 'runId');
    return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(g, null, 2) }] };
  });

  if (!formulas) return;
  server.registerResource('formula', new ResourceTemplate('gascity://formula/{family}', {
    list: async () => {
      await ledger.refresh();
      return {
        resources: formulas.listFamilies().map((f) => ({
          uri: `gascity://formula/${f.id}`, name: f.id, title: f.description || f.id, mimeType: 'application/toml',
        })),
      };
    },
  }), { title: 'Formula', description: 'The active variant of a formula family, as formula TOML.', mimeType: 'application/toml' },
  async (uri, vars) => {
    await ledger.refresh();
    const family = String(vars.family);
    const active = formulas.getFamily(family)?.activeVariantId;
    if (!active) throw new LedgerError(`family: no formula family "${family}" with an active variant`, 'not_found', 'family');
    return { contents: [{ uri: uri.href, mimeType: 'application/toml', text: formulas.variantText(active) ?? '' }] };
  });
}
