// The single-commit path (branch commit3): events served from the journal instead of the events table,
// batches as savepoints in one long in-memory transaction, run starts that insert ready nodes directly,
// and a linear check of a plan's graph. Each test asserts what a reader of the ledger sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError, openLedger } from '../../src/ledger/index';
import type { Ledger, StoredEvent } from '../../src/ledger/index';
import { ledgerProjection } from '../../src/ledger/projection';
import { JOURNAL_FILE, replay } from '../../src/ledger/store/store';
import { encodeLine, scanCommitLines } from '../../src/ledger/store/journal';
import { nodeFsOps, withFault } from '../../src/ledger/store/fsOps';
import { dumpTables, exited, spawnWriter, tempDir } from './helpers';

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });

/** The ledger's tables equal a replay of every event it serves: the projection's definition. */
async function assertReplayEquals(ledger: Ledger): Promise<void> {
  const rebuilt = await replay(ledgerProjection, ledger.iterateEvents(0));
  try {
    assert.deepEqual(dumpTables(ledger.sql), dumpTables(rebuilt));
  } finally {
    rebuilt.close();
  }
}

/** A new process opening `dir` reads the tables `ledger` holds. */
async function assertReopenedEquals(dir: string, ledger: Ledger): Promise<void> {
  const reopened = await openLedger(dir, { actor: 'r' });
  try {
    assert.deepEqual(dumpTables(reopened.sql), dumpTables(ledger.sql));
  } finally {
    reopened.close();
  }
}

function eventRows(ledger: Ledger): number {
  return ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM events')!.n;
}

test('events committed since the last checkpoint are read from the journal, in order and whole, and the events table holds none', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't', checkpointEvery: 1_000_000 });
  try {
    const heard: StoredEvent[] = [];
    const sub = ledger.onDidChange((c) => heard.push(...c.events));
    const runIds: string[] = [];
    for (let i = 0; i < 40; i++) runIds.push((await ledger.startRun({ ...oneNode(`run ${i}`), vars: { i, text: 'é✓ "quoted"\n' } })).runId);
    sub.dispose();
    assert.equal(eventRows(ledger), 0, 'a commit copies nothing into the events table');
    const all = ledger.events(0, 1000);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 40 }, (_, i) => i + 1));
    assert.deepEqual(all, heard, 'what is served is what the listeners heard at commit');
    assert.deepEqual(all.map((e) => (e.payload as { runId: string }).runId), runIds);
    assert.deepEqual((all[7]!.payload as { vars: unknown }).vars, { i: 7, text: 'é✓ "quoted"\n' });
    // Pages from the middle of the journal: the line index starts at the line holding after + 1.
    assert.deepEqual(ledger.events(17, 5).map((e) => e.seq), [18, 19, 20, 21, 22]);
    assert.deepEqual(ledger.events(39, 100).map((e) => e.seq), [40]);
    assert.deepEqual(ledger.events(40, 100), []);
    // Across a checkpoint: the first 40 are in the log now, the next ones in the new journal.
    await ledger.store.checkpoint();
    for (let i = 40; i < 45; i++) await ledger.startRun(oneNode(`run ${i}`));
    assert.deepEqual(ledger.events(0, 1000).map((e) => e.seq), Array.from({ length: 45 }, (_, i) => i + 1));
    assert.deepEqual(ledger.events(38, 4).map((e) => e.seq), [39, 40, 41, 42]);
    await assertReplayEquals(ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch of several commits in one line, and lines another process wrote, are served whole from the journal', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't', checkpointEvery: 1_000_000 });
  try {
    // Eight writes issued at once share one journal line (group commit).
    await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.startRun(oneNode(`together ${i}`))));
    const child = spawnWriter(dir, 'other', 30);
    assert.equal(await exited(child), 0);
    await ledger.refresh();
    await ledger.startRun(oneNode('after the other'));
    const all = ledger.events(0, 1000);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: 39 }, (_, i) => i + 1));
    assert.equal(all.filter((e) => e.actor === 'writer:other').length, 30);
    assert.deepEqual(ledger.events(3, 2).map((e) => e.seq), [4, 5], 'a page that starts inside a line of eight');
    assert.equal(eventRows(ledger), 0);
    // A fresh process reads the same history from the same journal.
    const reader = await openLedger(dir, { actor: 'r' });
    try {
      assert.deepEqual(reader.events(0, 1000), all);
    } finally {
      reader.close();
    }
    await assertReplayEquals(ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a write refused after more batches than one SQLite transaction holds leaves every batch before it; replay equals the tables', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't', checkpointEvery: 1_000_000 });
  try {
    // 150 single commits cross the long transaction's commit twice (every 64 batches).
    for (let i = 0; i < 150; i++) await ledger.startRun(oneNode(`run ${i}`));
    await assert.rejects(ledger.startRun({ ...oneNode('bad'), variantId: 'v-missing' }), (e: unknown) => e instanceof LedgerError && /v-missing/.test(e.message));
    // A refused write among writes issued together is rolled back alone.
    const mixed = await Promise.allSettled([
      ledger.startRun(oneNode('kept 1')),
      ledger.startRun({ ...oneNode('refused'), familyId: 'f-missing' }),
      ledger.startRun(oneNode('kept 2')),
    ]);
    assert.deepEqual(mixed.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs')!.n, 152);
    assert.equal(ledger.sql.get<{ n: number }>("SELECT count(*) AS n FROM runs WHERE title IN ('bad', 'refused')")!.n, 0);
    await assertReplayEquals(ledger);
    // The snapshot a checkpoint writes holds the long transaction's work: a new process sees all of it.
    await ledger.store.checkpoint();
    await assertReopenedEquals(dir, ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed append rolls back its own batch only, and the tables and the served events agree with the journal', async () => {
  const dir = tempDir();
  const fault = withFault(nodeFsOps, 'fsync-error', 71);
  const ledger = await openLedger(dir, { actor: 't', checkpointEvery: 1_000_000, fsOps: fault });
  try {
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      try {
        await ledger.startRun(oneNode(`run ${i}`));
      } catch (e) {
        assert.ok(e instanceof LedgerError && /fdatasync failed/.test(e.message), String(e));
        failed++;
      }
    }
    assert.equal(failed, 1);
    assert.ok(fault.fired());
    assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs')!.n, 99);
    assert.deepEqual(ledger.events(0, 1000).map((e) => e.seq), Array.from({ length: 99 }, (_, i) => i + 1));
    await assertReplayEquals(ledger);
    await assertReopenedEquals(dir, ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a journal line changed under a reader after it was read is reported as damage by the events it serves, not served wrong', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't', checkpointEvery: 1_000_000 });
  try {
    for (let i = 0; i < 5; i++) await ledger.startRun(oneNode(`run ${i}`));
    assert.equal(ledger.events(0, 10).length, 5);
    // Flip a byte inside the third commit line: its checksum no longer matches.
    const file = path.join(dir, JOURNAL_FILE);
    const bytes = fs.readFileSync(file);
    const lineStarts = [0];
    for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 10) lineStarts.push(i + 1);
    const at = lineStarts[3]! + 20;
    bytes[at] = bytes[at] === 0x61 ? 0x62 : 0x61;
    fs.writeFileSync(file, bytes);
    assert.throws(() => ledger.events(2, 10), (e: unknown) => e instanceof LedgerError && e.code === 'corrupt' && e.message.includes(file));
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a run start inserts nodes with nothing to wait for as ready, and gated, skipped and waiting nodes as before; replay equals the tables', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't' });
  try {
    const { runId } = await ledger.startRun({
      title: 'mixed',
      nodes: [
        { key: 'free', title: 'free' },
        { key: 'gated', title: 'gated', gate: { kind: 'human' } },
        { key: 'skip', title: 'skip', skipped: true },
        { key: 'afterSkip', title: 'after skip', needs: ['skip'] },
        { key: 'afterFree', title: 'after free', needs: ['free'] },
        { key: 'skipChain', title: 'skipped after skip', needs: ['skip'], skipped: true },
        { key: 'end', title: 'end', needs: ['skipChain', 'afterSkip'] },
      ],
    });
    const states = Object.fromEntries(ledger.sql.all<{ step_id: string; state: string }>('SELECT step_id, state FROM nodes WHERE run_id = ?', [runId]).map((r) => [r.step_id, r.state]));
    assert.deepEqual(states, { free: 'ready', gated: 'blocked', skip: 'skipped', afterSkip: 'ready', afterFree: 'pending', skipChain: 'skipped', end: 'pending' });
    assert.equal(ledger.sql.get<{ open_nodes: number }>('SELECT open_nodes FROM runs WHERE id = ?', [runId])!.open_nodes, 5);
    const allSkipped = await ledger.startRun({ title: 'nothing to do', nodes: [{ key: 'x', title: 'x', skipped: true }] });
    assert.deepEqual(ledger.sql.get('SELECT status, open_nodes, outcome FROM runs WHERE id = ?', [allSkipped.runId]), { status: 'done', open_nodes: 0, outcome: 'success' });
    await assertReplayEquals(ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a plan of 5,000 nodes in a chain is accepted, a ring of 5,000 is refused as a cycle, and a need named twice is refused by its field', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't' });
  try {
    const chain = Array.from({ length: 5000 }, (_, i) => ({ key: `s${i}`, title: `step ${i}`, needs: i === 0 ? [] : [`s${i - 1}`] }));
    const { nodeIds } = await ledger.startRun({ title: 'long chain', nodes: chain });
    assert.equal(nodeIds.length, 5000);
    assert.equal(ledger.sql.get<{ n: number }>("SELECT count(*) AS n FROM nodes WHERE state = 'ready'")!.n, 1);
    const ring = chain.map((n, i) => (i === 0 ? { ...n, needs: ['s4999'] } : n));
    await assert.rejects(ledger.startRun({ title: 'ring', nodes: ring }), (e: unknown) =>
      e instanceof LedgerError && e.field === 'nodes' && /the needs form a cycle through s0, s1, s2/.test(e.message));
    await assert.rejects(
      ledger.startRun({ title: 'twice', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B', needs: ['a', 'a'] }] }),
      (e: unknown) => e instanceof LedgerError && e.field === 'nodes.1.needs' && /"a" is named twice/.test(e.message));
    await assert.rejects(
      ledger.startRun({ title: 'unknown', nodes: [{ key: 'a', title: 'A', needs: ['zz'] }] }),
      (e: unknown) => e instanceof LedgerError && e.field === 'nodes.0.needs' && /"zz" is not a node of this plan/.test(e.message));
    assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs')!.n, 1, 'nothing of a refused plan was written');
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a write whose clock fails is refused alone, inside a batch or on its own, and the ledger goes on committing', async () => {
  const dir = tempDir();
  let failures = 0;
  const ledger = await openLedger(dir, {
    actor: 't',
    now: () => {
      if (failures > 0) {
        failures--;
        throw new Error('the clock broke');
      }
      return new Date();
    },
  });
  try {
    await ledger.startRun(oneNode('before'));
    failures = 1;
    await assert.rejects(ledger.startRun(oneNode('alone')), /the clock broke/);
    failures = 1;
    const together = await Promise.allSettled([ledger.startRun(oneNode('first')), ledger.startRun(oneNode('second'))]);
    assert.deepEqual(together.map((r) => r.status), ['rejected', 'fulfilled']);
    await ledger.startRun(oneNode('after'));
    assert.deepEqual(ledger.sql.all<{ title: string }>('SELECT title FROM runs ORDER BY created_seq').map((r) => r.title), ['before', 'second', 'after']);
    await assertReplayEquals(ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('scanCommitLines yields every whole line with its start however the reads cut the file, and stops before a line without its newline', () => {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'journal');
    const ev = (seq: number, text: string) => ({ seq, ts: '2026-12-01T00:00:00.000Z', actor: 'a', kind: 'run.cancelled', payload: { runId: 'r', text } });
    const lines = [
      encodeLine({ events: [ev(1, 'short')] }),
      encodeLine({ events: [ev(2, 'x'.repeat(5000)), ev(3, 'ü✓')] }),
      encodeLine({ events: [ev(4, '')] }),
    ];
    const torn = encodeLine({ events: [ev(5, 'torn')] }).slice(0, 30);
    fs.writeFileSync(file, lines.join('') + torn);
    const starts = [0, Buffer.byteLength(lines[0]!), Buffer.byteLength(lines[0]! + lines[1]!)];
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      for (const chunk of [1, 7, 64, 1 << 20]) {
        const got = [...scanCommitLines(fd, file, 0, size, chunk)];
        assert.deepEqual(got.map((l) => l.start), starts, `chunks of ${chunk} bytes`);
        assert.deepEqual(got.flatMap((l) => l.events.map((e) => e.seq)), [1, 2, 3, 4]);
        assert.equal((got[1]!.events[0]!.payload as { text: string }).text.length, 5000);
        assert.equal((got[1]!.events[1]!.payload as { text: string }).text, 'ü✓');
      }
      assert.deepEqual([...scanCommitLines(fd, file, starts[2]!, size, 7)].map((l) => l.start), [starts[2]]);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a caller's own transaction on the ledger's tables, rolled back, undoes only its own work, never commits the journal holds", async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { actor: 't', checkpointEvery: 1_000_000 });
  try {
    for (let i = 0; i < 10; i++) await ledger.startRun(oneNode(`run ${i}`));
    // As an archive's rehearsal does: BEGIN, change the tables, ROLLBACK.
    ledger.sql.run('BEGIN');
    ledger.sql.run('DELETE FROM nodes');
    ledger.sql.run('DELETE FROM runs');
    ledger.sql.run('ROLLBACK');
    assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs')!.n, 10);
    await ledger.startRun(oneNode('after the rehearsal'));
    ledger.sql.run('BEGIN');
    ledger.sql.run("UPDATE runs SET title = 'renamed'");
    ledger.sql.run('ROLLBACK');
    assert.equal(ledger.sql.get<{ n: number }>("SELECT count(*) AS n FROM runs WHERE title = 'renamed'")!.n, 0);
    await assertReplayEquals(ledger);
  } finally {
    ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
