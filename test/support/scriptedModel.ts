// A scripted model on loopback for driving the real Codex CLI: it answers the Responses API
// (POST /v1/responses) with server-sent events, one scripted step per request. Used by the Codex
// worker tests (dynamic tools) and the MCP tests (namespaced calls to our MCP server's tools).
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TomlValue } from '../../src/codex/appServer';

export const REPO = path.join(__dirname, '..', '..');
export const CODEX_BIN = path.join(REPO, 'node_modules', '.bin', 'codex');

export interface Usage {
  input: number;
  cached?: number;
  output: number;
  reasoning?: number;
}

/**
 * What the model does on one request: call a function tool, say something, or never answer. A call
 * with a namespace (`mcp__<server>`) is how Codex is made to call an MCP tool; a plain
 * `mcp__server__tool` name is refused.
 */
export type ModelStep =
  | { call: string; args: Record<string, unknown>; namespace?: string; usage?: Usage; delayMs?: number }
  | { say: string; usage?: Usage; delayMs?: number }
  | { hang: true };

export interface ResponsesRequest {
  model?: string;
  tools?: Array<{ type: string; name?: string; parameters?: unknown; tools?: unknown[] }>;
  input?: Array<{ type: string; role?: string; content?: Array<{ type: string; text?: string }>; call_id?: string; output?: unknown; name?: string }>;
}

export const DEFAULT_USAGE: Usage = { input: 10, output: 5 };

/** Decides the step for the `n`th request (1-based); a script that throws makes the model say so. */
export type ModelScript = (request: ResponsesRequest, n: number) => ModelStep;

export class ScriptedModel {
  readonly requests: ResponsesRequest[] = [];
  /** How many requests were being answered at once, at most (a step's delayMs holds its answer back). */
  maxInFlight = 0;
  private inFlight = 0;
  private server: http.Server | undefined;
  private readonly requestListeners: Array<(n: number) => void> = [];

  constructor(private readonly script: ModelScript) {}

  /** Starts listening and returns the base URL Codex's model provider points at. */
  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        if (req.method !== 'POST' || !req.url?.endsWith('/responses')) {
          res.writeHead(404).end();
          return;
        }
        const request = JSON.parse(body) as ResponsesRequest;
        this.requests.push(request);
        const n = this.requests.length;
        for (const l of this.requestListeners) l(n);
        let step: ModelStep;
        try {
          step = this.script(request, n);
        } catch (e) {
          step = { say: `script error: ${e instanceof Error ? e.message : String(e)}` };
        }
        if ('hang' in step) return;
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        setTimeout(() => {
          this.inFlight--;
          this.answer(res, n, step);
        }, step.delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  private answer(res: http.ServerResponse, n: number, step: Exclude<ModelStep, { hang: true }>): void {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    send('response.created', { response: { id: `resp_${n}` } });
    const item = 'call' in step
      ? { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, name: step.call, ...(step.namespace ? { namespace: step.namespace } : {}), arguments: JSON.stringify(step.args) }
      : { type: 'message', role: 'assistant', id: `msg_${n}`, content: [{ type: 'output_text', text: step.say }] };
    send('response.output_item.done', { item });
    const u = step.usage ?? DEFAULT_USAGE;
    send('response.completed', {
      response: {
        id: `resp_${n}`,
        usage: {
          input_tokens: u.input, input_tokens_details: { cached_tokens: u.cached ?? 0 },
          output_tokens: u.output, output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
          total_tokens: u.input + u.output,
        },
      },
    });
    res.end();
  }

  /** Resolves when the model has received its `n`th request. */
  waitForRequest(n: number, timeoutMs = 20_000): Promise<void> {
    if (this.requests.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the model did not get request ${n} within ${timeoutMs} ms`)), timeoutMs);
      this.requestListeners.push((k) => { if (k >= n) { clearTimeout(timer); resolve(); } });
    });
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** The `-c` overrides that point Codex at a scripted model, approvals left at Codex's default. */
export function mockProviderConfig(baseUrl: string): Record<string, TomlValue> {
  return {
    model_provider: 'mock',
    model: 'mock-model',
    'model_providers.mock': { name: 'mock', base_url: baseUrl, wire_api: 'responses', requires_openai_auth: false, supports_websockets: false },
  };
}

/** The `-c` overrides that point Codex at a scripted model and keep it from asking for approvals. */
export function mockModelConfig(baseUrl: string): Record<string, TomlValue> {
  return { ...mockProviderConfig(baseUrl), approval_policy: 'never' };
}

/** The text of every message of one role in a request, joined. */
export function messages(request: ResponsesRequest, role: string): string {
  return (request.input ?? []).filter((i) => i.type === 'message' && i.role === role)
    .flatMap((i) => i.content ?? []).map((c) => c.text ?? '').join('\n');
}

/** The function call outputs Codex sent back in a request, as text. */
export function toolOutputs(request: ResponsesRequest): string[] {
  return (request.input ?? []).filter((i) => i.type === 'function_call_output')
    .map((i) => (typeof i.output === 'string' ? i.output : JSON.stringify(i.output)));
}

/** One function call output as the model received it, and the JSON our tool returned in it (if any). */
export interface ParsedToolOutput {
  callId: string;
  raw: string;
  json: unknown;
}

/**
 * The function call outputs Codex sent back in a request, oldest first, with the JSON in each. Codex
 * wraps an MCP tool's text as "Wall time: …\nOutput:\n<text>", and may send it as content items.
 */
export function parsedToolOutputs(request: ResponsesRequest): ParsedToolOutput[] {
  return (request.input ?? []).filter((i) => i.type === 'function_call_output').map((i) => {
    const out = i.output;
    const raw = typeof out === 'string' ? out
      : Array.isArray(out) ? out.map((c: { text?: string }) => c.text ?? '').join('\n')
      : JSON.stringify(out);
    const at = raw.indexOf('Output:\n');
    const body = at >= 0 ? raw.slice(at + 'Output:\n'.length) : raw;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { callId: String(i.call_id), raw, json };
  });
}
