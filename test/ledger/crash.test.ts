import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import { ledgerProjection } from '../../src/ledger/projection';
import { replay } from '../../src/ledger/store/store';
import { bundle } from './storeBundle';
import { dumpTables, tempDir } from './helpers';

// The crash suite: writer processes of three kinds share one ledger and are killed with SIGKILL at
// random moments, one per round, and started again — CLI-like writers (open, one commit, exit),
// MCP-like writers (long-running, committing in a loop, with automatic checkpoints every few
// commits) and checkpointers (folding the journal into the snapshot in a loop). Kills land in lock
// hand-overs, catch-ups, appends, syncs and checkpoints. After every 100 rounds and at the end, the
// ledger must open, pass SQLite's integrity check, hold every acknowledged commit with contiguous
// seqs, and take a new commit; at the end, replaying its events must rebuild the same tables.
//
// The count of rounds is fixed (GASCITY_CRASH_ROUNDS, 1000 by default), not a time budget, so that
// a slow machine runs the same test, only longer.

const ROUNDS = Number(process.env.GASCITY_CRASH_ROUNDS ?? 1000);
const KINDS = ['mcp', 'mcp', 'cli', 'checkpoint'] as const;
type Kind = (typeof KINDS)[number];

interface Writer {
  child: ChildProcess;
  ready: Promise<boolean>;
  exit: Promise<number | null>;
  /** Resolves once this writer acknowledged `n` commits (or exited). */
  acked(n: number): Promise<void>;
}

function spawnWriter(script: string, dir: string, name: string, kind: Kind, acks: Map<string, string>, errors: string[]): Writer {
  // sql.js's start-up is most of this test's cost: compiling its WASM with the baseline compiler
  // only, and only the functions that run, halves it (0.45 to 0.22 CPU seconds per writer here).
  const child = spawn(process.execPath, ['--liftoff-only', '--wasm-lazy-compilation', script, dir, name, kind, kind === 'mcp' ? '7' : ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let count = 0;
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  let readyResolve: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => { readyResolve = resolve; });
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'ready') readyResolve(true);
      const [tag, runId, title] = line.split(' ');
      if (tag === 'ack' && runId && title) {
        acks.set(runId, title);
        count++;
        for (const w of waiting.filter((x) => x.n <= count)) w.resolve();
      }
    }
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      readyResolve(false);
      for (const w of waiting) w.resolve();
      // A writer that fails on its own (not killed) found the ledger broken: that is a finding.
      if (signal === null && code !== 0) errors.push(`${name} (${kind}) exited with ${code}: ${err}`);
      resolve(code);
    });
  });
  const acked = (n: number) => (n <= count ? Promise.resolve() : new Promise<void>((resolve) => { waiting.push({ n, resolve }); }));
  return { child, ready, exit, acked };
}

async function verify(dir: string, acks: Map<string, string>, when: string, full: boolean): Promise<number> {
  const ledger = await openLedger(dir, { lockTimeoutMs: 60_000 });
  try {
    assert.deepEqual(ledger.sql.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }], `${when}: integrity check`);
    for (const [runId, title] of acks) {
      assert.equal(ledger.getRun(runId)?.title, title, `${when}: acknowledged run ${runId} (${title}) is missing`);
    }
    const events = ledger.events(0, 10_000_000);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: events.length }, (_, i) => i + 1), `${when}: the event sequence has a gap`);
    if (full) {
      // A commit after the crashes lands on a clean line boundary, and the tables are what the events say.
      await ledger.startRun({ title: `after-${when}`, nodes: [{ key: 'x', title: 'x' }] });
      const rebuilt = await replay(ledgerProjection, ledger.events(0, 10_000_000));
      assert.deepEqual(dumpTables(ledger.sql), dumpTables(rebuilt), `${when}: replaying the events gives other tables`);
      rebuilt.close();
    }
    return events.length;
  } finally {
    ledger.close();
  }
}

test(`crash suite: ${ROUNDS} rounds of SIGKILL across CLI-like and MCP-like writers and checkpointers lose no acknowledged commit`, async (t) => {
  const script = await bundle('test/ledger/crashWriter.ts');
  const dir = tempDir('gascity-crash-');
  const acks = new Map<string, string>();
  const errors: string[] = [];
  const started = Date.now();
  let rounds = 0;
  let spawned = 0;
  let verified = 0;
  let nextCheck = 100;
  let checking: Promise<void> = Promise.resolve();
  const killedIn: Record<Kind, number> = { mcp: 0, cli: 0, checkpoint: 0 };

  const slot = async (index: number): Promise<void> => {
    const kind = KINDS[index]!;
    while (rounds < ROUNDS && errors.length === 0) {
      const w = spawnWriter(script, dir, `s${index}n${spawned++}`, kind, acks, errors);
      const ready = await w.ready;
      // Kill amid the work: a long-running writer after a few commits (then a moment more, so the
      // kill lands anywhere in the next commit or checkpoint), the others a moment after they start.
      if (ready && kind === 'mcp') await w.acked(Math.floor(Math.random() * 4));
      if (ready) await new Promise((r) => setTimeout(r, Math.random() * (kind === 'checkpoint' ? 40 : 12)));
      if (w.child.exitCode === null && w.child.signalCode === null && rounds < ROUNDS) {
        w.child.kill('SIGKILL');
        rounds++;
        killedIn[kind]++;
      }
      await w.exit;
      if (rounds >= nextCheck) {
        nextCheck += 100;
        const at = rounds;
        checking = checking.then(async () => { await verify(dir, acks, `round ${at}`, false); verified++; });
        await checking;
      }
    }
  };
  await Promise.all(KINDS.map((_, i) => slot(i)));
  await checking;
  assert.deepEqual(errors, [], 'a writer failed on its own');
  const events = await verify(dir, acks, 'the end', true);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  t.diagnostic(
    `${rounds} SIGKILL rounds (mcp ${killedIn.mcp}, cli ${killedIn.cli}, checkpoint ${killedIn.checkpoint}), ${spawned} writer processes, ` +
      `${acks.size} acknowledged commits all present, ${events} events contiguous, ${verified} intermediate checks, ${seconds} s`,
  );
  assert.equal(rounds, ROUNDS);
  assert.ok(acks.size > ROUNDS / 2, `too few commits were acknowledged (${acks.size}) for the test to mean anything`);
});
