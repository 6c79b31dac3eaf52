// formula_replay: starts the replay lab for a candidate (src/controller/replay.ts). The MCP server has no
// Codex controller of its own, and a replay runs many Codex turns for minutes, so the tool checks
// everything it can at once (the input, the variant, the screen trial, the tasks to replay), then
// starts `gascity replay` from the CLI bundle beside this server as a background process that logs
// to a file; the screen's progress is in the ledger for formula_assess and workflow_view to show.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { checkReplayable, openScreen, pastTasks, replaysDir, runningReplay } from '../../controller/replay';
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
    const running = runningReplay(ctx.ledger, a.variantId);
    if (running !== null) {
      throw new LedgerError(`variantId: a replay of ${a.variantId} is already running (process ${running}); wait for it to end (formula_assess shows its pairs) or stop it first`, 'conflict', 'variantId');
    }
    const { trial, started: startedTrial } = await openScreen(formulas, promotions, a.variantId, ctx.actor);
    const startSeq = ctx.ledger.sql.get<{ started_seq: number }>('SELECT started_seq FROM trials WHERE id = ?', [trial.id])?.started_seq ?? 0;
    const tasksAvailable = pastTasks(ctx.ledger, trial.incumbentId, startSeq, a.tasks ?? 10).length;
    const base = { trialId: trial.id, candidateId: trial.candidateId, incumbentId: trial.incumbentId, startedTrial, tasksAvailable };
    if (tasksAvailable === 0) {
      return { ...base, started: false, pid: null, log: null, next: `The incumbent ${trial.incumbentId} has no finished past task with a task key left to replay in this screen; run it on tasks first (workflow_start with taskKey).` };
    }
    const logDir = replaysDir(ctx.ledger);
    fs.mkdirSync(logDir, { recursive: true });
    const log = path.join(logDir, `${trial.id}-${Date.now()}.log`);
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
      cwd: workspace, detached: true, stdio: ['ignore', fd, fd], windowsHide: true,
    });
    child.unref();
    fs.closeSync(fd);
    return {
      ...base, started: true, pid: child.pid ?? null, log,
      next: `Replaying up to ${tasksAvailable} past task(s) in the background; formula_assess { variantId: "${a.variantId}" } shows the screen as pairs finish.`,
    };
  },
});

/** The replay lab's tools (branch replay). */
export const REPLAY_TOOLS: ToolDefinition[] = [formulaReplay];
