import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { ledgerProjection } from '../../src/ledger/projection';
import { replay } from '../../src/ledger/store/store';
import { dumpTables, tempDir } from './helpers';

// One step of a random session against the ledger. Indices pick among existing nodes, so most
// commands are meaningful; the ones that are not must fail without writing anything.
type Step =
  | { op: 'start'; size: number; seed: number }
  | { op: 'claim'; pick: number; worker: number }
  | { op: 'dispatch'; pick: number; worker: number }
  | { op: 'report'; pick: number; worker: number; ok: boolean; tokens: number }
  | { op: 'review'; pick: number; ok: boolean }
  | { op: 'recover'; pick: number; force: boolean }
  | { op: 'handoff'; pick: number; worker: number; to: number }
  | { op: 'expand'; pick: number; worker: number; children: number }
  | { op: 'gate'; pick: number }
  | { op: 'evidence'; pick: number; ok: boolean }
  | { op: 'cancel'; pick: number }
  | { op: 'tick'; minutes: number }
  | { op: 'checkpoint' }
  | { op: 'archive' };

const nat = (max: number) => fc.integer({ min: 0, max });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('start' as const), size: fc.integer({ min: 1, max: 6 }), seed: nat(1000) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('claim' as const), pick: nat(50), worker: nat(2) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('dispatch' as const), pick: nat(50), worker: nat(2) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('report' as const), pick: nat(50), worker: nat(2), ok: fc.boolean(), tokens: nat(500) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('review' as const), pick: nat(50), ok: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('recover' as const), pick: nat(50), force: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('handoff' as const), pick: nat(50), worker: nat(2), to: nat(2) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('expand' as const), pick: nat(50), worker: nat(2), children: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('gate' as const), pick: nat(50) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('evidence' as const), pick: nat(50), ok: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('cancel' as const), pick: nat(50) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('tick' as const), minutes: fc.integer({ min: 1, max: 30 }) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('checkpoint' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('archive' as const) }), weight: 1 },
);

function plan(size: number, seed: number) {
  // A random DAG: each node may need any earlier one, so there is never a cycle.
  return Array.from({ length: size }, (_, i) => ({
    key: `s${i}`,
    title: `step ${i}`,
    needs: Array.from({ length: i }, (_, j) => j).filter((j) => ((seed >> ((i + j) % 10)) & 1) === 1).map((j) => `s${j}`),
    maxAttempts: 1 + (seed % 3),
    onExhausted: (['fail', 'skip', 'escalate'] as const)[(seed + i) % 3],
    review: (seed + i) % 4 === 0,
    gate: (seed + i) % 5 === 0 ? { kind: 'human' as const } : null,
  }));
}

async function runStep(ledger: Ledger, s: Step, clock: { t: number }): Promise<void> {
  const nodes = ledger.sql.all<{ id: string; run_id: string }>('SELECT id, run_id FROM nodes ORDER BY rowid');
  const pick = (i: number) => nodes.length ? nodes[i % nodes.length]! : undefined;
  const w = (i: number) => `worker-${i}`;
  switch (s.op) {
    case 'start': await ledger.startRun({ title: `run ${s.seed}`, nodes: plan(s.size, s.seed), taskKey: `task-${s.seed % 7}` }); return;
    case 'claim': await ledger.claimNode({ worker: w(s.worker), nodeId: pick(s.pick)?.id, leaseSeconds: 600 }); return;
    case 'dispatch': await ledger.dispatchNode({ nodeId: pick(s.pick)?.id ?? 'none', worker: w(s.worker), threadId: `thread-${s.pick}` }); return;
    case 'report': await ledger.reportNode({ nodeId: pick(s.pick)?.id ?? 'none', worker: w(s.worker), outcome: s.ok ? 'done' : 'failed', tokens: s.tokens }); return;
    case 'review': await ledger.reviewNode({ nodeId: pick(s.pick)?.id ?? 'none', verdict: s.ok ? 'approve' : 'reject' }); return;
    case 'recover': await ledger.recoverNodes(s.force ? { nodeId: pick(s.pick)?.id, force: true } : {}); return;
    case 'handoff': await ledger.handoffNode({ nodeId: pick(s.pick)?.id ?? 'none', fromWorker: w(s.worker), toWorker: w(s.to) }); return;
    case 'expand': await ledger.expandNode({ nodeId: pick(s.pick)?.id ?? 'none', worker: w(s.worker), children: Array.from({ length: s.children }, (_, i) => ({ key: `c${clock.t}-${i}`, title: `child ${i}` })) }); return;
    case 'gate': await ledger.openGate({ nodeId: pick(s.pick)?.id ?? 'none' }); return;
    case 'evidence': await ledger.recordEvidence({ runId: pick(s.pick)?.run_id ?? 'none', kind: 'run_outcome', success: s.ok, interventions: 1 }); return;
    case 'cancel': await ledger.cancelRun({ runId: pick(s.pick)?.run_id ?? 'none' }); return;
    case 'tick': clock.t += s.minutes * 60_000; return;
    case 'checkpoint': await ledger.store.checkpoint(); return;
    // Finished runs move to the archive (src/ledger/archive.ts); their graphs leave the tables.
    case 'archive': await ledger.archiveRuns({ olderThanDays: 0 }); return;
  }
}

test('replaying the journal from nothing rebuilds exactly the live tables (random command sequences)', async () => {
  let failures = 0;
  let commits = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 60 }), async (steps) => {
      const dir = tempDir();
      const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
      const ledger = await openLedger(dir, { now: () => new Date(clock.t), checkpointEvery: 9 });
      try {
        for (const s of steps) {
          const before = ledger.seq;
          const tables = dumpTables(ledger.sql);
          try {
            await runStep(ledger, s, clock);
            commits++;
          } catch (e) {
            failures++;
            assert.equal((e as Error).name, 'LedgerError', `unexpected error from ${s.op}: ${(e as Error).stack}`);
            // A refused command writes nothing.
            assert.equal(ledger.seq, before);
            assert.deepEqual(dumpTables(ledger.sql), tables);
          }
        }
        const live = dumpTables(ledger.sql);
        const rebuilt = await replay(ledgerProjection, ledger.events(0, 1_000_000));
        assert.deepEqual(dumpTables(rebuilt), live);
        rebuilt.close();
        // Reopening from the snapshot and the journal on disk gives the same tables too.
        const reopened = await openLedger(dir);
        assert.deepEqual(dumpTables(reopened.sql), live);
        reopened.close();
      } finally {
        ledger.close();
      }
    }),
    { numRuns: Number(process.env.GASCITY_REPLAY_RUNS ?? 60) },
  );
  assert.ok(commits > 100 && failures > 10, `the generator should exercise both accepted (${commits}) and refused (${failures}) commands`);
});
