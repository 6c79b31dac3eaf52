// The ledger lock is held for exactly the store's critical section (catch up, decide, apply, append),
// never across an await: while it was, other work of the same process (archiving after a checkpoint,
// a view's listener, an MCP call's continuation) ran with the lock held, and other processes waited
// 50-100 ms for a commit of 1 ms (issue 11, docs/benchmarks.md). What another process would see is
// checked here: whether the lock file names this process while unrelated work of it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger/index';
import { readOwner } from '../../src/ledger/store/lock';
import { LOCK_FILE } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

const oneNode = (title: string) => ({ title, nodes: [{ key: 'a', title: 'A' }] });

/** True when the lock file exists and names this process: what a waiting process sees as "held by us". */
function heldByThisProcess(dir: string): boolean {
  return readOwner(path.join(dir, LOCK_FILE))?.pid === process.pid;
}

test('no other work of the process runs while it holds the lock: promise continuations see it free', async () => {
  const dir = tempDir('gascity-hold-');
  const l = await openLedger(dir);
  try {
    await l.startRun(oneNode('warm-up'));
    let looks = 0;
    let sawHeld = 0;
    let running = true;
    // Unrelated work of this process, as an MCP server or the extension has: a chain of promise
    // continuations, which runs whenever the commits' own continuations let it (a commit on a free
    // lock needs no timer, so this chain alone never yields to the event loop; it stops after many
    // looks so that it cannot starve anything that would).
    const microtasks = (async () => {
      while (running && looks < 2_000_000) {
        looks++;
        if (heldByThisProcess(dir)) sawHeld++;
        await Promise.resolve();
      }
    })();
    for (let i = 0; i < 30; i++) await l.startRun(oneNode(`run ${i}`));
    await l.store.checkpoint();
    for (let i = 0; i < 10; i++) await l.startRun(oneNode(`after ${i}`));
    running = false;
    await microtasks;
    assert.ok(looks > 40, `the other work barely ran (${looks} looks), so this proved nothing`);
    assert.equal(sawHeld, 0, `other work of the process ran ${sawHeld} times while it held the lock`);
  } finally {
    l.close();
  }
});

test('listeners hear a commit after the lock is released, and in commit order', async () => {
  const dir = tempDir('gascity-hold-');
  const l = await openLedger(dir);
  const heard: Array<{ seq: number; locked: boolean }> = [];
  const sub = l.onDidChange((c) => {
    for (const e of c.events) heard.push({ seq: e.seq, locked: heldByThisProcess(dir) });
  });
  try {
    await Promise.all([l.startRun(oneNode('a')), l.startRun(oneNode('b')), l.startRun(oneNode('c'))]);
    await l.startRun(oneNode('d'));
    assert.deepEqual(heard.map((h) => h.seq), [1, 2, 3, 4]);
    assert.deepEqual(heard.filter((h) => h.locked), [], 'a listener ran while the lock was held');
  } finally {
    sub.dispose();
    l.close();
  }
});

test('a reader catching up under the lock tells its listeners after releasing it', async () => {
  const dir = tempDir('gascity-hold-');
  const writer = await openLedger(dir);
  const reader = await openLedger(dir);
  const heard: Array<{ title: string; locked: boolean }> = [];
  const sub = reader.onDidChange((c) => {
    for (const e of c.events) {
      if (e.kind === 'run.started') heard.push({ title: (e.payload as { title: string }).title, locked: heldByThisProcess(dir) });
    }
  });
  try {
    await writer.startRun(oneNode('from the writer'));
    // The reader's own commit catches up with the writer's under the lock first.
    await reader.startRun(oneNode('from the reader'));
    assert.deepEqual(heard.map((h) => h.title), ['from the writer', 'from the reader']);
    assert.deepEqual(heard.filter((h) => h.locked), []);
    assert.ok(!fs.existsSync(path.join(dir, LOCK_FILE)));
  } finally {
    sub.dispose();
    reader.close();
    writer.close();
  }
});
