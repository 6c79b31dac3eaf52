import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { FormulaService, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import type { CheckedResult } from '../../src/ledger/outcome';
import { event } from '../../src/ledger/events';
import { QUEUE_SUFFIX } from '../../src/ledger/store/lock';
import { LOCK_FILE } from '../../src/ledger/store/store';

/**
 * Files a failed or finished command must not leave in ledger folder `dir`: temporary files, the lock
 * file, a breaker's file, and queue tickets (in the queue folder beside the lock, which itself stays).
 */
export function leftovers(dir: string): string[] {
  const queue = `${LOCK_FILE}${QUEUE_SUFFIX}`;
  const tickets = fs.existsSync(path.join(dir, queue)) ? fs.readdirSync(path.join(dir, queue)).map((f) => `${queue}/${f}`) : [];
  return [...fs.readdirSync(dir).filter((f) => /\.tmp-|\.lock|\.break/.test(f) && f !== queue), ...tickets];
}

export function tempDir(prefix = 'gascity-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export { dumpProjection as dumpTables } from '../../src/ledger/schema';

/** A one-step formula of family `fix` whose ground truth is one check, `tests` (`npm test`). */
export const CHECKED_FORMULA = `
name = "fix"
version = 1
[[steps]]
id = "edit"
instructions = "Edit."

[[checks]]
id = "tests"
run = "npm test"
`;

/** The `tests` check of CHECKED_FORMULA as it reads when it fails, and when it passes. */
export const failingCheck: CheckedResult = { id: 'tests', kind: 'run', passed: false, summary: 'exited with code 1', subject: 'npm test', output: 'FAIL\n' };
export const passingCheck: CheckedResult = { ...failingCheck, passed: true, summary: 'exited with code 0', output: 'ok\n' };

/** A `run.started` event of a run of one ready node titled by its id, as a store-level writer commits it. */
export function runStartedEvent(runId: string) {
  return event('run.started', {
    runId, familyId: null, variantId: null, generation: null, title: runId, vars: {}, taskKey: null, arm: null,
    nodes: [{ id: `${runId}.only`, stepId: 'only', title: 'only step', instructions: '', maxAttempts: 1, onExhausted: 'fail', gate: null, review: false, skipped: false }],
    edges: [],
  });
}

export const WRITER = path.join(__dirname, '..', 'fixtures', 'ledger-writer.ts');

export function spawnWriter(dir: string, name: string, count: number, checkpointEvery?: number, goFile?: string): ChildProcess {
  const args = ['--import', 'tsx', WRITER, dir, name, String(count)];
  if (checkpointEvery) args.push(String(checkpointEvery));
  return spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: goFile ? { ...process.env, GASCITY_WRITER_GO: goFile } : process.env });
}

/** Resolves when a writer spawned with a go file says it is ready (its ledger is open). */
export function writerReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/^ready$/m.test(out)) { child.stdout!.off('data', onData); resolve(); }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it was ready`)));
  });
}

/**
 * Collects the runs a writer acknowledged (its stdout lines "ack <runId> <title> [<take> <behind>]"): titles by run
 * id, and for test/fixtures/ledger-writer.ts how each commit took the lock (alone, in-turn, out-of-turn) and how
 * many events others committed while it waited, by run id.
 */
export function collectAcks(child: ChildProcess): { acks: Map<string, string>; takes: Map<string, { take: string; behind: number }>; stderr: () => string } {
  const acks = new Map<string, string>();
  const takes = new Map<string, { take: string; behind: number }>();
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const [tag, runId, title, take, behind] = buf.slice(0, i).split(' ');
      buf = buf.slice(i + 1);
      if (tag === 'ack' && runId && title) acks.set(runId, title);
      if (tag === 'ack' && runId && take) takes.set(runId, { take, behind: Number(behind) });
    }
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return { acks, takes, stderr: () => err };
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

const workspaceDirs: string[] = [];
const workspaceLedgers: Ledger[] = [];
after(() => {
  for (const l of workspaceLedgers) l.close();
  for (const d of workspaceDirs) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A temporary workspace whose one formula file, `formulas/<family>.formula.toml`, holds `formulaText`,
 * imported into a fresh ledger at `.gascity/ledger`. The ledger is closed and the folder removed when the
 * test file ends. Returns the folder, the ledger, its FormulaService and the import's problems (empty for
 * a valid formula).
 */
export async function formulaWorkspace(formulaText: string, prefix: string, family = 'fix'): Promise<{ dir: string; ledger: Ledger; formulas: FormulaService; problems: unknown[] }> {
  const dir = tempDir(prefix);
  workspaceDirs.push(dir);
  fs.mkdirSync(path.join(dir, 'formulas'));
  fs.writeFileSync(path.join(dir, 'formulas', `${family}.formula.toml`), formulaText);
  const ledger = await openLedger(path.join(dir, '.gascity', 'ledger'), { actor: 'test' });
  workspaceLedgers.push(ledger);
  const formulas = new FormulaService(ledger, { workspaceDir: dir });
  const imported = await formulas.importFormulas(path.join(dir, 'formulas'));
  return { dir, ledger, formulas, problems: imported.problems };
}
