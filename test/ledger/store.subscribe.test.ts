// A reader hears every event through its subscription, also the events another process folded into a
// snapshot before the reader read them from the journal (issue 11: a reader heard about 1 of 5,001).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openLedger } from '../../src/ledger/index';
import type { StoredEvent } from '../../src/ledger/index';
import { WRITER, tempDir } from './helpers';

test('a reader hears the events another process checkpointed into the snapshot, each once, in order', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const reader = await openLedger(dir, { actor: 'reader' });
  try {
    await reader.startRun({ title: 'first', nodes: [{ key: 'a', title: 'A' }] });
    const heard: StoredEvent[] = [];
    reader.onDidChange((c) => heard.push(...c.events));
    const before = reader.seq;
    // The writer runs while this process is blocked, so the reader cannot read its journal lines before
    // its last checkpoint folds them into a new snapshot: they reach the reader only by that snapshot.
    const w = spawnSync(process.execPath, ['--import', 'tsx', WRITER, dir, 'w', '60', '60'], { encoding: 'utf8' });
    assert.equal(w.status, 0, w.stderr);
    await reader.refresh();
    assert.equal(reader.seq, before + 60);
    const seqs = heard.map((e) => e.seq);
    assert.deepEqual(seqs, Array.from({ length: 60 }, (_, i) => before + 1 + i), 'every event once, in order');
    assert.ok(heard.every((e) => e.kind === 'run.started' && typeof e.payload === 'object'));
    assert.ok(reader.store.describe().base > before, 'the reader did reload a newer snapshot');
  } finally {
    reader.close();
  }
});
