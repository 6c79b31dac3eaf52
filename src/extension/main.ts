// The extension's composition root: activate() registers every command and both views at once (each command says why
// while it cannot run) and returns; the workspace's ledger is opened when something first needs it (a view asks for
// its rows, a command runs, a graph panel is restored, a formula file is opened) or shortly after start-up, and then
// the model, trees, graph panel, status bar and command handlers are built over it, each handed what it needs. A
// 100k-event ledger takes seconds to open; activation no longer waits for it. Every registration is owned through
// context.subscriptions. Failures to open are shown to the person (VS Code would only log them) with the log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { openLedger, writeLedgerPointer } from '../ledger/index';
import type { Mutation } from '../ledger/formula/index';
import { LoopActions } from './loopActions';
import { Actions } from './actions';
import type { ApprovalChoice } from '../codex/config/registration';
import type { CommandHandlers } from './commandRegistry';
import { CommandRegistry, errorMessage } from './commandRegistry';
import { VIEWS } from './commands';
import { LedgerDocuments, SCHEME } from './documents';
import { FORMULA_SELECTOR, FormulaLanguage } from './formulaLanguage/providers';
import { GRAPH_VIEW_TYPE, GraphPanel } from './graphPanel';
import type { RegistrationContext } from './mcpRegistration';
import { refreshStableServer, registerMcpServerWithCodex, registerWithVsCode, unregisterMcpServerFromCodex } from './mcpRegistration';
import { CodexRuns } from './codexRuns';
import { DeferredTree } from './deferredTree';
import { EvidenceActions } from './evidenceActions';
import { MailActions } from './mailActions';
import { LedgerModel } from './model';
import { PersonActions } from './personActions';
import { Reports } from './reports';
import { StatusBar } from './statusBar';
import type { FamilyTreeItem, RunTreeItem } from './trees';
import { FamiliesTree, RunsTree } from './trees';
import { keepGasCityOutOfGit } from './workspaceFiles';
import { ReplayCommands } from './replay'; // branch replay

/**
 * What activate() returns, at once: where the ledger lives, how long activation took, and `open()`, which opens the
 * ledger if nothing has yet and resolves with the services (undefined when the ledger could not be opened).
 */
export interface GasCityActivation {
  readonly ledgerDir: string;
  /** How long activate() took, in milliseconds: registering commands and views, not opening the ledger. */
  readonly activationMs: number;
  open(): Promise<GasCityApi | undefined>;
}

/** Waits this long after activation before opening the ledger when nothing asked for it (background work needs it). */
const OPEN_AFTER_MS = 3000;

/** The composed services, for the end-to-end tests and for other extensions. */
export interface GasCityApi {
  readonly ledgerDir: string;
  readonly model: LedgerModel;
  readonly actions: Actions;
  readonly graph: GraphPanel;
  readonly families: FamiliesTree;
  readonly familiesView: vscode.TreeView<FamilyTreeItem>;
  readonly runs: RunsTree;
  readonly runsView: vscode.TreeView<RunTreeItem>;
  readonly statusBar: StatusBar;
  /** How long activate() took (see GasCityActivation). */
  activationMs: number;
  /** How long opening the ledger and building the services took, in milliseconds. */
  openMs: number;
}

/** The ledger lives in VS Code's storage for this workspace; without a workspace, in the global storage. */
function ledgerDirFor(context: vscode.ExtensionContext): string {
  const base = context.storageUri ?? context.globalStorageUri;
  return path.join(base.fsPath, 'ledger');
}

export function activate(context: vscode.ExtensionContext): GasCityActivation {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Gas City', { log: true });
  const reports = new Reports();
  const commands = new CommandRegistry(log);
  context.subscriptions.push(log, reports, commands);
  // What works without the ledger is enabled at once: the log, and registering the MCP server with Codex.
  const registration: RegistrationContext = { extension: context, log, reports };
  // The stable copy of the MCP server (what Codex's config names) is brought up to date right after activation
  // rather than in it: comparing the bundles reads megabytes, and registering with Codex refreshes it anyway.
  const refresh = setTimeout(() => refreshStableServer(context, log), 0);
  context.subscriptions.push({ dispose: () => clearTimeout(refresh) });
  commands.bindEarly({
    showLog: () => log.show(),
    registerMcpServer: (options?: { approvals?: ApprovalChoice }) => registerMcpServerWithCodex(registration, options),
    unregisterMcpServer: () => unregisterMcpServerFromCodex(registration),
  });
  const ledgerDir = ledgerDirFor(context);

  let opening: Promise<GasCityApi | undefined> | undefined;
  const open = (): Promise<GasCityApi | undefined> => (opening ??= openServices());
  const families = new DeferredTree<FamilyTreeItem>(open);
  const runs = new DeferredTree<RunTreeItem>(open);
  const familiesView = vscode.window.createTreeView(VIEWS.families, { treeDataProvider: families, showCollapseAll: true });
  const runsView = vscode.window.createTreeView(VIEWS.runs, { treeDataProvider: runs, showCollapseAll: true });
  context.subscriptions.push(families, runs, familiesView, runsView);
  const activationMs = performance.now() - started;

  async function openServices(): Promise<GasCityApi | undefined> {
    const t0 = performance.now();
    try {
      const { api, handlers } = await compose(context, log, reports, ledgerDir, { familiesView, runsView });
      families.attach(api.families);
      runs.attach(api.runs);
      commands.enable(handlers);
      api.activationMs = activationMs;
      api.openMs = performance.now() - t0;
      log.info(`opened the ledger and built the views in ${api.openMs.toFixed(0)} ms`);
      return api;
    } catch (e) {
      const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
      log.error(`activation failed: ${detail}`);
      commands.disable(errorMessage(e));
      const why = `Gas City could not open its ledger: ${errorMessage(e)}`;
      familiesView.message = why;
      runsView.message = why;
      const show = 'Show Log';
      void vscode.window.showErrorMessage(why, show).then((c) => {
        if (c === show) log.show();
      });
      return undefined;
    }
  }

  // What needs the ledger opens it: a command (the registry waits for it), a graph panel VS Code restores after a
  // reload, a formula file (its completions and lenses read the ledger); the views do through DeferredTree.
  commands.whenNeeded(() => void open());
  context.subscriptions.push(
    vscode.window.registerWebviewPanelSerializer(GRAPH_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => {
        const api = await open();
        if (api) await api.graph.restore(panel, state);
        else panel.dispose();
      },
    }),
  );
  const isFormula = (d: vscode.TextDocument) => vscode.languages.match(FORMULA_SELECTOR, d) > 0;
  if (vscode.workspace.textDocuments.some(isFormula)) void open();
  else {
    const watch = vscode.workspace.onDidOpenTextDocument((d) => {
      if (!isFormula(d)) return;
      watch.dispose();
      void open();
    });
    context.subscriptions.push(watch);
  }
  // Background work (promotion decisions on other processes' evidence, Codex work a closed window left) needs the
  // ledger too: it opens after start-up has settled even when nothing asked for it.
  const timer = setTimeout(() => void open(), OPEN_AFTER_MS);
  context.subscriptions.push({ dispose: () => clearTimeout(timer) });

  log.info(`activated in ${activationMs.toFixed(1)} ms; the ledger opens when first needed`);
  return { ledgerDir, activationMs, open };
}

/** Opens the ledger and builds every service over it; the handlers of the commands that need them. */
async function compose(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  reports: Reports,
  ledgerDir: string,
  views: { familiesView: vscode.TreeView<FamilyTreeItem>; runsView: vscode.TreeView<RunTreeItem> },
): Promise<{ api: GasCityApi; handlers: CommandHandlers }> {
  const { familiesView, runsView } = views;
  fs.mkdirSync(ledgerDir, { recursive: true });
  const retention = vscode.workspace.getConfiguration('gascity').get<number | null>('archive.retentionDays', 30);
  const ledger = await openLedger(ledgerDir, { actor: 'extension', retentionDays: typeof retention === 'number' && Number.isFinite(retention) && retention >= 0 ? retention : null });
  log.info(`ledger at ${ledgerDir} (seq ${ledger.seq})`);
  const workspaceRoot = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspaceRoot && context.storageUri) {
    // MCP servers and the CLI started in this workspace find the same ledger through this pointer; it names a
    // folder of this machine, so the folder it lives in is kept out of git.
    try {
      writeLedgerPointer(workspaceRoot, ledgerDir);
      if (keepGasCityOutOfGit(workspaceRoot)) log.info(`wrote ${path.join(workspaceRoot, '.gascity', '.gitignore')}`);
    } catch (e) {
      log.warn(`could not write the ledger pointer into ${workspaceRoot}: ${String(e)}`);
    }
  }

  const model = new LedgerModel(ledger, ledgerDir, workspaceRoot, log);
  const actions = new Actions(model, log, path.join(context.extensionUri.fsPath, 'formulas'));
  const loop = new LoopActions(model, log, context.extensionUri, reports);
  const graph = new GraphPanel(context.extensionUri, model, actions, log);
  actions.attachGraph(graph);
  const codexRuns = new CodexRuns(model, context.extensionUri, workspaceRoot ?? path.dirname(ledgerDir), log);
  const personActions = new PersonActions(model, codexRuns);
  const mail = new MailActions(model, reports);
  const evidence = new EvidenceActions(model, reports);
  const families = new FamiliesTree(model);
  const runs = new RunsTree(model, codexRuns);
  const statusBar = new StatusBar(model);
  const documents = new LedgerDocuments(model);
  const formulaLanguage = new FormulaLanguage(model, workspaceRoot);
  context.subscriptions.push(
    codexRuns,
    formulaLanguage,
    model,
    graph,
    families,
    runs,
    statusBar,
    documents,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, documents),
  );
  // VS Code's own agents get the same MCP server; a host without the MCP API (older or trimmed builds) just lacks it.
  try {
    context.subscriptions.push(registerWithVsCode(context.extensionUri, ledgerDir));
  } catch (e) {
    log.warn(`VS Code's MCP registry is not available here: ${String(e)}`);
  }

  const replay = new ReplayCommands(model, context.extensionUri, workspaceRoot ?? path.dirname(ledgerDir), log); // branch replay
  context.subscriptions.push(replay);
  // The command table's ids that need the ledger, each bound to its handler.
  const handlers: CommandHandlers = {
    startRun: (arg?: string) => actions.startRun(arg),
    mutateFormula: (arg?: string, mutations?: Mutation[]) => actions.mutate(arg, mutations),
    promoteVariant: (arg?: string) => actions.promote(arg),
    rollbackFamily: (arg?: string) => actions.rollback(arg),
    openLedgerGraph: () => actions.openLedgerGraph(),
    importFormulas: (options?: { addStarters?: boolean }) => actions.importFormulas(options),
    exportEvolution: () => actions.exportEvolution(),
    openLineage: (arg?: string, variantId?: string) => actions.openLineage(arg, variantId),
    openRunGraph: (arg?: string, nodeId?: string) => actions.openRunGraph(arg, nodeId),
    openVariant: (arg?: string) => actions.openVariant(arg),
    diffVariant: (arg?: string) => actions.openVariant(arg),
    startTrial: (arg?: string) => loop.startTrial(arg),
    assessVariant: (arg?: string) => loop.assess(arg),
    rejectVariant: (arg?: string, reason?: string) => loop.reject(arg, reason),
    markRunResult: (arg?: string, success?: boolean, note?: string) => loop.markRunResult(arg, success, note),
    runNodeWithCodex: (arg?: string) => loop.runNodeWithCodex(arg),
    runWithCodex: (arg?: unknown) => personActions.runWithCodex(arg),
    openGate: (arg?: unknown, note?: string) => personActions.answer(arg, 'openGate', note),
    approveNode: (arg?: unknown, note?: string) => personActions.answer(arg, 'approve', note),
    requestChanges: (arg?: unknown, note?: string) => personActions.answer(arg, 'requestChanges', note),
    cancelNode: (arg?: unknown, reason?: string) => personActions.cancel(arg, 'node', reason),
    cancelRun: (arg?: unknown, reason?: string) => personActions.cancel(arg, 'run', reason),
    refresh: () => model.refresh(),
    // branch views (issue 13): mail.
    readMail: (arg?: unknown) => mail.read(arg),
    sendMail: (arg?: unknown) => mail.send(arg),
    // branch views (issue 14): a family's step-level evidence.
    formulaEvidence: (arg?: unknown) => evidence.show(arg),
    // branch replay
    replayVariant: (arg?: string, tasks?: number) => replay.replayVariant(arg, tasks),
    mergeRunWorktree: (arg?: string) => replay.merge(arg),
    discardRunWorktree: (arg?: string) => replay.discard(arg),
  };
  // Runs a closed or reloaded window left with Codex work resume here; a failure is logged, not fatal.
  codexRuns.resumeLeftovers().catch((e: unknown) => log.warn(`could not resume Codex work left by an earlier window: ${errorMessage(e)}`));

  return { api: { ledgerDir, model, actions, graph, families, familiesView, runs, runsView, statusBar, activationMs: 0, openMs: 0 }, handlers };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
