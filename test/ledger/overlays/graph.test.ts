import { test } from 'node:test';
import assert from 'node:assert/strict';
import { overlayLedger, startRun } from './helpers';

test('graph overlays: what each node carries, for the run graph\'s toggles', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a', 'b', 'c', 'd']);
    await t.overlays.writeEntry({ runId, kind: 'claim', author: 'ana', nodeId: node('c'), title: 'docs', paths: ['docs/**'] });
    const old = await t.overlays.writeEntry({ runId, kind: 'claim', author: 'ana', nodeId: node('c'), title: 'old', paths: ['x'] });
    await t.overlays.writeEntry({ runId, kind: 'finding', author: 'ana', nodeId: node('c'), title: 'not a claim', supersedes: old.entryId });
    const r = await t.overlays.announce({ nodeId: node('b'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 2 });
    await t.overlays.submitBid({ roundId: r.id, bidder: 'bo', cost: 10, confidence: 0.5 });
    const co = await t.overlays.formCoalition({ runId, name: 'crew', members: ['ana', 'bo'], leadScope: [node('a')] });
    await t.overlays.claimForCoalition({ coalitionId: co.id, member: 'bo', nodeId: node('a') });
    await t.overlays.sendMail({ from: 'lead', toKind: 'node', to: node('a'), body: 'one' });
    await t.overlays.sendMail({ from: 'lead', toKind: 'node', to: node('a'), body: 'two' });
    await t.overlays.takeTurnMail('bo', node('a'));
    await t.overlays.sendMail({ from: 'lead', toKind: 'node', to: node('a'), body: 'three' });
    const g = t.overlays.graphOverlays(runId);
    assert.deepEqual(g.map((o) => o.nodeId), [node('a'), node('b'), node('c')], 'only nodes with overlays, in graph order');
    const [a, b, c] = g;
    assert.deepEqual(a!.coalitions, [{ id: co.id, name: 'crew', role: 'both' }]);
    assert.deepEqual(a!.mail, { total: 3, unread: 1 });
    assert.deepEqual(b!.round, { id: r.id, status: 'open', bids: 1, winner: null, deadline: r.deadline });
    assert.deepEqual(c!.claims.map((x) => x.title), ['docs']);
  } finally {
    t.close();
  }
});

test('graph overlays of an archived run: the marks it ended with, read from its archive line', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a', 'b', 'c']);
    await t.overlays.writeEntry({ runId, kind: 'claim', author: 'ana', nodeId: node('c'), title: 'docs', paths: ['docs/**'] });
    const r = await t.overlays.announce({ nodeId: node('b'), announcedBy: 'lead', deadlineSeconds: 60, quorum: 2 });
    await t.overlays.submitBid({ roundId: r.id, bidder: 'bo', cost: 10, confidence: 0.5 });
    await t.overlays.submitBid({ roundId: r.id, bidder: 'cy', cost: 7, confidence: 0.9 });
    await t.overlays.sendMail({ from: 'lead', toKind: 'node', to: node('a'), body: 'one' });
    await t.overlays.takeTurnMail('bo', node('a'));
    await t.overlays.sendMail({ from: 'lead', toKind: 'node', to: node('a'), body: 'two' });
    // The round reached its quorum and was awarded: the cheaper bidder holds node b's claim.
    await t.ledger.reportNode({ nodeId: node('b'), worker: 'cy', outcome: 'done', summary: 'b done' });
    for (const key of ['a', 'c']) {
      await t.ledger.claimNode({ worker: 'w', nodeId: node(key), leaseSeconds: 600 });
      await t.ledger.reportNode({ nodeId: node(key), worker: 'w', outcome: 'done', summary: `${key} done` });
    }
    const before = t.overlays.graphOverlays(runId);
    assert.deepEqual(before.map((o) => o.nodeId), [node('a'), node('b'), node('c')]);
    assert.deepEqual(before[0]!.mail, { total: 2, unread: 1 });
    assert.deepEqual(before[1]!.round, { id: r.id, status: 'awarded', bids: 2, winner: 'cy', deadline: r.deadline });

    t.clock.now += 40 * 86_400_000;
    const archived = await t.ledger.archiveRuns({ olderThanDays: 30 });
    assert.equal(archived.archived, 1);
    assert.equal(t.ledger.sql.get<{ c: number }>('SELECT count(*) AS c FROM rounds WHERE run_id = ?', [runId])?.c, 0, 'the rounds left the tables');
    // The graph panel of the archived run shows what it showed before it moved: same nodes, order, claims, round and mail.
    assert.deepEqual(t.overlays.graphOverlays(runId), before);
  } finally {
    t.close();
  }
});
