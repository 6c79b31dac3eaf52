// The overlay and formula tools a node's thread gets as dynamic tools (issue 13). They are the MCP tools'
// own definitions (src/mcp/tools), so their checks and answers are the same; the worker fills in who is
// calling (author, bidder, sender, reader) and, where left out, the node and run of the turn.
import * as z from 'zod';
import { LedgerError } from '../ledger/index';
import type { FormulaService, Ledger, MailRow, PromotionService } from '../ledger/index';
import { FORMULA_TOOLS, OVERLAY_TOOLS, PROMOTION_TOOLS } from '../mcp/tools/index';
import type { ToolDefinition } from '../mcp/tools/index';
import { checkRawArguments } from '../mcp/validate';
import type { DynamicToolFunctionSpec, JsonValue } from './protocol';

/** Who calls, and where: what the worker fills into a node tool's arguments. */
export interface NodeToolContext {
  ledger: Ledger;
  formulas: FormulaService | undefined;
  promotions: PromotionService | undefined;
  /** The ledger actor the worker writes as. */
  actor: string | undefined;
  worker: string;
  nodeId: string;
  runId: string;
}

interface NodeToolSpec {
  /** The MCP tool it calls. */
  name: string;
  /** Fields the worker always fills (the caller's identity): a model that sends one is told so. */
  fills: Readonly<Record<string, (c: NodeToolContext) => string>>;
  /** Fields the worker fills only when the model leaves them out. */
  defaults: Readonly<Record<string, (c: NodeToolContext) => string>>;
  /** Only offered when the worker has the formula (and promotion) services. */
  needs?: 'formulas' | 'promotions';
  /** Fields a Codex turn may not send at all (branch overlays-2: a turn never bids as a person). */
  refuses?: readonly string[];
}

const me = (c: NodeToolContext) => c.worker;
const thisNode = (c: NodeToolContext) => c.nodeId;
const thisRun = (c: NodeToolContext) => c.runId;

/** The overlay and formula tools of a node, in the order they are offered. */
const NODE_TOOL_SPECS: readonly NodeToolSpec[] = [
  { name: 'blackboard_write', fills: { author: me }, defaults: { runId: thisRun, nodeId: thisNode } },
  { name: 'blackboard_read', fills: {}, defaults: { runId: thisRun } },
  { name: 'bid_submit', fills: { bidder: me }, defaults: {}, refuses: ['person'] },
  { name: 'bids_view', fills: {}, defaults: { runId: thisRun } },
  { name: 'mail_send', fills: { from: me }, defaults: {} },
  { name: 'mail_read', fills: { reader: me }, defaults: { nodeId: thisNode } },
  { name: 'formula_list', fills: {}, defaults: {}, needs: 'formulas' },
  { name: 'formula_assess', fills: {}, defaults: {}, needs: 'promotions' },
  { name: 'formula_mutate', fills: {}, defaults: { proposedBy: (c) => `${c.worker} (node ${c.nodeId})`.slice(0, 120) }, needs: 'formulas' },
  { name: 'formula_select', fills: {}, defaults: {}, needs: 'promotions' },
];

const DEFINITIONS = new Map<string, ToolDefinition>([...OVERLAY_TOOLS, ...FORMULA_TOOLS, ...PROMOTION_TOOLS].map((t) => [t.name, t]));

/** The names of the node overlay and formula tools (for the worker's dispatch and its "unknown tool" message). */
export const NODE_OVERLAY_TOOL_NAMES: readonly string[] = NODE_TOOL_SPECS.map((s) => s.name);

function offered(spec: NodeToolSpec, services: { formulas: boolean; promotions: boolean }): boolean {
  return spec.needs === undefined || (spec.needs === 'formulas' ? services.formulas : services.promotions && services.formulas);
}

/**
 * The dynamic tool specs of the overlay and formula tools a node's thread gets: each MCP tool's input schema
 * (as JSON Schema) without the fields the worker fills, with the ones it defaults made optional. Formula
 * tools only when the worker has the services they call.
 */
export function nodeOverlayTools(services: { formulas: boolean; promotions: boolean }): DynamicToolFunctionSpec[] {
  // The specs depend only on which services the worker has: converting every zod schema to JSON Schema
  // cost about 29 ms per dispatched node (bench/controller.ts under --cpu-prof), so each set is built once.
  const key = `${services.formulas ? 'f' : '-'}${services.promotions ? 'p' : '-'}`;
  let specs = TOOL_SPEC_CACHE.get(key);
  if (!specs) {
    specs = buildNodeOverlayTools(services);
    TOOL_SPEC_CACHE.set(key, specs);
  }
  // Callers get their own copies: a spec handed to the app-server must not be changed under another worker.
  return structuredClone(specs);
}

const TOOL_SPEC_CACHE = new Map<string, DynamicToolFunctionSpec[]>();

function buildNodeOverlayTools(services: { formulas: boolean; promotions: boolean }): DynamicToolFunctionSpec[] {
  return NODE_TOOL_SPECS.filter((s) => offered(s, services)).map((spec) => {
    const def = DEFINITIONS.get(spec.name)!;
    const shape: Record<string, z.ZodType> = {};
    for (const [k, v] of Object.entries(def.input.shape as Record<string, z.ZodType>)) {
      if (Object.hasOwn(spec.fills, k) || spec.refuses?.includes(k)) continue;
      shape[k] = Object.hasOwn(spec.defaults, k) ? v.optional() : v;
    }
    const input = z.strictObject(shape);
    const schema = z.toJSONSchema(input, { io: 'input', unrepresentable: 'any' }) as Record<string, JsonValue>;
    delete schema.$schema;
    const filled = [...Object.keys(spec.fills), ...Object.keys(spec.defaults)];
    const note = filled.length ? ` (In this node's turn ${filled.map((f) => `\`${f}\``).join(', ')} ${filled.length > 1 ? 'are' : 'is'} filled in for you${Object.keys(spec.defaults).length ? ' when left out' : ''}.)` : '';
    return { type: 'function', name: spec.name, description: `${def.description}${note}`, inputSchema: schema };
  });
}

/**
 * Calls the overlay or formula tool `name` for a node's turn: refuses hostile arguments (own `__proto__`
 * keys, deep nesting) and fields the worker fills, fills them, and invokes the MCP tool's definition.
 * Returns its structured answer; throws a LedgerError naming the field on bad input.
 */
export async function callNodeOverlayTool(name: string, args: unknown, c: NodeToolContext): Promise<Record<string, unknown>> {
  const spec = NODE_TOOL_SPECS.find((s) => s.name === name);
  const def = DEFINITIONS.get(name);
  if (!spec || !def || !offered(spec, { formulas: !!c.formulas, promotions: !!c.promotions })) {
    throw new LedgerError(`name: ${name} is not a tool of this node`, 'not_found', 'name');
  }
  checkRawArguments(args);
  const given = args === undefined || args === null ? {} : args;
  if (typeof given !== 'object' || Array.isArray(given)) throw new LedgerError('arguments: send an object of named fields', 'invalid_input', 'arguments');
  const merged: Record<string, unknown> = { ...(given as Record<string, unknown>) };
  for (const field of spec.refuses ?? []) {
    if (Object.hasOwn(merged, field)) throw new LedgerError(`${field}: a Codex turn cannot send it; leave it out`, 'invalid_input', field);
  }
  for (const [field, fill] of Object.entries(spec.fills)) {
    if (Object.hasOwn(merged, field)) throw new LedgerError(`${field}: is filled in for you in a node's turn (as ${fill(c)}); leave it out`, 'invalid_input', field);
    merged[field] = fill(c);
  }
  for (const [field, fill] of Object.entries(spec.defaults)) if (merged[field] === undefined) merged[field] = fill(c);
  if (def.reads) await c.ledger.refresh();
  return def.invoke(merged, { ledger: c.ledger, formulas: c.formulas, promotions: c.formulas ? c.promotions : undefined, actor: c.actor });
}

/** Characters of each message's body in a turn's input. */
const MAIL_BODY = 2000;

/**
 * The part of a turn's input that delivers mail: each message with its id, sender, address, time and
 * subject, bodies clipped at MAIL_BODY characters (mail_read shows them whole).
 */
export function mailInput(mail: readonly MailRow[]): string {
  const lines = [`Mail that arrived for you while you were not running (${mail.length} message${mail.length === 1 ? '' : 's'}, now marked read; answer with mail_send, replyTo the id):`];
  for (const m of mail) {
    const body = m.body.length > MAIL_BODY ? `${m.body.slice(0, MAIL_BODY)}… (mail_read shows the rest)` : m.body;
    lines.push('', `[${m.id}] from ${m.from} to ${m.toKind} ${m.to} at ${m.at}${m.subject ? ` — ${m.subject}` : ''}`, body);
  }
  return lines.join('\n');
}
