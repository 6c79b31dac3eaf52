// What the MCP test needs on top of the product's app-server client (src/codex/appServer.ts): every
// notification kept, so that the test can wait for one and read the tool-call items afterwards, and
// the server's stderr for failure messages.
import { AppServer } from '../../src/codex/appServer';
import type { AppServerOptions } from '../../src/codex/appServer';
import type { ServerNotification } from '../../src/codex/protocol';

export class CodexSession {
  readonly notifications: ServerNotification[] = [];
  stderr = '';
  private waiters: Array<{ match: (n: ServerNotification) => boolean; resolve: (n: ServerNotification) => void }> = [];
  readonly server: AppServer;

  private constructor(options: AppServerOptions) {
    // Spawned without the handshake, so that the listener is in place before anything arrives.
    this.server = AppServer.spawn({ ...options, log: (line) => { this.stderr += `${line}\n`; } });
    this.server.onNotification((n) => {
      this.notifications.push(n);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(n)) return true;
        w.resolve(n);
        return false;
      });
    });
  }

  /** Spawns `codex app-server` and completes the initialize handshake. */
  static async start(options: AppServerOptions): Promise<CodexSession> {
    const session = new CodexSession(options);
    try {
      await session.server.request('initialize', {
        clientInfo: options.clientInfo ?? { name: 'gascity-test', title: 'Gas City test', version: '0.0.0' },
        capabilities: { experimentalApi: true },
      });
      session.server.notify('initialized');
      return session;
    } catch (e) {
      await session.stop();
      throw e;
    }
  }

  /** The first notification, already received or still to come, that matches. */
  waitFor(match: (n: ServerNotification) => boolean, timeoutMs: number, what: string): Promise<ServerNotification> {
    const seen = this.notifications.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({ match, resolve: (n) => { clearTimeout(timer); resolve(n); } });
    });
  }

  /** Answers every server request of a method with `answer`: `asked` collects their params, `first` resolves once one came. */
  answerRequests(method: string, answer: Record<string, unknown>, timeoutMs: number, what: string): { asked: unknown[]; first: Promise<void> } {
    const asked: unknown[] = [];
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      this.server.handleRequestRaw(method, (params) => {
        asked.push(params);
        clearTimeout(timer);
        resolve();
        return answer;
      });
    });
    return { asked, first };
  }

  /** Ends the app-server (which ends the MCP servers it started) and waits for it to exit. */
  stop(): Promise<void> {
    return this.server.dispose(5000);
  }
}
