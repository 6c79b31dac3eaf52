// When another process's checkpoint replaces the journal, a process that had not yet read its last commits reads them
// from the journal it still holds open instead of loading the whole new snapshot (docs/reliability.md, promise 9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EventStore, SNAPSHOT_FILE } from '../../src/ledger/store/store';
import type { StoreChange } from '../../src/ledger/store/store';
import { ledgerProjection } from '../../src/ledger/projection';
import { runStartedEvent, tempDir } from './helpers';

test('a process a commit behind when another checkpoints reads that commit from the replaced journal, not the snapshot', async () => {
  const dir = tempDir();
  const a = await EventStore.open(dir, ledgerProjection);
  const b = await EventStore.open(dir, ledgerProjection);
  const heard: number[] = [];
  b.subscribe((c: StoreChange) => heard.push(...c.events.map((e) => e.seq)));
  try {
    await b.write('b', () => ({ events: [runStartedEvent('r-1')], result: null }));
    await a.write('a', () => ({ events: [runStartedEvent('r-2'), runStartedEvent('r-3')], result: null }));
    await a.checkpoint();
    // Were b to start over from the snapshot, it would find none: the snapshot is moved aside while b commits.
    const aside = path.join(dir, 'snapshot-aside');
    fs.renameSync(path.join(dir, SNAPSHOT_FILE), aside);
    try {
      await b.write('b', () => ({ events: [runStartedEvent('r-4')], result: null }));
    } finally {
      fs.renameSync(aside, path.join(dir, SNAPSHOT_FILE));
    }
    assert.equal(b.seq, 4);
    assert.deepEqual(heard, [1, 2, 3, 4], 'b heard a\'s two runs, then its own');
  } finally {
    a.close();
    b.close();
  }
  // Everything is there for a fresh reader, in order.
  const c = await EventStore.open(dir, ledgerProjection);
  try {
    assert.deepEqual(c.readEvents(0, 10).map((e) => (e.payload as { runId: string }).runId), ['r-1', 'r-2', 'r-3', 'r-4']);
  } finally {
    c.close();
  }
});
