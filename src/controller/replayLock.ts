// The replay lock: at most one replay of a candidate at a time on a machine, across processes (two MCP
// servers of one workspace, the CLI, VS Code). Two replays at once would replay the same past tasks (each
// plans before the other's runs exist) and the screen would count the same evidence twice.
//
// The lock is the file `<ledger's parent>/replays/<variantId>.lock` holding a JSON record (holder's pid, a
// random token, its log). It is created whole and atomically with link(2), which fails when the file exists,
// so the check "is one running?" and the start are one step. A starter that hands the replay to a child
// process (formula_replay starts `gascity replay` in the background) takes the lock first and passes its token
// to the child, which adopts the lock instead of being refused by it.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../ledger/index';
import type { Ledger } from '../ledger/index';

/** The environment variable through which a starter hands its lock's token to the `gascity replay` it spawns. */
export const REPLAY_LOCK_ENV = 'GASCITY_REPLAY_LOCK';

/** What a replay lock file records. */
export interface ReplayLockRecord {
  /** The process holding the lock (the replay's, once handed over). */
  pid: number;
  /** A random token naming this lock; a child that is given it adopts the lock. */
  token: string;
  /** The file the replay writes its progress to, when it has one. */
  log: string | null;
  /** When the lock was taken, ISO 8601. */
  startedAt: string;
}

/** A held lock. */
export interface ReplayLock {
  readonly token: string;
  /** Records `pid` (the child the replay was handed to) as the holder, keeping the token. */
  handOver(pid: number): void;
  /** Removes the lock if it is still this one (same token); never throws. */
  release(): void;
}

/** The folder of a ledger's replay logs and locks: `<ledger's parent>/replays`. */
export function replaysDir(ledger: Pick<Ledger, 'store'>): string {
  return path.join(path.dirname(ledger.store.dir), 'replays');
}

function lockFile(ledger: Pick<Ledger, 'store'>, variantId: string): string {
  return path.join(replaysDir(ledger), `${variantId}.lock`);
}

function readRecord(file: string): ReplayLockRecord | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  // A lock of an older build holds only the pid.
  if (/^\d{1,10}$/.test(text)) return { pid: Number(text), token: '', log: null, startedAt: '' };
  try {
    const r = JSON.parse(text) as Partial<ReplayLockRecord>;
    if (!Number.isInteger(r.pid) || (r.pid as number) <= 0 || typeof r.token !== 'string') return null;
    return { pid: r.pid as number, token: r.token, log: typeof r.log === 'string' ? r.log : null, startedAt: typeof r.startedAt === 'string' ? r.startedAt : '' };
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes `record` to a temporary file beside `file` and returns its path (to be linked or renamed into place whole). */
function writeTemp(file: string, record: ReplayLockRecord): string {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(record));
  return temp;
}

/**
 * The replay of `variantId` running now (its holder is alive), or null. A lock whose process is gone (a crash,
 * kill -9) does not count, nor one whose token is `ownToken` (the caller was handed that lock).
 */
export function runningReplay(ledger: Pick<Ledger, 'store'>, variantId: string, ownToken?: string): ReplayLockRecord | null {
  const r = readRecord(lockFile(ledger, variantId));
  if (!r || (ownToken && r.token === ownToken) || !alive(r.pid)) return null;
  return r;
}

/**
 * The conflict error naming the running replay (its process and log); `progress` is put after it when known, `how`
 * says where to watch it, `field` is the input that named the variant (variantId for MCP, VARIANT for the CLI).
 */
export function replayRunningError(variantId: string, holder: ReplayLockRecord, how: string, field = 'variantId', progress?: string): LedgerError {
  return new LedgerError(`${field}: a replay of ${variantId} is already running (process ${holder.pid}${holder.log ? `, log ${holder.log}` : ''})` +
    `${progress ? `; ${progress}` : ''}; nothing new was started. Wait for it to end (${how}) or stop it first`, 'conflict', field);
}

/**
 * Takes the replay lock of `variantId` for this process, atomically: when a replay of it runs (its holder is
 * alive), throws replayRunningError (LedgerError conflict, field `o.field`, default variantId). A stale lock (its holder is gone)
 * is taken over. With `adopt`, a lock holding that token (handed over by the starter) is taken as this
 * process's own. `log` is recorded for others to find the replay's progress.
 */
export function takeReplayLock(ledger: Pick<Ledger, 'store'>, variantId: string, o: { log?: string | null; adopt?: string; how?: string; field?: string } = {}): ReplayLock {
  const dir = replaysDir(ledger);
  fs.mkdirSync(dir, { recursive: true });
  const file = lockFile(ledger, variantId);
  const how = o.how ?? 'formula_assess shows its pairs';
  for (let attempt = 0; attempt < 4; attempt++) {
    if (!fs.existsSync(file)) {
      const record: ReplayLockRecord = { pid: process.pid, token: randomBytes(12).toString('hex'), log: o.log ?? null, startedAt: new Date().toISOString() };
      const temp = writeTemp(file, record);
      try {
        // link(2) puts the whole record in place or fails with EEXIST: never a half-written lock, never two holders.
        fs.linkSync(temp, file);
        return held(file, record.token);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        continue;
      } finally {
        fs.rmSync(temp, { force: true });
      }
    }
    const existing = readRecord(file);
    if (existing && o.adopt && existing.token === o.adopt) {
      fs.renameSync(writeTemp(file, { ...existing, pid: process.pid }), file);
      return held(file, existing.token);
    }
    if (existing && alive(existing.pid)) throw replayRunningError(variantId, existing, how, o.field);
    // Its holder is gone, or the file is not a lock record at all (damaged): either way it holds nothing.
    takeOverStale(file, existing);
  }
  throw new LedgerError(`variantId: another replay of ${variantId} took its lock at the same moment; try again`, 'conflict', 'variantId');
}

/**
 * Moves a stale lock out of the way. Another process may have replaced it with a live one in the meantime: the
 * moved file is then put back (link, which cannot overwrite a newer one), so only stale locks are ever removed.
 */
function takeOverStale(file: string, stale: ReplayLockRecord | null): void {
  const moved = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    fs.renameSync(file, moved);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  const got = readRecord(moved);
  if (got && (!stale || got.token !== stale.token || got.pid !== stale.pid)) {
    try {
      fs.linkSync(moved, file);
    } catch {
      // A newer lock is already in place; the one moved aside was superseded by it either way.
    }
  }
  fs.rmSync(moved, { force: true });
}

function held(file: string, token: string): ReplayLock {
  return {
    token,
    handOver(pid: number): void {
      const r = readRecord(file);
      if (!r || r.token !== token) return;
      fs.renameSync(writeTemp(file, { ...r, pid }), file);
    },
    release(): void {
      try {
        if (readRecord(file)?.token === token) fs.rmSync(file, { force: true });
      } catch {
        // Releasing is best effort: a lock left behind is stale once this process ends.
      }
    },
  };
}
