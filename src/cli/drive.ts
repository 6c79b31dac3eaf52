import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppServerError } from '../codex/appServer';
import type { TomlValue } from '../codex/appServer';
import { Controller, explainWait } from '../controller/index';
import type { ControllerEvent } from '../controller/index';
import type { WorkerProfile } from '../controller/profiles';
import type { FormulaService, Ledger, NodeRow, PromotionService, RunRow } from '../ledger/index';

/** How `gascity run --codex` and the demo start Codex. */
export interface DriveOptions {
  ledger: Ledger;
  formulas: FormulaService;
  promotion: PromotionService;
  workspaceDir: string;
  runIds: string[];
  /**
   * Records a new run once Codex has started, and returns its id (driven with `runIds`). A run recorded before
   * Codex answers would be left running with nothing to drive it when Codex is missing or fails to start.
   */
  startRun?: () => Promise<string>;
  /** Nodes at once; `--workers N`, default 2. */
  workers: number;
  /** The Codex executable; the one installed with this package, else `codex` from PATH. */
  codexCommand?: string;
  /** `-c` overrides for the app-server (the demo points Codex at its loopback model here). */
  codexConfig?: Record<string, TomlValue>;
  /** CODEX_HOME for the app-server; the person's own (~/.codex) when absent. */
  codexHome?: string;
  /** Called for every controller event before it is printed (the demo answers "needs you" here). */
  onEvent?: (e: ControllerEvent, controller: Controller) => void;
  /** Where progress lines go. */
  print: (line: string) => void;
  /** Set after start: a first Ctrl-C stops the turns cleanly. */
  signal?: AbortSignal;
  /** branch overlays-2: Codex worker profiles (`--profile`) that bid for announced nodes. */
  profiles?: WorkerProfile[];
}

/** The Codex CLI to run: `GASCITY_CODEX_PATH`, else the one installed beside this package, else `codex` on PATH. */
export function codexCommand(): string {
  if (process.env.GASCITY_CODEX_PATH) return process.env.GASCITY_CODEX_PATH;
  for (const root of [path.join(__dirname, '..'), path.join(__dirname, '..', '..')]) {
    const local = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'codex.cmd' : 'codex');
    if (fs.existsSync(local)) return local;
  }
  return 'codex';
}

/** The built MCP server beside this CLI (dist/mcp.js), which every node's thread gets as `gascity`. */
export function mcpServerScript(): string | null {
  const p = path.join(__dirname, 'mcp.js');
  return fs.existsSync(p) ? p : null;
}

/**
 * Drives runs to their end with a controller in the foreground, printing one line per thing that
 * happens; with `startRun`, the run is recorded only after the Codex app-server has started (a failure to
 * start throws AppServerError `spawn` and records nothing). Resolves with the runs when they all ended, or when `signal` aborted (Ctrl-C): then the
 * running turns are interrupted and their nodes released to ready, recorded, so nothing stays claimed.
 */
export async function drive(o: DriveOptions): Promise<{ runs: RunRow[]; interrupted: boolean }> {
  const mcp = mcpServerScript();
  const ledgerDir = o.ledger.store.dir;
  const codexLog: string[] = [];
  const controller = new Controller({
    ledger: o.ledger, formulas: o.formulas, promotion: o.promotion, workspaceDir: o.workspaceDir, runIds: o.runIds,
    maxConcurrentNodes: o.workers, actor: 'controller', profiles: o.profiles,
    codex: {
      command: o.codexCommand ?? codexCommand(), config: o.codexConfig, codexHome: o.codexHome, cwd: o.workspaceDir,
      log: (line) => { codexLog.push(line); if (codexLog.length > 20) codexLog.shift(); },
    },
    // Unattended work: Codex edits and runs commands in the workspace without asking; the ledger's MCP
    // tools are approved for the thread, and destructive ones still ask (their annotations say so).
    threadParams: { approvalPolicy: 'never', sandbox: 'workspace-write' },
    threadConfig: mcp ? {
      'mcp_servers.gascity': { command: process.execPath, args: [mcp, '--ledger', ledgerDir, '--workspace', o.workspaceDir], default_tools_approval_mode: 'approve' },
    } : undefined,
    requireMcpServers: mcp ? ['gascity'] : [],
  });
  const started = Date.now();
  const stamp = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
  controller.onEvent((e) => {
    o.onEvent?.(e, controller);
    const line = describe(e, o.ledger);
    if (line) o.print(`${stamp()}  ${line}`);
  });
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    o.print(`${stamp()}  stopping: interrupting the running turns and releasing their nodes…`);
    void controller.stop({ cancelTurns: true, reason: 'stopped with Ctrl-C' });
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await controller.start();
  } catch (e) {
    await controller.stop();
    // An AppServerError of kind spawn is the person's setup (src/cli/main.ts prints it without a stack);
    // the controller's message already names the command, so it is not repeated.
    const said = codexLog.length ? `\nCodex said:\n  ${codexLog.join('\n  ')}` : '';
    if (e instanceof AppServerError) throw new AppServerError(`${e.message}${said}`, 'spawn');
    throw new AppServerError(`could not start the Codex app-server (${o.codexCommand ?? codexCommand()}): ${(e as Error).message}${said}`, 'spawn');
  }
  o.print(`${stamp()}  controller ${controller.worker}: up to ${o.workers} node(s) at once, Codex app-server started`);
  const runIds = [...o.runIds];
  // Ctrl-C while Codex was starting: nothing is recorded.
  if (o.startRun && !interrupted) {
    let runId: string;
    try {
      runId = await o.startRun();
    } catch (e) {
      o.signal?.removeEventListener('abort', onAbort);
      await controller.stop();
      throw e;
    }
    runIds.push(runId);
    controller.include(runId);
  }
  const runs = await controller.waitForRuns(runIds);
  o.signal?.removeEventListener('abort', onAbort);
  await controller.stop({ cancelTurns: true, reason: interrupted ? 'stopped with Ctrl-C' : 'the runs ended' });
  return { runs: runs.map((r) => o.ledger.getRun(r.id) ?? r), interrupted };
}

/** One progress line for a controller event, or null for events not worth a line. */
export function describe(e: ControllerEvent, ledger: Ledger): string | null {
  const title = (nodeId: string) => ledger.getNode(nodeId)?.title ?? '';
  switch (e.type) {
    case 'dispatched':
      return `▶ ${e.nodeId}  ${title(e.nodeId)}${e.resumed ? ' (resumed on its thread)' : ''}`;
    case 'turnEnded': {
      const r = e.result;
      const mark = r.outcome === 'done' ? '✔' : r.outcome === 'failed' ? '✖' : '•';
      return `${mark} ${r.nodeId}  ${r.end}${r.outcome ? ` ${r.outcome}` : ''}, now ${r.state}; ${r.tokens.totalTokens} tokens, ${(r.durationMs / 1000).toFixed(1)} s — ${clip(r.summary, 160)}`;
    }
    case 'released':
      return `↺ ${e.nodeId}  released: ${e.reason}`;
    case 'gateOpened':
      return `⇥ ${e.nodeId}  gate opened: ${e.why}`;
    case 'awaitingRun':
      return `⇢ ${e.nodeId}  waits for run ${e.runId}, started for its gate`;
    case 'needsPerson':
      return e.nodes.length ? e.nodes.map((n: NodeRow) => `⏸ ${explainWait(n, ledger.now())?.text ?? `${n.id} ${n.state}`}`).join('\n         ') : null;
    case 'runFinished':
      return `■ run ${e.run.id} ${e.run.status}${e.run.outcome ? ` (${e.run.outcome})` : ''}: ${e.run.tokens} tokens; outcome recorded as evidence for ${e.run.variantId ?? 'no variant'}`;
    case 'promotion':
      return e.results.filter((r) => r.action !== 'none').map((r) => `★ promotion: ${r.familyId} ${r.action}: ${r.reason}`).join('\n         ') || null;
    case 'serverExited':
      return `! the Codex app-server exited (${e.info.signal ?? `code ${e.info.code}`}); restarting in ${(e.restartInMs / 1000).toFixed(1)} s`;
    case 'serverStarted':
      return null;
    case 'error':
      return `! ${e.message}`;
    default:
      return null;
  }
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length <= n ? one : `${one.slice(0, n)}…`;
}
