import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LedgerError } from '../../../src/ledger/index';
import { ledgerProjection } from '../../../src/ledger/projection';
import { replay } from '../../../src/ledger/store/store';
import { dumpTables } from '../helpers';
import { overlayLedger, startRun } from './helpers';

// One step of a random session of overlay commands. Indices pick among what exists, so most steps are
// meaningful; the ones that are not must fail with a LedgerError and write nothing.
type Step =
  | { op: 'entry'; kind: number; who: number; supersede: number | null; glob: number }
  | { op: 'announce'; node: number; seconds: number; quorum: number }
  | { op: 'bid'; round: number; who: number; cost: number; confidence: number }
  | { op: 'tick'; seconds: number }
  | { op: 'form'; who: number[] }
  | { op: 'join'; c: number; who: number }
  | { op: 'leave'; c: number; who: number }
  | { op: 'split'; c: number; who: number }
  | { op: 'merge'; c: number; d: number }
  | { op: 'claim'; c: number; who: number; node: number }
  | { op: 'mail'; kind: number; to: number; who: number }
  | { op: 'read'; who: number; node: number }
  | { op: 'changes'; who: number; node: number; file: number };

const n = (max: number) => fc.integer({ min: 0, max });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('entry' as const), kind: n(3), who: n(3), supersede: fc.option(n(20)), glob: n(3) }),
  fc.record({ op: fc.constant('announce' as const), node: n(5), seconds: fc.integer({ min: 1, max: 30 }), quorum: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ op: fc.constant('bid' as const), round: n(5), who: n(3), cost: n(1000), confidence: fc.constantFrom(0, 0.25, 0.5, 1) }),
  fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('form' as const), who: fc.uniqueArray(n(3), { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('join' as const), c: n(5), who: n(3) }),
  fc.record({ op: fc.constant('leave' as const), c: n(5), who: n(3) }),
  fc.record({ op: fc.constant('split' as const), c: n(5), who: n(3) }),
  fc.record({ op: fc.constant('merge' as const), c: n(5), d: n(5) }),
  fc.record({ op: fc.constant('claim' as const), c: n(5), who: n(3), node: n(5) }),
  fc.record({ op: fc.constant('mail' as const), kind: n(4), to: n(5), who: n(3) }),
  fc.record({ op: fc.constant('read' as const), who: n(3), node: n(5) }),
  fc.record({ op: fc.constant('changes' as const), who: n(3), node: n(5), file: n(3) }),
);

const WHO = ['ana', 'bo', 'codex', '__proto__'];
const KINDS = ['claim', 'finding', 'decision', 'question'] as const;
const GLOBS = ['src/**', 'docs/*.md', 'src/ledger', 'test/**/x.ts'];
const FILES = ['src/a.ts', 'docs/readme.md', 'src/ledger/x.ts', 'lib/y.ts'];

test('random sessions of overlay commands: refusals write nothing, and replaying the journal gives the same tables', async () => {
  await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 40 }), async (steps) => {
    const t = await overlayLedger();
    try {
      const { runId, node } = await startRun(t.ledger, ['a', 'b', 'c', 'd', 'e', 'f']);
      const nodes = ['a', 'b', 'c', 'd', 'e', 'f'].map(node);
      const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
      for (const s of steps) {
        const sql = t.ledger.sql;
        const entries = sql.all<{ id: string }>('SELECT id FROM bb_entries ORDER BY seq').map((r) => r.id);
        const rounds = sql.all<{ id: string }>('SELECT id FROM rounds ORDER BY seq').map((r) => r.id);
        const coalitions = sql.all<{ id: string }>('SELECT id FROM coalitions ORDER BY seq').map((r) => r.id);
        const before = t.ledger.seq;
        const o = t.overlays;
        try {
          switch (s.op) {
            case 'entry': {
              const kind = KINDS[s.kind]!;
              await o.writeEntry({ runId, kind, author: WHO[s.who]!, nodeId: pick(nodes, s.who), title: 't', paths: kind === 'claim' ? [GLOBS[s.glob]!] : [], supersedes: s.supersede === null ? undefined : pick(entries, s.supersede) });
              break;
            }
            case 'announce': await o.announce({ nodeId: nodes[s.node]!, announcedBy: 'lead', deadlineSeconds: s.seconds, quorum: s.quorum }); break;
            case 'bid': await o.submitBid({ roundId: pick(rounds, s.round) ?? 'rd-none', bidder: WHO[s.who]!, cost: s.cost, confidence: s.confidence }); break;
            case 'tick': t.clock.now += s.seconds * 1000; await o.closeDueRounds(); break;
            case 'form': await o.formCoalition({ runId, name: 'c', members: s.who.map((i) => WHO[i]!), lead: WHO[s.who[0]!] }); break;
            case 'join': await o.joinCoalition({ coalitionId: pick(coalitions, s.c) ?? 'co-none', member: WHO[s.who]! }); break;
            case 'leave': await o.leaveCoalition({ coalitionId: pick(coalitions, s.c) ?? 'co-none', member: WHO[s.who]! }); break;
            case 'split': await o.splitCoalition({ coalitionId: pick(coalitions, s.c) ?? 'co-none', name: 's', members: [WHO[s.who]!] }); break;
            case 'merge': await o.mergeCoalitions({ coalitionId: pick(coalitions, s.c) ?? 'co-none', absorbedId: pick(coalitions, s.d) ?? 'co-none' }); break;
            case 'claim': await o.claimForCoalition({ coalitionId: pick(coalitions, s.c) ?? 'co-none', member: WHO[s.who]!, nodeId: nodes[s.node]! }); break;
            case 'mail': {
              const kind = (['worker', 'node', 'run', 'coalition', 'person'] as const)[s.kind]!;
              const to = kind === 'node' ? nodes[s.to]! : kind === 'run' ? runId : kind === 'coalition' ? pick(coalitions, s.to) ?? 'co-none' : WHO[s.to % WHO.length]!;
              await o.sendMail({ from: WHO[s.who]!, toKind: kind, to, body: 'm' });
              break;
            }
            case 'read': await o.readMail({ reader: WHO[s.who]!, nodeId: nodes[s.node]!, markRead: true }); break;
            case 'changes': await o.recordChanges({ nodeId: nodes[s.node]!, worker: WHO[s.who]!, files: [FILES[s.file]!] }); break;
          }
        } catch (e) {
          if (!(e instanceof LedgerError)) throw e;
          assert.equal(t.ledger.seq, before, `a refused ${s.op} wrote nothing (${e.message})`);
        }
        // Whatever happened, a node under an open round is never held, and every awarded round's claim was made.
        for (const r of sql.all<{ node_id: string; status: string; claim_id: string | null }>('SELECT node_id, status, claim_id FROM rounds')) {
          if (r.status === 'awarded') assert.ok(sql.get('SELECT 1 FROM claims WHERE id = ?', [r.claim_id]), 'the award\'s claim exists');
          if (r.status === 'open') assert.equal(sql.get<{ state: string }>('SELECT state FROM nodes WHERE id = ?', [r.node_id])!.state, 'ready', 'an announced node is not held');
        }
      }
      const rebuilt = await replay(ledgerProjection, t.ledger.events(0, 1_000_000));
      assert.deepEqual(dumpTables(rebuilt), dumpTables(t.ledger.sql));
    } finally {
      t.close();
    }
  }), { numRuns: 30 });
});
