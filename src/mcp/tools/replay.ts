// formula_replay: starts the replay lab for a candidate (src/controller/replay.ts). The MCP server has no
// Codex controller of its own, and a replay runs many Codex turns for minutes, so the tool checks
// everything it can at once (the input, the variant, the screen trial, the tasks to replay), then
// starts `gascity replay` from the CLI bundle beside this server as a background process that logs
// to a file; the screen's progress is in the ledger for formula_assess and workflow_view to show.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { checkReplayable, openScreen, pastTasks } from '../../controller/replay';
import { REPLAY_LOCK_ENV, replayRunningError, replaysDir, runningReplay, takeReplayLock } from '../../controller/replayLock';
import type { ReplayLock } from '../../controller/replayLock';
import { REPLAY_TASK_PREFIX } from '../../controller/worktree';
import type { Ledger } from '../../ledger/index';
import { LedgerError } from '../../ledger/index';
import { needFormulas, needPromotions, tool, write } from './shared';
import type { ToolDefinition } from './shared';

const formulaReplayInput = z.object({
  variantId: z.string().min(1).max(200).regex(/^[A-Za-z0-9_.-]+$/, 'a variant id, e.g. v-1a2b3c4d').describe('The candidate variant to screen against its family\'s active variant.'),
  tasks: z.number().int().min(1).max(200).optional().describe('How many past tasks of the incumbent to replay at most (default 10).'),
  budgetRuns: z.number().int().min(2).max(400).optional().describe('Runs in all, both arms counted (default 2 × tasks).'),
  budgetTokens: z.number().int().min(1).max(1e12).optional().describe('Tokens of all replay runs (default 2,000,000).'),
  budgetMinutes: z.number().int().min(1).max(10_080).optional().describe('Wall time in minutes (default 60); runs still going then are cancelled.'),
}).strict();

const formulaReplayOutput = z.object({
  started: z.boolean().describe('Whether a replay process was started.'),
  trialId: z.string(),
  candidateId: z.string(),
  incumbentId: z.string(),
  startedTrial: z.boolean().describe('True when this call opened the screen trial (none was open).'),
  tasksAvailable: z.number().int().describe('Past tasks of the incumbent not yet replayed in this screen, up to `tasks`.'),
  pid: z.number().int().nullable(),
  log: z.string().nullable().describe('The file the replay writes its progress to.'),
  next: z.string(),
});

/** The replay runs (both arms) recorded since the screen trial of `variantId`'s family opened, and how many have ended. */
function replayRunCounts(ledger: Ledger, trialStartSeq: number, candidateId: string, incumbentId: string): { replayRuns: number; replayRunsFinished: number } {
  const r = ledger.sql.get<{ n: number; ended: number | null }>(
    `SELECT count(*) AS n, sum(CASE WHEN status IN ('done', 'failed', 'cancelled') THEN 1 ELSE 0 END) AS ended FROM runs
      WHERE created_seq >= ? AND variant_id IN (?, ?) AND substr(task_key, 1, ?) = ?`,
    [trialStartSeq, candidateId, incumbentId, REPLAY_TASK_PREFIX.length, REPLAY_TASK_PREFIX]);
  return { replayRuns: r?.n ?? 0, replayRunsFinished: r?.ended ?? 0 };
}

/** The workspace this MCP server serves: its own `--workspace` argument, else its working folder (as src/mcp/main.ts decides). */
function serverWorkspace(): string {
  const i = process.argv.indexOf('--workspace');
  return path.resolve(i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : process.cwd());
}

/** The CLI bundle beside this server (dist/cli.js), or null in a build without it. */
function cliScript(): string | null {
  const p = path.join(__dirname, 'cli.js');
  return fs.existsSync(p) ? p : null;
}

const formulaReplay = tool({
  name: 'formula_replay',
  title: 'Replay past tasks on a candidate and the incumbent',
  description:
    'Screen a candidate variant on evidence that cannot be talked into a pass: the incumbent\'s past tasks (same variables, same base commit) ' +
    'are re-run on both the candidate and the incumbent in throwaway git worktrees by Codex, within a budget (runs, tokens, minutes); each ' +
    'pair\'s outcomes come from the formula\'s checks and feed the screen\'s sequential test, which moves the candidate to a live trial or ' +
    'rejects it. Opens the screen trial when the family has none. Returns at once; the replay runs in the background (see `log`), and ' +
    'formula_assess shows where the candidate stands.',
  input: formulaReplayInput,
  output: formulaReplayOutput,
  annotations: write({ destructive: false, idempotent: false }),
  async run(a, ctx) {
    const formulas = needFormulas(ctx);
    const promotions = needPromotions(ctx);
    await ctx.ledger.refresh();
    const cli = cliScript();
    if (!cli) throw new LedgerError('variantId: this server was not built with its CLI (dist/cli.js), so it cannot start a replay; run gascity replay from a terminal', 'conflict', 'variantId');
    checkReplayable(ctx.ledger, formulas, promotions, a.variantId);
    const logDir = replaysDir(ctx.ledger);
    fs.mkdirSync(logDir, { recursive: true });
    // The check "is a replay of it running?" and the start are one step: the lock is taken (atomically, across
    // processes) before anything is opened or spawned, and handed to the background replay, which adopts it.
    const log = path.join(logDir, `${a.variantId}-${Date.now()}-${process.pid}.log`);
    let lock: ReplayLock;
    try {
      lock = takeReplayLock(ctx.ledger, a.variantId, { log });
    } catch (e) {
      // A replay of it runs: the answer names it (process, log) and how far it got, and nothing is started.
      const holder = e instanceof LedgerError && e.code === 'conflict' ? runningReplay(ctx.ledger, a.variantId) : null;
      if (!holder) throw e;
      const trial = promotions.liveTrialOf(formulas.getVariant(a.variantId)?.familyId ?? '');
      const startSeq = trial ? ctx.ledger.sql.get<{ started_seq: number }>('SELECT started_seq FROM trials WHERE id = ?', [trial.id])?.started_seq ?? 0 : 0;
      const counts = trial ? replayRunCounts(ctx.ledger, startSeq, trial.candidateId, trial.incumbentId) : null;
      const progress = counts ? `${counts.replayRunsFinished} of ${counts.replayRuns} replay run(s) in screen ${trial!.id} ended so far` : undefined;
      throw replayRunningError(a.variantId, holder, 'formula_assess shows its pairs', 'variantId', progress);
    }
    try {
      const { trial, started: startedTrial } = await openScreen(formulas, promotions, a.variantId, ctx.actor);
      const startSeq = ctx.ledger.sql.get<{ started_seq: number }>('SELECT started_seq FROM trials WHERE id = ?', [trial.id])?.started_seq ?? 0;
      const tasksAvailable = pastTasks(ctx.ledger, trial.incumbentId, startSeq, a.tasks ?? 10).length;
      const base = { trialId: trial.id, candidateId: trial.candidateId, incumbentId: trial.incumbentId, startedTrial, tasksAvailable };
      if (tasksAvailable === 0) {
        lock.release();
        return { ...base, started: false, pid: null, log: null, next: `The incumbent ${trial.incumbentId} has no finished past task with a task key left to replay in this screen; run it on tasks first (workflow_start with taskKey).` };
      }
      const fd = fs.openSync(log, 'a');
      const flags = [
        ...(a.tasks !== undefined ? ['--tasks', String(a.tasks)] : []),
        ...(a.budgetRuns !== undefined ? ['--budget-runs', String(a.budgetRuns)] : []),
        ...(a.budgetTokens !== undefined ? ['--budget-tokens', String(a.budgetTokens)] : []),
        ...(a.budgetMinutes !== undefined ? ['--budget-minutes', String(a.budgetMinutes)] : []),
      ];
      const workspace = serverWorkspace();
      // Detached with its own log: the replay outlives this call (and this server, which Codex may stop).
      const child = spawn(process.execPath, [cli, '--ledger', ctx.ledger.store.dir, '--workspace', workspace, 'replay', a.variantId, ...flags], {
        cwd: workspace, detached: true, stdio: ['ignore', fd, fd], windowsHide: true, env: { ...process.env, [REPLAY_LOCK_ENV]: lock.token },
      });
      // A spawn that fails is reported through child.pid below, not as an unhandled 'error' that would end the server.
      child.on('error', () => undefined);
      child.unref();
      fs.closeSync(fd);
      if (child.pid === undefined) throw new LedgerError(`variantId: could not start the replay process (${process.execPath} ${cli})`, 'conflict', 'variantId');
      lock.handOver(child.pid);
      return {
        ...base, started: true, pid: child.pid, log,
        next: `Replaying up to ${tasksAvailable} past task(s) in the background; formula_assess { variantId: "${a.variantId}" } shows the screen as pairs finish.`,
      };
    } catch (e) {
      // Nothing was handed over: the lock is this server's to give back.
      lock.release();
      throw e;
    }
  },
});

/** The replay lab's tools (branch replay). */
export const REPLAY_TOOLS: ToolDefinition[] = [formulaReplay];
