import * as fs from 'node:fs';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { LedgerError } from '../errors';

/**
 * A cross-process lock on a ledger folder: a file created with O_EXCL that names its owner.
 *
 * O_EXCL creation is atomic on local file systems, so exactly one process holds the file at a time.
 * A process that dies while holding it leaves the file behind; the next writer sees that the owner's
 * pid is gone and breaks the lock. Breaking is itself guarded by a second O_EXCL file so that two
 * waiters cannot both break the lock and then remove each other's fresh one.
 */
export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  at: number;
}

export interface LockOptions {
  /** Give up after this long; the error says who holds the lock. */
  timeoutMs?: number;
}

const BREAKER_STALE_MS = 5_000;

export class FileLock {
  private held: LockOwner | undefined;

  constructor(readonly path: string) {}

  get isHeld(): boolean {
    return this.held !== undefined;
  }

  async acquire(options: LockOptions = {}): Promise<void> {
    if (this.held) throw new LedgerError(`lock ${this.path} is already held by this process`, 'conflict');
    const timeoutMs = options.timeoutMs ?? 30_000;
    const started = Date.now();
    let delay = 1;
    for (;;) {
      if (this.tryAcquire()) return;
      this.breakIfStale();
      if (Date.now() - started > timeoutMs) {
        const owner = readOwner(this.path);
        throw new LedgerError(
          `could not take the ledger lock ${this.path} within ${timeoutMs} ms` +
            (owner ? `: held by pid ${owner.pid} on ${owner.host} since ${new Date(owner.at).toISOString()}` : '') +
            '. If that process is gone, delete the lock file.',
          'lock_timeout',
        );
      }
      // Jittered backoff keeps many waiters from retrying in lock step.
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 20);
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = undefined;
    // Only a dead owner's lock is ever broken, so while this process lives the file is still ours.
    fs.rmSync(this.path, { force: true });
  }

  private tryAcquire(): boolean {
    const owner: LockOwner = { pid: process.pid, host: os.hostname(), token: randomBytes(8).toString('hex'), at: Date.now() };
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    try {
      fs.writeSync(fd, JSON.stringify(owner));
    } finally {
      fs.closeSync(fd);
    }
    this.held = owner;
    return true;
  }

  /** Removes the lock file when its owner is a process of this host that no longer exists. */
  private breakIfStale(): void {
    const owner = readOwner(this.path);
    if (owner === undefined) {
      // The file exists but says nothing yet: its creator is between open and write, or died there.
      const age = fileAge(this.path);
      if (age === undefined || age < BREAKER_STALE_MS) return;
    } else if (owner.host !== os.hostname() || isAlive(owner.pid)) {
      return;
    }
    const breaker = `${this.path}.break`;
    let fd: number;
    try {
      fd = fs.openSync(breaker, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A breaker left by a process killed while breaking would block everyone forever.
      const age = fileAge(breaker);
      if (age !== undefined && age > BREAKER_STALE_MS) fs.rmSync(breaker, { force: true });
      return;
    }
    try {
      const again = readOwner(this.path);
      const same = owner === undefined ? again === undefined : again?.token === owner.token;
      if (same) fs.rmSync(this.path, { force: true });
    } finally {
      fs.closeSync(fd);
      fs.rmSync(breaker, { force: true });
    }
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const text = fs.readFileSync(path, 'utf8');
    if (!text) return undefined;
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid !== 'number' || typeof v.token !== 'string' || typeof v.host !== 'string') return undefined;
    return { pid: v.pid, host: v.host, token: v.token, at: Number(v.at ?? 0) };
  } catch {
    return undefined;
  }
}

function fileAge(path: string): number | undefined {
  try {
    return Date.now() - fs.statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
