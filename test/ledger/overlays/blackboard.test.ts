import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { GLOB_LIMITS, checkGlob, claimMatcher, openLedger, workspacePath } from '../../../src/ledger/index';
import type { LedgerError } from '../../../src/ledger/index';
import { ledgerProjection } from '../../../src/ledger/projection';
import { replay } from '../../../src/ledger/store/store';
import { collectAcks, dumpTables, exited } from '../helpers';
import { overlayLedger, startRun } from './helpers';

test('entries supersede one another and never vanish: current and full history', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a', 'b']);
    const q = await t.overlays.writeEntry({ runId, kind: 'question', author: 'ana', title: 'sql.js or better-sqlite3?' });
    const d = await t.overlays.writeEntry({ runId, kind: 'decision', author: 'bo', nodeId: node('a'), title: 'sql.js', body: 'no native build', supersedes: q.entryId });
    const c = await t.overlays.writeEntry({ runId, kind: 'claim', author: 'bo', nodeId: node('a'), title: 'the store', paths: ['./src/ledger/store/', 'docs/*.md'] });
    assert.deepEqual(t.overlays.readBoard({ runId }).map((e) => e.id), [d.entryId, c.entryId]);
    const history = t.overlays.readBoard({ runId, history: true });
    assert.deepEqual(history.map((e) => [e.id, e.supersededBy]), [[q.entryId, d.entryId], [d.entryId, null], [c.entryId, null]]);
    assert.deepEqual(history[2]!.paths, ['src/ledger/store/', 'docs/*.md'], 'a leading ./ is dropped');
    assert.deepEqual(t.overlays.readBoard({ runId, kind: 'claim' }).map((e) => e.id), [c.entryId]);
    await assert.rejects(t.overlays.writeEntry({ runId, kind: 'finding', author: 'cy', title: 'again', supersedes: q.entryId }), (e: LedgerError) => e.code === 'conflict' && e.field === 'supersedes');
  } finally {
    t.close();
  }
});

test('changes inside another worker\'s claim tell both by mail, once per claim and node', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['store', 'ui']);
    const claim = await t.overlays.writeEntry({ runId, kind: 'claim', author: 'store-worker', nodeId: node('store'), title: 'the store', paths: ['src/ledger/store'] });
    await t.overlays.writeEntry({ runId, kind: 'claim', author: 'ui-worker', nodeId: node('ui'), title: 'own claim', paths: ['src/webview/**'] });
    // The ui node's own claim is not an overlap; a file outside every claim is none either.
    assert.deepEqual(await t.overlays.recordChanges({ nodeId: node('ui'), worker: 'ui-worker', files: ['src/webview/graph.ts', 'README.md'] }), []);
    const [o] = await t.overlays.recordChanges({ nodeId: node('ui'), worker: 'ui-worker', files: ['src/ledger/store/journal.ts', 'src/webview/x.ts'] });
    assert.equal(o!.entryId, claim.entryId);
    assert.deepEqual(o!.files, ['src/ledger/store/journal.ts']);
    const claimantMail = await t.overlays.readMail({ reader: 'store-worker' });
    assert.equal(claimantMail.length, 1);
    assert.match(claimantMail[0]!.body, /ui-worker \(node .*\.ui\) changed files inside your claim .*: src\/ledger\/store\/journal\.ts/);
    const changerMail = await t.overlays.readMail({ reader: 'ui-worker', nodeId: node('ui') });
    assert.equal(changerMail.length, 1);
    assert.match(changerMail[0]!.body, /store-worker \(node .*\.store\) claimed/);
    // The same worker touching the same claim again is not told twice.
    assert.deepEqual(await t.overlays.recordChanges({ nodeId: node('ui'), worker: 'ui-worker', files: ['src/ledger/store/store.ts'] }), []);
    assert.equal(t.overlays.overlaps(runId).length, 1);
  } finally {
    t.close();
  }
});

test('hostile globs and fields are refused naming the field, quickly, and write nothing', async () => {
  const t = await overlayLedger();
  try {
    const { runId, node } = await startRun(t.ledger, ['a']);
    const seq = t.ledger.seq;
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ paths: ['/etc/passwd'] }, 'paths.0'],
      [{ paths: ['src/../../etc'] }, 'paths.0'],
      [{ paths: ['C:/Windows'] }, 'paths.0'],
      [{ paths: ['src\\a.ts'] }, 'paths.0'],
      [{ paths: ['ok/**', '{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}{s,t}{u,v}'] }, 'paths.1'],
      [{ paths: ['+(+(a|b)|c)*'] }, 'paths.0'],
      [{ paths: ['*a*a*a*a*a*a*a*a*a*a*b'] }, 'paths.0'],
      [{ paths: ['**/a/**/b/**/c/**/d'] }, 'paths.0'],
      [{ paths: ['a'.repeat(GLOB_LIMITS.length + 1)] }, 'paths.0'],
      [{ paths: ['x'.repeat(5000)] }, 'paths.0'],
      [{ paths: ['a\u0000b'] }, 'paths.0'],
      [{ paths: [''] }, 'paths.0'],
      [{ paths: ['./'] }, 'paths.0'],
      [{ paths: Array.from({ length: 33 }, (_, i) => `f${i}`) }, 'paths'],
      [{ paths: [] }, 'paths'],
      [{ kind: 'finding', paths: ['src'] }, 'paths'],
      [{ kind: 'gossip' }, 'kind'],
      [{ title: '' }, 'title'],
      [{ body: 'x'.repeat(20_001) }, 'body'],
      [{ author: '' }, 'author'],
      [{ nodeId: 'r-zzz.a' }, 'nodeId'],
      [{ runId: 'r-none' }, 'runId'],
      [{ supersedes: 'bb-none' }, 'supersedes'],
      [{ paths: 'src/**' }, 'paths'],
    ];
    for (const [over, field] of bad) {
      const input = { runId, kind: 'claim', author: 'ana', nodeId: node('a'), title: 't', paths: ['src/**'], ...over };
      await assert.rejects(t.overlays.writeEntry(input), (e: LedgerError) => e.field === field && e.message.length > 10,
        `expected an error on ${field} for ${JSON.stringify(over).slice(0, 100)}`);
    }
    assert.equal(t.ledger.seq, seq, 'nothing was written');
    // The worst accepted glob against the worst accepted path stays fast: 3 stars in a 255-character segment, 3 globstars at depth 64.
    const worst = claimMatcher([checkGlob('**/*a*a*b/**/x/**/y', 'p')]);
    const longName = Array.from({ length: 64 }, () => 'a'.repeat(15)).join('/');
    assert.equal(worst(`${'a'.repeat(255)}/${longName}`.slice(0, GLOB_LIMITS.pathLength)), false);
    assert.equal(worst('q/xaab/r/x/s/y'), true);
    // Changed paths outside the workspace never match; inside ones are made relative.
    assert.equal(workspacePath('/w', '/etc/passwd'), null);
    assert.equal(workspacePath('/w', '../w2/a'), null);
    assert.equal(workspacePath('/w', path.join('/w', 'src', 'a.ts')), 'src/a.ts');
  } finally {
    t.close();
  }
});

test('two processes write the blackboard at once: every entry lands once, supersessions hold, replay agrees', async () => {
  const t = await overlayLedger();
  const { runId } = await startRun(t.ledger, ['a']);
  t.close();
  const writer = path.join(__dirname, 'boardWriter.ts');
  const count = 30;
  const children = ['w1', 'w2'].map((a) => spawn(process.execPath, ['--import', 'tsx', writer, t.dir, runId, a, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const acks = children.map((c) => collectAcks(c));
  const codes = await Promise.all(children.map(exited));
  codes.forEach((c, i) => assert.equal(c, 0, `writer ${i} failed: ${acks[i]!.stderr()}`));
  const ledger = await openLedger(t.dir);
  try {
    const { OverlayService } = await import('../../../src/ledger/index');
    const board = new OverlayService(ledger);
    const history = board.readBoard({ runId, history: true, limit: 1000 });
    assert.equal(history.length, 2 * count);
    for (const a of acks) for (const [id, title] of a.acks) assert.equal(history.find((e) => e.id === id)?.title, title);
    for (const author of ['w1', 'w2']) {
      const mine = history.filter((e) => e.author === author);
      assert.deepEqual(mine.map((e) => e.title), Array.from({ length: count }, (_, i) => `${author}-${i}`), 'each writer\'s entries in its order');
      // Each writer's every third entry superseded its previous one.
      mine.forEach((e, i) => { if (i % 3 === 2) assert.equal(e.supersedes, mine[i - 1]!.id); });
      mine.forEach((e, i) => { if (i % 3 === 1) assert.equal(e.supersededBy, mine[i + 1]?.id ?? null); });
    }
    assert.equal(board.readBoard({ runId, limit: 1000 }).length, 2 * count - 2 * (count / 3));
    const rebuilt = await replay(ledgerProjection, ledger.events(0, 1_000_000));
    assert.deepEqual(dumpTables(rebuilt), dumpTables(ledger.sql));
  } finally {
    ledger.close();
  }
});
