// `gascity replay VARIANT …` (the replay lab in a terminal) and the run worktree commands:
// `gascity worktrees`, `gascity run merge RUN_ID`, `gascity run discard RUN_ID`.
import { Controller, REPLAY_LOCK_ENV, Worktrees, checkReplayable, replayVariant, takeReplayLock } from '../controller/index';
import type { ReplayBudget, ReplayProgress, ReplayReport, WorktreeRow } from '../controller/index';
import { LedgerError } from '../ledger/index';
import type { FormulaService, Ledger, PromotionService } from '../ledger/index';
import { codexCommand, describe, mcpServerScript } from './drive';

/** The replay options of the command line, as given (strings), before they are checked. */
export interface ReplayFlags {
  tasks?: string;
  budgetTokens?: string;
  budgetRuns?: string;
  budgetMinutes?: string;
}

/** What the worktree and replay commands need from the CLI. */
export interface ReplayCliContext {
  ledger: Ledger;
  formulas: FormulaService;
  promotion: PromotionService;
  workspaceDir: string;
  json: boolean;
  workers: number;
  /** The person running the CLI, recorded as the actor of merges and discards. */
  person: string;
  flags: ReplayFlags;
  print: (text: string) => void;
}

/** True for `run merge RUN_ID` / `run discard RUN_ID` (a family cannot be named like a run id and take no k=v). */
export function isRunWorktreeCommand(rest: readonly string[]): boolean {
  return (rest[0] === 'merge' || rest[0] === 'discard') && rest.length >= 2 && !rest[1]!.includes('=');
}

function flagNumber(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new LedgerError(`${flag}: give a whole number from ${min} to ${max}, not "${value.slice(0, 40)}"`, 'invalid_input', flag.replace(/^--/, ''));
  }
  return n;
}

function describeWorktree(w: WorktreeRow): string {
  // Stats are recorded when the run ends; a worktree closed before that (discarded while open) has none, and is not running.
  const stats = w.filesChanged !== null ? `${w.filesChanged} file(s), +${w.insertions} -${w.deletions}, ${w.commits} commit(s)`
    : w.status === 'open' ? 'in use by its run' : 'no diff stats (closed before its run ended)';
  return `${w.runId} ${w.status.padEnd(9)} ${w.branch} at ${w.baseCommit.slice(0, 12)}: ${stats}${w.note ? ` — ${w.note}` : ''}\n    ${w.path}`;
}

/** `gascity worktrees`, `gascity run merge|discard RUN_ID`. Returns the exit code. */
export async function worktreeCommand(cmd: 'worktrees' | 'merge' | 'discard', runId: string | undefined, ctx: ReplayCliContext): Promise<number> {
  const worktrees = new Worktrees({ ledger: ctx.ledger, workspaceDir: ctx.workspaceDir, actor: ctx.person });
  const show = (value: unknown, text: string): number => {
    ctx.print(ctx.json ? JSON.stringify(value, null, 2) : text);
    return 0;
  };
  if (cmd === 'worktrees') {
    const rows = worktrees.list().slice(0, 100);
    return show(rows, rows.map(describeWorktree).join('\n') || 'no run has a worktree (runs in a folder without git work in place)');
  }
  if (!runId) throw new LedgerError(`missing argument: RUN_ID (gascity run ${cmd} RUN_ID)`, 'invalid_input', 'RUN_ID');
  if (cmd === 'merge') {
    const w = await worktrees.merge(runId, ctx.person);
    return show(w, `merged run ${runId} (${w.filesChanged ?? 0} file(s), +${w.insertions ?? 0} -${w.deletions ?? 0}) as ${w.mergeCommit?.slice(0, 12) ?? '?'}; its worktree and branch ${w.branch} are removed`);
  }
  const w = await worktrees.discard(runId, ctx.person, 'discarded from the CLI');
  return show(w, `discarded run ${runId}: its worktree and branch ${w.branch} are removed`);
}

/** One line of replay progress. */
export function describeReplay(p: ReplayProgress): string {
  switch (p.type) {
    case 'planned':
      return `replay: ${p.tasks} past task(s) to replay in ${p.startedTrial ? 'a new' : 'the open'} screen ${p.trialId}`;
    case 'pairStarted':
      return `pair ${p.index}/${p.of}: task of ${p.pastRunId} on candidate ${p.candidateRunId} and incumbent ${p.incumbentRunId}`;
    case 'pairEnded': {
      const mark = (ok: boolean | null) => (ok === null ? 'no outcome' : ok ? 'success' : 'failure');
      return `pair ${p.index}/${p.of}: candidate ${mark(p.pair.candidateSuccess)}, incumbent ${mark(p.pair.incumbentSuccess)}${p.pair.recorded ? '' : ' (not recorded)'}` +
        `${p.evaluation && p.evaluation.action !== 'none' ? `; rule: ${p.evaluation.action}` : ''}`;
    }
    case 'stopped':
      return p.summary;
  }
}

/**
 * `gascity replay VARIANT [--tasks N] [--budget-tokens T] [--budget-runs R] [--budget-minutes M]`:
 * starts a controller on Codex (as `gascity run --codex` does) and runs the replay lab in the
 * foreground; Ctrl-C cancels it (running replays are cancelled, nothing stays claimed). Exit code 0
 * when it stopped on its own, 130 when cancelled.
 */
export async function replayCommand(variantId: string | undefined, ctx: ReplayCliContext, signal?: AbortSignal): Promise<number> {
  if (!variantId) throw new LedgerError('missing argument: VARIANT (gascity replay VARIANT [--tasks N] [--budget-tokens T] [--budget-runs R])', 'invalid_input', 'VARIANT');
  const tasks = flagNumber(ctx.flags.tasks, '--tasks', 1, 200);
  const budget = {
    ...(ctx.flags.budgetTokens !== undefined ? { tokens: flagNumber(ctx.flags.budgetTokens, '--budget-tokens', 1, 1e12) } : {}),
    ...(ctx.flags.budgetRuns !== undefined ? { runs: flagNumber(ctx.flags.budgetRuns, '--budget-runs', 2, 400) } : {}),
    ...(ctx.flags.budgetMinutes !== undefined ? { wallMs: flagNumber(ctx.flags.budgetMinutes, '--budget-minutes', 1, 10_080)! * 60_000 } : {}),
  };
  // Checked before Codex starts, so a wrong variant is refused in well under a second.
  if (!ctx.formulas.getVariant(variantId)) throw new LedgerError(`VARIANT: no variant ${variantId.slice(0, 80)}; see gascity lineage FAMILY`, 'not_found', 'VARIANT');
  checkReplayable(ctx.ledger, ctx.formulas, ctx.promotion, variantId);
  // Taken before Codex starts, so a second replay of the candidate is refused at once; formula_replay, which
  // started this process, took it already and handed its token over in the environment.
  const lock = takeReplayLock(ctx.ledger, variantId, { adopt: process.env[REPLAY_LOCK_ENV] || undefined, how: `gascity assess ${variantId}`, field: 'VARIANT' });
  try {
    return await replayLocked(variantId, tasks, budget, lock.token, ctx, signal);
  } finally {
    lock.release();
  }
}

async function replayLocked(variantId: string, tasks: number | undefined, budget: Partial<ReplayBudget>, lockToken: string, ctx: ReplayCliContext, signal?: AbortSignal): Promise<number> {
  const mcp = mcpServerScript();
  const controller = new Controller({
    ledger: ctx.ledger, formulas: ctx.formulas, promotion: ctx.promotion, workspaceDir: ctx.workspaceDir, runIds: [],
    maxConcurrentNodes: Math.max(2, ctx.workers), actor: 'controller',
    codex: { command: codexCommand(), cwd: ctx.workspaceDir },
    threadParams: { approvalPolicy: 'never', sandbox: 'workspace-write' },
    threadConfig: mcp ? {
      'mcp_servers.gascity': { command: process.execPath, args: [mcp, '--ledger', ctx.ledger.store.dir, '--workspace', ctx.workspaceDir], default_tools_approval_mode: 'approve' },
    } : undefined,
    requireMcpServers: mcp ? ['gascity'] : [],
  });
  const started = Date.now();
  const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  controller.onEvent((e) => {
    const line = ctx.json ? null : describe(e, ctx.ledger);
    if (line) ctx.print(`${stamp()}    ${line}`);
  });
  await controller.start();
  let report: ReplayReport;
  try {
    report = await replayVariant({ variantId, ...(tasks !== undefined ? { tasks } : {}), budget }, {
      ledger: ctx.ledger, formulas: ctx.formulas, promotion: ctx.promotion, controller, signal, actor: 'replay', adoptLock: lockToken,
      onProgress: (p) => { if (!ctx.json) ctx.print(`${stamp()}  ${describeReplay(p)}`); },
    });
  } finally {
    await controller.stop({ cancelTurns: true, reason: signal?.aborted ? 'the replay was cancelled' : 'the replay ended' });
  }
  if (ctx.json) ctx.print(JSON.stringify(report, null, 2));
  return report.stop === 'cancelled' ? 130 : 0;
}
