// Making the Gas City MCP server available where agents look for it:
// - Codex reads `[mcp_servers.gascity]` from its global config.toml: "Register MCP Server with Codex" writes it
//   (src/codex/config/registration.ts does the careful edit), names the file it wrote, shows exactly what changed in
//   a read-only view, and can undo it. The entry names a copy of the server in the extension's global storage, which
//   activation keeps up to date, so it survives extension updates.
// - VS Code's own agents get it from an MCP server definition provider registered at activation.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ApprovalChoice, Registration } from '../codex/config/registration';
import {
  approvalsFor, displayPath, findCodex, registerMcpServer, RegistrationRefused, toolsThatAsk, unregisterMcpServer,
} from '../codex/config/registration';
import { installServer } from '../codex/config/serverInstall';
import { FORMULA_TOOLS, PROMOTION_TOOLS, REPLAY_TOOLS, WORKFLOW_TOOLS } from '../mcp/tools';
import type { Reports } from './reports';

/** Global, like the file it undoes: a registration made in one window is undone from any other. */
const STATE_KEY = 'gascity.mcpRegistration';
export const MCP_PROVIDER_ID = 'gascity.mcp';
const REPORT_NAME = 'Codex registration.md';

/** What registration needs from the composition root. */
export interface RegistrationContext {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  readonly reports: Reports;
}

/** Every tool the server offers, with the annotations that decide its approval. */
const ALL_TOOLS = [...WORKFLOW_TOOLS, ...FORMULA_TOOLS, ...PROMOTION_TOOLS, ...REPLAY_TOOLS /* branch replay */];

function nodeCommand(): string {
  return vscode.workspace.getConfiguration('gascity').get<string>('nodePath') || 'node';
}

/** Where the stable copy of the server lives: <global storage>/mcp-server/mcp.js. */
export function stableServerDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, 'mcp-server');
}

/**
 * Keeps the stable copy of dist/mcp.js (and its WASM) in step with this version of the extension; called on
 * activation. A failure is logged, not thrown: the rest of the extension works without it.
 */
export function refreshStableServer(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): string | undefined {
  try {
    const r = installServer(path.join(context.extensionUri.fsPath, 'dist'), stableServerDir(context));
    if (r.copied.length) log.info(`copied ${r.copied.join(', ')} to ${path.dirname(r.script)} (the path Codex's config.toml names)`);
    return r.script;
  } catch (e) {
    log.warn(`could not copy the MCP server to ${stableServerDir(context)}: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/** Offers the server to VS Code's own agents (chat agent mode), pointed at this workspace's ledger. */
export function registerWithVsCode(extensionUri: vscode.Uri, ledgerDir: string): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  const provider = vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
    onDidChangeMcpServerDefinitions: changed.event,
    provideMcpServerDefinitions: () => {
      const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      const script = vscode.Uri.joinPath(extensionUri, 'dist', 'mcp.js').fsPath;
      const args = [script, '--ledger', ledgerDir, ...(workspace ? ['--workspace', workspace] : [])];
      return [new vscode.McpStdioServerDefinition('Gas City ledger', nodeCommand(), args, { GASCITY_LEDGER_DIR: ledgerDir })];
    },
  });
  return vscode.Disposable.from(provider, changed);
}

const APPROVAL_PICKS: ReadonlyArray<vscode.QuickPickItem & { choice: ApprovalChoice }> = [
  {
    choice: 'write', label: 'Read and write tools run without asking (recommended)',
    detail: `Codex, also \`codex exec\`, can follow runs and record work. Destructive tools ask first: ${toolsThatAsk(approvalsFor(ALL_TOOLS, 'write')).join(', ')}.`,
  },
  { choice: 'read', label: 'Only read tools run without asking', detail: 'Every write asks first; `codex exec`, which cannot ask, is refused every write.' },
  { choice: 'codex', label: 'No approval settings', detail: 'Codex decides from each tool\'s annotations.' },
];

function describeChange(title: string, configPath: string, before: string | null, after: string | null, note: string): string {
  const block = (t: string | null) => (t === null ? '_(nothing)_' : `\`\`\`toml\n${t.trimEnd()}\n\`\`\``);
  return [`# ${title}`, '', `File: \`${configPath}\``, '', note, '', '## Before', '', block(before), '', '## After', '', block(after), ''].join('\n');
}

async function showRefusal(e: RegistrationRefused, log: vscode.LogOutputChannel): Promise<void> {
  log.warn(e.message);
  const open = 'Open config.toml';
  const choice = await vscode.window.showErrorMessage(`Gas City did not register with Codex: ${e.message}`, open);
  if (choice !== open) return;
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(e.file));
  const line = Math.max(0, (e.line ?? 1) - 1);
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, 0, line, 0) });
}

/**
 * Registers the server with Codex in its global config.toml, says which file it wrote and what Codex will allow,
 * shows the change in a read-only view and keeps what is needed to undo it. `options.approvals` skips the question
 * (tests, scripted use). Returns undefined when the person cancelled or the file was refused (nothing written).
 */
export async function registerMcpServerWithCodex(ctx: RegistrationContext, options: { approvals?: ApprovalChoice } = {}): Promise<Registration | undefined> {
  const { extension, log, reports } = ctx;
  const choice = options.approvals
    ?? (await vscode.window.showQuickPick(APPROVAL_PICKS, { title: 'Register the Gas City MCP server with Codex', placeHolder: 'Which tools may Codex use without asking?' }))?.choice;
  if (!choice) return undefined;
  const script = refreshStableServer(extension, log);
  if (!script) {
    void vscode.window.showErrorMessage(`Gas City could not copy its MCP server to ${stableServerDir(extension)}; see the log.`, 'Show Log').then((c) => c && log.show());
    return undefined;
  }
  const codexPath = vscode.workspace.getConfiguration('gascity').get<string>('codexPath') || 'codex';
  const approvals = approvalsFor(ALL_TOOLS, choice);
  let registration: Registration;
  try {
    // Codex's config.toml is global to the machine, and Codex starts MCP servers in each session's working folder:
    // the entry names neither a workspace nor a ledger, so every session finds its own workspace's ledger through
    // the pointer this extension keeps in .gascity/ledger-location.json.
    registration = registerMcpServer({ command: nodeCommand(), serverScript: script, approvals }, { codex: codexPath });
  } catch (e) {
    if (e instanceof RegistrationRefused) {
      void showRefusal(e, log);
      return undefined;
    }
    throw e;
  }
  await extension.globalState.update(STATE_KEY, registration);
  const where = displayPath(registration.configPath);
  const scope = registration.global ? `the global Codex config ${where}` : `the Codex config ${where} (CODEX_HOME)`;
  const asking = toolsThatAsk(approvals);
  const allowed = choice === 'codex' ? 'Codex decides from each tool\'s annotations which to ask about.'
    : choice === 'read' ? 'Read tools run without asking; every write asks first.'
      : `Read and write tools run without asking, also in \`codex exec\`; ${asking.join(', ')} ask first (\`codex exec\` refuses them).`;
  const codexNote = registration.codex
    ? (registration.verified ? `\`codex mcp get ${registration.name}\` reads it back: \`${registration.verified.transport.command ?? ''} ${(registration.verified.transport.args ?? []).join(' ')}\`.` : '')
    : `The Codex CLI was not found (setting \`gascity.codexPath\`: \`${codexPath}\`); Codex reads this entry once it is installed.`;
  log.info(`registered the MCP server with Codex in ${registration.configPath} (approvals: ${choice})`);
  await reports.show(REPORT_NAME, describeChange('Gas City MCP server registered with Codex', registration.configPath, registration.before, registration.after,
    [`Wrote \`[mcp_servers.${registration.name}]\` into ${scope}: every Codex session on this machine (\`codex\`, \`codex exec\`, the Codex IDE extension) now has the Gas City tools, and each finds the ledger of the folder it runs in.`,
      '', allowed, '', `The entry runs \`${script}\`, a copy this extension keeps up to date, so it survives extension updates.`, '', codexNote].join('\n')));
  const undo = 'Undo';
  const message = `Gas City wrote [mcp_servers.${registration.name}] into ${scope}. ${choice === 'write' ? 'Destructive tools (promote, roll back, cancel) will ask first.' : allowed}` +
    (registration.codex ? '' : ` The Codex CLI (${codexPath}) was not found: Codex will use the entry once installed.`);
  void vscode.window.showInformationMessage(message, undo).then(async (c) => {
    if (c === undo) await unregisterMcpServerFromCodex(ctx);
  });
  return registration;
}

/** Undoes the last registration made from VS Code: restores the table that was there, or removes ours. */
export async function unregisterMcpServerFromCodex(ctx: RegistrationContext): Promise<boolean> {
  const { extension, log, reports } = ctx;
  const registration = extension.globalState.get<Registration>(STATE_KEY);
  if (!registration) {
    void vscode.window.showInformationMessage('Gas City has not registered its MCP server with Codex from VS Code (`gascity mcp unregister` removes one registered from a terminal).');
    return false;
  }
  let undone;
  try {
    undone = unregisterMcpServer(registration);
  } catch (e) {
    if (e instanceof RegistrationRefused) {
      void showRefusal(e, log);
      return false;
    }
    throw e;
  }
  if (undone.changed || /does not exist|has no/.test(undone.reason)) await extension.globalState.update(STATE_KEY, undefined);
  log.info(`unregistering from ${undone.configPath}: ${undone.reason}`);
  await reports.show(REPORT_NAME, describeChange('Gas City MCP server unregistered from Codex', undone.configPath, undone.before, undone.after, undone.reason));
  if (!undone.changed) void vscode.window.showWarningMessage(`Nothing was changed in ${displayPath(undone.configPath)}: ${undone.reason}.`);
  return undone.changed;
}

/** Whether a Codex CLI answers at the configured path: for the walkthrough and for messages. */
export function codexInstalled(): boolean {
  return findCodex({ codex: vscode.workspace.getConfiguration('gascity').get<string>('codexPath') || 'codex' }) !== null;
}
