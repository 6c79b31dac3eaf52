// Where a writer's long commit goes while another process checkpoints (BENCH_STALL_TRACE=1 in
// bench/ledger.ts): each child process records its file operations with wall-clock timestamps, so that
// the parent can line a slow commit's lock wait, catch-up and fdatasync up against the checkpointer's
// phases (snapshot, segment and archive writes, its holds of the lock). Not a test; a diagnostic.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { PerformanceObserver } from 'node:perf_hooks';

/** One traced file operation: wall-clock start (ms since the epoch), duration (ms), its name and file. */
export interface TracedOp {
  at: number;
  ms: number;
  op: string;
  file: string;
  bytes?: number;
  /** For a traced method call: CPU time of the whole process meanwhile (ms). */
  cpu?: number;
}

/** fs calls recorded only when they take 1 ms or more (see traceFs). */
const SLOW_ONLY = new Set(['existsSync', 'statSync', 'fstatSync', 'futimesSync', 'readdirSync', 'closeSync', 'mkdirSync', 'rmSync']);

/** Milliseconds since the epoch with sub-millisecond resolution, comparable across processes. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Wraps the `node:fs` functions the store calls (CommonJS: the store reads them off the module object at
 * each call) so that every call is recorded in the returned list. Returns the list, which the caller
 * drains.
 */
export function traceFs(): TracedOp[] {
  const ops: TracedOp[] = [];
  const names = new Map<number, string>();
  // The module object itself: an `import * as` namespace is a frozen view whose getters read from it.
  const real = createRequire(__filename)('node:fs') as typeof fs;
  const mutable = real as unknown as Record<string, (...args: unknown[]) => unknown>;
  const wrap = (name: string, describe: (args: unknown[], result: unknown) => { file: string; bytes?: number } | undefined) => {
    const original = mutable[name]!;
    mutable[name] = (...args: unknown[]) => {
      const at = wallNow();
      let result: unknown;
      try {
        result = original.apply(real, args);
      } catch (e) {
        // A failed call is kept when slow (a link refused with EEXIST after blocking, say), marked by its code.
        const took = wallNow() - at;
        if (took >= 1) ops.push({ at, ms: took, op: `${name.replace(/Sync$/, '')}!${String((e as NodeJS.ErrnoException).code)}`, file: path.basename(String(args[0])) });
        throw e;
      }
      const d = describe(args, result);
      const took = wallNow() - at;
      if (d && (took >= 1 || !SLOW_ONLY.has(name))) ops.push({ at, ms: took, op: name.replace(/Sync$/, ''), ...d });
      if (!d && took >= 1) ops.push({ at, ms: took, op: name.replace(/Sync$/, ''), file: typeof args[0] === 'string' ? path.basename(args[0]) : fdName(args[0]) });
      return result;
    };
  };
  const fdName = (fd: unknown) => names.get(fd as number) ?? `fd${String(fd)}`;
  wrap('openSync', (args, fd) => {
    names.set(fd as number, path.basename(String(args[0])));
    return undefined;
  });
  wrap('writeSync', (args, n) => ({ file: fdName(args[0]), bytes: n as number }));
  wrap('readSync', (args, n) => ({ file: fdName(args[0]), bytes: n as number }));
  // A whole-file read is a snapshot loaded again (a process that fell behind a checkpoint's journal cut).
  wrap('readFileSync', (args, data) => ({ file: path.basename(String(args[0])), bytes: (data as { length: number }).length }));
  // Calls the lock's wait and the commit make at each poll or commit, kept only when slow (a stall inside one would show).
  for (const name of SLOW_ONLY) wrap(name, (args) => ({ file: typeof args[0] === 'string' ? path.basename(args[0]) : fdName(args[0]) }));
  wrap('fsyncSync', (args) => ({ file: fdName(args[0]) }));
  wrap('fdatasyncSync', (args) => ({ file: fdName(args[0]) }));
  wrap('renameSync', (args) => ({ file: `${path.basename(String(args[0]))}>${path.basename(String(args[1]))}` }));
  wrap('linkSync', (args) => ({ file: path.basename(String(args[1])) }));
  wrap('unlinkSync', (args) => ({ file: path.basename(String(args[0])) }));
  return ops;
}

/** Writes `ops` as one JSON line each to `file` (appending). */
export function dumpTrace(file: string, who: string, ops: readonly TracedOp[]): void {
  fs.appendFileSync(file, ops.map((o) => `${JSON.stringify({ who, ...o })}\n`).join(''));
}

/** What a slow commit of the measured writer overlapped with in the checkpointer, for the report. */
export function explainSlowCommits(traceFile: string, thresholdMs: number): string[] {
  const all = fs.readFileSync(traceFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as TracedOp & { who: string });
  const commits = all.filter((o) => o.who === 'during' && o.op === 'commit');
  const writer = all.filter((o) => o.who === 'during' && o.op !== 'commit');
  const ck = all.filter((o) => o.who === 'checkpointer');
  const out: string[] = [];
  const t0 = Math.min(...ck.filter((o) => !o.op.includes('.') && o.op !== 'gc').map((o) => o.at));
  // Commits before the checkpointer's first operation are the writer's own start, not a stall.
  for (const c of commits.filter((x) => x.ms >= thresholdMs && x.at >= t0)) {
    const end = c.at + c.ms;
    const mine = writer.filter((o) => o.at >= c.at && o.at <= end);
    const sync = mine.filter((o) => o.op === 'fdatasync').reduce((a, o) => a + o.ms, 0);
    const taken = mine.find((o) => o.op === 'link' && o.file === 'ledger.lock');
    const released = mine.filter((o) => o.op === 'unlink' && o.file === 'ledger.lock').pop();
    const read = mine.filter((o) => o.op === 'read').reduce((a, o) => a + (o.bytes ?? 0), 0);
    const reload = mine.find((o) => o.op === 'readFile' && o.file.startsWith('ledger.sqlite'));
    // The checkpointer's operations that overlapped the commit, summed by kind and file family.
    const over = ck.filter((o) => o.at <= end && o.at + o.ms >= c.at);
    const fam = (f: string) => f.replace(/\.tmp-.*$/, '.tmp').replace(/^runs-.*/, 'archive').replace(/^events-.*/, 'segment');
    const groups = new Map<string, { n: number; ms: number; bytes: number }>();
    for (const o of over) {
      if (o.op.includes('.') || o.op === 'gc') continue;
      const k = `${o.op} ${fam(o.file)}`;
      const g = groups.get(k) ?? { n: 0, ms: 0, bytes: 0 };
      g.n++;
      g.ms += Math.min(end, o.at + o.ms) - Math.max(c.at, o.at);
      g.bytes += o.bytes ?? 0;
      groups.set(k, g);
    }
    const ckLock = ck.filter((o) => o.file === 'ledger.lock' && (o.op === 'link' || o.op === 'unlink'));
    let heldByCk = 0;
    for (let i = 0; i < ckLock.length; i++) {
      if (ckLock[i]!.op !== 'link') continue;
      const rel = ckLock.slice(i + 1).find((o) => o.op === 'unlink');
      if (!rel) continue;
      heldByCk += Math.max(0, Math.min(end, rel.at) - Math.max(c.at, ckLock[i]!.at));
    }
    const ckPhases = over.filter((o) => (o.op.includes('.') || o.op === 'gc') && o.ms >= 2)
      .map((o) => `${o.op}${o.file ? `(${o.file.slice(0, 30)})` : ''} +${(o.at - c.at).toFixed(1)} ${o.ms.toFixed(1)}ms${o.cpu !== undefined ? ` cpu ${o.cpu.toFixed(1)}` : ''}`);
    const top = [...groups.entries()].filter(([, g]) => g.ms >= 1).sort((a, b) => b[1].ms - a[1].ms).slice(0, 6)
      .map(([k, g]) => `${k} ×${g.n} ${g.ms.toFixed(0)}ms${g.bytes ? ` ${(g.bytes / 1048576).toFixed(1)}MiB` : ''}`);
    // The writer's own phases (traceMethods) and collections (traceGc) inside the commit.
    // Calls traced with minMs 0 (the lock's polls) are counted by name and result.
    const polls = new Map<string, number>();
    for (const o of mine.filter((x) => x.op.startsWith('lock.'))) polls.set(`${o.op}${o.file}`, (polls.get(`${o.op}${o.file}`) ?? 0) + 1);
    const phases = [...[...polls].map(([k, n]) => `${k} ×${n}`), ...mine.filter((o) => (o.op.includes('.') && !o.op.startsWith('lock.')) || o.op === 'gc').filter((o) => o.ms >= 1)
      .map((o) => `${o.op}${o.file ? `(${o.file})` : ''} +${(o.at - c.at).toFixed(1)} ${o.ms.toFixed(1)}ms${o.cpu !== undefined ? ` cpu ${o.cpu.toFixed(1)}` : ''}`)];
    const threads = writer.find((o) => o.op === 'threads' && o.at === c.at);
    const sched = c.cpu !== undefined ? ` (main thread on a CPU ${c.cpu.toFixed(1)} ms, ready but not running ${(c.bytes ?? 0).toFixed(1)} ms)` : '';
    out.push(`+${(c.at - t0).toFixed(0)} commit ${c.ms.toFixed(1)} ms${sched}: lock at +${taken ? (taken.at - c.at).toFixed(1) : '?'}, ` +
      `released +${released ? (released.at - c.at).toFixed(1) : '?'}, fdatasync ${sync.toFixed(1)}, read ${(read / 1024).toFixed(0)} KiB` +
      `${reload ? `, reloaded the snapshot at +${(reload.at - c.at).toFixed(1)}` : ''}; ` +
      `checkpointer held the lock ${heldByCk.toFixed(1)} ms of it; its ops: ${top.join(', ') || 'none'}` +
      `${threads ? `\n      writer's threads on a CPU (ms, 10 ms ticks): ${threads.file || 'none'}` : ''}${phases.length ? `\n      writer: ${phases.join('; ')}` : ''}${ckPhases.length ? `\n      checkpointer: ${ckPhases.join('; ')}` : ''}`);
  }
  return out;
}

/**
 * Wraps methods of `target` (an object's own or inherited functions, by name) so that each call is recorded in
 * `ops` as `op` = `<label>.<name>`, with its wall time and the CPU time this process spent meanwhile (`cpu`, ms,
 * user + system of all its threads: GC and compiler threads included). Calls shorter than `minMs` are not kept.
 * Returns the list. Lets a slow commit's time be split into the store's phases without changing the store.
 */
export function traceMethods(target: object, label: string, names: readonly string[], ops: TracedOp[], minMs = 0.5): TracedOp[] {
  const obj = target as Record<string, (...args: unknown[]) => unknown>;
  for (const name of names) {
    const original = obj[name];
    if (typeof original !== 'function') throw new Error(`traceMethods: ${label}.${name} is not a function`);
    obj[name] = function (this: unknown, ...args: unknown[]) {
      const at = wallNow();
      const cpu0 = process.cpuUsage();
      const finish = () => {
        const d = wallNow() - at;
        if (d < minMs) return;
        const c = process.cpuUsage(cpu0);
        const first = typeof args[0] === 'string' ? args[0].replace(/\s+/g, ' ').slice(0, 60) : typeof args[0] === 'boolean' ? String(args[0]) : '';
        ops.push({ at, ms: d, op: `${label}.${name}`, file: first, cpu: (c.user + c.system) / 1000 });
      };
      const result = original.apply(this, args);
      if (result instanceof Promise) return result.finally(finish);
      finish();
      if (typeof result === 'boolean' && minMs === 0) ops[ops.length - 1]!.file += `=${String(result)}`;
      return result;
    };
  }
  return ops;
}

/** Records every garbage collection of this process in `ops` (op `gc`, file: its kind), from V8's performance entries. */
export function traceGc(ops: TracedOp[]): void {
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      ops.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, op: 'gc', file: String(kind ?? '') });
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}

/**
 * This process's main thread as /proc/self/task/<pid>/schedstat counts it (Linux; see the kernel's
 * sched-stats.rst): its time on a CPU and its time ready but waiting on a run queue, cumulative, in ms.
 * Read at a slow commit's start and end, it tells a thread that was busy from one that the machine's other load
 * kept off the CPU, and from one that was blocked (neither). Undefined where there is no such file.
 */
export function schedNow(): { cpu: number; runnable: number } | undefined {
  try {
    const [run, wait] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { cpu: run! / 1e6, runnable: wait! / 1e6 };
  } catch {
    return undefined;
  }
}

/**
 * CPU time (utime + stime, ms) of each thread of this process by thread id, with its name, from
 * /proc/self/task/<tid>/stat (Linux; fields 14-15 in clock ticks of 10 ms, see proc(5)). Empty where unreadable.
 */
export function threadTimes(): Map<number, { name: string; ms: number }> {
  const out = new Map<number, { name: string; ms: number }>();
  let tids: string[];
  try {
    tids = fs.readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const text = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { name, ms: (Number(f[11]) + Number(f[12])) * 10 });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** The threads that used CPU between two threadTimes readings, as "name tid: ms" sorted by time, busiest first. */
export function threadDelta(before: Map<number, { name: string; ms: number }>, after: Map<number, { name: string; ms: number }>): string {
  return [...after].map(([tid, t]) => ({ tid, name: t.name, ms: t.ms - (before.get(tid)?.ms ?? 0) }))
    .filter((t) => t.ms > 0).sort((a, b) => b.ms - a.ms).map((t) => `${t.name} ${t.tid}: ${t.ms}`).join(', ');
}
