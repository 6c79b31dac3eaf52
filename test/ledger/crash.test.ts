import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../src/ledger/index';
import { collectAcks, exited, spawnWriter, tempDir } from './helpers';

test('writers killed with SIGKILL at random points: the ledger reopens, is intact and holds every acknowledged commit', async (t) => {
  const dir = tempDir();
  const acknowledged = new Map<string, string>();
  const rounds = Number(process.env.GASCITY_CRASH_ROUNDS ?? 25);
  for (let round = 0; round < rounds; round++) {
    // Two writers at once, a checkpoint every few commits, so kills land in appends, checkpoints and lock hand-overs.
    const writers = [spawnWriter(dir, `r${round}a`, 1000, 7), spawnWriter(dir, `r${round}b`, 1000, 11)];
    const acks = writers.map((w) => collectAcks(w));
    // Kill at a random moment after the writers got going: start-up time varies with the machine's load.
    const started = Date.now();
    while (acks.some((a) => a.acks.size === 0) && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, Math.random() * 300));
    for (const w of writers) w.kill('SIGKILL');
    await Promise.all(writers.map(exited));
    for (const a of acks) for (const [k, v] of a.acks) acknowledged.set(k, v);

    const ledger = await openLedger(dir);
    try {
      const check = ledger.sql.all<{ integrity_check: string }>('PRAGMA integrity_check');
      assert.deepEqual(check, [{ integrity_check: 'ok' }]);
      for (const [runId, title] of acknowledged) {
        assert.equal(ledger.getRun(runId)?.title, title, `round ${round}: acknowledged run ${runId} (${title}) is missing`);
      }
      const seqs = ledger.events(0, 1_000_000).map((e) => e.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'event sequence has a gap');
      // A commit after the crash must land on a clean line boundary.
      await ledger.startRun({ title: `after-${round}`, nodes: [{ key: 'x', title: 'x' }] });
    } finally {
      ledger.close();
    }
  }
  t.diagnostic(`${rounds} kill rounds, ${acknowledged.size} acknowledged commits, all present`);
  assert.ok(acknowledged.size > rounds, `too few commits were acknowledged (${acknowledged.size}) for the test to mean anything`);
});
