import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import initSqlJs from 'sql.js';
import { openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { ledgerProjection } from '../../src/ledger/projection';
import { replay, SNAPSHOT_FILE, JOURNAL_FILE } from '../../src/ledger/store/store';
import { encodeLine } from '../../src/ledger/store/journal';
import { LOG_DIR, listSegments } from '../../src/ledger/store/eventLog';
import { ARCHIVE_DIR, archiveDigest } from '../../src/ledger/archive';
import { hotBytes } from '../../src/ledger/ledger';
import { FormulaService } from '../../src/ledger/families';
import { variantStandings } from '../../src/ledger/variantStanding';
import { recentArm } from '../../src/ledger/promotion/measurement';
import { falseDoneRate, recordCheckedOutcome } from '../../src/ledger/outcome';
import { CHECKED_FORMULA, dumpTables, failingCheck, passingCheck, tempDir } from './helpers';

const DAY = 86_400_000;

/** A run of three chained nodes, worked to its end by `worker` (done, or the last one failed). */
async function finishedRun(ledger: Ledger, title: string, ok = true): Promise<string> {
  const { runId, nodeIds } = await ledger.startRun({
    title, taskKey: title,
    nodes: [{ key: 'plan', title: 'Plan' }, { key: 'build', title: 'Build', needs: ['plan'] }, { key: 'check', title: 'Check', needs: ['build'] }],
  });
  for (const [i, nodeId] of nodeIds.entries()) {
    await ledger.claimNode({ worker: 'w', nodeId, leaseSeconds: 600 });
    await ledger.dispatchNode({ nodeId, worker: 'w', threadId: `t-${title}-${i}` });
    await ledger.reportNode({ nodeId, worker: 'w', outcome: ok || i < nodeIds.length - 1 ? 'done' : 'failed', summary: `${title} step ${i}`, tokens: 100 });
  }
  await ledger.recordEvidence({ runId, kind: 'run_outcome', success: ok, note: `${title} checked` });
  return runId;
}

async function eventsInSnapshot(dir: string): Promise<number> {
  const SQL = await initSqlJs();
  const db = new SQL.Database(fs.readFileSync(path.join(dir, SNAPSHOT_FILE)));
  try {
    return Number(db.exec('SELECT count(*) FROM events')[0]!.values[0]![0]);
  } finally {
    db.close();
  }
}

test('a checkpoint moves its events to the log: the snapshot holds none, every event is still read back in order, and replay equals the tables', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { checkpointEvery: 7, retentionDays: null });
  try {
    for (let i = 0; i < 4; i++) await finishedRun(ledger, `run-${i}`);
    await ledger.store.checkpoint();
    assert.equal(await eventsInSnapshot(dir), 0, 'the snapshot holds the projection only');
    assert.ok(listSegments(dir).length >= 2, 'several checkpoints wrote several segments');
    const all = ledger.events(0, 100_000);
    assert.deepEqual(all.map((e) => e.seq), Array.from({ length: ledger.seq }, (_, i) => i + 1));
    assert.equal(all[0]!.kind, 'run.started');
    // Paging across the segment boundaries gives the same events.
    const paged = [];
    for (let after = 0; ;) {
      const page = ledger.events(after, 5);
      paged.push(...page);
      if (page.length < 5) break;
      after = page[page.length - 1]!.seq;
    }
    assert.deepEqual(paged, all);
    const rebuilt = await replay(ledgerProjection, ledger.iterateEvents(0));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(ledger.sql));
    rebuilt.close();
    // Another process opening the folder reads the same history.
    const other = await openLedger(dir);
    assert.deepEqual(other.events(0, 100_000), all);
    other.close();
  } finally {
    ledger.close();
  }
});

test('a snapshot written by an earlier version (events in its table) has them moved to the log at open', async () => {
  const dir = tempDir();
  const first = await openLedger(dir, { retentionDays: null });
  for (let i = 0; i < 3; i++) await finishedRun(first, `old-${i}`);
  const events = first.events(0, 100_000);
  const tables = dumpTables(first.sql);
  first.close();
  // As the earlier version left it: every event in the snapshot's events table, an empty journal after it.
  const sql = await replay(ledgerProjection, events);
  for (const e of events) sql.run('INSERT INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)', [e.seq, e.ts, e.actor, e.kind, JSON.stringify(e.payload)]);
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('seq', ?)", [String(events.length)]);
  sql.run("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", [String(ledgerProjection.schemaVersion)]);
  fs.rmSync(path.join(dir, LOG_DIR), { recursive: true, force: true });
  fs.writeFileSync(path.join(dir, SNAPSHOT_FILE), sql.export());
  sql.close();
  fs.writeFileSync(path.join(dir, JOURNAL_FILE), encodeLine({ journal: 'old', base: events.length, format: 1 }));
  const ledger = await openLedger(dir, { retentionDays: null });
  try {
    assert.deepEqual(ledger.events(0, 100_000), events);
    assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM events')!.n, 0, 'nothing of the history stays in memory');
    assert.deepEqual(listSegments(dir).map((s) => [s.from, s.to]), [[1, events.length]]);
    assert.deepEqual(dumpTables(ledger.sql), tables);
    await finishedRun(ledger, 'new');
    await ledger.store.checkpoint();
    assert.equal(await eventsInSnapshot(dir), 0);
    assert.equal(ledger.events(0, 100_000).length, ledger.seq);
  } finally {
    ledger.close();
  }
});

test('a lost log segment is reported, naming the missing events, not read as a shorter history', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { checkpointEvery: 5, retentionDays: null });
  try {
    for (let i = 0; i < 3; i++) await finishedRun(ledger, `r${i}`);
    await ledger.store.checkpoint();
    const segs = listSegments(dir);
    fs.rmSync(segs[1]!.file);
    assert.throws(() => ledger.events(0, 100_000), (e: Error) => e.name === 'LedgerError' && /no segment for events \d+-\d+/.test(e.message) && /restore the log folder/.test(e.message));
    assert.throws(() => [...ledger.iterateEvents(0)], /no segment for events/);
    // What comes after the lost segment is still read.
    assert.equal(ledger.events(segs[1]!.to, 1)[0]!.seq, segs[1]!.to + 1);
  } finally {
    ledger.close();
  }
});

test('finished runs past the retention move to the archive: their graphs, rows and evidence leave the tables and are read back whole by id; replay is unchanged', async () => {
  const dir = tempDir();
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const ledger = await openLedger(dir, { now: () => new Date(clock.t), retentionDays: 30 });
  try {
    const old = [await finishedRun(ledger, 'old-1'), await finishedRun(ledger, 'old-2', false)];
    const oldGraphs = old.map((id) => ledger.runGraph(id)!);
    clock.t += 40 * DAY;
    const recent = await finishedRun(ledger, 'recent');
    const running = (await ledger.startRun({ title: 'running', nodes: [{ key: 'a', title: 'A' }] })).runId;
    const evidenceBefore = ledger.evidence({ limit: 1000 });
    const listBefore = ledger.listRuns({ limit: 100 }).map((r) => r.id);

    const rowsBefore = old.map((id) => ledger.getRun(id)!);
    const result = await ledger.archiveRuns();
    assert.equal(result.archived, 2);
    // Runs of no variant count in no window of the promotion rule: their rows leave too.
    assert.equal(result.evicted, 2);
    assert.equal(result.files.length, 1);
    assert.ok(fs.existsSync(path.join(dir, ARCHIVE_DIR, result.files[0]!)));
    // The graphs and the run rows left the tables; each run is still found by id, as it was; its evidence stayed.
    for (const [i, id] of old.entries()) {
      assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM nodes WHERE run_id = ?', [id])!.n, 0);
      assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM edges WHERE run_id = ?', [id])!.n, 0);
      assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM runs WHERE id = ?', [id])!.n, 0);
      assert.deepEqual(ledger.getRun(id), { ...rowsBefore[i], archivedIn: result.files[0] });
    }
    assert.equal(ledger.getRun(old[1]!)!.outcome, 'failure');
    // The list holds the runs in memory: the archived ones are gone from it, the others are in the same order.
    assert.deepEqual(ledger.listRuns({ limit: 100 }).map((r) => r.id), listBefore.filter((id) => !old.includes(id)));
    // Their evidence moved with them: read by run it is as it was; the list of evidence in memory holds the rest.
    for (const id of old) assert.deepEqual(ledger.evidence({ runId: id }), evidenceBefore.filter((e) => e.runId === id));
    assert.deepEqual(ledger.evidence({ limit: 1000 }), evidenceBefore.filter((e) => !old.includes(e.runId!)));
    // An archived run's graph is read back exactly as it was.
    for (const [i, id] of old.entries()) {
      const g = ledger.runGraph(id)!;
      assert.deepEqual({ nodes: g.nodes, edges: g.edges, bindings: g.bindings }, { nodes: oldGraphs[i]!.nodes, edges: oldGraphs[i]!.edges, bindings: oldGraphs[i]!.bindings });
    }
    // Not archived: a run finished within the retention, and a running one.
    assert.equal(ledger.getRun(recent)!.archivedIn, undefined);
    assert.equal(ledger.getRun(running)!.archivedIn, undefined);
    assert.equal(ledger.runGraph(running)!.nodes.length, 1);
    // Nothing more is due: a second call archives nothing and commits nothing.
    const seq = ledger.seq;
    assert.equal((await ledger.archiveRuns()).archived, 0);
    assert.equal(ledger.seq, seq);
    // An archived run can be read, not changed: evidence about it is refused, naming the run and its archive file.
    await assert.rejects(ledger.recordEvidence({ runId: old[0]!, kind: 'note', note: 'looked again' }),
      (e: Error & { code?: string; field?: string }) => e.code === 'conflict' && e.field === 'runId' && e.message.includes(old[0]!) && e.message.includes(result.files[0]!));
    await assert.rejects(ledger.cancelRun({ runId: old[0]! }), /is archived/);
    // Both are found by id through the index of archived rows, which a new run id is drawn against.
    assert.equal(ledger.sql.get<{ n: number }>('SELECT count(*) AS n FROM archived_runs')!.n, 2);
    // Replaying every event rebuilds the same hot tables; another process sees the same.
    const rebuilt = await replay(ledgerProjection, ledger.iterateEvents(0));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(ledger.sql));
    rebuilt.close();
    const other = await openLedger(dir);
    assert.deepEqual(other.runGraph(old[0]!)!.nodes, oldGraphs[0]!.nodes);
    other.close();
    // A lost archive file is an error naming it, not an empty graph.
    fs.rmSync(path.join(dir, ARCHIVE_DIR), { recursive: true });
    assert.throws(() => ledger.runGraph(old[0]!), (e: Error) => e.name === 'LedgerError' && e.message.includes(result.files[0]!) && /restore the archive/.test(e.message));
  } finally {
    ledger.close();
  }
});

test('runs are archived automatically after a checkpoint once past the retention', async () => {
  const dir = tempDir();
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const ledger = await openLedger(dir, { now: () => new Date(clock.t), retentionDays: 7, checkpointEvery: 1_000 });
  try {
    const old = await finishedRun(ledger, 'old');
    clock.t += 8 * DAY;
    const changed = new Promise<void>((resolve) => {
      const sub = ledger.onDidChange((c) => {
        if (c.events.some((e) => e.kind === 'runs.archived')) { sub.dispose(); resolve(); }
      });
    });
    await ledger.store.checkpoint();
    await changed;
    assert.ok(ledger.getRun(old)!.archivedIn);
    assert.equal(ledger.lastArchiveError, undefined);
  } finally {
    ledger.close();
  }
});

test('bad archive ages are refused by name; over the memory limit new runs are refused with what to do, and archiving still works', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir, { retentionDays: null, hotLimitBytes: 1 });
  try {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(ledger.archiveRuns({ olderThanDays: bad }), (e: Error & { field?: string }) => e.name === 'LedgerError' && e.field === 'olderThanDays');
    }
    const seq = ledger.seq;
    await assert.rejects(ledger.startRun({ title: 'x', nodes: [{ key: 'a', title: 'A' }] }),
      (e: Error) => e.name === 'LedgerError' && /over its 0 MiB limit/.test(e.message) && /gascity archive/.test(e.message));
    assert.equal(ledger.seq, seq, 'the refused run wrote nothing');
    assert.equal((await ledger.archiveRuns({ olderThanDays: 0 })).archived, 0);
  } finally {
    ledger.close();
  }
});

test('the memory limit is measured every few writes while far below it, and a write that crosses it stops the next ones within that many', async () => {
  const dir = tempDir();
  const probe = await openLedger(dir, { retentionDays: null });
  const start = hotBytes(probe.sql);
  probe.close();
  // A limit 3 MiB above what the tables hold now: the first write is measured far below it, and the next fifteen
  // (400 KiB each) are not measured until the sixteenth, well past it.
  const limit = start + 3 * 1048576;
  const ledger = await openLedger(dir, { retentionDays: null, hotLimitBytes: limit });
  try {
    let crossedAt: number | undefined;
    let refusedAt: number | undefined;
    for (let i = 0; i < 400 && refusedAt === undefined; i++) {
      try {
        await ledger.startRun({ title: `run ${i}`, nodes: Array.from({ length: 20 }, (_, k) => ({ key: `n${k}`, title: 'N', instructions: `${i}.${k} ${'x'.repeat(19_990)}` })) });
      } catch (e) {
        assert.match((e as Error).message, /over its \d+ MiB limit/);
        refusedAt = i;
      }
      if (crossedAt === undefined && hotBytes(ledger.sql) > limit) crossedAt = i;
    }
    assert.ok(crossedAt !== undefined && refusedAt !== undefined, `the tables crossed the limit (at ${crossedAt}) and a write was refused (at ${refusedAt})`);
    assert.ok(refusedAt - crossedAt >= 1 && refusedAt - crossedAt <= 16, `refused ${refusedAt - crossedAt} writes after the tables crossed the limit`);
  } finally {
    ledger.close();
  }
});

test("a variant's newest runs keep their rows while older ones move out with their evidence; its counts, false-done rate, promotion windows and every run's graph and evidence read the same", async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'formulas'));
  fs.writeFileSync(path.join(dir, 'formulas', 'fix.formula.toml'), CHECKED_FORMULA);
  const ledger = await openLedger(path.join(dir, '.gascity', 'ledger'), { retentionDays: null, hotRunsPerVariant: 2 });
  try {
    const formulas = new FormulaService(ledger, { workspaceDir: dir });
    assert.deepEqual((await formulas.importFormulas(path.join(dir, 'formulas'))).problems, []);
    const variant = formulas.getFamily('fix')!.activeVariantId!;
    const work = async (ok: boolean): Promise<string> => {
      const { runId, nodeIds } = await formulas.startRunFromFormula({ family: 'fix' });
      await ledger.claimNode({ worker: 'w', nodeId: nodeIds[0], leaseSeconds: 600 });
      await ledger.reportNode({ nodeId: nodeIds[0]!, worker: 'w', outcome: 'done', summary: 'did it', tokens: 10 });
      // What a controller records about a run: a person's help, and the checks, which decide the outcome (a failed one is a false done).
      await ledger.recordEvidence({ runId, kind: 'intervention', interventions: 1, tokens: 7, note: 'a person stepped in' });
      await recordCheckedOutcome(ledger, runId, [ok ? passingCheck : failingCheck]);
      return runId;
    };
    const runs = [await work(true), await work(false), await work(true), await work(true), await work(false)];
    const seen = () => ({
      variants: formulas.listVariants('fix').map((v) => [v.runs, v.finishedRuns, v.successes]),
      standings: variantStandings(ledger.sql, { familyId: 'fix' }).map((v) => [v.runs, v.finishedRuns, v.successes, v.evidence, v.interventions, v.tokens]),
      recent: recentArm(ledger.sql, variant, 2),
      falseDone: falseDoneRate(ledger, variant),
    });
    const before = seen();
    assert.deepEqual(before.variants, [[5, 5, 3]]);
    assert.deepEqual(before.standings, [[5, 5, 3, 3 * 4 + 2 * 5, 5, 5 * 7]]);
    assert.deepEqual(before.falseDone, { reportedDone: 5, falseDone: 2, rate: 0.4 });
    const rows = new Map(runs.map((id) => [id, ledger.getRun(id)!]));
    const evidence = new Map(runs.map((id) => [id, ledger.evidence({ runId: id })]));
    const graphs = new Map(runs.map((id) => [id, ledger.runGraph(id)!.nodes]));
    const later = new Date(Date.now() + DAY);

    const first = await ledger.archiveRuns({ before: later });
    assert.deepEqual([first.archived, first.evicted], [5, 3]);
    // The two newest keep their rows (their graphs are archived); the three older rows moved out.
    assert.deepEqual(ledger.listRuns().map((r) => r.id), [runs[4], runs[3]]);
    assert.deepEqual(seen(), before);
    // The moved runs' evidence left the table with them, and is read back from the archive as it was.
    assert.equal(ledger.sql.get<{ n: number }>(`SELECT count(*) AS n FROM evidence WHERE run_id IN (?, ?, ?)`, runs.slice(0, 3))!.n, 0);
    for (const id of runs) {
      assert.deepEqual(ledger.getRun(id), { ...rows.get(id), archivedIn: first.files[0] });
      assert.deepEqual(ledger.runGraph(id)!.nodes, graphs.get(id));
      assert.deepEqual(ledger.evidence({ runId: id }), evidence.get(id));
    }
    assert.deepEqual(ledger.evidence({ runId: runs[1]!, limit: 1 }), evidence.get(runs[1]!)!.slice(0, 1));

    // Two newer runs push the two kept rows out of the window: their rows move to the next file, their graphs stay where they were.
    runs.push(await work(true), await work(true));
    const second = await ledger.archiveRuns({ before: new Date(Date.now() + DAY) });
    assert.deepEqual([second.archived, second.evicted], [2, 2]);
    assert.deepEqual(ledger.listRuns().map((r) => r.id), [runs[6], runs[5]]);
    assert.deepEqual(formulas.listVariants('fix').map((v) => [v.runs, v.finishedRuns, v.successes]), [[7, 7, 5]]);
    const standing = variantStandings(ledger.sql, { familyId: 'fix' }).map((v) => [v.runs, v.finishedRuns, v.successes, v.evidence, v.interventions, v.tokens]);
    // Evidence: 4 rows a passed run (intervention, model report, check, outcome), 5 a failed one (and its false done).
    assert.deepEqual(standing, [[7, 7, 5, 5 * 4 + 2 * 5, 7, 7 * 7]]);
    assert.deepEqual(falseDoneRate(ledger, variant), { reportedDone: 7, falseDone: 2, rate: 2 / 7 });
    for (const id of [runs[3]!, runs[4]!]) {
      assert.deepEqual(ledger.getRun(id), { ...rows.get(id), archivedIn: first.files[0] });
      assert.deepEqual(ledger.runGraph(id)!.nodes, graphs.get(id));
      assert.deepEqual(ledger.evidence({ runId: id }), evidence.get(id));
    }
    // Nothing left to move: no commit.
    const seq = ledger.seq;
    assert.deepEqual([(await ledger.archiveRuns({ before: new Date(Date.now() + DAY) })).evicted, ledger.seq], [0, seq]);
    // Replaying every event rebuilds the same tables, archived rows and counts included; another process reads the same.
    const rebuilt = await replay(ledgerProjection, ledger.iterateEvents(0));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(ledger.sql));
    rebuilt.close();
    const other = await openLedger(path.join(dir, '.gascity', 'ledger'), { retentionDays: null });
    assert.deepEqual(other.getRun(runs[0]!), ledger.getRun(runs[0]!));
    other.close();
  } finally {
    ledger.close();
  }
});

test('two archivers at once (files written before the lock) archive each run once, and every file an event names is there with its digest', async () => {
  const dir = tempDir();
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const first = await openLedger(dir, { now: () => new Date(clock.t), retentionDays: null });
  const second = await openLedger(dir, { now: () => new Date(clock.t), retentionDays: null });
  try {
    const runs: string[] = [];
    for (let i = 0; i < 5; i++) runs.push(await finishedRun(first, `old-${i}`));
    clock.t += 40 * DAY;
    const [a, b] = await Promise.all([first.archiveRuns({ olderThanDays: 30 }), second.archiveRuns({ olderThanDays: 30 })]);
    assert.equal(a.archived + b.archived, 5);
    await first.refresh();
    const named = first.events(0, 100_000).filter((e) => e.kind === 'runs.archived').map((e) => e.payload as { runIds: string[]; archive: string; sha256: string });
    assert.deepEqual(named.flatMap((e) => e.runIds).sort(), [...runs].sort());
    for (const e of named) assert.equal(archiveDigest(dir, e.archive), e.sha256);
    for (const id of runs) assert.equal(first.runGraph(id)!.nodes.length, 3);
  } finally {
    first.close();
    second.close();
  }
});
