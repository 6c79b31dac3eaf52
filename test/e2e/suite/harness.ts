// A small test runner for code that runs inside the VS Code extension host, and the suite's side of the file channel
// to the driver (test/e2e/run.mjs), which owns the browser: screenshots and real clicks in the webview go through it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

type TestBody = () => Promise<void> | void;

const tests: { name: string; body: TestBody; timeoutMs: number }[] = [];

/** Registers a named test; tests run in the order they were declared, each after the previous one finished. */
export function test(name: string, body: TestBody, timeoutMs = 60_000): void {
  tests.push({ name, body, timeoutMs });
}

function channelDir(): string {
  const dir = process.env.GASCITY_E2E_CHANNEL;
  if (!dir) throw new Error('GASCITY_E2E_CHANNEL is not set: run the suite through test/e2e/run.mjs');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every registered test and writes results.json for the driver. Stops early only if told to bail. */
/** `meta` is read after the tests ran, so it can report what they measured. */
export async function runAll(meta: () => Readonly<Record<string, string>>): Promise<TestResult[]> {
  const results: TestResult[] = [];
  // E2E_GREP picks tests by name while one is being written; the first test (activation) always runs, the others need it.
  const grep = process.env.E2E_GREP ? new RegExp(process.env.E2E_GREP) : undefined;
  for (const [i, t] of tests.entries()) {
    if (grep && i > 0 && !grep.test(t.name)) continue;
    const t0 = Date.now();
    try {
      await withTimeout(Promise.resolve().then(t.body), t.timeoutMs, t.name);
      results.push({ name: t.name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      results.push({ name: t.name, ok: false, ms: Date.now() - t0, error });
    }
  }
  const out = join(channelDir(), 'results.json');
  writeFileSync(`${out}.tmp`, JSON.stringify({ ...meta(), tests: results }, null, 2));
  renameSync(`${out}.tmp`, out);
  return results;
}

export type DriverRequest =
  | { readonly kind: 'screenshot'; readonly name: string }
  | { readonly kind: 'click'; readonly selector: string; readonly timeout?: number }
  | { readonly kind: 'press'; readonly key: string }
  | { readonly kind: 'text'; readonly selector: string; readonly timeout?: number }
  | ({ readonly kind: 'webviewWait'; readonly selector: string; readonly timeout?: number; readonly state?: 'visible' | 'attached' | 'hidden' } & InPanel)
  | ({ readonly kind: 'webviewClick'; readonly selector: string; readonly timeout?: number } & InPanel)
  | ({ readonly kind: 'webviewPress'; readonly key: string; readonly selector?: string; readonly timeout?: number } & InPanel)
  | ({ readonly kind: 'webviewText'; readonly selector: string; readonly timeout?: number } & InPanel)
  | ({ readonly kind: 'webviewAttribute'; readonly selector: string; readonly name: string; readonly timeout?: number } & InPanel);

/** Which graph panel a webview request is for, by the start of its page's data-view ("run:", "lineage:ship-a-change"). */
export interface InPanel {
  readonly view?: string;
}

let seq = 0;

/** Asks the driver to do something in the browser and waits for its answer. */
export async function driver(request: DriverRequest, timeoutMs = 45_000): Promise<unknown> {
  const dir = channelDir();
  const n = ++seq;
  const file = join(dir, `request-${n}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(request));
  renameSync(`${file}.tmp`, file);
  const response = join(dir, `response-${n}.json`);
  const until = Date.now() + timeoutMs;
  while (!existsSync(response)) {
    if (Date.now() > until) throw new Error(`driver did not answer ${request.kind} within ${timeoutMs} ms`);
    await sleep(50);
  }
  const answer = JSON.parse(readFileSync(response, 'utf8')) as { ok: boolean; value?: unknown; error?: string };
  if (!answer.ok) throw new Error(`driver ${request.kind} failed: ${answer.error ?? 'unknown error'}`);
  return answer.value;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `check` returns a truthy value (or throws its last error at the deadline). */
export async function eventually<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) {
      const why = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`${what} did not happen within ${timeoutMs} ms${why}`);
    }
    await sleep(100);
  }
}
