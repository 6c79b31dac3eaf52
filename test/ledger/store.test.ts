import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { openLedger } from '../../src/ledger/index';
import { FileLock } from '../../src/ledger/store/lock';
import { JOURNAL_FILE, LOCK_FILE, SNAPSHOT_FILE } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });

test('a torn last journal line is dropped on open and cut off by the next writer', async () => {
  const dir = tempDir();
  const l = await openLedger(dir);
  await l.startRun(oneNode('kept'));
  l.close();
  const journal = path.join(dir, JOURNAL_FILE);
  const sizeBefore = fs.statSync(journal).size;
  fs.appendFileSync(journal, '0badc0de {"events":[{"seq":2,"ts":"x","actor":"y","kind":"run.star');
  const l2 = await openLedger(dir);
  try {
    assert.deepEqual(l2.listRuns().map((r) => r.title), ['kept']);
    await l2.startRun(oneNode('after'));
    assert.deepEqual(l2.listRuns().map((r) => r.title).sort(), ['after', 'kept']);
    assert.ok(fs.readFileSync(journal, 'utf8').endsWith('\n'));
    assert.ok(!fs.readFileSync(journal, 'utf8').includes('run.star"'), 'the torn bytes are gone');
    assert.ok(fs.statSync(journal).size > sizeBefore);
  } finally {
    l2.close();
  }
  const l3 = await openLedger(dir);
  assert.equal(l3.listRuns().length, 2);
  l3.close();
});

test('a complete journal line that fails its checksum stops the open with an error naming the file', async () => {
  const dir = tempDir();
  const l = await openLedger(dir);
  await l.startRun(oneNode('one'));
  await l.startRun(oneNode('two'));
  l.close();
  const journal = path.join(dir, JOURNAL_FILE);
  const text = fs.readFileSync(journal, 'utf8');
  fs.writeFileSync(journal, text.replace('"title":"one"', '"title":"ONE"'));
  await assert.rejects(openLedger(dir), (e: Error) => /journal .*journal\.ndjson is damaged at byte \d+/.test(e.message));
});

test('an unreadable snapshot is moved aside, never overwritten, and the error says where it went', async () => {
  const dir = tempDir();
  const l = await openLedger(dir);
  await l.startRun(oneNode('one'));
  await l.store.checkpoint();
  l.close();
  const snap = path.join(dir, SNAPSHOT_FILE);
  const garbage = Buffer.from('this is not an sqlite database, it was damaged by something');
  fs.writeFileSync(snap, garbage);
  await assert.rejects(openLedger(dir), (e: Error) => /snapshot .* is unreadable .* moved to .*ledger\.sqlite\.corrupt-/.test(e.message));
  const aside = fs.readdirSync(dir).filter((f) => f.startsWith(`${SNAPSHOT_FILE}.corrupt-`));
  assert.equal(aside.length, 1);
  assert.deepEqual(fs.readFileSync(path.join(dir, aside[0]!)), garbage);
});

test('checkpoints fold the journal into the snapshot and reopening gives the same ledger', async () => {
  const dir = tempDir();
  const l = await openLedger(dir, { checkpointEvery: 3 });
  for (let i = 0; i < 10; i++) await l.startRun(oneNode(`run ${i}`));
  const seq = l.seq;
  l.close();
  assert.ok(fs.existsSync(path.join(dir, SNAPSHOT_FILE)));
  const journalLines = fs.readFileSync(path.join(dir, JOURNAL_FILE), 'utf8').trim().split('\n');
  assert.equal(journalLines.length, 1 + (10 % 3), 'header plus the commits since the last checkpoint');
  const l2 = await openLedger(dir);
  assert.equal(l2.seq, seq);
  assert.equal(l2.listRuns().length, 10);
  l2.close();
});

test('a lock left by a dead process is broken; a live holder makes the writer wait', async () => {
  const dir = tempDir();
  const l = await openLedger(dir, { lockTimeoutMs: 2000 });
  try {
    // A pid that existed and is gone now.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: Number(dead), host: os.hostname(), token: 'stale', at: Date.now() }));
    await l.startRun(oneNode('after stale lock'));
    assert.equal(l.listRuns().length, 1);
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));

    const holder = new FileLock(path.join(dir, LOCK_FILE));
    await holder.acquire();
    const started = Date.now();
    const pending = l.startRun(oneNode('waited'));
    setTimeout(() => holder.release(), 200);
    await pending;
    assert.ok(Date.now() - started >= 150, 'the write waited for the holder');

    await holder.acquire();
    await assert.rejects(l.startRun(oneNode('never')), (e: Error) => /could not take the ledger lock .* held by pid \d+/.test(e.message));
    holder.release();
    assert.deepEqual(l.listRuns().map((r) => r.title).sort(), ['after stale lock', 'waited']);
  } finally {
    l.close();
  }
});

test('a snapshot from a newer schema is refused with a message to update', async () => {
  const dir = tempDir();
  const l = await openLedger(dir);
  await l.startRun(oneNode('x'));
  l.sql.run("UPDATE meta SET value = '999' WHERE key = 'schema_version'");
  await l.store.checkpoint();
  l.close();
  await assert.rejects(openLedger(dir), (e: Error) => /written by a newer version .* update the extension/.test(e.message));
  assert.ok(fs.existsSync(path.join(dir, SNAPSHOT_FILE)), 'the snapshot is left where it was');
});
