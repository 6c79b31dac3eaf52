// Every process that writes runs an archive batch's statements once off the lock before its first write
// (Ledger.rehearseArchive, StoreOptions.warmUp), so that the first `runs.archived` another process commits
// is applied, in this one's catch-up under the lock, without compiling statements or running cold code
// there (issue 11: 26-88 ms under the lock against 5-10 ms for the next batches, bench/ledger.ts). These
// tests check that the batch's application compiles nothing, that a process whose first write came before
// any run was due rehearses once runs are due, and that the rehearsal leaves the tables as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../src/ledger/index';
import type { Ledger, LedgerOptions } from '../../src/ledger/index';
import { dumpTables, tempDir } from './helpers';

const DAY = 86_400_000;

async function cancelledRuns(ledger: Ledger, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { runId } = await ledger.startRun({ title: `old-${i}`, nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B', needs: ['a'] }] });
    await ledger.cancelRun({ runId, reason: 'test' });
    ids.push(runId);
  }
  return ids;
}

/** Two ledgers on one folder with one clock (ms since the epoch, changed by the test), retention 30 days. */
async function twoLedgers(): Promise<{ a: Ledger; b: Ledger; clock: { t: number }; dir: string; options: LedgerOptions }> {
  const dir = tempDir('gascity-rehearse-');
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const options: LedgerOptions = { now: () => new Date(clock.t), retentionDays: 30, checkpointEvery: 1_000_000 };
  const a = await openLedger(dir, options);
  const b = await openLedger(dir, options);
  return { a, b, clock, dir, options };
}

test("a writer applies another process's first archive batch without compiling a statement, and the batch is applied", async () => {
  const { a, b, clock } = await twoLedgers();
  try {
    const runs = await cancelledRuns(a, 25);
    clock.t += 40 * DAY;
    // b's first write: runs are due, so it rehearses an archive batch before taking the lock.
    await b.startRun({ title: 'b first', nodes: [{ key: 'a', title: 'A' }] });
    const row = b.getRun(runs[0]!);
    assert.ok(row, 'b reads the run');
    assert.equal(row.archivedIn, undefined, 'the rehearsal archived nothing');
    const result = await a.archiveRuns();
    assert.equal(result.archived, 25);
    const before = b.sql.prepared;
    await b.refresh();
    assert.equal(b.sql.prepared - before, 0, 'applying the archive batches compiled statements');
    for (const runId of runs) assert.ok(b.getRun(runId)?.archivedIn, `run ${runId} is archived in b`);
  } finally {
    a.close();
    b.close();
  }
});

test('a writer whose first write came before any run was due rehearses once runs are due', async () => {
  const { a, b, clock } = await twoLedgers();
  try {
    const runs = await cancelledRuns(a, 5);
    await b.startRun({ title: 'b first', nodes: [{ key: 'a', title: 'A' }] });
    clock.t += 40 * DAY;
    // The store asks again with its free-page check, every 64 batches.
    for (let i = 0; i < 64; i++) await b.recordEvidence({ runId: runs[0]!, kind: 'note', note: `n${i}` });
    await a.refresh();
    await a.archiveRuns();
    const before = b.sql.prepared;
    await b.refresh();
    assert.equal(b.sql.prepared - before, 0, 'applying the archive batch compiled statements');
    assert.ok(b.getRun(runs[4]!)?.archivedIn, 'the batch was applied');
  } finally {
    a.close();
    b.close();
  }
});

test('the rehearsal leaves the tables as they were, and nothing of it reaches the journal or a reopened ledger', async () => {
  const { a, b, clock, dir, options } = await twoLedgers();
  try {
    await cancelledRuns(a, 25);
    clock.t += 40 * DAY;
    const runs = b.sql.prepared;
    await b.startRun({ title: 'b first', nodes: [{ key: 'a', title: 'A' }] });
    assert.ok(b.sql.prepared - runs >= 15, 'b rehearsed (compiled the batch\'s statements) before its first write');
    await a.refresh();
    const c = await openLedger(dir, { ...options, retentionDays: null });
    try {
      assert.deepEqual(dumpTables(b.sql), dumpTables(c.sql), 'b after its rehearsal equals a ledger reopened from the files');
      assert.deepEqual(dumpTables(a.sql), dumpTables(c.sql));
      assert.equal(c.store.seq, b.store.seq);
      assert.equal(c.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs WHERE archive IS NULL')?.n, 26, 'every run is still in the tables, none archived');
    } finally {
      c.close();
    }
  } finally {
    a.close();
    b.close();
  }
});
