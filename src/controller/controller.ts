import { AppServer, AppServerError } from '../codex/appServer';
import type { AppServerOptions, ExitInfo, TraceListener } from '../codex/appServer';
import type { JsonValue } from '../codex/protocol';
import { CodexWorker } from '../codex/worker';
import type { CodexWorkerOptions, NodeTurnResult, TurnActivity, TurnProfile } from '../codex/worker';
import { LedgerError, errorMessage } from '../ledger/index';
import type { EvaluationResult, FormulaService, Ledger, NodeRow, PromotionService, RunRow } from '../ledger/index';
import type { Check } from '../ledger/formula/types';
import { recordCheckedOutcome } from '../ledger/outcome';
import { runChecks } from './checks';
import { Allocation } from './allocation';
import { holderIsGone, newControllerWorkerName, parseWorkerName, releaseWorkerName } from './liveness';
import { Worktrees, isThrowawayRun } from './worktree';
import { Bidding } from './bidding';
import type { BiddingOptions } from './bidding';
import { parseWorkerProfiles, turnProfile } from './profiles';
import type { WorkerProfile } from './profiles';

/** How a controller runs: its ledger, how to start Codex, and how much at once. */
export interface ControllerOptions {
  ledger: Ledger;
  /** Starts the runs that run gates wait for. */
  formulas: FormulaService;
  /** When given, a finished run's outcome is put before its family's promotion rule at once. */
  promotion?: PromotionService;
  /** The workspace folder: every thread's cwd (unless `cwdFor` says otherwise). */
  workspaceDir: string;
  /** How to start the one long-lived `codex app-server` (command, config overrides, CODEX_HOME). */
  codex: AppServerOptions;
  /** Config overrides for every thread, e.g. the ledger's MCP server as `mcp_servers.gascity`. */
  threadConfig?: Record<string, JsonValue>;
  threadParams?: CodexWorkerOptions['threadParams'];
  /** MCP servers each thread must have started before its turn (see CodexWorkerOptions). */
  requireMcpServers?: string[];
  cwdFor?: CodexWorkerOptions['cwdFor'];
  /** How many nodes run at once (threads with a turn in progress). Default 2. */
  maxConcurrentNodes?: number;
  /**
   * The runs this controller drives (and the runs their run gates start); every running run of the
   * ledger when absent. `gascity run` drives its own run; the extension drives all.
   */
  runIds?: string[];
  /** Lease of a dispatched node in seconds, renewed while its turn runs. Default 180. */
  leaseSeconds?: number;
  /** Longest sleep between reconciles in ms when nothing wakes the loop (a change, a deadline). Default 5000. */
  pollMs?: number;
  /** A turn that runs longer is interrupted and counts as a failed attempt. Default one hour. */
  turnTimeoutMs?: number;
  /** First and longest wait before restarting an app-server that died, in ms. Default 1000 and 30000. */
  restartBackoffMs?: { initial: number; max: number };
  /** The ledger actor the controller writes as. Default `controller`. */
  actor?: string;
  log?: (message: string) => void;
  /**
   * Gives each run in a git repository its own worktree on branch gascity/<runId> (src/controller/worktree.ts):
   * its threads and checks work there. Default true; a folder without git works in place either way.
   */
  worktrees?: boolean;
  /** Runs whose worktree is removed once their outcome is recorded. Default: replays (task key `replay:…`). */
  isThrowaway?: (run: RunRow) => boolean;
  // ---- branch overlays-2 (issue 13)
  /**
   * Named Codex worker profiles (src/controller/profiles.ts; checked by parseWorkerProfiles, the constructor throws a
   * LedgerError naming the bad field): each bids for announced nodes through its own bidding turn, and a node one
   * of them wins runs on a thread with its settings, as `<worker>:<profile>`.
   */
  profiles?: WorkerProfile[];
  /** Bounds of the bidding turns (at once, and how long each may run). */
  bidding?: BiddingOptions;
}

/** What a controller reports as it works: for progress lines, trees and notifications. */
export type ControllerEvent =
  | { type: 'serverStarted'; pid: number | undefined }
  | { type: 'serverExited'; info: ExitInfo; restartInMs: number }
  | { type: 'claiming'; nodeId: string }
  | { type: 'dispatched'; nodeId: string; runId: string; resumed: boolean }
  | { type: 'activity'; activity: TurnActivity }
  | { type: 'turnEnded'; result: NodeTurnResult }
  | { type: 'released'; nodeId: string; reason: string }
  | { type: 'gateOpened'; nodeId: string; why: string }
  | { type: 'awaitingRun'; nodeId: string; runId: string }
  | { type: 'needsPerson'; nodes: NodeRow[] }
  | { type: 'runFinished'; run: RunRow }
  | { type: 'promotion'; results: EvaluationResult[] }
  | { type: 'error'; message: string };

interface Waiter {
  runIds: string[];
  resolve: (runs: RunRow[]) => void;
}

/**
 * The reconcile loop of one workspace ledger (Gas City's controller, on Codex): it keeps the ledger
 * and the running Codex threads in agreement.
 *
 * On every change of the ledger, at every deadline (a timer gate, a lease) and at least every
 * `pollMs`, it: interrupts turns whose node is no longer its own (cancelled, run cancelled, taken
 * over); takes over nodes whose holder is provably gone and resumes their threads; opens due timer
 * gates; starts and watches the runs that run gates wait for; records finished runs' outcomes as
 * evidence; reports what waits for a person; and dispatches claimable nodes, oldest first, to Codex
 * threads over one long-lived `codex app-server`, up to `maxConcurrentNodes`. An app-server that dies
 * is restarted with exponential backoff and its interrupted turns are resumed on their threads.
 *
 * Every dispatch is a claim in the ledger, so two controllers on one ledger (VS Code and a terminal)
 * never run the same node twice: the second one's claim is refused.
 */
export class Controller {
  /** The worker name this controller claims nodes under: `codex@<host>/<pid>`. */
  readonly worker: string;
  private readonly ledger: Ledger;
  private readonly max: number;
  private readonly leaseSeconds: number;
  private readonly pollMs: number;
  private readonly actor: string;
  private readonly log: (message: string) => void;
  private readonly scope: Set<string> | null;
  private server: AppServer | undefined;
  private codex: CodexWorker | undefined;
  private serverStartedAt = 0;
  private restartAttempts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly running = new Map<string, Promise<void>>();
  private readonly toResume = new Set<string>();
  private readonly watchedRuns = new Set<string>();
  private readonly listeners = new Set<(e: ControllerEvent) => void>();
  private readonly traceListeners = new Set<TraceListener>();
  private readonly waiters = new Set<Waiter>();
  private needsKey = '';
  private stopping = false;
  private started = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private loopRunning = false;
  private again = false;
  private ledgerSubscription: { dispose(): void } | undefined;
  private readonly counters = { reconciles: 0, reconcileMs: 0 };
  /** Runs whose formula's checks are running now (ground truth), and the signal that stops them. */
  private readonly checking = new Map<string, Promise<void>>();
  private readonly checksAbort = new AbortController();
  /** Each run's own git worktree, when the workspace is in a repository (null: every run works in place). */
  readonly worktrees: Worktrees | null;
  /** Contract-net rounds (branch overlays, issue 13): closes due rounds; announced nodes are not dispatched. */
  private readonly allocation: Allocation;
  /** branch overlays-2: this controller's worker profiles, their bidding turns, and the profile each running node runs as. */
  readonly profiles: readonly TurnProfile[];
  private readonly bidding: Bidding;
  private readonly runningAs = new Map<string, TurnProfile>();

  constructor(private readonly options: ControllerOptions) {
    // Bad profiles are refused before anything is taken (a worker name, a worktree helper).
    const profiles = parseWorkerProfiles(options.profiles ?? []);
    this.ledger = options.ledger;
    this.worker = newControllerWorkerName();
    this.max = Math.max(1, Math.floor(options.maxConcurrentNodes ?? 2));
    this.leaseSeconds = options.leaseSeconds ?? 180;
    this.pollMs = options.pollMs ?? 5000;
    this.actor = options.actor ?? 'controller';
    this.log = options.log ?? (() => undefined);
    this.scope = options.runIds ? new Set(options.runIds) : null;
    for (const r of options.runIds ?? []) this.watchedRuns.add(r);
    this.worktrees = options.worktrees === false ? null
      : new Worktrees({ ledger: this.ledger, workspaceDir: options.workspaceDir, actor: this.actor, log: this.log });
    this.allocation = new Allocation(this.ledger, this.log);
    this.profiles = profiles.map((p) => turnProfile(this.worker, p));
    this.bidding = new Bidding(this.ledger, this.profiles, this.log, options.bidding);
  }

  /** True when `worker` is this controller's worker or one of its profiles. */
  private isMine(worker: string | null): boolean {
    return worker === this.worker || this.profiles.some((p) => p.worker === worker);
  }

  /** Starts the app-server and the loop. Throws an AppServerError when Codex cannot be started at all. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.startServer();
    this.ledgerSubscription = this.ledger.onDidChange(() => this.kick());
    this.kick();
  }

  /**
   * Stops the loop and the app-server. With `cancelTurns` (Ctrl-C in a terminal, a person's Stop),
   * running turns are interrupted and their nodes released to ready, recorded, so nothing is left
   * claimed; without it (a window closing) the claims stay and the next controller resumes the threads.
   */
  async stop(options: { cancelTurns?: boolean; reason?: string } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearTimeout(this.wakeTimer);
    clearTimeout(this.restartTimer);
    this.ledgerSubscription?.dispose();
    // Checks stopped half way decide nothing; the run's outcome is left for the next controller.
    this.checksAbort.abort();
    await Promise.allSettled([...this.checking.values()]);
    const reason = options.reason ?? 'the controller stopped';
    if (options.cancelTurns && this.codex) {
      const nodes = [...this.running.keys()];
      await Promise.all(nodes.map((n) => this.codex!.cancelNode(n, reason)));
      await Promise.race([Promise.allSettled([...this.running.values()]), delay(15_000)]);
      for (const nodeId of nodes) await this.release(nodeId, reason);
    }
    this.codex?.dispose();
    const server = this.server;
    this.server = undefined;
    this.codex = undefined;
    await server?.dispose();
    // The disposed worker ended its turns; wait for their bookkeeping so nothing runs after stop().
    await Promise.allSettled([...this.running.values()]);
    await this.bidding.settle();
    releaseWorkerName(this.worker);
    for (const w of this.waiters) w.resolve(w.runIds.map((id) => this.ledger.getRun(id)).filter((r): r is RunRow => !!r));
    this.waiters.clear();
  }

  /** Listens to what the controller does. */
  onEvent(listener: (e: ControllerEvent) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Every message to and from the app-server (this one and any restarted one), for diagnostics and benchmarks. */
  onServerTrace(listener: TraceListener): { dispose(): void } {
    this.traceListeners.add(listener);
    const current = this.server?.onTrace(listener);
    return { dispose: () => { this.traceListeners.delete(listener); current?.dispose(); } };
  }

  /** How many reconcile passes ran and their total time in ms, for benchmarks. */
  stats(): { reconciles: number; reconcileMs: number } {
    return { ...this.counters };
  }

  /** The pid of the Codex app-server process now running, if any. */
  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  /** The turns running now, with what each is doing (thread, elapsed, tokens). */
  activity(): TurnActivity[] {
    return this.codex?.activity() ?? [];
  }

  /** Adds runs to what this controller drives (no-op for a controller that drives every run). */
  include(runId: string): void {
    if (this.scope) this.scope.add(runId);
    this.watchedRuns.add(runId);
    this.kick();
  }

  /**
   * Stops driving a run (a person dismissed its progress): its running turns are interrupted and their
   * nodes released to ready, recorded, so the run can be picked up again later. No-op for a controller
   * that drives every run.
   */
  async exclude(runId: string, reason: string): Promise<void> {
    if (!this.scope) return;
    this.scope.delete(runId);
    const mine = [...this.running.keys()].filter((n) => n.startsWith(`${runId}.`));
    await Promise.all(mine.map((n) => this.codex?.cancelNode(n, reason)));
    await Promise.allSettled(mine.map((n) => this.running.get(n)));
    for (const nodeId of mine) await this.release(nodeId, reason);
    this.kick();
  }

  /** The runs this controller drives now (null: every running run). */
  get runs(): string[] | null {
    return this.scope ? [...this.scope] : null;
  }

  /** Resolves with the runs once none of them is running any more (or the controller stops). */
  waitForRuns(runIds: string[]): Promise<RunRow[]> {
    return new Promise((resolve) => {
      this.waiters.add({ runIds, resolve });
      this.kick();
    });
  }

  /**
   * A person cancels a whole run: recorded in the ledger (nothing left claimed), and its running turns
   * are interrupted (`turn/interrupt`). Throws a LedgerError when the run is not running.
   */
  async cancelRun(runId: string, reason: string, actor?: string): Promise<void> {
    await this.ledger.cancelRun({ runId, reason }, actor ?? this.actor);
    await this.interruptStale(true);
  }

  /** A person cancels one node's turn: recorded (the node waits behind a human gate), the turn interrupted. */
  async cancelNode(nodeId: string, reason: string, actor?: string): Promise<void> {
    await this.ledger.cancelNode({ nodeId, reason }, actor ?? this.actor);
    await this.interruptStale(true);
  }

  /** Asks for a reconcile soon; calls made while one runs coalesce into one more. */
  kick(): void {
    if (this.stopping || !this.started) return;
    if (this.loopRunning) {
      this.again = true;
      return;
    }
    clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => void this.loop(), 0);
  }

  // ---- the loop ---------------------------------------------------------------------------------------

  private async loop(): Promise<void> {
    if (this.loopRunning || this.stopping) return;
    this.loopRunning = true;
    try {
      do {
        this.again = false;
        const started = performance.now();
        try {
          await this.reconcile();
          this.counters.reconciles++;
          this.counters.reconcileMs += performance.now() - started;
        } catch (e) {
          this.emit({ type: 'error', message: `reconcile failed: ${errorMessage(e)}` });
        }
      } while (this.again && !this.stopping);
    } finally {
      this.loopRunning = false;
    }
    if (!this.stopping) this.sleep();
  }

  /** Sleeps until the next deadline in the ledger, at most `pollMs`; a ledger change wakes it sooner. */
  private sleep(): void {
    const next = this.allocation.nextDeadline(this.ledger.nextDeadline());
    const until = next ? Date.parse(next) - this.ledger.now().getTime() + 20 : this.pollMs;
    clearTimeout(this.wakeTimer);
    this.wakeTimer = setTimeout(() => void this.loop(), Math.max(20, Math.min(this.pollMs, until)));
  }

  private async reconcile(): Promise<void> {
    await this.ledger.refresh();
    await this.interruptStale();
    await this.adoptOrphans();
    await this.openDueTimers();
    await this.driveRunGates();
    await this.settleFinishedRuns();
    this.reportNeedsPerson();
    await this.allocation.closeDue(this.actor);
    await this.dispatchReady();
    this.resolveWaiters();
  }

  private inScope(runId: string): boolean {
    return this.scope === null || this.scope.has(runId);
  }

  /** Interrupts turns whose node is no longer held by this controller (cancelled, run cancelled, taken over). */
  private async interruptStale(refresh = false): Promise<void> {
    if (!this.codex) return;
    if (refresh) await this.ledger.refresh();
    for (const a of this.codex.activity()) {
      const n = this.ledger.getNode(a.nodeId);
      const run = n ? this.ledger.getRun(n.runId) : undefined;
      let why: string | null = null;
      if (!n || !run) why = 'the node is gone';
      else if (run.status !== 'running') why = `run ${run.id} was ${run.status}`;
      else if (n.state !== 'claimed' && n.state !== 'active') why = n.result?.startsWith('cancelled') ? n.result : `node ${n.id} is ${n.state} now`;
      else if (!this.isMine(n.worker)) why = `node ${n.id} is held by ${n.worker} now`;
      if (why) await this.codex.cancelNode(a.nodeId, why);
    }
  }

  /**
   * Takes over nodes whose holder is provably gone (a controller of this host that exited): the claim
   * is released, recorded with the reason, and the node resumed on its thread by this controller.
   */
  private async adoptOrphans(): Promise<void> {
    for (const n of this.ledger.heldNodes()) {
      if (n.worker === this.worker || !this.inScope(n.runId) || !n.worker || !holderIsGone(n.worker, n.claimedAt)) continue;
      const reason = `its holder ${n.worker} is gone (the process ended)`;
      try {
        await this.ledger.recoverNodes({ nodeId: n.id, force: true, reason }, this.actor);
        this.emit({ type: 'released', nodeId: n.id, reason });
        // A node a dead controller's profile held resumes with this controller's profile of that name, if it has one.
        const profile = parseWorkerName(n.worker)?.profile;
        const own = profile ? this.profiles.find((p) => p.name === profile) : undefined;
        if (own) this.runningAs.set(n.id, own);
        this.toResume.add(n.id);
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e;
      }
    }
  }

  private async openDueTimers(): Promise<void> {
    for (const n of this.ledger.dueTimerGates(this.ledger.now().toISOString())) {
      if (!this.inScope(n.runId)) continue;
      const why = `its timer of ${n.gate?.seconds ?? 0} s ran out at ${n.gateDueAt}`;
      try {
        await this.ledger.openGate({ nodeId: n.id, note: why }, this.actor);
        this.emit({ type: 'gateOpened', nodeId: n.id, why });
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e; // another controller opened it first
      }
    }
  }

  /** Starts the run each run gate waits for, and opens (or fails) the gate when that run ends. */
  private async driveRunGates(): Promise<void> {
    for (const g of this.ledger.runGates()) {
      const node = g.node;
      if (!this.inScope(node.runId)) continue;
      if (g.awaitedRunId && g.awaited?.status === 'running') {
        if (this.scope && !this.scope.has(g.awaitedRunId)) this.include(g.awaitedRunId);
        continue;
      }
      // Ground truth: a run whose checks have not decided yet has no outcome to open the gate with.
      if (g.awaitedRunId && this.awaitsChecks(g.awaitedRunId)) continue;
      try {
        if (g.awaitedRunId && g.awaited) {
          if (g.awaited.status === 'done' && g.awaited.outcome === 'success') {
            const why = `the run it waited for, ${g.awaitedRunId}, ended with success`;
            await this.ledger.openGate({ nodeId: node.id, note: why }, this.actor);
            this.emit({ type: 'gateOpened', nodeId: node.id, why });
          } else {
            await this.ledger.failGate(node.id, `the run it waited for, ${g.awaitedRunId}, ended ${g.awaited.status}${g.awaited.outcome ? ` (${g.awaited.outcome})` : ''}`, this.actor);
          }
          continue;
        }
        await this.startAwaitedRun(node);
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e;
        this.log(`run gate of ${node.id}: ${e.message}`);
      }
    }
  }

  private async startAwaitedRun(node: NodeRow): Promise<void> {
    const family = node.gate?.formula ?? '';
    const parent = this.ledger.getRun(node.runId)!;
    let runId: string;
    try {
      const declared = this.declaredVars(family);
      const vars = Object.fromEntries(Object.entries(parent.vars).filter(([k]) => declared.has(k)));
      const started = await this.options.formulas.startRunFromFormula(
        { family, vars, taskKey: `gate:${node.id}#${node.attempts + 1}`, title: `${family} (awaited by ${node.id})` }, this.actor);
      runId = started.runId;
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
      await this.ledger.failGate(node.id, `could not start a run of "${family}" for its gate: ${e.message}`, this.actor);
      return;
    }
    try {
      await this.ledger.bindGateRun(node.id, runId, this.actor);
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
      // Another controller bound its run first: ours is not needed.
      await this.ledger.cancelRun({ runId, reason: `not needed: ${e.message}` }, this.actor).catch(() => undefined);
      return;
    }
    this.include(runId);
    this.emit({ type: 'awaitingRun', nodeId: node.id, runId });
  }

  private declaredVars(family: string): Set<string> {
    const active = this.options.formulas.listFamilies().find((f) => f.id === family)?.activeVariantId;
    if (!active) return new Set();
    return new Set(Object.keys(this.options.formulas.variantFormula(active).vars));
  }

  /** Records the outcome of runs that ended as evidence for the variant that ran, once each. */
  private async settleFinishedRuns(): Promise<void> {
    if (!this.scope) {
      for (const r of this.ledger.listRuns({ status: 'running', limit: 1000 })) this.watchedRuns.add(r.id);
    }
    for (const runId of [...this.watchedRuns]) {
      const run = this.ledger.getRun(runId);
      if (!run) {
        this.watchedRuns.delete(runId);
        continue;
      }
      // A run is settled once its last turns have also recorded their tokens and time.
      if (run.status === 'running' || this.busyIn(runId)) continue;
      // The run's work is committed on its branch and its diff stats recorded before any check runs.
      await this.finishWorktree(runId);
      // ---- ground truth (src/controller/checks.ts): a run whose formula declares checks gets its
      // outcome from them, recorded when they finish (startChecks); the run stays watched until then.
      if (this.checking.has(runId)) continue;
      const checks = this.checksOf(run);
      if (checks.length > 0) {
        this.startChecks(run, checks);
        continue;
      }
      // ---- no checks: the outcome derived from the node states, as before.
      this.watchedRuns.delete(runId);
      const before = this.ledger.seq;
      await this.ledger.recordRunOutcome(runId, `${run.status}: derived from the node states when the run ended`, this.actor);
      this.emit({ type: 'runFinished', run: this.ledger.getRun(runId) ?? run });
      if (this.options.promotion && this.ledger.seq > before) {
        const results = await this.options.promotion.evaluateAndRecord(before);
        if (results.length) this.emit({ type: 'promotion', results });
      }
      await this.removeThrowaway(runId);
    }
  }

  /** Commits a finished run's worktree on its branch and records its diff stats; a git failure is logged, not fatal. */
  private async finishWorktree(runId: string): Promise<void> {
    if (!this.worktrees) return;
    try {
      await this.worktrees.finish(runId);
    } catch (e) {
      this.emit({ type: 'error', message: `run ${runId}: its worktree could not be committed: ${errorMessage(e)}` });
    }
  }

  /** Removes a throwaway run's worktree once its outcome is recorded (replays are never merged). */
  private async removeThrowaway(runId: string): Promise<void> {
    const run = this.ledger.getRun(runId);
    if (!this.worktrees || !run || !(this.options.isThrowaway ?? isThrowawayRun)(run)) return;
    try {
      await this.worktrees.removeThrowaway(runId);
    } catch (e) {
      this.log(`run ${runId}: its throwaway worktree could not be removed: ${errorMessage(e)}`);
    }
  }

  /** The folder a run works in: its worktree's copy of the workspace folder, else the workspace folder. */
  runDir(runId: string): string {
    return this.worktrees?.dirFor(runId) ?? this.options.workspaceDir;
  }

  /**
   * The checks of the formula a finished run ran, or none: for a cancelled run, a run without a variant,
   * a variant that no longer parses, and a run whose outcome is already recorded (a person marked it).
   */
  private checksOf(run: RunRow): Check[] {
    if ((run.status !== 'done' && run.status !== 'failed') || !run.variantId) return [];
    if (this.ledger.evidence({ runId: run.id, limit: 1000 }).some((e) => e.kind === 'run_outcome')) return [];
    try {
      return this.options.formulas.variantFormula(run.variantId).checks;
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
      this.log(`run ${run.id}: its checks cannot be read (${e.message}); its outcome comes from the node states`);
      return [];
    }
  }

  /** True while a finished run's checks run or have yet to start: its outcome is not decided. */
  private awaitsChecks(runId: string): boolean {
    if (this.checking.has(runId)) return true;
    const run = this.ledger.getRun(runId);
    return !!run && run.status !== 'running' && this.checksOf(run).length > 0;
  }

  /**
   * Runs a finished run's checks in the workspace folder without holding up the loop, then records
   * their results, the model's report and the outcome in one commit (recordCheckedOutcome: once per run,
   * whichever controller finishes first) and puts the outcome before the promotion rule.
   */
  private startChecks(run: RunRow, checks: Check[]): void {
    this.log(`run ${run.id} ended ${run.status}; running its ${checks.length} check(s)`);
    const job = (async () => {
      try {
        const reviews = (this.ledger.runGraph(run.id)?.nodes ?? []).filter((n) => n.review).map((n) => ({ nodeId: n.id, state: n.state }));
        const results = await runChecks(checks, { dir: this.runDir(run.id), vars: run.vars, reviews, signal: this.checksAbort.signal });
        const before = this.ledger.seq;
        await recordCheckedOutcome(this.ledger, run.id, results, this.actor);
        for (const r of results) this.log(`run ${run.id}: check ${r.id} ${r.passed ? 'passed' : 'failed'}: ${r.summary}`);
        this.emit({ type: 'runFinished', run: this.ledger.getRun(run.id) ?? run });
        if (this.options.promotion && this.ledger.seq > before) {
          const evaluated = await this.options.promotion.evaluateAndRecord(before);
          if (evaluated.length) this.emit({ type: 'promotion', results: evaluated });
        }
        await this.removeThrowaway(run.id);
        // Only now is the run settled for waitForRuns: its outcome, the rule's word and its worktree are done.
        this.watchedRuns.delete(run.id);
      } catch (e) {
        if (this.stopping) return;
        this.watchedRuns.delete(run.id);
        this.emit({ type: 'error', message: `run ${run.id}: its checks could not be recorded: ${errorMessage(e)}` });
      } finally {
        this.checking.delete(run.id);
        this.kick();
      }
    })();
    this.checking.set(run.id, job);
  }

  private reportNeedsPerson(): void {
    const nodes = this.ledger.needsPerson().filter((n) => this.inScope(n.runId));
    const key = nodes.map((n) => `${n.id}:${n.state}`).join(',');
    if (key === this.needsKey) return;
    this.needsKey = key;
    this.emit({ type: 'needsPerson', nodes });
  }

  /** Claims and starts nodes, oldest first, until the concurrency limit: interrupted ones resume first. */
  private async dispatchReady(): Promise<void> {
    if (!this.codex) return;
    // branch overlays-2: open rounds get the profiles' bids, beside the loop and whatever the node limit.
    this.bidding.ask(this.codex, (runId) => this.inScope(runId), () => this.kick());
    for (const nodeId of [...this.toResume]) {
      if (this.running.size >= this.max) return;
      this.toResume.delete(nodeId);
      if (!this.running.has(nodeId)) this.dispatch(nodeId, true, this.runningAs.get(nodeId));
    }
    // branch overlays (issue 13): nodes this controller's worker won in a contract-net round are its own work.
    for (const a of this.allocation.awardedTo(this.worker)) if (this.running.size < this.max && this.inScope(a.runId) && !this.running.has(a.nodeId)) this.dispatch(a.nodeId, false);
    // branch overlays-2: nodes a profile won run with its settings.
    for (const p of this.profiles) for (const a of this.allocation.awardedTo(p.worker)) if (this.running.size < this.max && this.inScope(a.runId) && !this.running.has(a.nodeId)) this.dispatch(a.nodeId, false, p);
    const runs = this.scope ? [...this.scope] : [undefined];
    let misses = 0;
    while (this.running.size < this.max && misses < 3) {
      // Oldest first within a run; the runs of a scoped controller in the order they were given.
      let candidate: NodeRow | undefined;
      const announced = this.allocation.announced();
      for (const runId of runs) {
        candidate = this.ledger.readyWork({ runId, limit: this.max + this.running.size + announced.size }).find((n) => !this.running.has(n.id) && !announced.has(n.id));
        if (candidate) break;
      }
      if (!candidate) return;
      // A node taken over from an expired lease continues on its thread; a fresh attempt gets a new one.
      const resume = candidate.state === 'claimed' || candidate.state === 'active';
      this.emit({ type: 'claiming', nodeId: candidate.id });
      try {
        await this.ledger.claimNode({ nodeId: candidate.id, worker: this.worker, leaseSeconds: this.leaseSeconds }, this.actor);
      } catch (e) {
        if (!(e instanceof LedgerError)) throw e;
        misses++; // another controller claimed it first
        await this.ledger.refresh();
        continue;
      }
      this.dispatch(candidate.id, resume);
    }
  }

  private dispatch(nodeId: string, resume: boolean, profile?: TurnProfile): void {
    const codex = this.codex!;
    const node = this.ledger.getNode(nodeId);
    this.emit({ type: 'dispatched', nodeId, runId: node?.runId ?? '', resumed: resume });
    const turn = (async () => {
      try {
        // A run in a git repository gets its worktree before its first thread starts there.
        if (node && this.worktrees) await this.worktrees.ensure(node.runId);
        if (profile) this.runningAs.set(nodeId, profile);
        const result = resume ? await codex.resumeNode(nodeId, profile) : await codex.runNode(nodeId, { claimed: true, profile });
        this.emit({ type: 'turnEnded', result });
      } catch (e) {
        if (e instanceof AppServerError && !this.stopping && (e.code === 'exited' || e.code === 'timeout')) {
          // The app-server died under the turn: the claim is still ours; resume it once Codex is back.
          this.toResume.add(nodeId);
          this.log(`node ${nodeId}: ${e.message}; it resumes after the app-server restarts`);
        } else if (e instanceof LedgerError) {
          this.log(`node ${nodeId}: ${e.message}`);
        } else if (!this.stopping) {
          this.emit({ type: 'error', message: `node ${nodeId}: ${errorMessage(e)}` });
        }
      } finally {
        this.running.delete(nodeId);
        if (!this.toResume.has(nodeId)) this.runningAs.delete(nodeId);
        this.kick();
      }
    })();
    this.running.set(nodeId, turn);
  }

  private async release(nodeId: string, reason: string): Promise<void> {
    await this.ledger.refresh();
    const n = this.ledger.getNode(nodeId);
    if (!n || !this.isMine(n.worker) || (n.state !== 'claimed' && n.state !== 'active')) return;
    try {
      await this.ledger.recoverNodes({ nodeId, force: true, reason }, this.actor);
      this.emit({ type: 'released', nodeId, reason });
    } catch (e) {
      if (!(e instanceof LedgerError)) throw e;
    }
  }

  /** True while a turn of this controller on a node of `runId` has not finished. */
  private busyIn(runId: string): boolean {
    for (const nodeId of this.running.keys()) if (nodeId.startsWith(`${runId}.`)) return true;
    return false;
  }

  private resolveWaiters(): void {
    for (const w of [...this.waiters]) {
      const runs = w.runIds.map((id) => this.ledger.getRun(id));
      if (runs.every((r) => !r || (r.status !== 'running' && !this.busyIn(r.id) && !this.watchedRuns.has(r.id)))) {
        this.waiters.delete(w);
        w.resolve(runs.filter((r): r is RunRow => !!r));
      }
    }
  }

  // ---- the app-server -----------------------------------------------------------------------------------

  private async startServer(): Promise<void> {
    const o = this.options;
    const { server } = await AppServer.start({ ...o.codex, log: o.codex.log ?? ((line) => this.log(`codex: ${line}`)) });
    if (this.stopping) {
      await server.dispose();
      return;
    }
    this.server = server;
    this.serverStartedAt = Date.now();
    for (const l of this.traceListeners) server.onTrace(l);
    this.codex = new CodexWorker({
      ledger: this.ledger, server, workspaceDir: o.workspaceDir, worker: this.worker, threadConfig: o.threadConfig, threadParams: o.threadParams,
      leaseSeconds: this.leaseSeconds, turnTimeoutMs: o.turnTimeoutMs, requireMcpServers: o.requireMcpServers, actor: this.actor,
      cwdFor: o.cwdFor ?? (this.worktrees ? (n) => this.runDir(n.runId) : undefined),
      log: this.log, formulas: o.formulas, promotions: o.promotion,
    });
    this.codex.onActivity((activity) => this.emit({ type: 'activity', activity }));
    server.onExit((info) => this.onServerExit(server, info));
    this.emit({ type: 'serverStarted', pid: server.pid });
  }

  private onServerExit(server: AppServer, info: ExitInfo): void {
    if (this.stopping || server !== this.server) return;
    this.codex?.dispose();
    this.codex = undefined;
    this.server = undefined;
    this.scheduleRestart(info);
  }

  /** Restarts the app-server after an exponential backoff; a server that ran a minute starts it afresh. */
  private scheduleRestart(info: ExitInfo): void {
    if (Date.now() - this.serverStartedAt > 60_000) this.restartAttempts = 0;
    const backoff = this.options.restartBackoffMs ?? { initial: 1000, max: 30_000 };
    const wait = Math.min(backoff.max, backoff.initial * 2 ** this.restartAttempts++);
    this.emit({ type: 'serverExited', info, restartInMs: wait });
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.startServer().then(() => this.kick(), (e: unknown) => {
        this.emit({ type: 'error', message: `could not restart the Codex app-server: ${errorMessage(e)}` });
        this.scheduleRestart({ code: null, signal: null });
      });
    }, wait);
  }

  private emit(e: ControllerEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log(`a controller listener threw: ${errorMessage(err)}`);
      }
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
