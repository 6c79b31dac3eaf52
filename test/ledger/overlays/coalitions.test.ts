import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ledgerProjection } from '../../../src/ledger/projection';
import { replay } from '../../../src/ledger/store/store';
import { dumpTables } from '../helpers';
import { overlayLedger, startRun } from './helpers';

test('a coalition splits and merges with its joint claim intact', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['parse', 'render', 'docs']);
    const c = await t.overlays.formCoalition({ runId, name: 'frontend', members: ['ana', 'gpt-fast', 'gpt-deep'], lead: 'ana', leadScope: [node('parse'), node('render')] });
    assert.deepEqual(c.members, ['ana', 'gpt-fast', 'gpt-deep']);
    const held = await t.overlays.claimForCoalition({ coalitionId: c.id, member: 'gpt-deep', nodeId: node('render') });
    await t.overlays.claimForCoalition({ coalitionId: c.id, member: 'ana', nodeId: node('parse') });

    // gpt-deep leaves with the render node; ana keeps parse.
    const { kept, split } = await t.overlays.splitCoalition({ coalitionId: c.id, name: 'render-crew', members: ['gpt-deep'], lead: 'gpt-deep', leadScope: [node('render')] });
    assert.deepEqual(kept.members, ['ana', 'gpt-fast']);
    assert.deepEqual(kept.leadScope, [node('parse')]);
    assert.deepEqual(split.members, ['gpt-deep']);
    assert.equal(split.parentId, c.id);
    assert.deepEqual(split.claims, [{ nodeId: node('render'), claimId: held.claimId, member: 'gpt-deep', live: true }]);
    assert.deepEqual(kept.claims.map((x) => x.nodeId), [node('parse')]);
    // The claim itself did not change: same id, same holder, still live.
    const render = t.ledger.getNode(node('render'))!;
    assert.equal(render.claimId, held.claimId);
    assert.equal(render.worker, 'gpt-deep');
    assert.equal(render.state, 'claimed');

    // They merge back: the render claim now counts for the merged coalition.
    const merged = await t.overlays.mergeCoalitions({ coalitionId: c.id, absorbedId: split.id });
    assert.deepEqual(merged.members, ['ana', 'gpt-fast', 'gpt-deep']);
    assert.deepEqual(merged.claims.map((x) => [x.nodeId, x.claimId, x.live]).sort(), [
      [node('parse'), t.ledger.getNode(node('parse'))!.claimId, true], [node('render'), held.claimId, true],
    ].sort());
    assert.deepEqual(new Set(merged.leadScope), new Set([node('parse'), node('render')]));
    const gone = t.overlays.coalition(split.id)!;
    assert.equal(gone.status, 'merged');
    assert.equal(gone.mergedInto, c.id);
    assert.deepEqual(gone.claims, []);
    // The holder still reports as usual.
    await t.ledger.reportNode({ nodeId: node('render'), worker: 'gpt-deep', outcome: 'done', summary: 'rendered' });
    assert.equal(t.overlays.coalition(c.id)!.claims.find((x) => x.nodeId === node('render'))!.live, false);

    const rebuilt = await replay(ledgerProjection, t.ledger.events(0, 1_000_000));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(t.ledger.sql));
  } finally {
    t.close();
  }
});

test('past partnerships and their run outcomes are queryable', async () => {
  const t = await overlayLedger();
  try {
    const one = await startRun(t.ledger, ['a'], 'first');
    const two = await startRun(t.ledger, ['a'], 'second');
    await t.overlays.formCoalition({ runId: one.runId, name: 'pair', members: ['ana', 'bo'] });
    const c2 = await t.overlays.formCoalition({ runId: two.runId, name: 'trio', members: ['ana', 'bo'] });
    await t.overlays.joinCoalition({ coalitionId: c2.id, member: 'cy' });
    await t.overlays.leaveCoalition({ coalitionId: c2.id, member: 'cy' });
    await t.ledger.claimNode({ worker: 'ana', nodeId: one.node('a') });
    await t.ledger.reportNode({ nodeId: one.node('a'), worker: 'ana', outcome: 'done', summary: 'ok' });
    await t.ledger.claimNode({ worker: 'bo', nodeId: two.node('a') });
    await t.ledger.reportNode({ nodeId: two.node('a'), worker: 'bo', outcome: 'failed', summary: 'no' });
    const p = t.overlays.partnerships('ana');
    assert.deepEqual(p.coalitions.map((c) => [c.runTitle, c.runOutcome, c.members]), [['second', 'failure', ['ana', 'bo', 'cy']], ['first', 'success', ['ana', 'bo']]]);
    assert.deepEqual(p.partners, [{ partner: 'bo', runs: 2, successes: 1, failures: 1 }, { partner: 'cy', runs: 1, successes: 0, failures: 1 }]);
  } finally {
    t.close();
  }
});

test('coalition commands refuse bad input naming the field, and write nothing', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a']);
    const other = await startRun(t.ledger, ['a']);
    const seq = t.ledger.seq;
    const cases: Array<[unknown, RegExp | string]> = [
      [{ runId, name: 'x', members: [] }, 'members'],
      [{ runId, name: 'x', members: ['a', 'a'] }, 'members'],
      [{ runId, name: 'x', members: ['a'], lead: 'b' }, 'lead'],
      [{ runId, name: 'x', members: ['a'], leadScope: [other.node('a')] }, 'leadScope.0'],
      [{ runId, name: '', members: ['a'] }, 'name'],
      [{ runId, name: 'x\u0000y', members: ['a'] }, 'name'],
      [{ runId: 'r-nope', name: 'x', members: ['a'] }, 'runId'],
      [{ runId, name: 'x', members: Array.from({ length: 101 }, (_, i) => `m${i}`) }, 'members'],
      [{ runId, name: 'x'.repeat(121), members: ['a'] }, 'name'],
    ];
    for (const [input, field] of cases) {
      await assert.rejects(t.overlays.formCoalition(input), (e: { field?: string }) => e.field === field, `expected an error on ${String(field)} for ${JSON.stringify(input).slice(0, 80)}`);
    }
    // `__proto__` is only a name: it cannot reach an object's prototype.
    const c = await t.overlays.formCoalition({ runId, name: '__proto__', members: ['__proto__', 'constructor'], lead: '__proto__' });
    assert.deepEqual(c.members, ['__proto__', 'constructor']);
    assert.equal(t.ledger.seq, seq + 1);
    await assert.rejects(t.overlays.splitCoalition({ coalitionId: c.id, name: 'all', members: ['__proto__', 'constructor'] }), (e: { field?: string }) => e.field === 'members');
    await assert.rejects(t.overlays.splitCoalition({ coalitionId: c.id, name: 's', members: ['nobody'] }), (e: { field?: string }) => e.field === 'members.0');
    await assert.rejects(t.overlays.splitCoalition({ coalitionId: c.id, name: 's', members: ['constructor'], nodeIds: [node('a')] }), (e: { field?: string }) => e.field === 'nodeIds.0');
    await assert.rejects(t.overlays.mergeCoalitions({ coalitionId: c.id, absorbedId: c.id }), (e: { field?: string }) => e.field === 'absorbedId');
    await assert.rejects(t.overlays.claimForCoalition({ coalitionId: c.id, member: 'stranger', nodeId: node('a') }), (e: { field?: string }) => e.field === 'member');
    await assert.rejects(t.overlays.claimForCoalition({ coalitionId: c.id, member: 'constructor', nodeId: other.node('a') }), (e: { field?: string }) => e.field === 'nodeId');
    assert.equal(t.ledger.seq, seq + 1);
  } finally {
    t.close();
  }
});
