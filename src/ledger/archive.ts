import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { LedgerError } from './errors';
import { writeFileAtomic } from './store/atomicWrite';
import type { Sql } from './store/sql';

/**
 * The archive of finished runs (issue 11: the hot set stays bounded). A finished run older than the
 * retention keeps its row in `runs` (title, variant, outcome, tokens, duration: what lists, the
 * families view and the promotion rule aggregate) and its evidence rows, but its graph — nodes, edges,
 * claims, bindings, hand-offs, blackboard entries, contract-net rounds and bids, run-scoped mail — moves
 * out of the tables into an archive file, `archive/runs-<sha256 prefix>.ndjson` in the ledger folder:
 * one line per run, `{"runId": …, "tables": {table: [row, …]}}`, rows exactly as the tables held them.
 *
 * The file is written and fsynced before the `runs.archived` event that names it (and its SHA-256) is
 * committed; the event's projection deletes those rows, so replaying the events rebuilds the same hot
 * tables, and the events themselves stay in the log (store/eventLog.ts) for `verify` and exports.
 * A commit that fails leaves an archive file no event names, which nothing reads.
 */
export const ARCHIVE_DIR = 'archive';

/** Runs archived per `runs.archived` event: bounds the file and the time the commit holds the lock (tens of ms) whatever the backlog. */
export const ARCHIVE_BATCH = 100;

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

/** One archived run as its archive line holds it: the rows of each run-scoped table. */
export interface ArchivedRun {
  runId: string;
  tables: Record<string, Array<Record<string, unknown>>>;
}

/**
 * The runs that may be archived now, oldest finished first, at most `limit`: finished (done, failed,
 * cancelled) before `before` (ISO time), not yet archived, not counted by an open trial, without a
 * worktree still waiting to be merged or discarded, and not awaited by a run gate of a running run.
 * Read through the `runs_archivable` index, so its cost does not grow with the archived history.
 */
export function archivableRuns(sql: Sql, before: string, limit: number): string[] {
  return sql.all<{ id: string }>(
    `SELECT r.id FROM runs r
     WHERE r.archive IS NULL AND r.finished_at IS NOT NULL AND r.finished_at < ? AND r.status IN ('done', 'failed', 'cancelled')
       AND NOT EXISTS (SELECT 1 FROM trial_runs tr JOIN trials t ON t.id = tr.trial_id WHERE tr.run_id = r.id AND t.status = 'open')
       AND NOT EXISTS (SELECT 1 FROM run_worktrees w WHERE w.run_id = r.id AND w.status IN ('open', 'finished'))
       AND NOT EXISTS (SELECT 1 FROM nodes g WHERE g.gate_run_id = r.id AND g.state NOT IN ('done', 'failed', 'skipped'))
     ORDER BY r.finished_at LIMIT ?`, [before, limit]).map((r) => r.id);
}

/**
 * The rows of each of `runIds` in every run-scoped table, as their archive lines hold them (rows in
 * table order; runs in the order given). One query a table for the whole batch.
 */
export function collectRuns(sql: Sql, runIds: readonly string[]): ArchivedRun[] {
  const byRun = new Map<string, ArchivedRun>(runIds.map((runId) => [runId, { runId, tables: {} }]));
  const ids = JSON.stringify(runIds);
  for (const { table, select } of RUN_TABLES) {
    for (const row of sql.all<Record<string, unknown> & { __run: string }>(select, [ids])) {
      const { __run: runId, ...rest } = row;
      const tables = byRun.get(runId)!.tables;
      (tables[table] ??= []).push(rest);
    }
  }
  return [...byRun.values()];
}

/**
 * Writes `runs` as one archive file in `<ledgerDir>/archive/`, atomically and durably; returns its
 * name and SHA-256 (hex). Throws a LedgerError (`io`) naming the file when the disk refuses.
 */
export function writeArchive(ledgerDir: string, runs: readonly ArchivedRun[]): { archive: string; sha256: string } {
  const text = runs.map((r) => `${JSON.stringify(r)}\n`).join('');
  const sha256 = createHash('sha256').update(text).digest('hex');
  const archive = `runs-${sha256.slice(0, 16)}.ndjson`;
  const folder = path.join(ledgerDir, ARCHIVE_DIR);
  try {
    fs.mkdirSync(folder, { recursive: true });
  } catch (e) {
    throw new LedgerError(`cannot create the archive folder ${folder}: ${(e as Error).message}; nothing was archived`, 'io');
  }
  writeFileAtomic(path.join(folder, archive), text);
  return { archive, sha256 };
}

/** The SHA-256 (hex) of archive file `archive` as it is on disk now; null when it cannot be read. */
export function archiveDigest(ledgerDir: string, archive: string): string | null {
  try {
    return createHash('sha256').update(fs.readFileSync(path.join(ledgerDir, ARCHIVE_DIR, path.basename(archive)))).digest('hex');
  } catch {
    return null;
  }
}

/** The projection of `runs.archived`: drops the runs' rows from the run-scoped tables and marks the runs. */
export function applyArchived(sql: Sql, runIds: readonly string[], archive: string): void {
  const ids = JSON.stringify(runIds);
  for (const { remove } of RUN_TABLES) sql.run(remove, [ids]);
  sql.run(`UPDATE runs SET archive = ? WHERE id IN ${IDS}`, [archive, ids]);
}

/**
 * Reads one archived run's rows back from `archive` (a name `runs.archived` recorded). Throws a
 * LedgerError: `not_found` when the file has no line for the run, `corrupt` when a line does not
 * parse, `io` when the file cannot be read (the error names the file and says to restore it).
 */
export function readArchivedRun(ledgerDir: string, archive: string, runId: string): ArchivedRun {
  if (!/^runs-[0-9a-f]{16}\.ndjson$/.test(archive)) throw new LedgerError(`archive name "${archive}" is not one the ledger writes`, 'corrupt');
  const file = path.join(ledgerDir, ARCHIVE_DIR, archive);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new LedgerError(`cannot read archive ${file} (run ${runId}): ${(e as Error).message}; restore the archive folder from a backup`, 'io');
  }
  const key = `{"runId":${JSON.stringify(runId)},`;
  for (let pos = 0; pos < text.length;) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    if (text.startsWith(key, pos)) {
      try {
        return JSON.parse(text.slice(pos, end)) as ArchivedRun;
      } catch {
        throw new LedgerError(`archive ${file} is damaged at run ${runId}; restore the archive folder from a backup`, 'corrupt');
      }
    }
    pos = end + 1;
  }
  throw new LedgerError(`archive ${file} holds no run ${runId}`, 'not_found');
}
