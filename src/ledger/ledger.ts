import type * as z from 'zod';
import { LedgerError, conflict, invalid, notFound } from './errors';
import type { EdgeSpec, NodeSpec, NodeState } from './events';
import { event } from './events';
import { newId } from './ids';
import type { planNodeSchema } from './inputs';
import {
  cancelNodeSchema, cancelRunSchema, claimSchema, dispatchSchema, evidenceSchema, expandSchema, handoffSchema, openGateSchema,
  parseInput, recoverSchema, renewSchema, reportSchema, reviewSchema, startRunSchema,
} from './inputs';
import { ledgerProjection } from './projection';
import type { StoredEvent } from './store/journal';
import {
  ARCHIVE_BATCH, EVICT_BATCH, applyArchived, pauseRunWatch, rehearseArchived, runsUntouched, unwatchRuns, watchRuns, EVIDENCE_ID_LENGTH, HOT_RUNS_PER_VARIANT, archivableRuns, archiveText, archivedRows, archivedRunFile, collectRuns, evictableRuns,
  missingRun, readArchivedRun, runIdTaken, writeArchive,
} from './archive';
import type { Decision, NewEvent, StoreChange, StoreOptions, WriteContext } from './store/store';
import { EventStore } from './store/store';
import type { Sql } from './store/sql';

export interface RunRow {
  id: string;
  familyId: string | null;
  variantId: string | null;
  generation: number | null;
  title: string;
  vars: Record<string, unknown>;
  taskKey: string | null;
  arm: string | null;
  status: 'running' | 'done' | 'failed' | 'cancelled';
  outcome: 'success' | 'failure' | null;
  tokens: number;
  durationMs: number;
  interventions: number;
  reviewRejections: number;
  openNodes: number;
  createdAt: string;
  finishedAt: string | null;
  /** Set once the run's graph moved to the archive: the archive file's name (src/ledger/archive.ts). */
  archivedIn?: string;
}

export interface NodeRow {
  id: string;
  runId: string;
  stepId: string;
  title: string;
  instructions: string;
  state: NodeState;
  unmet: number;
  attempts: number;
  maxAttempts: number;
  onExhausted: string;
  gate: { kind: string; seconds?: number; formula?: string } | null;
  gateOpen: boolean;
  review: boolean;
  claimId: string | null;
  worker: string | null;
  leaseExpires: string | null;
  result: string | null;
  tokens: number;
  durationMs: number;
  updatedAt: string;
  /** True for a step whose `when` was false: it settles as skipped once its inputs are done. */
  skip: boolean;
  /** When a timer gate this node waits at opens (ISO), else null. */
  gateDueAt: string | null;
  /** The run a run gate waits for, once the controller started it. */
  gateRunId: string | null;
}

export interface EdgeRow {
  from: string;
  to: string;
  kind: string;
}

export interface BindingRow {
  nodeId: string;
  workerKind: string;
  threadId: string;
  boundAt: string;
}

export interface EvidenceRow {
  id: string;
  familyId: string | null;
  variantId: string | null;
  runId: string | null;
  nodeId: string | null;
  kind: string;
  success: boolean | null;
  interventions: number | null;
  reviewRejections: number | null;
  tokens: number | null;
  durationMs: number | null;
  note: string;
  actor: string;
  at: string;
}

type PlanNode = z.output<typeof planNodeSchema>;

export interface LedgerOptions extends StoreOptions {
  /** Who this process writes as, e.g. `extension`, `mcp:4711`, `cli`. */
  actor?: string;
  /**
   * Finished runs older than this many days are archived after each checkpoint this process makes
   * (src/ledger/archive.ts); null turns that off (`gascity archive` still works). Default 30.
   */
  retentionDays?: number | null;
  /**
   * New runs are refused while the tables in memory exceed this many bytes (default 1 GiB), so that
   * no snapshot comes near the 2 GiB that Node can no longer read back; finishing, cancelling and
   * archiving runs still work, and the error says so.
   */
  hotLimitBytes?: number;
  /**
   * How many of each variant's newest runs with an outcome keep their row in memory once archived
   * (default HOT_RUNS_PER_VARIANT, 1,000: the widest window the promotion rule and assess read).
   */
  hotRunsPerVariant?: number;
}

/** What `Ledger.archiveRuns` did: how many runs moved, and to which archive files. */
export interface ArchiveResult {
  /** Runs whose graph moved to the archive. */
  archived: number;
  /** Runs whose `runs` row moved too (archive.ts, evictableRuns). */
  evicted: number;
  files: string[];
  /** The cut-off used: runs finished before it were eligible (ISO time). */
  before: string;
}

/**
 * The ledger's application services: each command validates its input against the current tables,
 * turns it into events and commits them atomically; a command that fails writes nothing.
 */
export class Ledger {
  private archiving: Promise<unknown> | undefined;
  /** Whether this process rehearsed an archive batch's deletes already (see archiveBatches). */
  private archiveRehearsed = false;
  /** Calls of assertRoom so far, and what the tables held when it last measured them (bytes). */
  private roomChecks = 0;
  private lastHotBytes = 0;
  /** The last automatic archiving's failure, for diagnostics; undefined once one succeeds. */
  lastArchiveError: string | undefined;

  private constructor(
    readonly store: EventStore,
    readonly actor: string,
    private readonly clock: () => Date,
    private readonly options: LedgerOptions,
  ) {}

  static async open(dir: string, options: LedgerOptions = {}): Promise<Ledger> {
    // The store calls back after its checkpoints; the ledger it calls exists once the store has opened.
    const self: { ledger?: Ledger } = {};
    const store = await EventStore.open(dir, ledgerProjection, {
      ...options,
      onCheckpoint: () => self.ledger?.archiveAfterCheckpoint(),
      warmUp: (sql) => self.ledger?.rehearseArchive(sql) ?? false,
    });
    self.ledger = new Ledger(store, options.actor ?? `pid:${process.pid}`, options.now ?? (() => new Date()), options);
    return self.ledger;
  }

  /**
   * Archives runs finished more than `olderThanDays` days ago (default: the ledger's retention, 30)
   * or before `before`, in batches of ARCHIVE_BATCH runs, each batch one archive file and one
   * `runs.archived` commit, until none is due. `paced`: after each batch, wait as long as the batch
   * took, so that archiving a backlog in the background takes at most about half of a core and of the
   * lock's time from the other writers (the automatic archiving after a checkpoint). Throws a
   * LedgerError (`invalid_input`, field `olderThanDays`) for a negative or non-finite age, and what a
   * commit throws (nothing of a failed batch is archived; earlier batches stay archived).
   */
  async archiveRuns(options: { olderThanDays?: number; before?: Date; paced?: boolean } = {}, actor?: string): Promise<ArchiveResult> {
    const days = options.olderThanDays ?? this.options.retentionDays ?? 30;
    if (!Number.isFinite(days) || days < 0) throw invalid('olderThanDays', `must be a number of days, 0 or more (got ${String(days)})`);
    const before = (options.before ?? new Date(this.now().getTime() - days * 86_400_000)).toISOString();
    const result: ArchiveResult = { archived: 0, evicted: 0, files: [], before };
    const keep = this.options.hotRunsPerVariant ?? HOT_RUNS_PER_VARIANT;
    // A batch: the runs due, the rows that leave, and their archive lines, as the tables `sql` hold them.
    const prepare = (sql: Sql) => {
      const runIds = archivableRuns(sql, before, ARCHIVE_BATCH);
      const evicted = evictableRuns(sql, runIds, EVICT_BATCH, keep);
      return runIds.length === 0 && evicted.length === 0 ? null : { runIds, evicted, ...archiveText(collectRuns(sql, runIds, evicted)) };
    };
    try {
      return await this.archiveBatches(prepare, before, result, actor, options.paced === true);
    } finally {
      try {
        unwatchRuns(this.sql);
      } catch {
        // The ledger was closed meanwhile: its database, and the watch with it, is gone.
      }
    }
  }

  /** archiveRuns' loop: a batch at a time until none is due (see there); adds to `result` and returns it. */
  private async archiveBatches(
    prepare: (sql: Sql) => { runIds: string[]; evicted: string[]; text: string; sha256: string; archive: string } | null,
    before: string, result: ArchiveResult, actor: string | undefined, paced: boolean,
  ): Promise<ArchiveResult> {
    for (let changed = 0, started = performance.now(); ; started = performance.now()) {
      // The file is written and fsynced without the lock (under it, each batch held other writers 70-120 ms);
      // under the lock the batch is prepared again and committed only if its lines are byte for byte the
      // file's. After three batches changed meanwhile (a writer busy with these very runs), the file is
      // written under the lock, as it must then be.
      // Nothing due in the tables as this process read them: no lock is taken (the usual case after a checkpoint).
      await this.refresh();
      const watch = changed < 3 ? watchRuns(this.sql) : undefined;
      const early = changed < 3 ? prepare(this.sql) : undefined;
      if (early === null) return result;
      if (early) writeArchive(this.store.dir, early);
      if (early && !this.archiveRehearsed) {
        // A process's first archive commit held the lock 50-75 ms against 10-15 for the next ones (its deletes'
        // statements prepared and their code run for the first time, under the lock): they are rehearsed
        // here once, off the lock, in a transaction that is rolled back (unless its first write did, rehearseArchive).
        this.archiveRehearsed = true;
        this.sql.run('BEGIN');
        try {
          applyArchived(this.sql, early.runIds, early.archive, early.evicted);
        } finally {
          this.sql.run('ROLLBACK');
        }
      }
      const batch = await this.commit<{ archive: string; count: number; evicted: number } | 'changed' | null>(({ sql }) => {
        // A file prepared for a batch that changed stays, unnamed and unread: another process may have written the
        // same content under the same name (its digest) for an event of its own, so it is not ours to remove.
        // When no row of the batch's runs changed since it was prepared (watchRuns records every change to
        // their rows, the other processes' applied by the catch-up included), the file holds exactly the
        // rows this event deletes, and they may still be archived: the batch is not prepared again. That
        // second preparation was half of each archive commit's hold of the lock (bench/ledger.ts).
        const untouched = early && watch && runsUntouched(sql, watch, [...early.runIds, ...early.evicted]);
        if (watch) pauseRunWatch(sql);
        const now = untouched ? early : prepare(sql);
        if (!now) return { events: [], result: null };
        if (early && now.sha256 !== early.sha256) return { events: [], result: 'changed' as const };
        if (!early) writeArchive(this.store.dir, now);
        return {
          events: [event('runs.archived', { runIds: now.runIds, archive: now.archive, sha256: now.sha256, before, ...(now.evicted.length ? { evicted: now.evicted } : {}) })],
          result: { archive: now.archive, count: now.runIds.length, evicted: now.evicted.length },
        };
      }, actor);
      if (batch === 'changed') { changed++; continue; }
      if (!batch) return result;
      changed = 0;
      result.archived += batch.count;
      result.evicted += batch.evicted;
      result.files.push(batch.archive);
      if (paced) await new Promise((resolve) => setTimeout(resolve, performance.now() - started));
    }
  }

  /**
   * Throws a LedgerError (`conflict`) when the tables in memory exceed the hot limit, so that the
   * writes that grow them (new runs, evidence) stop long before a snapshot could reach 2 GiB.
   */
  private assertRoom(sql: Sql, what: string): void {
    const limit = this.options.hotLimitBytes ?? HOT_LIMIT_BYTES;
    // Below three quarters of the limit the tables are measured every ROOM_CHECK_EVERY writes, not at each
    // (a statement per run start and evidence record); the writes in between can pass the limit only by
    // adding a quarter of it (256 MiB by default) among them, and the next measure stops the ones after.
    if (this.roomChecks++ % ROOM_CHECK_EVERY !== 0 && this.lastHotBytes < limit * 0.75) return;
    const bytes = hotBytes(sql);
    this.lastHotBytes = bytes;
    if (bytes > limit) {
      throw new LedgerError(
        `the ledger's tables hold ${(bytes / 1048576).toFixed(0)} MiB, over its ${(limit / 1048576).toFixed(0)} MiB limit, so ${what}: ` +
          'archive finished runs (gascity archive DAYS) or finish or cancel running ones',
        'conflict',
      );
    }
  }

  /**
   * The store's warm-up before this process's first write (StoreOptions.warmUp), off the lock: when runs are
   * due by the retention, some process will soon archive them and this one will apply each batch in its
   * catch-up under the lock, so the batch's statements are run once now on the oldest due runs and rolled
   * back (archive.ts, rehearseArchived). Returns false when nothing is due yet (the store asks again later),
   * true once rehearsed or when the retention is off.
   */
  private rehearseArchive(sql: Sql): boolean {
    if (this.options.retentionDays === null || this.archiveRehearsed) return true;
    const days = this.options.retentionDays ?? 30;
    const runIds = archivableRuns(sql, new Date(this.now().getTime() - days * 86_400_000).toISOString(), ARCHIVE_BATCH);
    if (runIds.length === 0) return false;
    rehearseArchived(sql, runIds);
    this.archiveRehearsed = true;
    return true;
  }

  /** After a checkpoint of this process: archives what the retention says is due, in the background. */
  private archiveAfterCheckpoint(): void {
    if (this.options.retentionDays === null || this.archiving) return;
    this.archiving = this.archiveRuns({ paced: true }, 'archive')
      .then(() => { this.lastArchiveError = undefined; })
      .catch((err: unknown) => { this.lastArchiveError = err instanceof Error ? err.message : String(err); })
      .finally(() => { this.archiving = undefined; });
  }

  /** The ledger's clock: the time commits are stamped with and leases and gates are judged by. */
  now(): Date {
    return this.clock();
  }

  get sql(): Sql {
    return this.store.sql;
  }

  get seq(): number {
    return this.store.seq;
  }

  close(): void {
    this.store.close();
  }

  refresh(): Promise<StoredEvent[]> {
    return this.store.refresh();
  }

  onDidChange(listener: (change: StoreChange) => void): { dispose(): void } {
    return this.store.subscribe(listener);
  }

  /** Commits what `decide` returns, as `actor` (defaults to this ledger's actor). */
  commit<T>(decide: (ctx: WriteContext) => Decision<T>, actor = this.actor): Promise<T> {
    return this.store.write(actor, decide).then((r) => r.result);
  }

  // ---- runs and nodes ------------------------------------------------------------------------------

  async startRun(input: unknown, actor?: string): Promise<{ runId: string; nodeIds: string[] }> {
    const p = parseInput(startRunSchema, input);
    return this.commit(({ sql }) => {
      this.assertRoom(sql, 'no new run starts');
      if (p.variantId) {
        const v = sql.get<{ family_id: string; generation: number }>('SELECT family_id, generation FROM variants WHERE id = ?', [p.variantId]);
        if (!v) throw notFound('variantId', 'variant', p.variantId);
        if (p.familyId && p.familyId !== v.family_id) throw invalid('familyId', `variant ${p.variantId} belongs to family ${v.family_id}, not ${p.familyId}`);
        p.familyId = v.family_id;
        p.generation = v.generation;
      } else if (p.familyId && !sql.get('SELECT 1 FROM families WHERE id = ?', [p.familyId])) {
        throw notFound('familyId', 'family', p.familyId);
      }
      const runId = newId('r', (x) => runIdTaken(sql, x));
      const { nodes, edges } = buildGraph(runId, p.nodes, 'nodes', new Set());
      return {
        events: [event('run.started', { runId, familyId: p.familyId, variantId: p.variantId, generation: p.generation, title: p.title, vars: p.vars, taskKey: p.taskKey, arm: p.arm, nodes, edges, ...(p.awaitsChecks ? { awaitsChecks: true } : {}) })],
        result: { runId, nodeIds: nodes.map((n) => n.id) },
      };
    }, actor);
  }

  /**
   * Claims a node for a worker with a lease: the given node, or the oldest claimable one (in `runId` if
   * given). Claimable means ready, or claimed / active with a lease that ran out: the expiry is recorded
   * first (`node.lease_expired`, naming the old holder), then the new claim. Returns null when nothing
   * is claimable. Throws a LedgerError (`nodeId`) for a node that is held, finished, or of another run.
   */
  async claimNode(input: unknown, actor?: string): Promise<{ nodeId: string; claimId: string; expiresAt: string } | null> {
    const p = parseInput(claimSchema, input);
    return this.commit(({ sql, now }) => {
      const iso = now.toISOString();
      let n: RawNode;
      if (!p.nodeId) {
        const next = claimableNodes(sql, iso, p.runId, 1)[0];
        if (!next) return { events: [], result: null };
        n = next;
      } else {
        n = this.requireNode(sql, p.nodeId, 'nodeId');
        if (p.runId && n.run_id !== p.runId) throw invalid('nodeId', `node ${p.nodeId} belongs to run ${n.run_id}, not to run ${p.runId}; nothing was claimed`);
        const run = sql.get<{ status: string }>('SELECT status FROM runs WHERE id = ?', [n.run_id])!;
        if (run.status !== 'running') throw conflict(`run ${n.run_id} is ${run.status}; its nodes cannot be claimed`, 'nodeId');
        if (n.state !== 'ready' && !leaseExpired(n, iso)) {
          throw conflict(`node ${p.nodeId} is ${n.state}${n.worker ? ` (held by ${n.worker} until ${n.lease_expires})` : ''}; only a ready node or one whose lease expired can be claimed`, 'nodeId');
        }
        // branch overlays (issue 13): a node announced for bids goes to the round's winner, not to whoever claims first.
        const round = sql.get<{ id: string; deadline: string }>(`SELECT id, deadline FROM rounds WHERE node_id = ? AND status = 'open'`, [p.nodeId]);
        if (round) throw conflict(`node ${p.nodeId} is announced for bids in round ${round.id} until ${round.deadline}; bid for it (bid_submit) or wait for the round to close`, 'nodeId');
      }
      const nodeId = n.id;
      const events: NewEvent[] = [];
      if (leaseExpired(n, iso)) events.push(expiry(n));
      const claimId = newId('c', (x) => !!sql.get('SELECT 1 FROM claims WHERE id = ?', [x]));
      const expiresAt = new Date(now.getTime() + p.leaseSeconds * 1000).toISOString();
      events.push(event('node.claimed', { nodeId, claimId, worker: p.worker, expiresAt }));
      return { events, result: { nodeId, claimId, expiresAt } };
    }, actor);
  }

  async renewLease(input: unknown, actor?: string): Promise<{ expiresAt: string }> {
    const p = parseInput(renewSchema, input);
    return this.commit(({ sql, now }) => {
      const n = this.requireHolder(sql, p.nodeId, p.worker, now);
      const expiresAt = new Date(now.getTime() + p.leaseSeconds * 1000).toISOString();
      return { events: [event('node.lease_renewed', { nodeId: p.nodeId, claimId: n.claim_id!, expiresAt })], result: { expiresAt } };
    }, actor);
  }

  /** Marks a claimed node as being worked on, and binds the worker's thread to it when one is given. */
  async dispatchNode(input: unknown, actor?: string): Promise<{ nodeId: string; state: NodeState }> {
    const p = parseInput(dispatchSchema, input);
    return this.commit(({ sql, now }) => {
      const n = this.requireHolder(sql, p.nodeId, p.worker, now);
      const events: NewEvent[] = [];
      if (n.state === 'claimed') events.push(event('node.dispatched', { nodeId: p.nodeId, worker: p.worker }));
      if (p.threadId) events.push(event('worker.bound', { nodeId: p.nodeId, workerKind: p.workerKind, threadId: p.threadId }));
      return { events, result: { nodeId: p.nodeId, state: 'active' as NodeState } };
    }, actor);
  }

  async reportNode(input: unknown, actor?: string): Promise<{ nodeId: string; state: NodeState; runStatus: string }> {
    const p = parseInput(reportSchema, input);
    return this.commitAndRead(
      ({ sql, now }) => {
        this.requireHolder(sql, p.nodeId, p.worker, now);
        return [event('node.reported', { nodeId: p.nodeId, outcome: p.outcome, summary: p.summary, tokens: p.tokens, durationMs: p.durationMs })];
      },
      (sql) => this.nodeAndRunState(sql, p.nodeId),
      actor,
    );
  }

  async reviewNode(input: unknown, actor?: string): Promise<{ nodeId: string; state: NodeState; runStatus: string }> {
    const p = parseInput(reviewSchema, input);
    return this.commitAndRead(
      ({ sql }) => {
        const n = this.requireNode(sql, p.nodeId, 'nodeId');
        if (n.state !== 'review') throw conflict(`node ${p.nodeId} is ${n.state}, not awaiting review`, 'nodeId');
        return [event('node.reviewed', { nodeId: p.nodeId, verdict: p.verdict, note: p.note })];
      },
      (sql) => this.nodeAndRunState(sql, p.nodeId),
      actor,
    );
  }

  /**
   * Puts nodes whose lease has expired back to ready (all of them, or the one named). With `force`,
   * a live claim is broken too: for a person who knows the worker is gone.
   */
  async recoverNodes(input: unknown, actor?: string): Promise<{ recovered: string[] }> {
    const p = parseInput(recoverSchema, input);
    return this.commit(({ sql, now }) => {
      const iso = now.toISOString();
      let rows: Array<Pick<RawNode, 'id' | 'claim_id' | 'state' | 'lease_expires' | 'worker'>>;
      if (p.nodeId) {
        const n = this.requireNode(sql, p.nodeId, 'nodeId');
        if (n.state !== 'claimed' && n.state !== 'active') throw conflict(`node ${p.nodeId} is ${n.state}; only claimed or active nodes can be recovered`, 'nodeId');
        if (!p.force && n.lease_expires !== null && n.lease_expires > iso) {
          throw conflict(`node ${p.nodeId} is held by ${n.worker} until ${n.lease_expires}; pass force to take it back anyway`, 'force');
        }
        rows = [n];
      } else {
        rows = sql.all(
          `SELECT n.id, n.claim_id, n.state, n.lease_expires, n.worker FROM nodes n JOIN runs r ON r.id = n.run_id
           WHERE n.lease_expires <= ? AND n.state IN ('claimed', 'active') AND r.status = 'running'`, [iso]);
      }
      const reason = p.reason || (p.force ? 'forced recovery' : 'lease expired');
      return {
        // An expired lease is recorded as such, with its holder; a forced recovery as what it is.
        events: rows.map((r) => (leaseExpired(r, iso) && !p.reason ? expiry(r) : event('node.recovered', { nodeId: r.id, claimId: r.claim_id, reason }))),
        result: { recovered: rows.map((r) => r.id) },
      };
    }, actor);
  }

  async handoffNode(input: unknown, actor?: string): Promise<{ nodeId: string; claimId: string; handoffId: string }> {
    const p = parseInput(handoffSchema, input);
    return this.commit(({ sql, now }) => {
      this.requireHolder(sql, p.nodeId, p.fromWorker, now, 'fromWorker');
      if (p.fromWorker === p.toWorker) throw invalid('toWorker', 'hand off to a different worker');
      const handoffId = newId('h', (x) => !!sql.get('SELECT 1 FROM handoffs WHERE id = ?', [x]));
      if (p.toPerson) {
        return {
          events: [event('node.handed_off', { nodeId: p.nodeId, handoffId, fromWorker: p.fromWorker, toWorker: p.toWorker, claimId: '', expiresAt: '', note: p.note, toPerson: true })],
          result: { nodeId: p.nodeId, claimId: '', handoffId },
        };
      }
      const claimId = newId('c', (x) => !!sql.get('SELECT 1 FROM claims WHERE id = ?', [x]));
      const expiresAt = new Date(now.getTime() + p.leaseSeconds * 1000).toISOString();
      return {
        events: [event('node.handed_off', { nodeId: p.nodeId, handoffId, fromWorker: p.fromWorker, toWorker: p.toWorker, claimId, expiresAt, note: p.note })],
        result: { nodeId: p.nodeId, claimId, handoffId },
      };
    }, actor);
  }

  /**
   * Fans a claimed node out into children at run time. The node becomes their join: it is ready
   * again once every child is done, so the worker that expanded it can merge the results.
   */
  async expandNode(input: unknown, actor?: string): Promise<{ nodeId: string; childIds: string[] }> {
    const p = parseInput(expandSchema, input);
    return this.commit(({ sql, now }) => {
      const n = this.requireHolder(sql, p.nodeId, p.worker, now);
      const existing = new Set(sql.all<{ id: string }>('SELECT id FROM nodes WHERE run_id = ?', [n.run_id]).map((r) => r.id));
      p.children.forEach((c, i) => {
        const id = `${p.nodeId}.${c.key}`;
        if (existing.has(id)) throw invalid(`children.${i}.key`, `"${c.key}" is already used: node ${id} exists in this run; give the child a key not used before`);
      });
      // A child that needs the join itself, or anything after it, would wait for its own join: a cycle.
      const after = downstream(sql, n.run_id, p.nodeId);
      p.children.forEach((c, i) => {
        for (const need of c.needs) {
          const path = after.get(need);
          if (need === p.nodeId) throw invalid(`children.${i}.needs`, `"${need}" is the node being expanded: it waits for its children, so a child cannot need it`);
          if (path) {
            throw invalid(`children.${i}.needs`, `"${need}" comes after the node being expanded (${[...path, need].join(' → ')}), ` +
              `and that node waits for its children: the child "${c.key}" would wait for itself. Need only nodes that are done or siblings`);
          }
        }
      });
      const { nodes, edges } = buildGraph(`${p.nodeId}`, p.children, 'children', existing);
      for (const c of nodes) {
        edges.push({ from: p.nodeId, to: c.id, kind: 'parent-child' });
        edges.push({ from: c.id, to: p.nodeId, kind: 'blocks' });
      }
      return { events: [event('node.expanded', { nodeId: p.nodeId, children: nodes, edges })], result: { nodeId: p.nodeId, childIds: nodes.map((c) => c.id) } };
    }, actor);
  }

  async openGate(input: unknown, actor?: string): Promise<{ nodeId: string; state: NodeState; runStatus: string }> {
    const p = parseInput(openGateSchema, input);
    return this.commitAndRead(
      ({ sql }) => {
        const n = this.requireNode(sql, p.nodeId, 'nodeId');
        if (!n.gate) throw conflict(`node ${p.nodeId} has no gate`, 'nodeId');
        if (n.gate_open && n.state !== 'blocked') throw conflict(`the gate of node ${p.nodeId} is already open`, 'nodeId');
        return [event('node.gate_opened', { nodeId: p.nodeId, note: p.note })];
      },
      (sql) => this.nodeAndRunState(sql, p.nodeId),
      actor,
    );
  }

  async cancelRun(input: unknown, actor?: string): Promise<{ runId: string }> {
    const p = parseInput(cancelRunSchema, input);
    return this.commit(({ sql }) => {
      const run = sql.get<{ status: string }>('SELECT status FROM runs WHERE id = ?', [p.runId]);
      if (!run) throw missingRun(sql, 'runId', p.runId);
      if (run.status !== 'running') throw conflict(`run ${p.runId} is already ${run.status}`, 'runId');
      return { events: [event('run.cancelled', { runId: p.runId, reason: p.reason })], result: { runId: p.runId } };
    }, actor);
  }

  /** Records evidence, attributed to the variant that ran (taken from the run when not given). */
  async recordEvidence(input: unknown, actor?: string): Promise<{ evidenceId: string }> {
    const p = parseInput(evidenceSchema, input);
    return this.commit(({ sql }) => {
      this.assertRoom(sql, 'no evidence is recorded');
      let familyId: string | null = null;
      let variantId: string | null = p.variantId ?? null;
      let runId: string | null = p.runId ?? null;
      if (p.nodeId) {
        const n = this.requireNode(sql, p.nodeId, 'nodeId');
        if (runId && runId !== n.run_id) throw invalid('runId', `node ${p.nodeId} belongs to run ${n.run_id}`);
        runId = n.run_id;
      }
      if (runId) {
        const run = sql.get<{ family_id: string | null; variant_id: string | null }>('SELECT family_id, variant_id FROM runs WHERE id = ?', [runId]);
        if (!run) throw missingRun(sql, 'runId', runId);
        if (variantId && run.variant_id && variantId !== run.variant_id) throw invalid('variantId', `run ${runId} ran variant ${run.variant_id}`);
        variantId = run.variant_id ?? variantId;
        familyId = run.family_id;
      }
      if (variantId) {
        const v = sql.get<{ family_id: string }>('SELECT family_id FROM variants WHERE id = ?', [variantId]);
        if (!v) throw notFound('variantId', 'variant', variantId);
        familyId = v.family_id;
      }
      if (!runId && !variantId) throw invalid('runId', 'name the run (or the variant) this evidence is about');
      if (p.kind === 'run_outcome' && p.success === undefined) throw invalid('success', 'a run outcome needs success: true or false');
      const evidenceId = newId('e', (x) => !!sql.get('SELECT 1 FROM evidence WHERE id = ?', [x]), EVIDENCE_ID_LENGTH);
      return {
        events: [event('evidence.recorded', {
          evidenceId, familyId, variantId, runId, nodeId: p.nodeId ?? null, kind: p.kind, success: p.success ?? null,
          interventions: p.interventions ?? null, reviewRejections: p.reviewRejections ?? null, tokens: p.tokens ?? null,
          durationMs: p.durationMs ?? null, note: p.note,
        })],
        result: { evidenceId },
      };
    }, actor);
  }

  /**
   * Stops a node's work for a person: its claim ends and it waits behind a human gate (opening the gate
   * gives it another attempt). A controller running the node sees its claim gone and interrupts the turn.
   * Throws a LedgerError when the node is finished or already waiting.
   */
  async cancelNode(input: unknown, actor?: string): Promise<{ nodeId: string; state: NodeState; runStatus: string }> {
    const p = parseInput(cancelNodeSchema, input);
    return this.commitAndRead(
      ({ sql }) => {
        const n = this.requireNode(sql, p.nodeId, 'nodeId');
        const run = sql.get<{ status: string }>('SELECT status FROM runs WHERE id = ?', [n.run_id])!;
        if (run.status !== 'running') throw conflict(`run ${n.run_id} is ${run.status}; nothing of it runs`, 'nodeId');
        if (!['ready', 'claimed', 'active'].includes(n.state)) throw conflict(`node ${p.nodeId} is ${n.state}; only a ready, claimed or active node can be cancelled`, 'nodeId');
        return [event('node.cancelled', { nodeId: p.nodeId, reason: p.reason || 'cancelled by a person' })];
      },
      (sql) => this.nodeAndRunState(sql, p.nodeId),
      actor,
    );
  }

  /**
   * Records that a run gate waits for `runId`. Refused (conflict) when the gate already waits for another
   * run, so that of two controllers racing, one binds and the other cancels the run it started.
   */
  async bindGateRun(nodeId: string, runId: string, actor?: string): Promise<void> {
    await this.commit(({ sql }) => {
      const n = this.requireNode(sql, nodeId, 'nodeId');
      if (n.gate_run_id && n.gate_run_id !== runId) throw conflict(`the gate of node ${nodeId} already waits for run ${n.gate_run_id}`, 'nodeId');
      if (n.state !== 'blocked') throw conflict(`node ${nodeId} is ${n.state}, not waiting at its gate`, 'nodeId');
      return { events: n.gate_run_id ? [] : [event('node.gate_run_started', { nodeId, runId })], result: undefined };
    }, actor);
  }

  /** The run a run gate waited for ended without success: a failed attempt of the gated node. */
  async failGate(nodeId: string, reason: string, actor?: string): Promise<void> {
    await this.commit(({ sql }) => {
      const n = this.requireNode(sql, nodeId, 'nodeId');
      if (n.state !== 'blocked' || n.gate_open) return { events: [], result: undefined };
      return { events: [event('node.gate_failed', { nodeId, reason })], result: undefined };
    }, actor);
  }

  /**
   * Records a finished run's outcome as `run_outcome` evidence for the variant that ran, once: a run that
   * already has outcome evidence, or is still running or was cancelled, gets none. Returns the evidence
   * id, or null when nothing was recorded. `note` says where the outcome came from.
   */
  async recordRunOutcome(runId: string, note: string, actor?: string): Promise<string | null> {
    return this.commit(({ sql }) => {
      const run = sql.get<{ status: string; outcome: string | null; family_id: string | null; variant_id: string | null }>(
        'SELECT status, outcome, family_id, variant_id FROM runs WHERE id = ?', [runId]);
      if (!run) throw missingRun(sql, 'runId', runId);
      if (run.status === 'running' || run.status === 'cancelled' || !run.outcome) return { events: [], result: null };
      if (sql.get("SELECT 1 FROM evidence WHERE run_id = ? AND kind = 'run_outcome'", [runId])) return { events: [], result: null };
      const evidenceId = newId('e', (x) => !!sql.get('SELECT 1 FROM evidence WHERE id = ?', [x]), EVIDENCE_ID_LENGTH);
      return {
        events: [event('evidence.recorded', {
          evidenceId, familyId: run.family_id, variantId: run.variant_id, runId, nodeId: null, kind: 'run_outcome', success: run.outcome === 'success',
          interventions: null, reviewRejections: null, tokens: null, durationMs: null, note,
        })],
        result: evidenceId,
      };
    }, actor);
  }

  // ---- queries ----------------------------------------------------------------------------------------

  /**
   * Nodes that can be claimed now, oldest first: ready ones, and claimed or active ones whose lease ran
   * out (their `leaseExpires` is in the past). Answered from the (state, created_seq) and lease indexes.
   */
  readyWork(options: { runId?: string; limit?: number } = {}): NodeRow[] {
    const limit = Math.max(1, Math.min(options.limit ?? 50, 1000));
    return claimableNodes(this.sql, this.clock().toISOString(), options.runId, limit).map(toNode);
  }

  /**
   * Nodes that wait for a person, oldest first: human gates (including escalated and cancelled nodes)
   * and reviews, in running runs. `limit` caps the rows (default 100).
   */
  needsPerson(options: { runId?: string; limit?: number } = {}): NodeRow[] {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
    return this.sql.all<RawNode>(
      `SELECT n.* FROM nodes n JOIN runs r ON r.id = n.run_id
       WHERE n.state IN ('blocked', 'review') AND r.status = 'running' ${options.runId ? 'AND n.run_id = ?' : ''}
         AND (n.state = 'review' OR json_extract(n.gate, '$.kind') = 'human')
       ORDER BY n.updated_at, n.id LIMIT ${limit}`, options.runId ? [options.runId] : []).map(toNode);
  }

  /** Blocked nodes whose timer gate is due at `now` (ISO time), for the controller to open. */
  dueTimerGates(now: string): NodeRow[] {
    return this.sql.all<RawNode>(
      `SELECT n.* FROM nodes n JOIN runs r ON r.id = n.run_id
       WHERE n.gate_due_at <= ? AND n.state = 'blocked' AND n.gate_open = 0 AND r.status = 'running' ORDER BY n.gate_due_at, n.id`, [now]).map(toNode);
  }

  /**
   * Nodes at a run gate, in running runs: `awaitedRunId` is null until the controller starts the run the
   * gate waits for; `awaited` is that run's status and outcome once it exists.
   */
  runGates(): Array<{ node: NodeRow; awaitedRunId: string | null; awaited: Pick<RunRow, 'status' | 'outcome'> | null }> {
    return this.sql.all<RawNode & { a_status: RunRow['status'] | null; a_outcome: RunRow['outcome'] }>(
      `SELECT n.*, a.status AS a_status, a.outcome AS a_outcome FROM nodes n JOIN runs r ON r.id = n.run_id LEFT JOIN runs a ON a.id = n.gate_run_id
       WHERE n.state = 'blocked' AND n.gate_open = 0 AND r.status = 'running' AND json_extract(n.gate, '$.kind') = 'run'
       ORDER BY n.created_seq, n.rowid`).map((r) => ({
      node: toNode(r), awaitedRunId: r.gate_run_id, awaited: r.a_status ? { status: r.a_status, outcome: r.a_outcome } : null,
    }));
  }

  /**
   * Nodes held under a claim now (claimed or active, in running runs), with when the claim was made:
   * what a starting controller checks for holders that are gone. Answered from the state index.
   */
  heldNodes(): Array<NodeRow & { claimedAt: string }> {
    return this.sql.all<RawNode & { claimed_at: string }>(
      `SELECT n.*, c.claimed_at FROM nodes n JOIN runs r ON r.id = n.run_id JOIN claims c ON c.id = n.claim_id
       WHERE n.state IN ('claimed', 'active') AND r.status = 'running' ORDER BY n.created_seq, n.rowid`).map((r) => ({ ...toNode(r), claimedAt: r.claimed_at }));
  }

  /**
   * The earliest time (ISO) at which something becomes due without any write: a timer gate opens or a
   * lease of a running run expires; null when nothing is pending. The controller sleeps until then.
   */
  nextDeadline(): string | null {
    const gate = this.sql.get<{ t: string | null }>("SELECT min(gate_due_at) AS t FROM nodes WHERE gate_due_at IS NOT NULL AND state = 'blocked'")?.t ?? null;
    const lease = this.sql.get<{ t: string | null }>("SELECT min(lease_expires) AS t FROM nodes WHERE lease_expires IS NOT NULL AND state IN ('claimed', 'active')")?.t ?? null;
    if (gate && lease) return gate < lease ? gate : lease;
    return gate ?? lease;
  }

  /**
   * A run by id: its row in memory or, for a run whose row was archived, its row read back from the
   * archive file (throws a LedgerError naming the file when that is missing or damaged).
   */
  getRun(runId: string): RunRow | undefined {
    const r = this.sql.get<RawRun>('SELECT * FROM runs WHERE id = ?', [runId]);
    if (r) return toRun(r);
    const file = archivedRunFile(this.sql, runId);
    if (!file) return undefined;
    const row = readArchivedRun(this.store.dir, file, runId).run as RawRun | undefined;
    if (!row) throw new LedgerError(`archive ${file} holds no row of run ${runId}; restore the archive folder from a backup`, 'corrupt');
    return toRun({ ...row, archive: row.archive ?? file });
  }

  /**
   * Runs newest first (by created_seq), optionally of one status and/or family, at most `limit` (1 to
   * 10,000; 100 when not given). Each filter has an index in that order (runs_status, runs_family,
   * runs_created), so a page costs the same however many runs the ledger holds.
   */
  listRuns(options: { status?: string; familyId?: string; limit?: number } = {}): RunRow[] {
    const where: string[] = [];
    const params: string[] = [];
    if (options.status) { where.push('status = ?'); params.push(options.status); }
    if (options.familyId) { where.push('family_id = ?'); params.push(options.familyId); }
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    return this.sql.all<RawRun>(
      `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_seq DESC LIMIT ${limit}`, params).map(toRun);
  }

  /**
   * The nodes `worker` holds now (claimed or active, in running runs), newest run first and in graph
   * order within a run. Read through the nodes-by-worker index: a node has a worker only while held.
   */
  heldBy(worker: string): NodeRow[] {
    return this.sql.all<RawNode>(
      `SELECT n.* FROM nodes n JOIN runs r ON r.id = n.run_id
       WHERE n.worker = ? AND n.state IN ('claimed', 'active') AND r.status = 'running'
       ORDER BY r.created_seq DESC, n.created_seq, n.rowid`, [worker]).map(toNode);
  }

  /**
   * The nodes `nodeId` waits on (its `needs` and `blocks` edges), in graph order, read through the
   * edges-by-target index: what a worker tells a node's turn about its inputs.
   */
  upstreamNodes(nodeId: string): NodeRow[] {
    return this.sql.all<RawNode>(
      `SELECT * FROM nodes WHERE id IN (SELECT from_id FROM edges WHERE to_id = ? AND kind IN ('needs', 'blocks'))
       ORDER BY created_seq, rowid`, [nodeId]).map(toNode);
  }

  getNode(nodeId: string): NodeRow | undefined {
    const r = this.sql.get<RawNode>('SELECT * FROM nodes WHERE id = ?', [nodeId]);
    return r ? toNode(r) : undefined;
  }

  /**
   * A run with its nodes, edges and bindings; for an archived run they are read back from its archive
   * file (throws a LedgerError naming the file when it is missing or damaged).
   */
  runGraph(runId: string): { run: RunRow; nodes: NodeRow[]; edges: EdgeRow[]; bindings: BindingRow[] } | undefined {
    const run = this.getRun(runId);
    if (!run) return undefined;
    // The same rows in the same order, from the tables or, for an archived run, from its archive line.
    let nodes: RawNode[];
    let edges: RawEdge[];
    let bindings: RawBinding[];
    if (run.archivedIn) {
      const t = readArchivedRun(this.store.dir, run.archivedIn, runId).tables;
      // Archived rows are in rowid order; sorting stably gives the order the queries below read.
      nodes = archivedRows<RawNode & { created_seq: number }>(t, 'nodes').sort((x, y) => x.created_seq - y.created_seq);
      edges = archivedRows<RawEdge>(t, 'edges');
      bindings = archivedRows<RawBinding>(t, 'bindings').sort((x, y) => x.bound_at.localeCompare(y.bound_at));
    } else {
      nodes = this.sql.all<RawNode>('SELECT * FROM nodes WHERE run_id = ? ORDER BY created_seq, rowid', [runId]);
      edges = this.sql.all<RawEdge>('SELECT from_id, to_id, kind FROM edges WHERE run_id = ? ORDER BY rowid', [runId]);
      bindings = this.sql.all<RawBinding>('SELECT b.* FROM bindings b JOIN nodes n ON n.id = b.node_id WHERE n.run_id = ? ORDER BY b.bound_at', [runId]);
    }
    return {
      run,
      nodes: nodes.map(toNode),
      edges: edges.map((e) => ({ from: e.from_id, to: e.to_id, kind: e.kind })),
      bindings: bindings.map((b) => ({ nodeId: b.node_id, workerKind: b.worker_kind, threadId: b.thread_id, boundAt: b.bound_at })),
    };
  }

  /**
   * Evidence newest first (by seq), optionally about one run, node and/or variant, at most `limit` (1 to
   * 10,000; 200 when not given). A node's evidence is read through its own index (evidence_node). The
   * evidence of a run whose row was archived is read from its archive line (archive.ts); lists by node or
   * variant alone hold the evidence in memory (the families view counts the rest from variant_archived).
   */
  evidence(filter: { runId?: string; nodeId?: string; variantId?: string; limit?: number } = {}): EvidenceRow[] {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.runId) { where.push('run_id = ?'); params.push(filter.runId); }
    if (filter.nodeId) { where.push('node_id = ?'); params.push(filter.nodeId); }
    if (filter.variantId) { where.push('variant_id = ?'); params.push(filter.variantId); }
    const limit = Math.max(1, Math.min(filter.limit ?? 200, 10_000));
    const file = filter.runId ? archivedRunFile(this.sql, filter.runId) : undefined;
    const rows = file
      ? ((readArchivedRun(this.store.dir, file, filter.runId!).evidence ?? []) as unknown as Array<RawEvidence & { seq: number }>)
        .filter((r) => (!filter.nodeId || r.node_id === filter.nodeId) && (!filter.variantId || r.variant_id === filter.variantId))
        .sort((a, b) => b.seq - a.seq).slice(0, limit)
      : this.sql.all<RawEvidence>(`SELECT * FROM evidence ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit}`, params);
    return rows
      .map((r) => ({
        id: r.id, familyId: r.family_id, variantId: r.variant_id, runId: r.run_id, nodeId: r.node_id, kind: r.kind,
        success: r.success === null ? null : r.success === 1, interventions: r.interventions, reviewRejections: r.review_rejections,
        tokens: r.tokens, durationMs: r.duration_ms, note: r.note, actor: r.actor, at: r.at,
      }));
  }

  /**
   * Up to `limit` events after `afterSeq`, in order. Events older than the last checkpoint are read from
   * the log on disk (src/ledger/store/eventLog.ts); throws a LedgerError (`corrupt`) when it lost a file.
   */
  events(afterSeq = 0, limit = 1000): StoredEvent[] {
    return this.store.readEvents(afterSeq, limit);
  }

  /** Every event after `afterSeq`, in order, read a log segment at a time (verify, exports). */
  iterateEvents(afterSeq = 0): Iterable<StoredEvent> {
    return this.store.iterateEvents(afterSeq);
  }

  // ---- helpers --------------------------------------------------------------------------------------

  private async commitAndRead<T>(decide: (ctx: WriteContext) => NewEvent[], read: (sql: Sql) => T, actor?: string): Promise<T> {
    return this.commit((ctx) => {
      const events = decide(ctx);
      return { events, result: undefined };
    }, actor).then(() => read(this.sql));
  }

  private nodeAndRunState(sql: Sql, nodeId: string): { nodeId: string; state: NodeState; runStatus: string } {
    const r = sql.get<{ state: NodeState; status: string }>('SELECT n.state, r.status FROM nodes n JOIN runs r ON r.id = n.run_id WHERE n.id = ?', [nodeId])!;
    return { nodeId, state: r.state, runStatus: r.status };
  }

  private requireNode(sql: Sql, nodeId: string, field: string): RawNode {
    const n = sql.get<RawNode>('SELECT * FROM nodes WHERE id = ?', [nodeId]);
    if (!n) throw notFound(field, 'node', nodeId);
    return n;
  }

  /** The node must be claimed or active, held by `worker`, and its lease must not have run out. */
  private requireHolder(sql: Sql, nodeId: string, worker: string, now: Date, field = 'worker'): RawNode {
    const n = this.requireNode(sql, nodeId, 'nodeId');
    if (n.state !== 'claimed' && n.state !== 'active') throw conflict(`node ${nodeId} is ${n.state}; claim it first`, 'nodeId');
    if (n.worker !== worker) throw conflict(`node ${nodeId} is held by ${n.worker}, not ${worker}`, field);
    if (n.lease_expires !== null && n.lease_expires <= now.toISOString()) {
      throw conflict(`the lease of ${worker} on node ${nodeId} expired at ${n.lease_expires}; claim it again`, field);
    }
    return n;
  }
}

/**
 * Turns plan nodes (keys and needs) into node specs with ids under `prefix`, checking that every
 * need names a node of the plan (or, for expansions, an existing node) once, and that there is no
 * cycle. Linear in the plan's nodes and needs (Kahn's algorithm over the lists of dependents), so the
 * largest plan the schema admits (5,000 nodes of 500 needs) is checked at once. Throws a LedgerError
 * (`invalid_input`) naming the field: `<field>.<i>.key` for a key used twice, `<field>.<i>.needs` for a
 * need that names no node or one node twice, `<field>` for a cycle.
 */
function buildGraph(prefix: string, plan: PlanNode[], field: string, existing: Set<string>): { nodes: NodeSpec[]; edges: EdgeSpec[] } {
  const keys = new Map<string, number>();
  for (let i = 0; i < plan.length; i++) {
    const key = plan[i]!.key;
    if (keys.has(key)) throw invalid(`${field}.${i}.key`, `"${key}" is used twice; node keys must be unique`);
    keys.set(key, i);
  }
  const edges: EdgeSpec[] = [];
  // For each node of the plan: how many of the plan's own nodes it still waits for, and which wait for it.
  const waitsFor = new Array<number>(plan.length).fill(0);
  const dependents: number[][] = [];
  for (let i = 0; i < plan.length; i++) dependents.push([]);
  for (let i = 0; i < plan.length; i++) {
    const n = plan[i]!;
    const to = `${prefix}.${n.key}`;
    // A need named twice would count twice against one edge row, and the node would wait for ever.
    const named = n.needs.length > 1 ? new Set<string>() : undefined;
    for (const need of n.needs) {
      if (named) {
        if (named.has(need)) throw invalid(`${field}.${i}.needs`, `"${need}" is named twice; name each needed node once`);
        named.add(need);
      }
      const j = keys.get(need);
      if (j !== undefined) {
        edges.push({ from: `${prefix}.${need}`, to, kind: 'needs' });
        waitsFor[i]!++;
        dependents[j]!.push(i);
      } else if (existing.has(need)) edges.push({ from: need, to, kind: 'needs' });
      else throw invalid(`${field}.${i}.needs`, `"${need}" is not a node of this plan; needs must name another node's key`);
    }
  }
  // Kahn's algorithm: whatever cannot be ordered lies on a cycle.
  const order: number[] = [];
  for (let i = 0; i < plan.length; i++) if (waitsFor[i] === 0) order.push(i);
  for (let q = 0; q < order.length; q++) {
    for (const d of dependents[order[q]!]!) if (--waitsFor[d]! === 0) order.push(d);
  }
  if (order.length < plan.length) {
    const cyclic = plan.filter((_n, i) => waitsFor[i]! > 0).map((n) => n.key);
    throw invalid(`${field}`, `the needs form a cycle through ${cyclic.join(', ')}`);
  }
  const nodes: NodeSpec[] = [];
  for (const n of plan) {
    nodes.push({
      id: `${prefix}.${n.key}`, stepId: n.key.replace(/\[\d+\]$/, ''), title: n.title, instructions: n.instructions,
      maxAttempts: n.maxAttempts, onExhausted: n.onExhausted, gate: n.gate, review: n.review, skipped: n.skipped,
    });
  }
  return { nodes, edges };
}

/** True when the node is held under a lease that ran out at `now` (ISO time). */
function leaseExpired(n: Pick<RawNode, 'state' | 'lease_expires'>, now: string): boolean {
  return (n.state === 'claimed' || n.state === 'active') && n.lease_expires !== null && n.lease_expires <= now;
}

/** The event that records a lease running out, with the holder it ran out on. */
function expiry(n: Pick<RawNode, 'id' | 'claim_id' | 'worker' | 'lease_expires'>): NewEvent {
  return event('node.lease_expired', { nodeId: n.id, claimId: n.claim_id ?? '', worker: n.worker ?? '', expiredAt: n.lease_expires ?? '' });
}

/**
 * Claimable nodes of running runs, oldest first and in workflow order within a run: ready ones (the state index) and held ones whose lease
 * ran out at `now` (the lease index), each side limited before the merge so the cost stays flat.
 */
function claimableNodes(sql: Sql, now: string, runId: string | undefined, limit: number): RawNode[] {
  // branch overlays (issue 13): nodes under an open contract-net round are not claimable until it closes.
  const byRun = `${runId ? 'AND n.run_id = ?' : ''} AND NOT EXISTS (SELECT 1 FROM rounds rd WHERE rd.node_id = n.id AND rd.status = 'open')`;
  const params = runId ? [runId] : [];
  return sql.all<RawNode>(
    `SELECT * FROM (SELECT n.*, n.rowid AS ord FROM nodes n JOIN runs r ON r.id = n.run_id
       WHERE n.state = 'ready' AND r.status = 'running' ${byRun} ORDER BY n.created_seq, n.rowid LIMIT ${limit})
     UNION ALL
     SELECT * FROM (SELECT n.*, n.rowid AS ord FROM nodes n JOIN runs r ON r.id = n.run_id
       WHERE n.lease_expires <= ? AND n.state IN ('claimed', 'active') AND r.status = 'running' ${byRun} ORDER BY n.created_seq, n.rowid LIMIT ${limit})
     ORDER BY created_seq, ord LIMIT ${limit}`, [...params, now, ...params]);
}

/**
 * The nodes after `from` in its run along blocking edges, each with the path that leads to it from
 * `from` (breadth first, so the path is a shortest one).
 */
function downstream(sql: Sql, runId: string, from: string): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const e of sql.all<{ from_id: string; to_id: string }>(`SELECT from_id, to_id FROM edges WHERE run_id = ? AND kind IN ('needs', 'blocks')`, [runId])) {
    const list = next.get(e.from_id);
    if (list) list.push(e.to_id);
    else next.set(e.from_id, [e.to_id]);
  }
  const paths = new Map<string, string[]>([[from, []]]);
  const queue = [from];
  for (let i = 0; i < queue.length; i++) {
    const at = queue[i]!;
    for (const to of next.get(at) ?? []) {
      if (paths.has(to)) continue;
      paths.set(to, [...paths.get(at)!, at]);
      queue.push(to);
    }
  }
  return paths;
}

/** An edges row as runGraph reads it. */
interface RawEdge { from_id: string; to_id: string; kind: string }
/** A bindings row as runGraph reads it. */
interface RawBinding { node_id: string; worker_kind: string; thread_id: string; bound_at: string }

interface RawRun {
  id: string; family_id: string | null; variant_id: string | null; generation: number | null; title: string; vars: string;
  task_key: string | null; arm: string | null; status: RunRow['status']; outcome: RunRow['outcome']; tokens: number; duration_ms: number;
  interventions: number; review_rejections: number; open_nodes: number; created_at: string; finished_at: string | null;
  archive?: string | null;
}

interface RawNode {
  id: string; run_id: string; step_id: string; title: string; instructions: string; state: NodeState; unmet: number; attempts: number;
  max_attempts: number; on_exhausted: string; gate: string | null; gate_open: number; review: number; claim_id: string | null;
  worker: string | null; lease_expires: string | null; result: string | null; tokens: number; duration_ms: number; updated_at: string;
  skip: number; gate_due_at: string | null; gate_run_id: string | null;
}

interface RawEvidence {
  id: string; family_id: string | null; variant_id: string | null; run_id: string | null; node_id: string | null; kind: string;
  success: number | null; interventions: number | null; review_rejections: number | null; tokens: number | null; duration_ms: number | null;
  note: string; actor: string; at: string;
}

function toRun(r: RawRun): RunRow {
  return {
    id: r.id, familyId: r.family_id, variantId: r.variant_id, generation: r.generation, title: r.title, vars: JSON.parse(r.vars) as Record<string, unknown>,
    taskKey: r.task_key, arm: r.arm, status: r.status, outcome: r.outcome, tokens: r.tokens, durationMs: r.duration_ms,
    interventions: r.interventions, reviewRejections: r.review_rejections, openNodes: r.open_nodes, createdAt: r.created_at, finishedAt: r.finished_at,
    ...(r.archive ? { archivedIn: r.archive } : {}),
  };
}

/** assertRoom measures the tables at every this many writes while they are under three quarters of the limit. */
const ROOM_CHECK_EVERY = 16;

/** The default ceiling of the tables in memory (LedgerOptions.hotLimitBytes): half of what a snapshot may reach. */
export const HOT_LIMIT_BYTES = 1024 * 1048576;

/**
 * The page size of each database, read once: it changes only by a VACUUM after `PRAGMA page_size`,
 * which the ledger never runs, and every run start and evidence record asks (see hotBytes).
 */
const pageSizes = new WeakMap<object, number>();

/** The bytes the tables occupy now (SQLite's page count times page size). */
export function hotBytes(sql: Sql): number {
  const pages = sql.get<{ page_count: number }>('PRAGMA page_count')?.page_count ?? 0;
  let size = pageSizes.get(sql.db);
  if (size === undefined) {
    size = sql.get<{ page_size: number }>('PRAGMA page_size')?.page_size ?? 4096;
    pageSizes.set(sql.db, size);
  }
  return pages * size;
}

function toNode(r: RawNode): NodeRow {
  return {
    id: r.id, runId: r.run_id, stepId: r.step_id, title: r.title, instructions: r.instructions, state: r.state, unmet: r.unmet,
    attempts: r.attempts, maxAttempts: r.max_attempts, onExhausted: r.on_exhausted, gate: r.gate ? JSON.parse(r.gate) as NodeRow['gate'] : null,
    gateOpen: r.gate_open === 1, review: r.review === 1, claimId: r.claim_id, worker: r.worker, leaseExpires: r.lease_expires,
    result: r.result, tokens: r.tokens, durationMs: r.duration_ms, updatedAt: r.updated_at, skip: r.skip === 1, gateDueAt: r.gate_due_at,
    gateRunId: r.gate_run_id,
  };
}

export { LedgerError };
