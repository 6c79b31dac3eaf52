import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../src/ledger/index';
import { collectAcks, exited, spawnWriter, tempDir } from './helpers';

test('N processes × M commits at once leave exactly N×M events, no duplicates, no gaps', async () => {
  const dir = tempDir();
  const N = 4;
  const M = 40;
  // Checkpoints every 25 commits make writers fold the journal while the others append.
  const writers = Array.from({ length: N }, (_, i) => spawnWriter(dir, `w${i}`, M, 25));
  const acks = writers.map((w) => collectAcks(w));
  const codes = await Promise.all(writers.map(exited));
  codes.forEach((c, i) => assert.equal(c, 0, `writer ${i} failed: ${acks[i]!.stderr()}`));

  const ledger = await openLedger(dir);
  try {
    const events = ledger.events(0, 10_000);
    assert.equal(events.length, N * M);
    assert.deepEqual(events.map((e) => e.seq), Array.from({ length: N * M }, (_, i) => i + 1));
    const runs = ledger.listRuns({ limit: 10_000 });
    assert.equal(new Set(runs.map((r) => r.id)).size, N * M);
    const titles = new Set(runs.map((r) => r.title));
    for (let w = 0; w < N; w++) {
      for (let i = 0; i < M; i++) assert.ok(titles.has(`w${w}-${i}`), `commit w${w}-${i} is missing`);
      for (const [runId, title] of acks[w]!.acks) assert.equal(ledger.getRun(runId)?.title, title);
    }
  } finally {
    ledger.close();
  }
});

test('a reader in another process sees commits through its subscription', async () => {
  const dir = tempDir();
  const reader = await openLedger(dir);
  try {
    const seen: string[] = [];
    const done = new Promise<void>((resolve) => {
      reader.onDidChange((c) => {
        for (const e of c.events) if (e.kind === 'run.started') seen.push((e.payload as { title: string }).title);
        if (seen.length >= 3) resolve();
      });
    });
    const w = spawnWriter(dir, 'other', 3);
    collectAcks(w);
    assert.equal(await exited(w), 0);
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`saw only ${seen.join(',')}`)), 5000))]);
    assert.deepEqual(seen, ['other-0', 'other-1', 'other-2']);
    assert.equal(reader.listRuns().length, 3);
  } finally {
    reader.close();
  }
});
