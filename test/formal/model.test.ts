import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import { LedgerError, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import type { Fault, FsOps } from '../../src/ledger/store/fsOps';
import { crashAt, nodeFsOps, withFault } from '../../src/ledger/store/fsOps';

// The model-based twin of formal/journal.pml: fast-check drives the real EventStore (through the
// Ledger) with the model's actions — commits, commits that meet a full disk or a failing sync or
// rename, writers that crash at their n-th file operation, checkpoints (which may fail or crash too),
// restarts — and after every action a fresh reader checks the model's invariants:
//   1. every acknowledged commit is there;  2. no commit reported as failed is there;
//   3. the seqs are contiguous;  4. nothing appears that was never attempted, and a commit that a
//      reader has seen once (a crashed writer's, say) stays.

interface Model {
  next: number;
  acked: Set<string>;
  failed: Set<string>;
  /** Commits whose writer crashed: they may or may not be recorded. */
  maybe: Set<string>;
}

interface Real {
  dir: string;
  live: Ledger;
}

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });

async function checkInvariants(m: Model, r: Real, after: string): Promise<void> {
  const reader = await openLedger(r.dir);
  try {
    const titles = new Set(reader.listRuns({ limit: 10_000 }).map((x) => x.title));
    for (const t of m.acked) assert.ok(titles.has(t), `${after}: acknowledged commit ${t} is lost`);
    for (const t of m.failed) assert.ok(!titles.has(t), `${after}: commit ${t} was reported as failed but is recorded`);
    for (const t of titles) assert.ok(m.acked.has(t) || m.maybe.has(t), `${after}: commit ${t} appeared from nowhere`);
    const seqs = reader.events(0, 1_000_000).map((e) => e.seq);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${after}: the seqs have a gap`);
    // What a reader has seen must stay: from now on it counts as acknowledged.
    for (const t of [...m.maybe]) if (titles.has(t)) { m.maybe.delete(t); m.acked.add(t); }
  } finally {
    reader.close();
  }
}

/** A commit by another process using `ops`; returns what its caller was told. */
async function commitWith(r: Real, ops: FsOps, title: string, checkpointEvery?: number): Promise<'acked' | 'failed' | 'maybe'> {
  let l: Ledger | undefined;
  try {
    l = await openLedger(r.dir, { fsOps: ops, checkpointEvery });
    await l.startRun(oneNode(title));
    return 'acked';
  } catch (e) {
    assert.ok(e instanceof LedgerError || (e as Error).name === 'SimulatedCrash', `not a clear error: ${(e as Error).stack}`);
    return /[Nn]othing was recorded/.test((e as Error).message) ? 'failed' : 'maybe';
  } finally {
    l?.close();
  }
}

function record(m: Model, title: string, outcome: 'acked' | 'failed' | 'maybe'): void {
  (outcome === 'acked' ? m.acked : outcome === 'failed' ? m.failed : m.maybe).add(title);
}

class Commit implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const title = `c${m.next++}`;
    await r.live.startRun(oneNode(title));
    m.acked.add(title);
    await checkInvariants(m, r, this.toString());
  }
  toString = () => 'commit';
}

class FaultyCommit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly fault: Fault, readonly nth: number, readonly checkpoint: boolean) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const title = `c${m.next++}`;
    const outcome = await commitWith(r, withFault(nodeFsOps, this.fault, this.nth), title, this.checkpoint ? 1 : undefined);
    assert.notEqual(outcome, 'maybe', `${this}: a fault without a crash must give a definite answer`);
    record(m, title, outcome);
    await checkInvariants(m, r, this.toString());
  }
  toString = () => `commit meeting ${this.fault} at op ${this.nth}${this.checkpoint ? ' (with checkpoint)' : ''}`;
}

class CrashingCommit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly nth: number, readonly checkpoint: boolean) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const title = `c${m.next++}`;
    record(m, title, await commitWith(r, crashAt(nodeFsOps, this.nth), title, this.checkpoint ? 1 : undefined));
    await checkInvariants(m, r, this.toString());
  }
  toString = () => `writer crashing at op ${this.nth}${this.checkpoint ? ' (with checkpoint)' : ''}`;
}

class Checkpoint implements fc.AsyncCommand<Model, Real> {
  constructor(readonly how: 'clean' | Fault | 'crash', readonly nth: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    if (this.how === 'clean') {
      await r.live.store.checkpoint();
    } else {
      const ops = this.how === 'crash' ? crashAt(nodeFsOps, this.nth) : withFault(nodeFsOps, this.how, this.nth);
      const l = await openLedger(r.dir, { fsOps: ops }).catch(() => undefined);
      await l?.store.checkpoint().catch(() => undefined);
      l?.close();
    }
    await checkInvariants(m, r, this.toString());
  }
  toString = () => `checkpoint (${this.how}${this.how === 'clean' ? '' : ` at op ${this.nth}`})`;
}

class Restart implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.live.close();
    r.live = await openLedger(r.dir);
    await checkInvariants(m, r, this.toString());
  }
  toString = () => 'restart the long-running writer';
}

const nth = fc.integer({ min: 1, max: 8 });
const commands = [
  fc.constant(new Commit()),
  fc.tuple(fc.constantFrom<Fault>('short-write', 'disk-full', 'fsync-error', 'rename-error'), nth, fc.boolean()).map(([f, n, c]) => new FaultyCommit(f, n, c)),
  fc.tuple(nth, fc.boolean()).map(([n, c]) => new CrashingCommit(n, c)),
  fc.tuple(fc.constantFrom<'clean' | Fault | 'crash'>('clean', 'disk-full', 'fsync-error', 'rename-error', 'crash'), nth).map(([h, n]) => new Checkpoint(h, n)),
  fc.constant(new Restart()),
];

test('model-based: the real store under commits, faults, crashes and checkpoints keeps the journal model\'s invariants', async (t) => {
  let runs = 0;
  let actions = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 20 }), async (cmds) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-model-'));
      const real: Real = { dir, live: await openLedger(dir) };
      try {
        await fc.asyncModelRun(() => ({ model: { next: 0, acked: new Set<string>(), failed: new Set<string>(), maybe: new Set<string>() }, real }), cmds);
        runs++;
        actions += [...cmds].length;
      } finally {
        real.live.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: Number(process.env.GASCITY_MODEL_RUNS ?? 60) },
  );
  t.diagnostic(`${runs} command sequences, ${actions} actions, every invariant held after every action`);
});
