import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LedgerError } from '../../../src/ledger/index';
import { overlayLedger, startRun } from './helpers';

test('mail to a worker, node, run and coalition waits until read, once per recipient', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a', 'b']);
    const c = await t.overlays.formCoalition({ runId, name: 'crew', members: ['ana', 'bo'] });
    await t.overlays.sendMail({ from: 'lead', toKind: 'worker', to: 'bo', subject: 'hi', body: 'to bo by name' });
    await t.overlays.sendMail({ from: 'lead', toKind: 'node', to: node('a'), body: 'to node a' });
    await t.overlays.sendMail({ from: 'lead', toKind: 'run', to: runId, body: 'to the run' });
    await t.overlays.sendMail({ from: 'lead', toKind: 'coalition', to: c.id, body: 'to the crew' });
    // Joining after the coalition mail was sent does not deliver it.
    await t.overlays.joinCoalition({ coalitionId: c.id, member: 'cy' });
    assert.deepEqual((await t.overlays.readMail({ reader: 'cy' })).map((m) => m.body), []);

    // bo works node a: his turn gets his own mail, node a's, the run's and the crew's.
    const turn = await t.overlays.takeTurnMail('bo', node('a'));
    assert.deepEqual(turn.map((m) => m.body), ['to bo by name', 'to node a', 'to the run', 'to the crew']);
    assert.deepEqual(await t.overlays.takeTurnMail('bo', node('a')), [], 'read mail is not delivered again');
    // ana on node b: node a's mail is not hers; the run mail is new for node b; the crew mail is new for her.
    assert.deepEqual((await t.overlays.takeTurnMail('ana', node('b'))).map((m) => m.body), ['to the run', 'to the crew']);
    // The history still has everything, with read marks.
    const all = await t.overlays.readMail({ reader: 'bo', nodeId: node('a'), unreadOnly: false });
    assert.deepEqual(all.map((m) => m.read), [true, true, true, true]);
    // A person's view of the run's mail pages newest first; the worker mail has no run and is not in it.
    const page1 = t.overlays.runMail(runId, { limit: 2 });
    assert.deepEqual(page1.map((m) => m.body), ['to the crew', 'to the run']);
    assert.deepEqual(t.overlays.runMail(runId, { limit: 2, beforeSeq: page1.at(-1)!.seq }).map((m) => m.body), ['to node a']);
  } finally {
    t.close();
  }
});

test('bad mail is refused naming the field, and writes nothing', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a']);
    const other = await startRun(t.ledger, ['a']);
    const seq = t.ledger.seq;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ toKind: 'pigeon' }, 'toKind'],
      [{ toKind: 'node', to: 'r-x.y' }, 'to'],
      [{ toKind: 'run', to: 'r-x' }, 'to'],
      [{ toKind: 'coalition', to: 'co-x' }, 'to'],
      [{ toKind: 'node', to: other.node('a'), runId }, 'runId'],
      [{ body: '' }, 'body'],
      [{ body: 'x'.repeat(20_001) }, 'body'],
      [{ to: 'a\u0007b' }, 'to'],
      [{ to: 'x'.repeat(201) }, 'to'],
      [{ from: '' }, 'from'],
      [{ replyTo: 'm-none' }, 'replyTo'],
      [{ subject: 's'.repeat(201) }, 'subject'],
    ];
    for (const [over, field] of cases) {
      await assert.rejects(t.overlays.sendMail({ from: 'ana', toKind: 'worker', to: 'bo', body: 'hello', ...over }), (e: LedgerError) => e.field === field,
        `expected an error on ${field} for ${JSON.stringify(over).slice(0, 80)}`);
    }
    await assert.rejects(t.overlays.readMail({ reader: 'bo', nodeId: 'r-x.y' }), (e: LedgerError) => e.field === 'nodeId');
    await assert.rejects(t.overlays.readMail({ reader: 'bo', limit: 10_000 }), (e: LedgerError) => e.field === 'limit');
    assert.equal(t.ledger.seq, seq);
    // A recipient named like an object's prototype is just a name.
    await t.overlays.sendMail({ from: 'ana', toKind: 'worker', to: '__proto__', body: 'hello' });
    assert.equal((await t.overlays.readMail({ reader: '__proto__' })).length, 1);
    void node;
  } finally {
    t.close();
  }
});
