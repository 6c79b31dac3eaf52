import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import type { Fault } from '../../src/ledger/store/fsOps';
import { nodeFsOps, withFault } from '../../src/ledger/store/fsOps';
import { writeFileAtomic } from '../../src/ledger/store/atomicWrite';
import { leftovers, tempDir } from './helpers';

// Every file operation of a command is made to fail in turn: the first write, then the second, and so
// on until the command completes without meeting the fault. Each time the command must do all or
// nothing, say so clearly, and leave the ledger appendable.

const FAULTS: Fault[] = ['short-write', 'disk-full', 'fsync-error', 'rename-error'];
const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });

/** A ledger with a few commits and a snapshot, copied for each attempt. */
async function baseline(): Promise<string> {
  const dir = tempDir('gascity-faults-');
  const l = await openLedger(dir);
  await l.startRun(oneNode('before-1'));
  await l.store.checkpoint();
  await l.startRun(oneNode('before-2'));
  l.close();
  return dir;
}

function copyOf(dir: string): string {
  const to = tempDir('gascity-fault-try-');
  fs.cpSync(dir, to, { recursive: true });
  return to;
}

interface Check {
  titles: string[];
  seqs: number[];
}

async function inspect(dir: string): Promise<Check> {
  const l = await openLedger(dir);
  try {
    assert.deepEqual(l.sql.all('PRAGMA integrity_check'), [{ integrity_check: 'ok' }]);
    return { titles: l.listRuns({ limit: 1000 }).map((r) => r.title).sort(), seqs: l.events(0, 100_000).map((e) => e.seq) };
  } finally {
    l.close();
  }
}

function assertContiguous(seqs: number[], what: string): void {
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), `${what}: the event sequence has a gap`);
}

interface Scenario {
  name: string;
  /** Runs the command with the faulty file operations; returns the ledger it opened, when it got that far. */
  command: (dir: string, ops: ReturnType<typeof withFault>, opened: (l: Ledger) => void) => Promise<void>;
  /** The runs the ledger must hold after the command completed (`done`) or failed. */
  expected: (done: boolean) => string[];
  /** What a failure must say about the command's effect. */
  failureSays: RegExp;
  fresh?: boolean;
}

const scenarios: Scenario[] = [
  {
    name: 'a commit (open, start a run, close: what `gascity start` does)',
    command: async (dir, ops, opened) => {
      const l = await openLedger(dir, { fsOps: ops });
      opened(l);
      await l.startRun(oneNode('target'));
    },
    expected: (done) => (done ? ['before-1', 'before-2', 'target'] : ['before-1', 'before-2']),
    failureSays: /Nothing was recorded|nothing was recorded/,
  },
  {
    name: 'a commit followed by an automatic checkpoint',
    command: async (dir, ops, opened) => {
      const l = await openLedger(dir, { fsOps: ops, checkpointEvery: 1 });
      opened(l);
      await l.startRun(oneNode('target'));
    },
    expected: (done) => (done ? ['before-1', 'before-2', 'target'] : ['before-1', 'before-2']),
    failureSays: /Nothing was recorded|nothing was recorded/,
  },
  {
    name: 'an explicit checkpoint',
    command: async (dir, ops, opened) => {
      const l = await openLedger(dir, { fsOps: ops });
      opened(l);
      await l.store.checkpoint();
    },
    expected: () => ['before-1', 'before-2'],
    failureSays: /The file is unchanged|may not survive a power cut|nothing was recorded/,
  },
  {
    name: 'creating a ledger and its first commit',
    fresh: true,
    command: async (dir, ops, opened) => {
      const l = await openLedger(dir, { fsOps: ops });
      opened(l);
      await l.startRun(oneNode('target'));
    },
    expected: (done) => (done ? ['target'] : []),
    failureSays: /Nothing was recorded|nothing was recorded/,
  },
];

for (const scenario of scenarios) {
  test(`fault injection, ${scenario.name}: every failing file operation leaves all or nothing and a clear error`, async (t) => {
    const base = scenario.fresh ? tempDir('gascity-empty-') : await baseline();
    const tally: string[] = [];
    let total = 0;
    for (const fault of FAULTS) {
      let failures = 0;
      let n = 1;
      for (; n < 200; n++) {
        const dir = copyOf(base);
        const ops = withFault(nodeFsOps, fault, n);
        let ledger: Ledger | undefined;
        let error: unknown;
        try {
          await scenario.command(dir, ops, (l) => { ledger = l; });
        } catch (e) {
          error = e;
        }
        const where = `${fault} at operation ${n}`;
        const met = ops.fired();
        if (error !== undefined) {
          failures++;
          assert.ok(ops.fired(), `${where}: the command failed without meeting the fault: ${String(error)}`);
          assert.notEqual(fault, 'short-write', `${where}: a short write must be continued, not reported: ${String(error)}`);
          assert.ok(error instanceof LedgerError, `${where}: not a LedgerError: ${(error as Error).stack}`);
          assert.equal(error.code, 'io', `${where}: ${error.message}`);
          // The message names the file, what failed and the kernel's reason, and what became of the command.
          assert.match(error.message, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `${where}: the message names no file: ${error.message}`);
          assert.match(error.message, /ENOSPC|EIO/, `${where}: ${error.message}`);
          assert.match(error.message, scenario.failureSays, `${where}: ${error.message}`);
          assert.doesNotMatch(error.message, /\n\s+at /, `${where}: a stack trace in the message`);
        }
        assert.deepEqual(leftovers(dir), [], `${where}: files left behind`);
        const after = await inspect(dir);
        if (!met) assert.equal(error, undefined, `${where}: the command failed without meeting the fault`);
        assert.deepEqual(after.titles, scenario.expected(error === undefined), `${where}: not all or nothing (${String(error)})`);
        assertContiguous(after.seqs, where);
        // The same ledger object goes on working once the disk has room again.
        ops.spaceReturned();
        if (ledger && met) {
          await ledger.startRun(oneNode("next")).catch((e: Error) => { throw new Error(`${where}: the retry failed: ${e.message}`); });
          ledger.close();
          const later = await inspect(dir);
          assert.ok(later.titles.includes('next'), `${where}: the ledger did not take a commit after the failure`);
          assertContiguous(later.seqs, `${where}, then a commit`);
        }
        fs.rmSync(dir, { recursive: true, force: true });
        if (!met) {
          ledger?.close();
          break;
        }
      }
      assert.ok(n < 200, `${fault}: the command never completed`);
      tally.push(`${fault}: ${n - 1} faulted attempts, ${failures} reported`);
      total += failures;
    }
    assert.ok(total > 0, 'no attempt failed, so the test proved nothing');
    t.diagnostic(tally.join('; '));
  });
}

test('writeFileAtomic removes its temporary file on every failure and leaves the old content', () => {
  const dir = tempDir('gascity-atomic-');
  const file = path.join(dir, 'data.bin');
  fs.writeFileSync(file, 'old');
  for (const fault of FAULTS) {
    for (let n = 1; ; n++) {
      const ops = withFault(nodeFsOps, fault, n);
      try {
        writeFileAtomic(file, Buffer.alloc(100_000, 7), { ops });
        assert.equal(fs.statSync(file).size, 100_000);
      } catch (e) {
        assert.ok(e instanceof LedgerError);
        assert.match(e.message, /could not write .*data\.bin: .* failed: (ENOSPC|EIO)|fsync of its folder/);
        if (!/fsync of its folder/.test(e.message)) assert.equal(fs.readFileSync(file, 'utf8'), 'old');
      }
      assert.deepEqual(fs.readdirSync(dir), ['data.bin']);
      fs.writeFileSync(file, 'old');
      if (!ops.fired()) break;
    }
  }
});
