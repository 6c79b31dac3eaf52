// Making the Gas City MCP server (dist/mcp.js) available where agents look for it:
// - Codex reads `[mcp_servers.gascity]` from $CODEX_HOME/config.toml: the "Register MCP Server with Codex" command
//   writes it (src/mcp/registration.ts does the careful edit), shows exactly what changed, and can undo it;
// - VS Code's own agents get it from an MCP server definition provider registered at activation.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Registration } from '../mcp/registration';
import { registerMcpServer, unregisterMcpServer } from '../mcp/registration';

const STATE_KEY = 'gascity.mcpRegistration';
export const MCP_PROVIDER_ID = 'gascity.mcp';

interface ServerLaunch {
  command: string;
  script: string;
  ledgerDir: string;
  workspace: string | undefined;
}

function launch(extensionUri: vscode.Uri, ledgerDir: string): ServerLaunch {
  return {
    command: vscode.workspace.getConfiguration('gascity').get<string>('nodePath') || 'node',
    script: vscode.Uri.joinPath(extensionUri, 'dist', 'mcp.js').fsPath,
    ledgerDir,
    workspace: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
  };
}

/** Offers the server to VS Code's own agents (chat agent mode), pointed at this workspace's ledger. */
export function registerWithVsCode(extensionUri: vscode.Uri, ledgerDir: string): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  const provider = vscode.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
    onDidChangeMcpServerDefinitions: changed.event,
    provideMcpServerDefinitions: () => {
      const l = launch(extensionUri, ledgerDir);
      const args = [l.script, '--ledger', l.ledgerDir, ...(l.workspace ? ['--workspace', l.workspace] : [])];
      return [new vscode.McpStdioServerDefinition('Gas City ledger', l.command, args, { GASCITY_LEDGER_DIR: l.ledgerDir })];
    },
  });
  return vscode.Disposable.from(provider, changed);
}

function describeChange(title: string, configPath: string, before: string | null, after: string | null, note: string): string {
  const block = (t: string | null) => (t === null ? '_(nothing)_' : `\`\`\`toml\n${t.trimEnd()}\n\`\`\``);
  return [`# ${title}`, '', `File: \`${configPath}\``, '', note, '', '## Before', '', block(before), '', '## After', '', block(after), ''].join('\n');
}

/** Registers the server with Codex, shows what changed in config.toml, and keeps what is needed to undo it. */
export async function registerMcpServerWithCodex(context: vscode.ExtensionContext, ledgerDir: string, log: vscode.LogOutputChannel): Promise<Registration | undefined> {
  const l = launch(context.extensionUri, ledgerDir);
  const codexPath = vscode.workspace.getConfiguration('gascity').get<string>('codexPath') || undefined;
  // Codex's config.toml is global to the machine, and Codex starts MCP servers in each session's working folder:
  // the entry names neither a workspace nor a ledger, so every session finds its own workspace's ledger through
  // the pointer this extension keeps in .gascity/ledger-location.json.
  const registration = registerMcpServer({ command: l.command, serverScript: l.script }, codexPath ? { codex: codexPath } : {});
  await context.workspaceState.update(STATE_KEY, registration);
  log.info(`registered the MCP server with Codex in ${registration.configPath} (${registration.method}: ${registration.reason})`);
  const doc = await vscode.workspace.openTextDocument({
    language: 'markdown',
    content: describeChange('Gas City MCP server registered with Codex', registration.configPath, registration.before, registration.after,
      `Written by ${registration.method === 'codex-cli' ? '`codex mcp add`' : 'an edit of just this table'} (${registration.reason}).` +
      (registration.verified ? ` \`codex mcp get ${registration.name}\` now reports: \`${registration.verified.transport.command ?? ''} ${(registration.verified.transport.args ?? []).join(' ')}\`.` : '')),
  });
  await vscode.window.showTextDocument(doc, { preview: true });
  const undo = 'Undo';
  void vscode.window.showInformationMessage(`Codex sessions in ${path.basename(l.workspace ?? ledgerDir)} now have the Gas City tools.`, undo).then(async (c) => {
    if (c === undo) await unregisterMcpServerFromCodex(context, log);
  });
  return registration;
}

/** Undoes the last registration made from this workspace: restores the table that was there, or removes ours. */
export async function unregisterMcpServerFromCodex(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<boolean> {
  const registration = context.workspaceState.get<Registration>(STATE_KEY);
  if (!registration) {
    void vscode.window.showInformationMessage('This workspace has not registered the Gas City MCP server with Codex.');
    return false;
  }
  const undone = unregisterMcpServer(registration);
  await context.workspaceState.update(STATE_KEY, undefined);
  log.info(`unregistered the MCP server from ${undone.configPath}: ${undone.reason}`);
  const doc = await vscode.workspace.openTextDocument({
    language: 'markdown',
    content: describeChange('Gas City MCP server unregistered from Codex', undone.configPath, undone.before, undone.after, undone.reason),
  });
  await vscode.window.showTextDocument(doc, { preview: true });
  return undone.changed;
}
