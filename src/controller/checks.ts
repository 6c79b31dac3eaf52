// Ground truth: the checks a formula declares decide a run's outcome, not the model's own report.
// A `run` check is a shell command in the run's folder, bounded in time (its whole process group is
// killed when the time is up) and in the output kept (the first 2 KB and the last 6 KB).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkPathProblem } from '../ledger/formula/validate';
import { referencedVars } from '../ledger/formula/template';
import type { Check } from '../ledger/formula/types';

/** Bytes of a check's output kept from its start and from its end; what lies between is dropped. */
export const OUTPUT_HEAD_BYTES = 2 * 1024;
export const OUTPUT_TAIL_BYTES = 6 * 1024;
/** How long a killed command's pipes may stay open before its result is given anyway, in ms. */
const CLOSE_GRACE_MS = 2000;

/** What one check found. */
export interface CheckResult {
  id: string;
  kind: Check['kind'];
  passed: boolean;
  /** One sentence a person reads first, e.g. `exited with code 1 after 2.1 s (expected 0)`. */
  summary: string;
  /** The command's output (stdout and stderr interleaved), trimmed to OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES; '' for other kinds. */
  output: string;
  /** What ran: the command after substitution, the path looked for, or the verdict. */
  subject: string;
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
}

/** The review steps of the run, as the `verdict = "review"` check judges them. */
export interface ReviewState {
  nodeId: string;
  state: string;
}

export interface RunChecksOptions {
  /** The run's folder: the cwd of commands and the root that file_exists paths stay inside. */
  dir: string;
  /** The run's variables, substituted into commands as `{{name}}`, each quoted for a POSIX shell. */
  vars: Record<string, unknown>;
  /** The run's nodes that carry a review, for verdict checks. */
  reviews: readonly ReviewState[];
  /** Aborting kills a running command; the remaining checks are not run and the promise rejects. */
  signal?: AbortSignal;
  /** Overrides each check's timeout (ms); for tests that cannot wait a second per check. */
  timeoutMsOverride?: number;
}

/** A value as one POSIX shell word: single-quoted, so no value can add a command. Lists become several words. */
export function shellQuote(value: unknown): string {
  if (Array.isArray(value)) return value.map(shellQuote).join(' ');
  const text = typeof value === 'string' ? value : typeof value === 'boolean' || typeof value === 'number' ? String(value) : JSON.stringify(value) ?? '';
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** A check's command with its `{{vars}}` replaced by quoted values; a reference without a value stays as written. */
export function commandFor(command: string, vars: Record<string, unknown>): string {
  let out = command;
  for (const name of referencedVars(command)) {
    if (!Object.prototype.hasOwnProperty.call(vars, name)) continue;
    out = out.replace(new RegExp(`\\{\\{\\s*${name}\\s*\\}\\}`, 'g'), () => shellQuote(vars[name]));
  }
  return out;
}

/** Keeps the first `head` and the last `tail` bytes of a stream, and counts what lies between. */
export class TrimmedOutput {
  private readonly headChunks: Buffer[] = [];
  private headBytes = 0;
  private tailBuf = Buffer.alloc(0);
  private total = 0;

  constructor(private readonly head = OUTPUT_HEAD_BYTES, private readonly tail = OUTPUT_TAIL_BYTES) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.head) {
      const take = rest.subarray(0, this.head - this.headBytes);
      this.headChunks.push(take);
      this.headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    // The tail keeps only its last `tail` bytes, so memory stays bounded whatever the command prints.
    this.tailBuf = Buffer.concat([this.tailBuf, rest]);
    if (this.tailBuf.length > this.tail) this.tailBuf = this.tailBuf.subarray(this.tailBuf.length - this.tail);
  }

  /** The kept text, with a line saying how many bytes were dropped from the middle. */
  text(): string {
    const head = Buffer.concat(this.headChunks).toString('utf8');
    const dropped = this.total - this.headBytes - this.tailBuf.length;
    const tail = this.tailBuf.toString('utf8');
    return dropped > 0 ? `${head}\n… [${dropped} bytes of output left out] …\n${tail}` : `${head}${tail}`;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Kills a detached command's whole process group (the shell and everything it started). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(process.platform === 'win32' ? pid : -pid, 'SIGKILL');
  } catch {
    // The group is gone already.
  }
}

async function runCommand(check: Extract<Check, { kind: 'run' }>, options: RunChecksOptions): Promise<CheckResult> {
  const command = commandFor(check.run, options.vars);
  const timeoutMs = options.timeoutMsOverride ?? check.timeoutSeconds * 1000;
  const output = new TrimmedOutput();
  const started = Date.now();
  return new Promise<CheckResult>((resolve, reject) => {
    // detached: the command leads its own process group, so a timeout kills what it started too.
    const child = spawn(command, { cwd: options.dir, shell: true, detached: process.platform !== 'win32', stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let timedOut = false;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      options.signal?.removeEventListener('abort', onAbort);
      const durationMs = Date.now() - started;
      if (options.signal?.aborted) {
        reject(new Error(`check "${check.id}" was stopped: the controller stopped`));
        return;
      }
      const passed = !timedOut && !error && code !== null && check.exitCodes.includes(code);
      const expected = check.exitCodes.length === 1 ? `${check.exitCodes[0]}` : `one of ${check.exitCodes.join(', ')}`;
      const summary = error ? `could not start: ${error.message}`
        : timedOut ? `timed out after ${seconds(timeoutMs)} (timeout_seconds = ${check.timeoutSeconds}); the command and everything it started were killed`
          : code === null ? `was killed by ${signal ?? 'a signal'} after ${seconds(durationMs)}`
            : `exited with code ${code} after ${seconds(durationMs)}${passed ? '' : ` (expected ${expected})`}`;
      resolve({ id: check.id, kind: 'run', passed, summary, output: output.text(), subject: command, exitCode: code, timedOut, durationMs });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      // A grandchild that left the group may hold the pipes open; the result does not wait for it.
      graceTimer = setTimeout(() => finish(null, 'SIGKILL'), CLOSE_GRACE_MS);
    }, timeoutMs);
    const onAbort = (): void => {
      killGroup(child.pid);
      graceTimer = setTimeout(() => finish(null, 'SIGKILL'), CLOSE_GRACE_MS);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

/**
 * Whether `relative` names an existing file or folder inside `dir`. The path is refused as the formula
 * refuses it (absolute, `..`), and a symbolic link that leads outside the folder does not count.
 */
function fileExists(check: Extract<Check, { kind: 'file_exists' }>, dir: string): CheckResult {
  const started = Date.now();
  const result = (passed: boolean, summary: string): CheckResult => ({
    id: check.id, kind: 'file_exists', passed, summary, output: '', subject: check.path, exitCode: null, timedOut: false, durationMs: Date.now() - started,
  });
  const problem = checkPathProblem(check.path);
  if (problem) return result(false, `"${check.path}" cannot be checked: ${problem}`);
  const root = fs.realpathSync(dir);
  let real: string;
  try {
    real = fs.realpathSync(path.resolve(root, check.path));
  } catch {
    return result(false, `"${check.path}" does not exist in ${root}`);
  }
  const inside = path.relative(root, real);
  if (inside.startsWith('..') || path.isAbsolute(inside)) return result(false, `"${check.path}" leads outside the run's folder (to ${real}) through a symbolic link`);
  return result(true, `"${check.path}" exists`);
}

function verdict(check: Extract<Check, { kind: 'verdict' }>, reviews: readonly ReviewState[]): CheckResult {
  const base = { id: check.id, kind: 'verdict' as const, output: '', subject: check.verdict, exitCode: null, timedOut: false, durationMs: 0 };
  const reviewed = reviews.filter((r) => r.state !== 'skipped');
  if (reviewed.length === 0) return { ...base, passed: false, summary: 'no review step of the run was reviewed (none ran, or all were skipped)' };
  const open = reviewed.filter((r) => r.state !== 'done');
  if (open.length > 0) return { ...base, passed: false, summary: `not approved: ${open.map((r) => `${r.nodeId} is ${r.state}`).join(', ')}` };
  return { ...base, passed: true, summary: `approved: ${reviewed.map((r) => r.nodeId).join(', ')}` };
}

/**
 * Runs a run's checks one after another in `options.dir` and returns one result per check, in order.
 * A command that runs past its timeout is killed with its process group and fails its check; a command
 * that cannot start fails its check. Rejects only when `options.signal` aborts (nothing is decided then).
 */
export async function runChecks(checks: readonly Check[], options: RunChecksOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    if (options.signal?.aborted) throw new Error('the checks were stopped: the controller stopped');
    if (check.kind === 'run') results.push(await runCommand(check, options));
    else if (check.kind === 'file_exists') results.push(fileExists(check, options.dir));
    else results.push(verdict(check, options.reviews));
  }
  return results;
}
