// Registering the Gas City MCP server (dist/mcp.js) with Codex, so Codex sessions in this workspace use the same
// ledger. TODO(mcp): the full flow (`codex mcp add`, or writing [mcp_servers.gascity] into config.toml without
// disturbing the rest, and VS Code's own MCP registry) belongs with src/mcp; this stub says what it would run.
import * as vscode from 'vscode';

export async function registerMcpServerWithCodex(extensionUri: vscode.Uri, ledgerDir: string, log: vscode.LogOutputChannel): Promise<void> {
  const server = vscode.Uri.joinPath(extensionUri, 'dist', 'mcp.js').fsPath;
  const command = `codex mcp add gascity --env GASCITY_LEDGER_DIR=${ledgerDir} -- node ${server}`;
  log.info(`register MCP server: ${command}`);
  const copy = 'Copy Command';
  const choice = await vscode.window.showInformationMessage(
    `Automatic registration is not available yet. To give Codex this workspace's ledger, run: ${command}`,
    copy,
  );
  if (choice === copy) await vscode.env.clipboard.writeText(command);
}
