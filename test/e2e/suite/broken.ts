// The end-to-end suite of a window whose ledger cannot be opened (`E2E_SUITE=broken node test/e2e/run.mjs`): a run
// of its own, since a window opens its ledger once. activate() hands over where the ledger lives before opening it,
// so the suite puts a file where the ledger's folder goes, then checks what a person sees: the views say why, and
// every command that needs the ledger says, by its title, that it cannot run and why; the commands that need no
// ledger (Show Log, the MCP registration) still work.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GasCityActivation } from '../../../src/extension/main';
import { driver, eventually, runAll, test } from './harness';

const EXTENSION_ID = 'gascity.gascity-codex';

let activationMs = 'unknown';

test('with a ledger that cannot be opened, the views say why and the commands that need it refuse by name', async () => {
  const ext = vscode.extensions.getExtension<GasCityActivation>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  assert.ok(!ext.isActive, 'nothing activated the extension before the suite');
  const activation = await ext.activate();
  activationMs = `${activation.activationMs.toFixed(1)} ms`;
  // Synchronously after activate() returned (the ledger opens on use or after 3 s): a file where its folder goes.
  fs.mkdirSync(path.dirname(activation.ledgerDir), { recursive: true });
  fs.writeFileSync(activation.ledgerDir, 'not a ledger folder\n');
  assert.equal(await activation.open(), undefined, 'the ledger did not open');

  // The views say why, in the sidebar.
  await vscode.commands.executeCommand('workbench.view.extension.gascity');
  const why = String(await driver({ kind: 'text', selector: '.part.sidebar >> text=/Gas City could not open its ledger/' }));
  assert.match(why, /Gas City could not open its ledger: .+/);

  // A command that needs the ledger returns nothing and names itself and the reason in an error notification.
  assert.equal(await vscode.commands.executeCommand('gascity.startRun'), undefined);
  assert.equal(await vscode.commands.executeCommand('gascity.mergeRunWorktree', 'r-abc'), undefined);
  await vscode.commands.executeCommand('notifications.showList');
  for (const title of ['Start Run', 'Merge Run Worktree']) {
    const text = await eventually(async () => String(await driver({ kind: 'text', selector: `.notifications-center .notification-list-item:has-text("${title} cannot run")` })),
      `the notification of ${title}`);
    assert.match(text, new RegExp(`Gas City: ${title} cannot run because the ledger could not be opened: .+`));
  }
  await driver({ kind: 'screenshot', name: 'ledger-cannot-open' });
  // No ledger was written anywhere: the file is as the suite left it.
  assert.equal(fs.readFileSync(activation.ledgerDir, 'utf8'), 'not a ledger folder\n');

  // What needs no ledger still works: the log opens.
  await vscode.commands.executeCommand('gascity.showLog');
});

export async function run(): Promise<void> {
  await runAll(() => ({ vscode: vscode.version, node: process.version, activation: activationMs }));
}
