import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { LedgerError } from './errors';
import { writeFileAtomic } from './store/atomicWrite';
import type { Sql } from './store/sql';

/**
 * The archive of finished runs (issue 11: the hot set stays bounded). A finished run older than the
 * retention moves its graph — nodes, edges, claims, bindings, hand-offs, blackboard entries,
 * contract-net rounds and bids, run-scoped mail — out of the tables into an archive file,
 * `archive/runs-<sha256 prefix>.ndjson` in the ledger folder: one line per run,
 * `{"runId": …, "tables": {table: [row, …]}, "run": {…}}`, rows exactly as the tables held them.
 *
 * Its `runs` row moves too (the line's `run`), unless it is among its variant's newest
 * HOT_RUNS_PER_VARIANT runs with an outcome, which the promotion rule's and assess's windows read; such a
 * row moves later, on a line of its own, once newer runs push it out. A moved row is found by id through
 * `archived_runs`. Its evidence rows go with it (the line's `evidence`), and its variant's counts (runs,
 * finished, successes; evidence, interventions, tokens, reported-done and false-done evidence) are added
 * to `variant_archived`, so the families view, standings and the false-done rate never read the
 * archive. A run whose row moved can be read but not changed (`missingRun`).
 *
 * The file is written and fsynced before the `runs.archived` event that names it (and its SHA-256) is
 * committed; the event's projection deletes those rows, so replaying the events rebuilds the same hot
 * tables, and the events themselves stay in the log (store/eventLog.ts) for `verify` and exports.
 * A commit that fails leaves an archive file no event names, which nothing reads.
 */
export const ARCHIVE_DIR = 'archive';

/**
 * Runs archived per `runs.archived` event: bounds the file, the time the commit holds the lock, and the time
 * every other process spends applying the batch (its deletes) under the lock before its next commit, whatever
 * the backlog. bench/ledger.ts at 100k events: the archiving process's longest hold 45-48 ms at 50, 69 ms at
 * 100; another writer's longest stall during checkpoints 70-78 ms at 50 (it applied a batch under the lock),
 * 42-43 ms in two runs of three at 20 (the third: 89 ms, a fresh process's first commits).
 */
export const ARCHIVE_BATCH = 20;

/** The batch's run ids as a set SQLite reads from one bound JSON array (one statement a table, not a run). */
const IDS = '(SELECT value FROM json_each(?))';

/**
 * The run-scoped tables whose rows an archived run's line carries, in the order they are deleted: how
 * to find a batch's rows (with the run each belongs to, as `__run`) and how to delete them.
 */
const RUN_TABLES: ReadonlyArray<{ table: string; select: string; remove: string }> = [
  ...['claims', 'bindings', 'handoffs'].map((table) => ({
    table,
    select: `SELECT t.*, n.run_id AS __run FROM ${table} t JOIN nodes n ON n.id = t.node_id WHERE n.run_id IN ${IDS} ORDER BY t.rowid`,
    remove: `DELETE FROM ${table} WHERE node_id IN (SELECT id FROM nodes WHERE run_id IN ${IDS})`,
  })),
  {
    table: 'bids',
    select: `SELECT t.*, r.run_id AS __run FROM bids t JOIN rounds r ON r.id = t.round_id WHERE r.run_id IN ${IDS} ORDER BY t.rowid`,
    remove: `DELETE FROM bids WHERE round_id IN (SELECT id FROM rounds WHERE run_id IN ${IDS})`,
  },
  ...['rounds', 'bb_overlaps', 'bb_entries'].map((table) => ({
    table,
    select: `SELECT t.*, t.run_id AS __run FROM ${table} t WHERE t.run_id IN ${IDS} ORDER BY t.rowid`,
    remove: `DELETE FROM ${table} WHERE run_id IN ${IDS}`,
  })),
  ...['mail_members', 'mail_reads'].map((table) => ({
    table,
    select: `SELECT t.*, m.run_id AS __run FROM ${table} t JOIN mail m ON m.id = t.mail_id WHERE m.run_id IN ${IDS} ORDER BY t.rowid`,
    remove: `DELETE FROM ${table} WHERE mail_id IN (SELECT id FROM mail WHERE run_id IN ${IDS})`,
  })),
  ...['mail', 'edges', 'nodes'].map((table) => ({
    table,
    select: `SELECT t.*, t.run_id AS __run FROM ${table} t WHERE t.run_id IN ${IDS} ORDER BY t.rowid`,
    remove: `DELETE FROM ${table} WHERE run_id IN ${IDS}`,
  })),
];

/**
 * What the run watch (watchRuns) records per table: for a changed row (`r` is NEW or OLD), the run ids
 * whose archive line or eligibility the row belongs to. Covers every table `collectRuns` reads (through
 * RUN_TABLES' keys: node, round, mail), the `runs` and `evidence` rows that leave with evicted runs,
 * and what `archivableRuns` judges by: a trial's runs, a run's worktree, the run a node's gate awaits.
 */
const WATCHED: ReadonlyArray<{ table: string; runs: (r: 'NEW' | 'OLD') => string[] }> = [
  ...['claims', 'bindings', 'handoffs'].map((table) => ({ table, runs: (r: string) => [`(SELECT run_id FROM nodes WHERE id = ${r}.node_id)`] })),
  { table: 'bids', runs: (r) => [`(SELECT run_id FROM rounds WHERE id = ${r}.round_id)`] },
  ...['mail_members', 'mail_reads'].map((table) => ({ table, runs: (r: string) => [`(SELECT run_id FROM mail WHERE id = ${r}.mail_id)`] })),
  ...['rounds', 'bb_overlaps', 'bb_entries', 'mail', 'edges', 'evidence', 'trial_runs', 'run_worktrees'].map((table) => ({ table, runs: (r: string) => [`${r}.run_id`] })),
  { table: 'nodes', runs: (r) => [`${r}.run_id`, `${r}.gate_run_id`] },
  { table: 'runs', runs: (r) => [`${r}.id`] },
];

/** Where the run watch stands when a batch is prepared: its generation and the last change recorded then. */
export interface RunWatchMark {
  token: string;
  mark: number;
}

const WATCH_TRIGGERS = WATCHED.flatMap(({ table }) => ['insert', 'update', 'delete'].map((op) => `archive_watch_${table}_${op}`));

/**
 * Starts, or goes on with, recording which runs any change to a run-scoped table touches (TEMP triggers
 * into TEMP table archive_touched: nothing of it reaches the snapshot), and returns the mark to pass to
 * `runsUntouched`. Lets the archiving commit skip preparing its batch again under the lock when nothing
 * of it changed since it was prepared without the lock: that second preparation was half of each
 * archive commit's hold of the lock (bench/ledger.ts). A trial's status change counts as a change to
 * each of its runs. `unwatchRuns` ends the recording.
 */
export function watchRuns(sql: Sql): RunWatchMark {
  const intact = () => sql.get<{ n: number }>(`SELECT count(*) AS n FROM sqlite_temp_master WHERE type = 'trigger' AND name IN ${IDS}`, [JSON.stringify(WATCH_TRIGGERS)])?.n === WATCH_TRIGGERS.length;
  let row: { token: string | null } | undefined;
  try {
    row = sql.get<{ token: string | null }>('SELECT token FROM temp.archive_watch');
  } catch {
    // No watch yet (or the database was reloaded): one is started below.
  }
  // A new token tells a mark taken before this from one taken after, whatever the rowids.
  const token = randomBytes(8).toString('hex');
  if (row !== undefined && intact()) {
    // Paused by the last batch's commit (pauseRunWatch): recording resumes from here under a new token.
    if (row.token === null) sql.run('UPDATE temp.archive_watch SET token = ?', [token]);
    else return { token: row.token, mark: lastTouch(sql) };
  } else {
    unwatchRuns(sql);
    const touch = (exprs: string[]) => exprs.map((x) => `INSERT INTO archive_touched(run_id) SELECT ${x} WHERE ${x} IS NOT NULL;`).join(' ');
    const recording = 'WHEN (SELECT token FROM temp.archive_watch) IS NOT NULL';
    const ddl = [
      // token NULL: paused (pauseRunWatch).
      'CREATE TEMP TABLE archive_watch(token TEXT);',
      'CREATE TEMP TABLE archive_touched(n INTEGER PRIMARY KEY, run_id TEXT NOT NULL);',
      ...WATCHED.flatMap(({ table, runs }) => [
        `CREATE TEMP TRIGGER archive_watch_${table}_insert AFTER INSERT ON main.${table} ${recording} BEGIN ${touch(runs('NEW'))} END;`,
        `CREATE TEMP TRIGGER archive_watch_${table}_update AFTER UPDATE ON main.${table} ${recording} BEGIN ${touch([...runs('OLD'), ...runs('NEW')])} END;`,
        `CREATE TEMP TRIGGER archive_watch_${table}_delete AFTER DELETE ON main.${table} ${recording} BEGIN ${touch(runs('OLD'))} END;`,
      ]),
      // A trial reopened or closed changes whether its runs may be archived.
      `CREATE TEMP TRIGGER archive_watch_trials AFTER UPDATE ON main.trials ${recording} BEGIN INSERT INTO archive_touched(run_id) SELECT run_id FROM trial_runs WHERE trial_id = NEW.id; END;`,
    ];
    sql.exec(ddl.join('\n'));
    sql.run('INSERT INTO archive_watch(token) VALUES (?)', [token]);
  }
  return { token, mark: lastTouch(sql) };
}

function lastTouch(sql: Sql): number {
  return sql.get<{ n: number | null }>('SELECT max(n) AS n FROM archive_touched')?.n ?? 0;
}

/**
 * Pauses the run watch (watchRuns) until the next `watchRuns`, which resumes it under a new token: called
 * in the archiving commit's transaction, so that applying the batch's deletes does not record each row
 * they remove (that doubled their cost under the lock). Every mark taken before is then stale
 * (runsUntouched says false), since what happens while paused is not recorded. Does nothing without a watch.
 */
export function pauseRunWatch(sql: Sql): void {
  if (sql.get("SELECT 1 FROM sqlite_temp_master WHERE type = 'table' AND name = 'archive_watch'")) sql.run('UPDATE temp.archive_watch SET token = NULL');
}

/**
 * Whether no change to any of `runIds` was recorded since `since` was taken (watchRuns), by a watch
 * that ran the whole time: false, to be safe, when the watch was ended or restarted meanwhile (another
 * archiving in this process ended it, or the tables were reloaded from a snapshot).
 */
export function runsUntouched(sql: Sql, since: RunWatchMark, runIds: readonly string[]): boolean {
  try {
    if (sql.get<{ token: string }>('SELECT token FROM temp.archive_watch')?.token !== since.token) return false;
    const triggers = sql.get<{ n: number }>(`SELECT count(*) AS n FROM sqlite_temp_master WHERE type = 'trigger' AND name LIKE 'archive_watch_%'`)?.n;
    if (triggers !== WATCH_TRIGGERS.length + 1) return false;
    return !sql.get(`SELECT 1 FROM archive_touched WHERE n > ? AND run_id IN ${IDS} LIMIT 1`, [since.mark, JSON.stringify(runIds)]);
  } catch {
    // The watch's tables are gone (a reloaded database): nothing can be said.
    return false;
  }
}

/** Ends the run watch (watchRuns): drops its triggers and tables, so that commits no longer pay for them. */
export function unwatchRuns(sql: Sql): void {
  sql.exec([...WATCH_TRIGGERS, 'archive_watch_trials'].map((t) => `DROP TRIGGER IF EXISTS temp.${t};`).join(' ') +
    ' DROP TABLE IF EXISTS temp.archive_touched; DROP TABLE IF EXISTS temp.archive_watch;');
}

/** One archived run as its archive line holds it: the rows of each run-scoped table. */
export interface ArchivedRun {
  runId: string;
  tables: Record<string, Array<Record<string, unknown>>>;
  /**
   * The run's own `runs` row, on the line written when the row left the table (see evictableRuns).
   * Its `archive` is the file holding the run's graph, or null when that is this same file.
   */
  run?: Record<string, unknown>;
  /** The run's evidence rows, oldest first, on the line where its row is. */
  evidence?: Array<Record<string, unknown>>;
}

/**
 * One table's rows on an archive line, typed as that table's raw rows (what its queries would return): a
 * new array each time, since lines are kept for the next reader (readArchivedRun) and callers sort in place.
 */
export function archivedRows<R>(tables: ArchivedRun['tables'], table: string): R[] {
  return [...(tables[table] ?? [])] as unknown as R[];
}

/**
 * Length of new evidence ids (`e-` and 8 characters, 40 bits). Ids are drawn against the evidence in
 * memory; archived evidence is never looked up by id, and at this length a new id repeats an archived
 * one with a chance of n/2^40 per draw (n archived rows: one in a million per draw at a million rows).
 */
export const EVIDENCE_ID_LENGTH = 8;

/**
 * How many of each variant's newest runs with an outcome keep their `runs` row in memory after their
 * graph is archived: the most any window of the promotion rule or of `formula_assess` reads by default
 * (the screen's incumbent history, 500; an assess page, at most 1,000), so that those windows read the
 * same rows whether or not older runs were archived. A policy whose `historyRuns` is larger counts the
 * newest 1,000.
 */
export const HOT_RUNS_PER_VARIANT = 1000;

/** Rows (of runs whose graph is already archived) that leave `runs` per `runs.archived` event: they are small lines. */
export const EVICT_BATCH = 2000;

/**
 * The runs that may be archived now, oldest finished first, at most `limit`: finished (done, failed,
 * cancelled) before `before` (ISO time), not yet archived, not counted by an open trial, without a
 * worktree still waiting to be merged or discarded, and not awaited by a run gate of a running run.
 * Read through the `runs_archivable` index, so its cost does not grow with the archived history.
 */
export function archivableRuns(sql: Sql, before: string, limit: number): string[] {
  return sql.all<{ id: string }>(
    // INDEXED BY: left to itself the planner reads every finished run through runs_status and sorts
    // them, which made archiving a long history quadratic (225 s for 91k runs at 1M events).
    `SELECT r.id FROM runs r INDEXED BY runs_archivable
     WHERE r.archive IS NULL AND r.finished_at IS NOT NULL AND r.finished_at < ? AND r.status IN ('done', 'failed', 'cancelled')
       AND NOT EXISTS (SELECT 1 FROM trial_runs tr JOIN trials t ON t.id = tr.trial_id WHERE tr.run_id = r.id AND t.status = 'open')
       AND NOT EXISTS (SELECT 1 FROM run_worktrees w WHERE w.run_id = r.id AND w.status IN ('open', 'finished'))
       AND NOT EXISTS (SELECT 1 FROM nodes g WHERE g.gate_run_id = r.id AND g.state NOT IN ('done', 'failed', 'skipped'))
     ORDER BY r.finished_at LIMIT ?`, [before, limit]).map((r) => r.id);
}

/**
 * The runs whose `runs` row leaves memory with the next `runs.archived` event, at most `limit` besides
 * `batch`: of `batch` (the runs whose graph that event archives) and of the runs whose graph is already
 * archived, those of no variant, and those of a variant older than its newest `keep` runs with an
 * outcome (default HOT_RUNS_PER_VARIANT). Each variant's threshold is one read through runs_variant, so the cost is the
 * variants with archived rows in memory plus the rows chosen, not the history.
 */
export function evictableRuns(sql: Sql, batch: readonly string[], limit: number, keep = HOT_RUNS_PER_VARIANT): string[] {
  const thresholds = new Map<string, number>();
  // Below this created_seq a run of the variant is outside every window; -1 when it has fewer runs than that.
  const below = (variantId: string): number => {
    let t = thresholds.get(variantId);
    if (t === undefined) {
      t = sql.get<{ s: number }>(
        `SELECT created_seq AS s FROM runs WHERE variant_id = ? AND outcome IS NOT NULL ORDER BY created_seq DESC LIMIT 1 OFFSET ${Math.max(0, Math.floor(keep) - 1)}`,
        [variantId])?.s ?? -1;
      thresholds.set(variantId, t);
    }
    return t;
  };
  const out = sql.all<{ id: string; variant_id: string | null; created_seq: number }>(
    `SELECT id, variant_id, created_seq FROM runs WHERE id IN ${IDS}`, [JSON.stringify(batch)])
    .filter((r) => r.variant_id === null || r.created_seq < below(r.variant_id)).map((r) => r.id);
  // Rows whose graph an earlier event archived, through the partial index runs_archived (only such rows are
  // in it): without it each batch read every run, and archiving 1M events of history took minutes more.
  const earlier: string[] = [];
  const room = () => limit - earlier.length;
  earlier.push(...sql.all<{ id: string }>(`SELECT id FROM runs INDEXED BY runs_archived WHERE archive IS NOT NULL AND variant_id IS NULL LIMIT ${room()}`).map((r) => r.id));
  for (const { variant_id: v } of sql.all<{ variant_id: string }>('SELECT DISTINCT variant_id FROM runs INDEXED BY runs_archived WHERE archive IS NOT NULL AND variant_id IS NOT NULL')) {
    if (room() <= 0) break;
    const t = below(v);
    if (t < 0) continue;
    earlier.push(...sql.all<{ id: string }>(
      `SELECT id FROM runs INDEXED BY runs_archived WHERE variant_id = ? AND created_seq < ? AND archive IS NOT NULL ORDER BY created_seq LIMIT ${room()}`, [v, t]).map((r) => r.id));
  }
  return [...out, ...earlier];
}

/**
 * The rows of each of `runIds` in every run-scoped table, as their archive lines hold them (rows in
 * table order; runs in the order given). One query a table for the whole batch.
 */
export function collectRuns(sql: Sql, runIds: readonly string[], evicted: readonly string[] = []): ArchivedRun[] {
  const byRun = new Map<string, ArchivedRun>(runIds.map((runId) => [runId, { runId, tables: {} }]));
  const ids = JSON.stringify(runIds);
  for (const { table, select } of RUN_TABLES) {
    for (const row of sql.all<Record<string, unknown> & { __run: string }>(select, [ids])) {
      const { __run: runId, ...rest } = row;
      const tables = byRun.get(runId)!.tables;
      (tables[table] ??= []).push(rest);
    }
  }
  // The rows that leave `runs`, as they will be once the event is applied: a run archived by this same
  // event has its graph on this line (archive null, since the file's name is its content's digest).
  const gone = JSON.stringify(evicted);
  for (const row of sql.all<Record<string, unknown> & { id: string }>(`SELECT * FROM runs WHERE id IN ${IDS} ORDER BY created_seq`, [gone])) {
    const line = byRun.get(row.id);
    if (line) line.run = { ...row, archive: null };
    else byRun.set(row.id, { runId: row.id, tables: {}, run: row });
  }
  for (const row of sql.all<Record<string, unknown> & { run_id: string }>(`SELECT * FROM evidence WHERE run_id IN ${IDS} ORDER BY seq`, [gone])) {
    (byRun.get(row.run_id)!.evidence ??= []).push(row);
  }
  return [...byRun.values()];
}

/** An archive file's content for `runs` (one line a run), its SHA-256 (hex) and the name it is written under. */
export function archiveText(runs: readonly ArchivedRun[]): { text: string; sha256: string; archive: string } {
  const text = runs.map((r) => `${JSON.stringify(r)}\n`).join('');
  const sha256 = createHash('sha256').update(text).digest('hex');
  return { text, sha256, archive: `runs-${sha256.slice(0, 16)}.ndjson` };
}

/**
 * Writes an archive file (archiveText) in `<ledgerDir>/archive/`, atomically and durably. Throws a
 * LedgerError (`io`) naming the file when the disk refuses.
 */
export function writeArchive(ledgerDir: string, file: { text: string; archive: string }): void {
  const { text, archive } = file;
  const folder = path.join(ledgerDir, ARCHIVE_DIR);
  try {
    fs.mkdirSync(folder, { recursive: true });
  } catch (e) {
    throw new LedgerError(`cannot create the archive folder ${folder}: ${(e as Error).message}; nothing was archived`, 'io');
  }
  writeFileAtomic(path.join(folder, archive), text);
}

/** The SHA-256 (hex) of archive file `archive` as it is on disk now; null when it cannot be read. */
export function archiveDigest(ledgerDir: string, archive: string): string | null {
  try {
    return createHash('sha256').update(fs.readFileSync(path.join(ledgerDir, ARCHIVE_DIR, path.basename(archive)))).digest('hex');
  } catch {
    return null;
  }
}

/**
 * The projection of `runs.archived`: drops the runs' rows from the run-scoped tables and marks the runs;
 * then the `evicted` runs' rows leave `runs`: each is found by id in archived_runs, and its variant's
 * counts move to variant_archived.
 */
export function applyArchived(sql: Sql, runIds: readonly string[], archive: string, evicted: readonly string[] = []): void {
  const ids = JSON.stringify(runIds);
  for (const { remove } of RUN_TABLES) sql.run(remove, [ids]);
  sql.run(`UPDATE runs SET archive = ? WHERE id IN ${IDS}`, [archive, ids]);
  if (evicted.length === 0) return;
  const gone = JSON.stringify(evicted);
  sql.run('INSERT OR IGNORE INTO archive_files(name) VALUES (?)', [archive]);
  sql.run(
    `INSERT INTO variant_archived(variant_id, runs, finished, successes)
     SELECT variant_id, count(*), count(outcome), sum(outcome = 'success') FROM runs WHERE id IN ${IDS} AND variant_id IS NOT NULL GROUP BY variant_id
     ON CONFLICT(variant_id) DO UPDATE SET runs = runs + excluded.runs, finished = finished + excluded.finished, successes = successes + excluded.successes`,
    [gone]);
  // The same sums variantStandings and falseDoneRate read from the evidence table, by the evidence's variant.
  sql.run(
    `INSERT INTO variant_archived(variant_id, evidence, interventions, tokens, reported_done, false_done)
     SELECT variant_id, count(*), sum(coalesce(interventions, 0)), sum(coalesce(tokens, 0)), sum(kind = 'model_report' AND success = 1), sum(kind = 'false_done')
     FROM evidence WHERE run_id IN ${IDS} AND variant_id IS NOT NULL GROUP BY variant_id
     ON CONFLICT(variant_id) DO UPDATE SET evidence = evidence + excluded.evidence, interventions = interventions + excluded.interventions,
       tokens = tokens + excluded.tokens, reported_done = reported_done + excluded.reported_done, false_done = false_done + excluded.false_done`,
    [gone]);
  sql.run(`INSERT OR REPLACE INTO archived_runs(id, file) SELECT id, (SELECT id FROM archive_files WHERE name = ?) FROM runs WHERE id IN ${IDS}`, [archive, gone]);
  sql.run(`DELETE FROM evidence WHERE run_id IN ${IDS}`, [gone]);
  sql.run(`DELETE FROM runs WHERE id IN ${IDS}`, [gone]);
}

/**
 * Runs the projection of `runs.archived` for `runIds` (their rows leaving `runs` too) in a transaction that
 * is rolled back: the tables end as they were. Every process that writes does this once off the lock
 * (Ledger.rehearseArchive), since the first archive batch a process applied ran its statements cold under
 * the lock, in the catch-up before its own commit: 26-88 ms against 5-10 ms for the next batches
 * (bench/ledger.ts, BENCH_STALL_PHASES=1, the "during" writer at 100k events). Must not be called inside a
 * batch (Sql.enterBatch): its BEGIN commits the long transaction first. Throws what sql.js throws, after
 * the rollback.
 */
export function rehearseArchived(sql: Sql, runIds: readonly string[]): void {
  sql.run('BEGIN');
  try {
    // A name no archive file has (they are runs- and 16 hex digits of a SHA-256), rolled back with the rest.
    applyArchived(sql, runIds, 'runs-rehearsal.ndjson', runIds);
  } finally {
    sql.run('ROLLBACK');
  }
}

/** Whether `runId` names a run, in memory or archived: new run ids are drawn against both. */
export function runIdTaken(sql: Sql, runId: string): boolean {
  return !!sql.get('SELECT 1 FROM runs WHERE id = ? UNION ALL SELECT 1 FROM archived_runs WHERE id = ?', [runId, runId]);
}

/** The archive file holding the row of a run whose row left `runs`, or undefined. */
export function archivedRunFile(sql: Sql, runId: string): string | undefined {
  return sql.get<{ name: string }>('SELECT f.name FROM archived_runs a JOIN archive_files f ON f.id = a.file WHERE a.id = ?', [runId])?.name;
}

/**
 * The error for a run id with no row in memory: `conflict` when the run was archived (what the caller
 * asked for can no longer change it), `not_found` otherwise. `field` names the input.
 */
export function missingRun(sql: Sql, field: string, runId: string): LedgerError {
  const file = archivedRunFile(sql, runId);
  if (file) {
    return new LedgerError(
      `${field}: run "${runId}" is archived (${ARCHIVE_DIR}/${file}); a run finished before the retention can be read but no longer changed`,
      'conflict', field);
  }
  return new LedgerError(`${field}: no run with id "${runId}"`, 'not_found', field);
}

/** The archive lines read last (at most RECENT_LINES), by file identity and run; the oldest read is dropped first. */
const recentLines = new Map<string, ArchivedRun>();
const RECENT_LINES = 8;

/**
 * Reads one archived run's rows back from `archive` (a name `runs.archived` recorded). Throws a
 * LedgerError: `not_found` when the file has no line for the run, `corrupt` when a line does not
 * parse, `io` when the file cannot be read (the error names the file and says to restore it). The
 * line returned may be shared with later readers: do not change it (archivedRows gives copies).
 */
export function readArchivedRun(ledgerDir: string, archive: string, runId: string): ArchivedRun {
  if (!/^runs-[0-9a-f]{16}\.ndjson$/.test(archive)) throw new LedgerError(`archive name "${archive}" is not one the ledger writes`, 'corrupt');
  const file = path.join(ledgerDir, ARCHIVE_DIR, archive);
  let text: string;
  let key: string;
  try {
    // Opening an archived run reads its line for the row, the graph and each overlay: the line is kept for the
    // next reads, keyed by the file's identity so that a file restored or replaced is read afresh.
    const st = fs.statSync(file);
    key = `${file}\0${st.ino}\0${st.size}\0${st.mtimeMs}\0${runId}`;
    const kept = recentLines.get(key);
    if (kept) {
      recentLines.delete(key);
      recentLines.set(key, kept);
      return kept;
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new LedgerError(`cannot read archive ${file} (run ${runId}): ${(e as Error).message}; restore the archive folder from a backup`, 'io');
  }
  const start = `{"runId":${JSON.stringify(runId)},`;
  for (let pos = 0; pos < text.length;) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    if (text.startsWith(start, pos)) {
      let line: ArchivedRun;
      try {
        line = JSON.parse(text.slice(pos, end)) as ArchivedRun;
      } catch {
        throw new LedgerError(`archive ${file} is damaged at run ${runId}; restore the archive folder from a backup`, 'corrupt');
      }
      recentLines.set(key, line);
      if (recentLines.size > RECENT_LINES) recentLines.delete(recentLines.keys().next().value!);
      return line;
    }
    pos = end + 1;
  }
  throw new LedgerError(`archive ${file} holds no run ${runId}`, 'not_found');
}
