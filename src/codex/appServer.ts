import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { tomlInline } from './config/toml';
import type { TomlValue } from './config/toml';
import type {
  ClientInfo, ClientRequestMethod, ClientRequests, InitializeResponse, JsonValue, RequestId, ServerNotification, ServerRequestMethod,
  ServerRequests,
} from './protocol';

// One TOML writer for the project (config.toml edits and `-c key=value` overrides alike).
export { tomlInline };
export type { TomlValue };

/** How to start `codex app-server`. */
export interface AppServerOptions {
  /** The Codex executable; `codex` from PATH unless given (tests pass node_modules/.bin/codex). */
  command?: string;
  /** Arguments before `app-server`, for launchers such as `npx codex`. */
  commandArgs?: string[];
  /** `-c key=value` overrides for the whole process; values are written as TOML. */
  config?: Record<string, TomlValue>;
  /** Further raw arguments after `app-server`. */
  args?: string[];
  /** Where Codex keeps its config, sessions and logs; tests use a temp folder so ~/.codex is never touched. */
  codexHome?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  clientInfo?: ClientInfo;
  /** How long a request may wait for its response. */
  requestTimeoutMs?: number;
  /** Receives the server's stderr, line by line. */
  log?: (line: string) => void;
}


export interface Disposable {
  dispose(): void;
}

/** An error the server answered with, a request that timed out, or a server that went away. */
export class AppServerError extends Error {
  constructor(
    message: string,
    readonly code: 'rpc' | 'timeout' | 'exited' | 'spawn',
    readonly rpcCode?: number,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'AppServerError';
  }
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type RequestHandler<M extends ServerRequestMethod> = (params: ServerRequests[M]['params'], id: RequestId) => Promise<ServerRequests[M]['result']> | ServerRequests[M]['result'];

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Every message that crosses the pipe, for logs and for the protocol test. */
export type TraceListener = (direction: 'send' | 'receive', message: Record<string, unknown>) => void;

const DEFAULT_CLIENT: ClientInfo = { name: 'gascity', title: 'Gas City for Codex', version: '0.1.0' };

/**
 * A JSON-RPC client for one `codex app-server` process over stdio. It correlates requests with
 * responses, turns notifications into events, and answers the server's own requests (approvals,
 * dynamic tool calls) with registered handlers; a server request nobody handles is answered with an
 * error at once so that the turn waiting on it does not hang.
 */
export class AppServer {
  private nextId = 1;
  private readonly pending = new Map<RequestId, Pending>();
  private readonly notificationListeners = new Set<(n: ServerNotification) => void>();
  private readonly exitListeners = new Set<(info: ExitInfo) => void>();
  private readonly traceListeners = new Set<TraceListener>();
  private readonly handlers = new Map<string, (params: unknown, id: RequestId) => unknown>();
  private exitInfo: ExitInfo | undefined;
  private readonly exitedPromise: Promise<ExitInfo>;
  private disposed = false;

  private constructor(readonly process: ChildProcess, private readonly timeoutMs: number, log: (line: string) => void) {
    this.exitedPromise = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        const why = `the Codex app-server exited (${signal ? `signal ${signal}` : `code ${code}`})`;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new AppServerError(`${p.method}: ${why} before answering`, 'exited'));
          this.pending.delete(id);
        }
        for (const l of this.exitListeners) l(this.exitInfo);
        resolve(this.exitInfo);
      });
    });
    let out = '';
    process.stdout!.setEncoding('utf8');
    process.stdout!.on('data', (chunk: string) => {
      out += chunk;
      let i: number;
      while ((i = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, i).trim();
        out = out.slice(i + 1);
        if (line) this.receive(line, log);
      }
    });
    let err = '';
    process.stderr!.setEncoding('utf8');
    process.stderr!.on('data', (chunk: string) => {
      err += chunk;
      let i: number;
      while ((i = err.indexOf('\n')) >= 0) {
        log(err.slice(0, i));
        err = err.slice(i + 1);
      }
    });
    // A write to a server that just died raises EPIPE on stdin; the exit handler reports it.
    process.stdin!.on('error', () => undefined);
  }

  /** Spawns `codex app-server` and completes the initialize handshake. */
  static async start(options: AppServerOptions = {}): Promise<{ server: AppServer; info: InitializeResponse }> {
    const server = AppServer.spawn(options);
    try {
      const info = await server.request('initialize', {
        clientInfo: options.clientInfo ?? DEFAULT_CLIENT,
        capabilities: { experimentalApi: true },
      });
      server.notify('initialized');
      return { server, info };
    } catch (e) {
      await server.dispose();
      throw e;
    }
  }

  /** Spawns the process without the handshake (for callers that want to drive it themselves). */
  static spawn(options: AppServerOptions = {}): AppServer {
    const args = [...(options.commandArgs ?? []), 'app-server'];
    for (const [key, value] of Object.entries(options.config ?? {})) args.push('-c', `${key}=${tomlInline(value)}`);
    args.push(...(options.args ?? []));
    const env = { ...process.env, ...options.env };
    if (options.codexHome) env.CODEX_HOME = options.codexHome;
    // Its own process group, so that dispose() also ends whatever Codex started (the native binary
    // behind the npm launcher, MCP servers, shells).
    const child = spawn(options.command ?? 'codex', args, {
      cwd: options.cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: process.platform !== 'win32',
    });
    const log = options.log ?? (() => undefined);
    const server = new AppServer(child, options.requestTimeoutMs ?? 60_000, log);
    child.once('error', (e) => {
      log(`could not start ${options.command ?? 'codex'}: ${e.message}`);
      for (const [id, p] of server.pending) {
        clearTimeout(p.timer);
        p.reject(new AppServerError(`could not start the Codex app-server (${options.command ?? 'codex'}): ${e.message}`, 'spawn'));
        server.pending.delete(id);
      }
    });
    return server;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Set once the process has exited. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  get exited(): Promise<ExitInfo> {
    return this.exitedPromise;
  }

  request<M extends ClientRequestMethod>(method: M, params: ClientRequests[M]['params'], options: { timeoutMs?: number } = {}): Promise<ClientRequests[M]['result']> {
    return this.requestRaw(method, params as unknown as JsonValue, options) as Promise<ClientRequests[M]['result']>;
  }

  /** A request of a method this module does not type (the protocol has a few hundred); the caller checks the result. */
  requestRaw(method: string, params: JsonValue | undefined, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.exitInfo || this.disposed) return Promise.reject(new AppServerError(`${method}: the Codex app-server is not running`, 'exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const ms = options.timeoutMs ?? this.timeoutMs;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new AppServerError(`${method}: no answer from the Codex app-server within ${ms} ms`, 'timeout'));
      }, ms);
      this.pending.set(id, { method, resolve, reject, timer });
      this.send(params === undefined ? { id, method } : { id, method, params });
    });
  }

  notify(method: string, params?: JsonValue): void {
    this.send(params === undefined ? { method } : { method, params });
  }

  onNotification(listener: (n: ServerNotification) => void): Disposable {
    this.notificationListeners.add(listener);
    return { dispose: () => this.notificationListeners.delete(listener) };
  }

  onExit(listener: (info: ExitInfo) => void): Disposable {
    this.exitListeners.add(listener);
    return { dispose: () => this.exitListeners.delete(listener) };
  }

  onTrace(listener: TraceListener): Disposable {
    this.traceListeners.add(listener);
    return { dispose: () => this.traceListeners.delete(listener) };
  }

  /** Answers the server's requests of one method; one handler per method, the last registration wins. */
  handleRequest<M extends ServerRequestMethod>(method: M, handler: RequestHandler<M>): Disposable {
    return this.handleRequestRaw(method, handler as (params: unknown, id: RequestId) => unknown);
  }

  /** Answers server requests of a method this module does not type; the handler checks the params. */
  handleRequestRaw(method: string, handler: (params: unknown, id: RequestId) => unknown): Disposable {
    this.handlers.set(method, handler);
    return { dispose: () => { if (this.handlers.get(method) === handler) this.handlers.delete(method); } };
  }

  /** Ends the server: closes stdin, then SIGTERM to its process group, then SIGKILL if it lingers. */
  async dispose(graceMs = 2000): Promise<void> {
    this.disposed = true;
    if (this.exitInfo || this.process.pid === undefined) return;
    this.process.stdin?.end();
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(timer);
    // The launcher may be gone while the native binary or its children still run.
    this.signal('SIGKILL');
  }

  /** Sends a signal to the whole process group (the launcher, the native binary and their children). */
  signal(signal: NodeJS.Signals): void {
    const pid = this.process.pid;
    if (pid === undefined) return;
    try {
      if (process.platform === 'win32') this.process.kill(signal);
      else process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  private send(message: Record<string, JsonValue | undefined>): void {
    for (const l of this.traceListeners) l('send', message);
    if (this.process.stdin?.writable) this.process.stdin.write(`${JSON.stringify(message)}\n`);
  }

  private receive(line: string, log: (line: string) => void): void {
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      message = parsed as Record<string, unknown>;
    } catch {
      log(`ignored a line on stdout that is not a JSON object: ${line.slice(0, 200)}`);
      return;
    }
    for (const l of this.traceListeners) l('receive', message);
    const id = message.id;
    const hasId = typeof id === 'string' || typeof id === 'number';
    const method = typeof message.method === 'string' ? message.method : undefined;
    if (hasId && method) {
      void this.answer(id, method, message.params);
    } else if (hasId) {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      const error = message.error as { code?: number; message?: string; data?: unknown } | undefined;
      if (error) p.reject(new AppServerError(`${p.method}: ${error.message ?? 'the Codex app-server refused the request'}`, 'rpc', error.code, error.data));
      else p.resolve(message.result);
    } else if (method) {
      for (const l of this.notificationListeners) {
        try {
          l({ method, params: message.params });
        } catch (e) {
          log(`a listener of ${method} threw: ${(e as Error).message}`);
        }
      }
    }
  }

  private async answer(id: RequestId, method: string, params: unknown): Promise<void> {
    const handler = this.handlers.get(method);
    if (!handler) {
      this.send({ id, error: { code: -32601, message: `Gas City does not handle ${method}` } });
      return;
    }
    try {
      const result = await handler(params, id);
      this.send({ id, result: result as JsonValue });
    } catch (e) {
      this.send({ id, error: { code: -32603, message: (e as Error).message } });
    }
  }
}
