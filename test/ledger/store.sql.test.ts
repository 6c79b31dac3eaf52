import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fc from 'fast-check';
import { Sql, loadSqlJs } from '../../src/ledger/store/sql';
import type { StoredEvent } from '../../src/ledger/store/journal';
import { decodeLine, encodeCommitLine, encodeLine } from '../../src/ledger/store/journal';

async function freshSql(): Promise<Sql> {
  const SQL = await loadSqlJs();
  const sql = new Sql(new SQL.Database());
  sql.exec('CREATE TABLE runs (id TEXT PRIMARY KEY, title TEXT NOT NULL)');
  return sql;
}

test('statements cached before an export keep working after it, and the export holds every row', async () => {
  const sql = await freshSql();
  try {
    sql.run('INSERT INTO runs(id, title) VALUES (?, ?)', ['r-1', 'first']);
    assert.equal(sql.get<{ title: string }>('SELECT title FROM runs WHERE id = ?', ['r-1'])?.title, 'first');
    const image = sql.export();
    // The same cached statements, used again on the exported connection: a checkpoint must not cost re-preparing them.
    sql.run('INSERT INTO runs(id, title) VALUES (?, ?)', ['r-2', 'second']);
    assert.deepEqual(sql.all<{ id: string; title: string }>('SELECT id, title FROM runs ORDER BY id'), [
      { id: 'r-1', title: 'first' },
      { id: 'r-2', title: 'second' },
    ]);
    const SQL = await loadSqlJs();
    const copy = new Sql(new SQL.Database(image));
    try {
      assert.deepEqual(copy.all('SELECT id, title FROM runs'), [{ id: 'r-1', title: 'first' }], 'the export is the state at its moment');
    } finally {
      copy.close();
    }
  } finally {
    sql.close();
  }
});

test('a cached SELECT * sees a column that a migration added (column names are not kept across DDL)', async () => {
  const sql = await freshSql();
  try {
    sql.run('INSERT INTO runs(id, title) VALUES (?, ?)', ['r-1', 'first']);
    assert.deepEqual(sql.get('SELECT * FROM runs'), { id: 'r-1', title: 'first' });
    sql.exec("ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'running'");
    assert.deepEqual(sql.get('SELECT * FROM runs'), { id: 'r-1', title: 'first', status: 'running' });
    sql.exec('ALTER TABLE runs RENAME COLUMN title TO name');
    assert.deepEqual(sql.get('SELECT * FROM runs'), { id: 'r-1', name: 'first', status: 'running' });
  } finally {
    sql.close();
  }
});

test('a failed statement inside a transaction leaves the transaction usable and a rollback undoes it', async () => {
  const sql = await freshSql();
  try {
    sql.run('BEGIN');
    sql.run('INSERT INTO runs(id, title) VALUES (?, ?)', ['r-1', 'first']);
    sql.run('SAVEPOINT one_write');
    assert.throws(() => sql.run('INSERT INTO runs(id, title) VALUES (?, ?)', ['r-1', 'again']), /UNIQUE/);
    sql.run('ROLLBACK TO one_write');
    sql.run('RELEASE one_write');
    sql.run('COMMIT');
    assert.deepEqual(sql.all('SELECT id, title FROM runs'), [{ id: 'r-1', title: 'first' }]);
    sql.run('BEGIN');
    sql.run('INSERT INTO runs(id, title) VALUES (?, ?)', ['r-2', 'second']);
    sql.run('ROLLBACK');
    assert.equal(sql.all('SELECT id FROM runs').length, 1);
  } finally {
    sql.close();
  }
});

test('a commit line built from payloads stringified once is byte for byte the line encodeLine gives', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ seq: fc.nat(), ts: fc.string(), actor: fc.string(), kind: fc.string(), payload: fc.jsonValue() }), { minLength: 1, maxLength: 5 }),
      (raw) => {
        // The store builds each event with these keys in this order.
        const events: StoredEvent[] = raw.map((e) => ({ seq: e.seq, ts: e.ts, actor: e.actor, kind: e.kind, payload: e.payload }));
        const line = encodeCommitLine(events, events.map((e) => JSON.stringify(e.payload)));
        assert.equal(line, encodeLine({ events }));
        assert.deepEqual(decodeLine(line.slice(0, -1)), JSON.parse(JSON.stringify({ events })));
      },
    ),
    { numRuns: 300 },
  );
});

test('a large database keeps free pages, so that the next commits reuse them instead of growing the in-memory file', async () => {
  const sql = await freshSql();
  try {
    sql.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE TABLE notes (id INTEGER PRIMARY KEY, body BLOB NOT NULL)');
    const pages = () => sql.get<{ page_count: number }>('PRAGMA page_count')!.page_count;
    const free = () => sql.get<{ freelist_count: number }>('PRAGMA freelist_count')!.freelist_count;
    sql.run("INSERT INTO meta(key, value) VALUES ('seq', '7')");
    assert.equal(sql.reserveFreePages(), 0, 'a small database grows its file as it goes');
    for (let i = 0; i < 40; i++) sql.run('INSERT INTO notes(body) VALUES (zeroblob(262144))');
    const before = pages();
    const reserved = sql.reserveFreePages();
    assert.ok(reserved >= (before / 8 - 1) * 4096, `an eighth of ${before} pages reserved (${reserved} bytes)`);
    assert.ok(free() * 8 >= before - 8, `${free()} pages free of ${pages()}`);
    assert.equal(sql.reserveFreePages(), 0, 'nothing more is due while the reserve lasts');
    assert.deepEqual(sql.all('SELECT key, value FROM meta'), [{ key: 'seq', value: '7' }], 'the tables hold what they held');
    const size = pages();
    for (let i = 0; i < 100; i++) sql.run('INSERT INTO notes(body) VALUES (zeroblob(4096))');
    assert.equal(pages(), size, 'a hundred commits of a page each fit in the reserve: the file did not grow');
  } finally {
    sql.db.close();
  }
});
