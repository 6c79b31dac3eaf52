// The extension's composition root: activate() opens the workspace's ledger, builds the model, views, graph panel,
// status bar and command handlers, hands each what it needs, and owns every registration through
// context.subscriptions. Activation failures are shown to the person (VS Code would only log them) with the log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { openLedger, writeLedgerPointer } from '../ledger/index';
import type { Mutation } from '../ledger/formula/index';
import { LoopActions } from './loopActions';
import { Actions } from './actions';
import type { CommandName } from './commands';
import { COMMANDS, VIEWS } from './commands';
import { LedgerDocuments, SCHEME } from './documents';
import { GraphPanel } from './graphPanel';
import { registerMcpServerWithCodex, registerWithVsCode, unregisterMcpServerFromCodex } from './mcpRegistration';
import { LedgerModel } from './model';
import { StatusBar } from './statusBar';
import type { FamilyTreeItem, RunTreeItem } from './trees';
import { FamiliesTree, RunsTree } from './trees';

/** What activate() returns: the composed services, for the end-to-end tests and for other extensions. */
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
  /** How long activate() took: opening the ledger, building the views, registering commands. */
  activationMs: number;
}

/** The ledger lives in VS Code's storage for this workspace; without a workspace, in the global storage. */
function ledgerDirFor(context: vscode.ExtensionContext): string {
  const base = context.storageUri ?? context.globalStorageUri;
  return path.join(base.fsPath, 'ledger');
}

export async function activate(context: vscode.ExtensionContext): Promise<GasCityApi | undefined> {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Gas City', { log: true });
  context.subscriptions.push(log);
  try {
    const api = await compose(context, log);
    api.activationMs = performance.now() - started;
    log.info(`activated in ${api.activationMs.toFixed(0)} ms`);
    return api;
  } catch (e) {
    const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
    log.error(`activation failed: ${detail}`);
    const show = 'Show Log';
    void vscode.window.showErrorMessage(`Gas City could not start: ${e instanceof Error ? e.message : String(e)}`, show).then((c) => {
      if (c === show) log.show();
    });
    return undefined;
  }
}

async function compose(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<GasCityApi> {
  const ledgerDir = ledgerDirFor(context);
  fs.mkdirSync(ledgerDir, { recursive: true });
  const ledger = await openLedger(ledgerDir, { actor: 'extension' });
  log.info(`ledger at ${ledgerDir} (seq ${ledger.seq})`);
  const workspaceRoot = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspaceRoot && context.storageUri) {
    // MCP servers and the CLI started in this workspace find the same ledger through this pointer.
    try {
      writeLedgerPointer(workspaceRoot, ledgerDir);
    } catch (e) {
      log.warn(`could not write the ledger pointer into ${workspaceRoot}: ${String(e)}`);
    }
  }

  const model = new LedgerModel(ledger, ledgerDir, workspaceRoot, log);
  const actions = new Actions(model, log);
  const loop = new LoopActions(model, log, context.extensionUri);
  const graph = new GraphPanel(context.extensionUri, model, actions, log);
  actions.attachGraph(graph);
  const families = new FamiliesTree(model);
  const runs = new RunsTree(model);
  const familiesView = vscode.window.createTreeView(VIEWS.families, { treeDataProvider: families, showCollapseAll: true });
  const runsView = vscode.window.createTreeView(VIEWS.runs, { treeDataProvider: runs, showCollapseAll: true });
  const statusBar = new StatusBar(model);
  const documents = new LedgerDocuments(model);
  context.subscriptions.push(
    model,
    graph,
    families,
    runs,
    familiesView,
    runsView,
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

  // The command table's ids, each bound to its handler; a missing handler fails to compile.
  const handlers: { readonly [K in CommandName]: (...args: never[]) => unknown } = {
    startRun: (arg?: string) => actions.startRun(arg),
    mutateFormula: (arg?: string, mutations?: Mutation[]) => actions.mutate(arg, mutations),
    promoteVariant: (arg?: string) => actions.promote(arg),
    rollbackFamily: (arg?: string) => actions.rollback(arg),
    registerMcpServer: () => registerMcpServerWithCodex(context, ledgerDir, log),
    unregisterMcpServer: () => unregisterMcpServerFromCodex(context, log),
    openLedgerGraph: () => actions.openLedgerGraph(),
    importFormulas: () => actions.importFormulas(),
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
    refresh: () => model.refresh(),
    showLog: () => log.show(),
  };
  for (const name of Object.keys(COMMANDS) as CommandName[]) {
    const handler = handlers[name] as (...args: unknown[]) => unknown;
    context.subscriptions.push(
      vscode.commands.registerCommand(COMMANDS[name].id, async (...args: unknown[]) => {
        try {
          return await handler(...args);
        } catch (e) {
          log.error(`${COMMANDS[name].id} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
          void vscode.window.showErrorMessage(`${COMMANDS[name].title} failed: ${e instanceof Error ? e.message : String(e)}`);
          return undefined;
        }
      }),
    );
  }

  log.info('Gas City activated');
  return { ledgerDir, model, actions, graph, families, familiesView, runs, runsView, statusBar, activationMs: 0 };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}
