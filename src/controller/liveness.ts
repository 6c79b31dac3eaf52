import * as fs from 'node:fs';
import * as os from 'node:os';
import { procStat } from '../ledger/store/lock';

/**
 * Who holds a claim, and whether that holder can still be alive. A controller claims nodes under a
 * worker name that says where it runs, `codex@<host>/<pid>` (with `#n` for a second controller in one
 * process), so a controller that starts after a crash can tell its dead predecessor's claims from a
 * live controller's (VS Code and a terminal on one ledger) without waiting for every lease to run out.
 */

const live = new Set<string>();
let counter = 0;

/** A new worker name for a controller of this process, registered as live until `releaseWorkerName`. */
export function newControllerWorkerName(): string {
  const base = `codex@${os.hostname()}/${process.pid}`;
  const name = counter++ === 0 ? base : `${base}#${counter}`;
  live.add(name);
  return name;
}

/** Marks a controller of this process as stopped: claims under its name are a dead holder's from now on. */
export function releaseWorkerName(name: string): void {
  live.delete(name);
}

/**
 * The host and pid a controller worker name carries, and the worker profile when the name is a profile's
 * (`codex@host/pid:deep`, src/controller/profiles.ts); null for any other worker (a person, an MCP client).
 */
export function parseWorkerName(name: string): { host: string; pid: number; controller: string; profile: string | null } | null {
  const m = /^(codex@([^/]+)\/(\d+)(?:#\d+)?)(?::([^/:]+))?$/.exec(name);
  return m ? { host: m[2]!, pid: Number(m[3]), controller: m[1]!, profile: m[4] ?? null } : null;
}

/**
 * True only when the claim's holder is provably gone: a controller of this host whose process has
 * exited, whose pid now belongs to a process started after the claim (pid reuse), or a stopped
 * controller of this very process. Anything else (another host, another kind of worker, no way to tell)
 * is false: that claim ends only when its lease runs out.
 *
 * `claimedAt` is the claim's ISO time. Process start times come from /proc (Linux: field 22 of
 * /proc/PID/stat in clock ticks after the boot time in /proc/stat, proc(5)); elsewhere only exit is seen.
 */
export function holderIsGone(worker: string, claimedAt: string): boolean {
  const id = parseWorkerName(worker);
  if (!id || id.host !== os.hostname()) return false;
  if (id.pid === process.pid) return !live.has(id.controller);
  try {
    process.kill(id.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const started = processStartTime(id.pid);
  // One second of slack: /proc's start time is rounded to clock ticks and the claim's to milliseconds.
  return started !== null && started > Date.parse(claimedAt) + 1000;
}

/** When process `pid` started (epoch ms), from /proc (the store's `procStat` and the boot time); null where that cannot be read. */
export function processStartTime(pid: number): number | null {
  const stat = procStat(pid);
  if (!stat) return null;
  try {
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    if (!btime) return null;
    // USER_HZ is 100 on every Linux architecture Node supports (sysconf(_SC_CLK_TCK)).
    return Number(btime[1]) * 1000 + stat.start * 10;
  } catch {
    return null;
  }
}
