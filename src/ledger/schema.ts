import { backfillTrialArms } from './promotion/arms';
import { backfillNodeAttribution } from './evidence';
import type { Sql } from './store/sql';
import { OVERLAY_TABLE_NAMES, OVERLAY_TABLES } from './overlays/tables';

/**
 * The projection tables, versioned. A migration takes the tables from one version to the next; an
 * empty database runs them all. Tables hold only what replaying the events puts there.
 */
export const SCHEMA_VERSION = 10;

const MIGRATIONS: Record<number, string> = {
  1: `
CREATE TABLE families (
  id TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  active_variant TEXT,
  policy TEXT,
  policy_version INTEGER,
  policy_hash TEXT,
  created_seq INTEGER NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE variants (
  id TEXT PRIMARY KEY,
  family_id TEXT NOT NULL REFERENCES families(id),
  generation INTEGER NOT NULL,
  parents TEXT NOT NULL,
  mutation TEXT,
  summary TEXT NOT NULL,
  proposed_by TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  content TEXT NOT NULL,
  status TEXT NOT NULL,
  status_reason TEXT,
  created_seq INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (family_id, content_hash)
);
CREATE INDEX variants_family ON variants(family_id, generation);
CREATE TABLE selections (
  seq INTEGER PRIMARY KEY,
  family_id TEXT NOT NULL,
  variant_id TEXT NOT NULL,
  previous_variant_id TEXT,
  reason TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX selections_family ON selections(family_id, seq);
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  family_id TEXT,
  variant_id TEXT,
  generation INTEGER,
  title TEXT NOT NULL,
  vars TEXT NOT NULL,
  task_key TEXT,
  arm TEXT,
  status TEXT NOT NULL,
  outcome TEXT,
  outcome_source TEXT,
  tokens INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  interventions INTEGER NOT NULL DEFAULT 0,
  review_rejections INTEGER NOT NULL DEFAULT 0,
  open_nodes INTEGER NOT NULL DEFAULT 0,
  created_seq INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE INDEX runs_status ON runs(status, created_seq);
CREATE INDEX runs_variant ON runs(variant_id, created_seq);
CREATE TABLE nodes (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES runs(id),
  step_id TEXT NOT NULL,
  title TEXT NOT NULL,
  instructions TEXT NOT NULL,
  state TEXT NOT NULL,
  unmet INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  on_exhausted TEXT NOT NULL,
  gate TEXT,
  gate_open INTEGER NOT NULL DEFAULT 0,
  review INTEGER NOT NULL DEFAULT 0,
  claim_id TEXT,
  worker TEXT,
  lease_expires TEXT,
  result TEXT,
  tokens INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  created_seq INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX nodes_state ON nodes(state, created_seq);
CREATE INDEX nodes_run ON nodes(run_id, created_seq);
CREATE TABLE edges (
  run_id TEXT NOT NULL,
  from_id TEXT NOT NULL,
  to_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  PRIMARY KEY (from_id, to_id, kind)
);
CREATE INDEX edges_to ON edges(to_id);
CREATE INDEX edges_run ON edges(run_id);
CREATE TABLE claims (
  id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  worker TEXT NOT NULL,
  claimed_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  released_at TEXT,
  release_reason TEXT
);
CREATE INDEX claims_node ON claims(node_id);
CREATE TABLE bindings (
  node_id TEXT NOT NULL,
  worker_kind TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  bound_at TEXT NOT NULL,
  PRIMARY KEY (node_id, thread_id)
);
CREATE TABLE handoffs (
  id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  from_worker TEXT NOT NULL,
  to_worker TEXT NOT NULL,
  note TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE evidence (
  id TEXT PRIMARY KEY,
  family_id TEXT,
  variant_id TEXT,
  run_id TEXT,
  node_id TEXT,
  kind TEXT NOT NULL,
  success INTEGER,
  interventions INTEGER,
  review_rejections INTEGER,
  tokens INTEGER,
  duration_ms INTEGER,
  note TEXT NOT NULL,
  actor TEXT NOT NULL,
  at TEXT NOT NULL,
  seq INTEGER NOT NULL
);
CREATE INDEX evidence_variant ON evidence(variant_id, seq);
CREATE INDEX evidence_run ON evidence(run_id);
CREATE TABLE trials (
  id TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  candidate_id TEXT NOT NULL,
  incumbent_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  share REAL NOT NULL,
  status TEXT NOT NULL,
  started_seq INTEGER NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT
);
CREATE INDEX trials_family ON trials(family_id, status);
CREATE TABLE decisions (
  id TEXT PRIMARY KEY,
  family_id TEXT NOT NULL,
  candidate_id TEXT NOT NULL,
  incumbent_id TEXT,
  trial_id TEXT,
  stage TEXT NOT NULL,
  verdict TEXT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  policy_version INTEGER,
  policy_hash TEXT,
  detail TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX decisions_family ON decisions(family_id, seq);
`,
  // The controller's columns: a step skipped by \`when\` settles only after its inputs (skip), a timer
  // gate's opening time and the run a run gate waits for, and the index that finds expired leases.
  2: `
ALTER TABLE nodes ADD COLUMN skip INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN gate_due_at TEXT;
ALTER TABLE nodes ADD COLUMN gate_run_id TEXT;
CREATE INDEX nodes_lease ON nodes(lease_expires) WHERE lease_expires IS NOT NULL;
CREATE INDEX nodes_gate_due ON nodes(gate_due_at) WHERE gate_due_at IS NOT NULL;
CREATE INDEX nodes_gate_run ON nodes(gate_run_id) WHERE gate_run_id IS NOT NULL;
`,
  // Costs that stay flat as history grows (issue 11): each live trial arm's counts kept as runs change
  // (trial_arms, with each counted run's share in trial_runs), decisions found by trial, and the
  // indexes the lists read in order (all runs by age, a node's evidence, the nodes a worker holds).
  3: `
CREATE TABLE trial_arms (
  trial_id TEXT NOT NULL,
  variant_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  runs INTEGER NOT NULL DEFAULT 0,
  successes INTEGER NOT NULL DEFAULT 0,
  interventions INTEGER NOT NULL DEFAULT 0,
  review_rejections INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (trial_id, variant_id)
);
CREATE TABLE trial_runs (
  run_id TEXT PRIMARY KEY,
  trial_id TEXT NOT NULL,
  variant_id TEXT NOT NULL,
  runs INTEGER NOT NULL DEFAULT 0,
  successes INTEGER NOT NULL DEFAULT 0,
  interventions INTEGER NOT NULL DEFAULT 0,
  review_rejections INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX trial_runs_trial ON trial_runs(trial_id);
CREATE INDEX decisions_trial ON decisions(trial_id, seq) WHERE trial_id IS NOT NULL;
CREATE INDEX runs_created ON runs(created_seq);
CREATE INDEX runs_family ON runs(family_id, created_seq);
CREATE INDEX evidence_node ON evidence(node_id, seq) WHERE node_id IS NOT NULL;
CREATE INDEX nodes_worker ON nodes(worker, created_seq) WHERE worker IS NOT NULL;
`,
  // Ground truth: a run of a formula with checks gets no outcome from its node states; its checks decide it.
  4: `
ALTER TABLE runs ADD COLUMN awaits_checks INTEGER NOT NULL DEFAULT 0;
`,
  // ---- branch overlays (issue 13): coordination overlays, tables described in src/ledger/overlays/projection.ts.
  5: OVERLAY_TABLES,
  // ---- branch evidence: step-level attribution (formula_evidence) counts review rejections and a
  // person's interventions per node, not only per run; the false-done guardrail counts per run and arm.
  6: `
ALTER TABLE nodes ADD COLUMN review_rejections INTEGER NOT NULL DEFAULT 0;
ALTER TABLE nodes ADD COLUMN interventions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN false_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trial_arms ADD COLUMN false_done INTEGER NOT NULL DEFAULT 0;
ALTER TABLE trial_runs ADD COLUMN false_done INTEGER NOT NULL DEFAULT 0;
`,
  // ---- end branch evidence
  // ---- branch replay: each run's git worktree (run.worktree_* events; src/controller/worktree.ts).
  7: `
CREATE TABLE run_worktrees (
  run_id TEXT PRIMARY KEY,
  path TEXT NOT NULL,
  branch TEXT NOT NULL,
  base_commit TEXT NOT NULL,
  head_commit TEXT,
  commits INTEGER,
  files_changed INTEGER,
  insertions INTEGER,
  deletions INTEGER,
  status TEXT NOT NULL DEFAULT 'open',
  merge_commit TEXT,
  note TEXT,
  created_seq INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
`,
  // ---- end branch replay
  // ---- branch overlays-2 (issue 13): a bid by a person, whose award holds the node for them (Needs you).
  8: `
ALTER TABLE bids ADD COLUMN person INTEGER NOT NULL DEFAULT 0;
`,
  // ---- end branch overlays-2
  // The archive of finished runs (issue 11, src/ledger/archive.ts): the file an archived run's graph
  // moved to, the index that finds runs due for archiving, and the indexes its deletes go through.
  9: `
ALTER TABLE runs ADD COLUMN archive TEXT;
CREATE INDEX runs_archivable ON runs(finished_at) WHERE archive IS NULL AND finished_at IS NOT NULL;
CREATE INDEX handoffs_node ON handoffs(node_id);
CREATE INDEX mail_members_mail ON mail_members(mail_id);
`,
  // Archived run rows (issue 11: the hot set stays bounded, src/ledger/archive.ts): a run whose row left
  // `runs` is found by id here (the archive file holding its row, by number), and each variant's archived
  // runs and their evidence are counted once, so the families view, standings and the false-done rate
  // never read the archive.
  10: `
CREATE TABLE archive_files (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE INDEX runs_archived ON runs(variant_id, created_seq) WHERE archive IS NOT NULL;
CREATE TABLE archived_runs (id TEXT PRIMARY KEY, file INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE variant_archived (
  variant_id TEXT PRIMARY KEY,
  runs INTEGER NOT NULL DEFAULT 0,
  finished INTEGER NOT NULL DEFAULT 0,
  successes INTEGER NOT NULL DEFAULT 0,
  evidence INTEGER NOT NULL DEFAULT 0,
  interventions INTEGER NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  reported_done INTEGER NOT NULL DEFAULT 0,
  false_done INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
`,
};

/**
 * Fills what a migration's new tables would hold had they existed from the first event, so a migrated
 * ledger equals one replayed from its journal.
 */
const BACKFILLS: Record<number, (sql: Sql) => void> = {
  // Migration 3's trial_arms are built by migration 6's backfill (branch evidence): they now count false_done,
  // a column migration 3 does not have yet.
  6: (sql) => { // branch evidence
    backfillNodeAttribution(sql);
    sql.run(`UPDATE runs SET false_done = 1 WHERE id IN (SELECT run_id FROM evidence WHERE kind = 'false_done' AND run_id IS NOT NULL)`);
    backfillTrialArms(sql);
  },
};

export function migrate(sql: Sql, fromVersion: number): void {
  for (let v = fromVersion + 1; v <= SCHEMA_VERSION; v++) {
    const ddl = MIGRATIONS[v];
    if (ddl === undefined) throw new Error(`no migration to schema version ${v}`);
    sql.exec(ddl);
    BACKFILLS[v]?.(sql);
  }
}

/** The projection tables, in a fixed order, for comparing two databases. */
export const PROJECTION_TABLES = [
  'families', 'variants', 'selections', 'runs', 'nodes', 'edges', 'claims', 'bindings', 'handoffs', 'evidence', 'trials', 'decisions', 'trial_arms', 'trial_runs',
  // branch overlays (issue 13)
  ...OVERLAY_TABLE_NAMES,
  // branch replay
  'run_worktrees',
  // archived run rows (issue 11)
  'archive_files', 'archived_runs', 'variant_archived',
] as const;

/** Tables without a rowid, dumped in key order instead. */
const DUMP_ORDER: Partial<Record<(typeof PROJECTION_TABLES)[number], string>> = { archived_runs: 'id', variant_archived: 'variant_id' };

/** Every projection table's rows in insertion order: what two databases must agree on to be the same ledger. */
export function dumpProjection(sql: Sql): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const t of PROJECTION_TABLES) out[t] = sql.all(`SELECT * FROM ${t} ORDER BY ${DUMP_ORDER[t] ?? 'rowid'}`);
  return out;
}
