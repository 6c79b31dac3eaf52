// The archiving commit skips preparing its batch a second time under the lock when the run watch
// (archive.ts, watchRuns) recorded no change to the batch's runs since it was prepared without the lock
// (issue 11: that preparation was half of each archive commit's hold of the lock). These tests check
// that the watch sees other processes' changes, goes stale when it must, never reaches the snapshot,
// and that no change another process made to a run while it was being archived is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import initSqlJs from 'sql.js';
import { openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { archivedRunFile, pauseRunWatch, readArchivedRun, runsUntouched, unwatchRuns, watchRuns } from '../../src/ledger/archive';
import { SNAPSHOT_FILE } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

const DAY = 86_400_000;
const NOTER = path.join(__dirname, 'archiveWatchWriter.ts');

async function cancelledRuns(ledger: Ledger, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { runId } = await ledger.startRun({ title: `old-${i}`, nodes: [{ key: 'a', title: 'A' }] });
    await ledger.cancelRun({ runId, reason: 'test' });
    ids.push(runId);
  }
  return ids;
}

test('the run watch sees another process\'s change to a run, goes stale when paused or ended, and never reaches the snapshot', async () => {
  const dir = tempDir('gascity-watch-');
  const a = await openLedger(dir, { retentionDays: null, checkpointEvery: 1_000_000 });
  const b = await openLedger(dir, { retentionDays: null, checkpointEvery: 1_000_000 });
  try {
    const [r0, r1, r2] = await cancelledRuns(a, 3);
    await b.refresh();
    const mark = watchRuns(a.sql);
    assert.equal(runsUntouched(a.sql, mark, [r0!, r1!, r2!]), true, 'nothing changed yet');
    await b.recordEvidence({ runId: r1!, kind: 'note', note: 'late' });
    await a.refresh();
    assert.equal(runsUntouched(a.sql, mark, [r1!]), false, 'evidence on r1 (applied by the catch-up) is a change to r1');
    assert.equal(runsUntouched(a.sql, mark, [r0!, r2!]), true, 'r0 and r2 did not change');
    // A mark taken now starts after that change.
    const later = watchRuns(a.sql);
    assert.equal(runsUntouched(a.sql, later, [r1!]), true);
    pauseRunWatch(a.sql);
    assert.equal(runsUntouched(a.sql, later, [r0!]), false, 'a paused watch records nothing, so its marks are stale');
    const resumed = watchRuns(a.sql);
    assert.equal(runsUntouched(a.sql, resumed, [r0!]), true);
    await a.store.checkpoint();
    assert.equal(runsUntouched(a.sql, resumed, [r0!]), true, 'a checkpoint keeps the watch');
    const SQL = await initSqlJs();
    const db = new SQL.Database(fs.readFileSync(path.join(dir, SNAPSHOT_FILE)));
    try {
      assert.deepEqual(db.exec("SELECT name FROM sqlite_master WHERE name LIKE 'archive_watch%' OR name = 'archive_touched'"), [], 'the watch is in the snapshot');
    } finally {
      db.close();
    }
    unwatchRuns(a.sql);
    assert.equal(runsUntouched(a.sql, resumed, [r0!]), false, 'an ended watch says nothing');
    assert.deepEqual(a.sql.all("SELECT name FROM sqlite_temp_master WHERE name LIKE 'archive_%'"), []);
  } finally {
    a.close();
    b.close();
  }
});

test('notes another process records on runs while they are archived are all kept: in the tables or on the run\'s archive line', { timeout: 180_000 }, async () => {
  const dir = tempDir('gascity-watch-');
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const a = await openLedger(dir, { now: () => new Date(clock.t), retentionDays: null, checkpointEvery: 1_000_000 });
  try {
    // Several batches (ARCHIVE_BATCH runs each); runs of no variant leave `runs` with their graph, evidence included.
    const runs = await cancelledRuns(a, 130);
    clock.t += 40 * DAY;
    const stop = path.join(dir, 'stop');
    const child = spawn(process.execPath, ['--import', 'tsx', NOTER, dir, stop, ...runs], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const acked = () => out.split('\n').filter((l) => l.startsWith('r-')).length;
    for (const t0 = Date.now(); !out.includes('ready') || acked() < 20; ) {
      assert.ok(Date.now() - t0 < 60_000, `the noter did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const before = acked();
    const result = await a.archiveRuns({ olderThanDays: 30 });
    fs.writeFileSync(stop, '');
    assert.equal(await exited, 0, err);
    assert.equal(result.archived, 130);
    assert.ok(acked() > before, 'the noter recorded nothing while the runs were archived');
    await a.refresh();
    for (const line of out.split('\n').filter((l) => l.startsWith('r-'))) {
      const [runId, note] = line.split(' ') as [string, string];
      const hot = a.sql.get('SELECT 1 FROM evidence WHERE run_id = ? AND note = ?', [runId, note]);
      if (hot) continue;
      const file = archivedRunFile(a.sql, runId);
      assert.ok(file, `note ${note} of ${runId} is in neither the tables nor an archive`);
      const archived = readArchivedRun(dir, file, runId);
      assert.ok(archived.evidence?.some((e) => e.note === note), `note ${note} of ${runId} is missing from its archive line ${file}`);
    }
  } finally {
    a.close();
  }
});
