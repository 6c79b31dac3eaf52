// What several benches share, in a module with no main of its own: bench/memory.ts is bundled and run
// as a main module, and bench/ledger.ts's main would run inside that bundle.
import type Database from 'better-sqlite3';
import type { StoredEvent } from '../src/ledger/index';

/**
 * A realistic history: runs of five chained nodes, each claimed and reported, about 11 events a run; with
 * `evidence`, each run also has two evidence rows (its tokens and its checked outcome), 13 events a run.
 */
export function* history(count: number, options: { evidence?: boolean } = {}): Generator<StoredEvent> {
  let seq = 0;
  const ts = new Date('2026-01-01T00:00:00Z').toISOString();
  const ev = (kind: string, payload: unknown): StoredEvent => ({ seq: ++seq, ts, actor: 'bench', kind, payload });
  for (let r = 0; seq < count; r++) {
    const runId = `r-${r.toString(36).padStart(6, '0')}`;
    const keys = ['plan', 'implement', 'test', 'review', 'merge'];
    yield ev('run.started', {
      runId, familyId: null, variantId: null, generation: null, title: `bench run ${r}`, vars: { issue: `#${r}` }, taskKey: `task-${r}`, arm: null,
      nodes: keys.map((k) => ({ id: `${runId}.${k}`, stepId: k, title: k, instructions: `Do the ${k} step for run ${r}.`, maxAttempts: 1, onExhausted: 'fail', gate: null, review: false, skipped: false })),
      edges: keys.slice(1).map((k, i) => ({ from: `${runId}.${keys[i]}`, to: `${runId}.${k}`, kind: 'needs' })),
    });
    for (const k of keys) {
      if (seq >= count) return;
      yield ev('node.claimed', { nodeId: `${runId}.${k}`, claimId: `c-${r}-${k}`, worker: 'w', expiresAt: '2026-01-01T01:00:00Z' });
      if (seq >= count) return;
      yield ev('node.reported', { nodeId: `${runId}.${k}`, outcome: 'done', summary: 'ok', tokens: 1000, durationMs: 5000 });
    }
    // With `evidence`, what a controller records about a finished run too: its tokens and its checked outcome.
    if (options.evidence) {
      for (const [i, kind] of ['tokens', 'run_outcome'].entries()) {
        if (seq >= count) return;
        yield ev('evidence.recorded', {
          evidenceId: `e-${r.toString(36).padStart(6, '0')}${i}`, familyId: null, variantId: null, runId, nodeId: null, kind,
          success: kind === 'run_outcome' ? true : null, interventions: null, reviewRejections: null, tokens: kind === 'tokens' ? 5000 : null,
          durationMs: null, note: kind === 'tokens' ? 'tokens of the run' : 'checks passed (npm test exited 0)',
        });
      }
    }
  }
}

type Param = string | number | null | Uint8Array;

/**
 * The projection's view of a database (run, get, all, exec) over better-sqlite3, so that the peer
 * applies events with exactly our projection code and schema. Statements are cached, as Sql does.
 */
export class NativeSql {
  private cache = new Map<string, Database.Statement>();
  constructor(readonly db: Database.Database) {}
  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }
  run(sql: string, params: Param[] = []): void {
    this.stmt(sql).run(...params);
  }
  get<T>(sql: string, params: Param[] = []): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }
  all<T>(sql: string, params: Param[] = []): T[] {
    return this.stmt(sql).all(...params) as T[];
  }
  exec(sql: string): void {
    this.db.exec(sql);
  }
}

