import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../src/ledger/index';
import { event } from '../../src/ledger/events';
import type { LedgerEvent } from '../../src/ledger/events';
import type { Decision, NewEvent } from '../../src/ledger/store/store';
import { tempDir } from './helpers';

// The store's write API carries the event union of src/ledger/events.ts: the lines below that are
// marked as expected errors must not compile, and `npx tsc --noEmit` (CI's typecheck) fails if one does.
// The test itself checks at run time that the well-typed writes work.

test('events are typed by kind: a misspelt kind or a wrong payload does not compile, a right one commits', async () => {
  const dir = tempDir();
  const ledger = await openLedger(dir);
  try {
    const ok: NewEvent = event('family.created', { familyId: 'f', description: 'typed' });
    // @ts-expect-error 'family.craeted' is not an event kind.
    const misspelt: NewEvent = { kind: 'family.craeted', payload: { familyId: 'f', description: 'x' } };
    // @ts-expect-error the payload of family.created has no field "name".
    const wrongPayload: NewEvent = { kind: 'family.created', payload: { name: 'f' } };
    // @ts-expect-error the event helper checks its kind too.
    event('run.startd', {});
    const decide = (): Decision<string> => ({ events: [ok], result: 'done' });
    // @ts-expect-error a decision of the ledger's store carries only LedgerEvents.
    const badDecision: Decision<number> = { events: [{ kind: 'nope', payload: null }], result: 1 };
    const result = await ledger.commit(decide);
    assert.equal(result, 'done');
    const written = await ledger.store.write('test', () => ({ events: [event('family.created', { familyId: 'g', description: '' })], result: null }));
    const first: LedgerEvent = written.events[0]!;
    assert.equal(first.kind, 'family.created');
    assert.deepEqual(ledger.events(0, 10).map((e) => e.kind), ['family.created', 'family.created']);
    void [misspelt, wrongPayload, badDecision];
  } finally {
    ledger.close();
  }
});
