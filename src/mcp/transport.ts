// The stdio transport of the MCP server: newline-delimited JSON-RPC on stdin and stdout, like the SDK's
// StdioServerTransport, with a limit per line instead of per buffer and an answer for every line it cannot take.
//
// Why not the SDK's: its ReadBuffer refuses once 10 MiB are buffered, calls onerror (which nobody is told of) and
// closes the transport; stdin is then paused with no listener, the event loop empties and the process exits with
// code 0 and nothing logged, so Codex sees the server vanish. A line that is not JSON is dropped without an answer,
// and its buffer is concatenated anew on every chunk (quadratic in the line's length).
import { Buffer } from 'node:buffer';
import process from 'node:process';
import type { Readable, Writable } from 'node:stream';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { JSONRPCMessageSchema } from '@modelcontextprotocol/sdk/types.js';
import type { JSONRPCMessage, RequestId } from '@modelcontextprotocol/sdk/types.js';

/** The longest line (one JSON-RPC message) taken, in bytes: 10 MiB, the SDK's STDIO_DEFAULT_MAX_BUFFER_SIZE. */
export const MAX_LINE_BYTES = 10 * 1024 * 1024;

/** JSON-RPC 2.0 error codes (https://www.jsonrpc.org/specification#error_object). */
const PARSE_ERROR = -32700;
const INVALID_REQUEST = -32600;

export interface LineTransportOptions {
  /** The longest line taken, in bytes (default MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /** Where a line that cannot be taken is reported (stderr in the server); never stdout. */
  log?: (message: string) => void;
}

/**
 * A server transport over a readable and a writable stream (stdin and stdout by default) that splits the
 * input into lines, parses each as a JSON-RPC message and hands it on. A line longer than `maxLineBytes` is
 * skipped without being kept in memory: its top-level `id` and `method` are read as it streams past, the
 * skip is logged, and a request gets an answer (a tool result with isError for `tools/call`, else an Invalid
 * Request error); the transport stays open. A line that is not JSON gets a Parse error answer (id null), one
 * that is not a JSON-RPC message an Invalid Request answer.
 */
export class LineStdioServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  private readonly maxLineBytes: number;
  private readonly log: (message: string) => void;
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Set while a line longer than the limit streams past. */
  private skipping: TopLevelScanner | undefined;
  private started = false;

  constructor(
    private readonly stdin: Readable = process.stdin,
    private readonly stdout: Writable = process.stdout,
    options: LineTransportOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
    this.log = options.log ?? (() => undefined);
  }

  start(): Promise<void> {
    if (this.started) throw new Error('LineStdioServerTransport already started');
    this.started = true;
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStreamError);
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return new Promise((resolve) => {
      if (this.stdout.write(`${JSON.stringify(message)}\n`)) resolve();
      else this.stdout.once('drain', resolve);
    });
  }

  close(): Promise<void> {
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStreamError);
    if (this.stdin.listenerCount('data') === 0) this.stdin.pause();
    this.parts = [];
    this.partBytes = 0;
    this.skipping = undefined;
    this.onclose?.();
    return Promise.resolve();
  }

  private readonly onStreamError = (error: Error): void => {
    this.onerror?.(error);
  };

  private readonly onData = (chunk: Buffer | string): void => {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    while (buf.length > 0) {
      const nl = buf.indexOf(10);
      const piece = nl < 0 ? buf : buf.subarray(0, nl);
      if (this.skipping) {
        this.skipping.feed(piece);
      } else if (this.partBytes + piece.length > this.maxLineBytes) {
        // Past the limit: what was kept is scanned for the id and dropped, and so is the rest of the line.
        this.skipping = new TopLevelScanner();
        for (const p of this.parts) this.skipping.feed(p);
        this.skipping.feed(piece);
        this.parts = [];
        this.partBytes = 0;
      } else if (piece.length > 0) {
        this.parts.push(piece);
        this.partBytes += piece.length;
      }
      if (nl < 0) break;
      this.endLine();
      buf = buf.subarray(nl + 1);
    }
  };

  private endLine(): void {
    if (this.skipping) {
      const s = this.skipping;
      this.skipping = undefined;
      this.tooLong(s);
      return;
    }
    const line = Buffer.concat(this.parts, this.partBytes).toString('utf8').replace(/\r$/, '');
    this.parts = [];
    this.partBytes = 0;
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      this.log(`a line of ${Buffer.byteLength(line)} bytes on stdin is not JSON (${e instanceof Error ? e.message : String(e)}); answered with a parse error`);
      void this.send({ jsonrpc: '2.0', id: null, error: { code: PARSE_ERROR, message: `Parse error: the line is not JSON (${e instanceof Error ? e.message : String(e)})` } } as unknown as JSONRPCMessage);
      return;
    }
    const parsed = JSONRPCMessageSchema.safeParse(json);
    if (!parsed.success) {
      const o = json as { id?: unknown; method?: unknown } | null;
      const id = o && typeof o === 'object' && (typeof o.id === 'string' || typeof o.id === 'number') ? o.id : null;
      this.log(`a line on stdin is not a JSON-RPC message${id !== null ? ` (id ${JSON.stringify(id)})` : ''}; answered with an invalid request error`);
      void this.send({ jsonrpc: '2.0', id, error: { code: INVALID_REQUEST, message: 'Invalid Request: not a JSON-RPC 2.0 message' } } as unknown as JSONRPCMessage);
      return;
    }
    this.onmessage?.(parsed.data);
  }

  private tooLong(s: TopLevelScanner): void {
    const size = s.bytes;
    const what = `${s.method ? `${s.method} ` : ''}${s.id !== undefined ? `request ${JSON.stringify(s.id)}` : 'message'}`;
    const limit = `${(this.maxLineBytes / (1024 * 1024)).toFixed(this.maxLineBytes % (1024 * 1024) ? 2 : 0)} MiB`;
    this.log(`${what} of ${size} bytes is over the ${limit} limit for one line; it was skipped${s.id !== undefined ? ' and answered with an error' : ' (no id to answer)'}`);
    if (s.id === undefined) return;
    const message = `The request is ${size} bytes, over this server's limit of ${limit} (${this.maxLineBytes} bytes) for one message; nothing was done. ` +
      'Send less at once (e.g. a smaller plan, then node_expand; shorter instructions or summaries).';
    if (s.method === 'tools/call') {
      void this.send({ jsonrpc: '2.0', id: s.id, result: { isError: true, content: [{ type: 'text', text: message }] } });
    } else {
      void this.send({ jsonrpc: '2.0', id: s.id, error: { code: INVALID_REQUEST, message } });
    }
  }
}

/**
 * Reads the top-level `id` and `method` of a JSON object as its bytes stream past, keeping only a few bytes,
 * so that a message too long to keep can still be answered. It follows strings (with escapes) and nesting;
 * anything malformed just leaves `id` undefined.
 */
class TopLevelScanner {
  id: RequestId | undefined;
  method: string | undefined;
  bytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private expectKey = false;
  private afterColon = false;
  private key: string | undefined;
  /** What the current string or number is captured as, if it is one of the wanted ones. */
  private capture: 'key' | 'id' | 'method' | 'number' | undefined;
  private captured: number[] = [];

  feed(buf: Buffer): void {
    this.bytes += buf.length;
    if (this.id !== undefined && this.method !== undefined) return;
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) {
          this.inString = false;
          this.endString();
          continue;
        }
        if (this.capture && this.captured.length < 512) this.captured.push(b);
        continue;
      }
      if (this.capture === 'number') {
        if ((b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45) {
          if (this.captured.length < 64) this.captured.push(b);
          continue;
        }
        const n = Number(Buffer.from(this.captured).toString('latin1'));
        if (Number.isFinite(n)) this.id = n;
        this.capture = undefined;
      }
      switch (b) {
        case 0x22: // "
          this.inString = true;
          this.captured = [];
          if (this.depth === 1 && this.expectKey) this.capture = 'key';
          else if (this.depth === 1 && this.afterColon && (this.key === 'id' || this.key === 'method')) this.capture = this.key;
          else this.capture = undefined;
          this.afterColon = false;
          break;
        case 0x7b: // {
        case 0x5b: // [
          this.depth++;
          this.expectKey = this.depth === 1 && b === 0x7b;
          this.afterColon = false;
          break;
        case 0x7d: // }
        case 0x5d: // ]
          this.depth--;
          break;
        case 0x3a: // :
          if (this.depth === 1) {
            this.afterColon = true;
            this.expectKey = false;
          }
          break;
        case 0x2c: // ,
          if (this.depth === 1) {
            this.expectKey = true;
            this.afterColon = false;
          }
          break;
        case 0x20: case 0x09: case 0x0a: case 0x0d:
          break;
        default:
          if (this.depth === 1 && this.afterColon && this.key === 'id' && ((b >= 0x30 && b <= 0x39) || b === 0x2d)) {
            this.capture = 'number';
            this.captured = [b];
          }
          this.afterColon = false;
      }
    }
  }

  private endString(): void {
    if (!this.capture) return;
    let value: string | undefined;
    try {
      value = JSON.parse(`"${Buffer.from(this.captured).toString('utf8')}"`) as string;
    } catch {
      value = undefined;
    }
    if (this.capture === 'key') this.key = value;
    else if (this.capture === 'id' && value !== undefined) this.id = value;
    else if (this.capture === 'method' && value !== undefined) this.method = value;
    this.capture = undefined;
  }
}
