// Test support for driving the real Codex CLI: a scripted model server on loopback that answers the
// Responses API with server-sent events, and a minimal JSON-RPC client for `codex app-server`.
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { REPO } from './helpers';

export const CODEX_BIN = path.join(REPO, 'node_modules', '.bin', 'codex');

/** One tool call the scripted model makes, or its closing message. */
export type ModelStep = { call: string; args: Record<string, unknown> } | { say: string };

export interface ModelRequest {
  /** The request body Codex sent (tools, input items). */
  body: { tools?: unknown[]; input?: Array<Record<string, unknown>> };
  /** The tool outputs Codex sent back so far, oldest first, parsed from their text. */
  outputs: Array<{ callId: string; raw: string; json: unknown }>;
}

/**
 * A model that follows a script: on each request it looks at how many tool outputs came back and
 * answers with the next step, which may read earlier outputs (a run id, a node id). The namespaced
 * function call is what makes Codex call an MCP tool (a plain `mcp__server__tool` name is refused).
 */
export class ScriptedModel {
  readonly requests: ModelRequest[] = [];
  private server: http.Server | undefined;

  constructor(private readonly namespace: string, private readonly script: (outputs: ModelRequest['outputs']) => ModelStep) {}

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        if (req.method !== 'POST' || !req.url?.endsWith('/responses')) {
          res.writeHead(404).end();
          return;
        }
        const parsed = JSON.parse(body) as ModelRequest['body'];
        const outputs = (parsed.input ?? []).filter((i) => i.type === 'function_call_output').map((i) => parseOutput(i));
        this.requests.push({ body: parsed, outputs });
        const n = this.requests.length;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const send = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
        send('response.created', { response: { id: `resp_${n}` } });
        let step: ModelStep;
        try {
          step = this.script(outputs);
        } catch (e) {
          step = { say: `script error: ${e instanceof Error ? e.message : String(e)}` };
        }
        const item = 'call' in step
          ? { type: 'function_call', id: `fc_${n}`, call_id: `call_${n}`, namespace: this.namespace, name: step.call, arguments: JSON.stringify(step.args) }
          : { type: 'message', role: 'assistant', id: `msg_${n}`, content: [{ type: 'output_text', text: step.say }] };
        send('response.output_item.done', { item });
        send('response.completed', {
          response: { id: `resp_${n}`, usage: { input_tokens: 10, input_tokens_details: null, output_tokens: 5, output_tokens_details: null, total_tokens: 15 } },
        });
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** Codex wraps a tool's text as "Wall time: …\nOutput:\n<text>"; the JSON block we return follows. */
function parseOutput(item: Record<string, unknown>): ModelRequest['outputs'][number] {
  const out = item.output;
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
  return { callId: String(item.call_id), raw, json };
}

interface RpcMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** `codex app-server` over stdio: one JSON object per line, requests with ids, notifications without. */
export class AppServer {
  readonly notifications: RpcMessage[] = [];
  stderr = '';
  private nextId = 1;
  private pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  private waiters: Array<{ match: (m: RpcMessage) => boolean; resolve: (m: RpcMessage) => void }> = [];

  private constructor(readonly child: ChildProcessWithoutNullStreams) {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) this.receive(JSON.parse(line) as RpcMessage);
      }
    });
    child.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); });
  }

  static start(options: { codexHome: string; config: string[]; cwd: string }): AppServer {
    const args = ['app-server', ...options.config.flatMap((c) => ['-c', c])];
    const child = spawn(CODEX_BIN, args, { cwd: options.cwd, env: { ...process.env, CODEX_HOME: options.codexHome }, stdio: ['pipe', 'pipe', 'pipe'] });
    return new AppServer(child);
  }

  private receive(m: RpcMessage): void {
    if (m.id !== undefined && !m.method) {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p?.reject(new Error(m.error.message));
      else p?.resolve(m.result ?? {});
      return;
    }
    // Notifications, and requests from Codex (they carry an id too); both are kept and can be waited for.
    this.notifications.push(m);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(m)) return true;
      w.resolve(m);
      return false;
    });
  }

  request(method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.child.stdin.write(JSON.stringify({ id, method, params }) + '\n');
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Answers a request Codex sent us (an approval, for example). */
  respond(id: number, result: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify({ id, result }) + '\n');
  }

  notify(method: string, params?: Record<string, unknown>): void {
    this.child.stdin.write(JSON.stringify(params ? { method, params } : { method }) + '\n');
  }

  waitFor(match: (m: RpcMessage) => boolean, timeoutMs: number, what: string): Promise<RpcMessage> {
    const seen = this.notifications.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  /** Ends the app-server (which ends the MCP servers it started) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
