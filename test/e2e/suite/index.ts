// The end-to-end suite, run inside a real VS Code extension host by test/e2e/run.mjs. It drives the extension the
// way a person does: the activity-bar trees, the command palette's commands, and real clicks in the graph webview
// (through the driver, which owns the browser), then checks the ledger and the views.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GasCityActivation, GasCityApi } from '../../../src/extension/main';
import type { FamilyTreeItem } from '../../../src/extension/trees';
import { variantLabel } from '../../../src/extension/viewModel';
import { driver, eventually, runAll, sleep, test } from './harness';
import { worktreeTests } from './worktrees';

const EXTENSION_ID = 'gascity.gascity-codex';
const FAMILY = 'ship-a-change';

const FORMULA = `# A small workflow for the end-to-end test.
name = "${FAMILY}"
version = 1
description = "Plan, implement in parallel, test, review."

[vars.mode]
description = "careful or fast"
default = "careful"

[[steps]]
id = "plan"
title = "Plan the change"
instructions = "Write a plan."

[[steps]]
id = "code"
title = "Implement the code"
instructions = "Change the code."
needs = ["plan"]

[[steps]]
id = "docs"
title = "Update the docs"
instructions = "Change the docs."
needs = ["plan"]

[[steps]]
id = "test"
title = "Run the tests"
instructions = "Run them."
needs = ["code", "docs"]

[[steps]]
id = "review"
title = "Review"
instructions = "Review the change."
needs = ["test"]
review = true
`;

let api: GasCityApi;
let rootVariant = '';
let candidate = '';

function workspaceRoot(): string {
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  assert.ok(root, 'the test workspace is open');
  return root;
}

function activeVariantOf(familyId: string): string | null {
  return api.model.lineage.family(familyId)?.activeVariantId ?? null;
}

function variantItems(): FamilyTreeItem[] {
  const [family] = api.families.getChildren();
  assert.ok(family, 'a family in the tree');
  return api.families.getChildren(family).flatMap((g) => api.families.getChildren(g));
}

function treeDescription(variantId: string): string {
  const item = variantItems().find((i) => i.kind === 'variant' && i.variant.id === variantId);
  assert.ok(item, `variant ${variantId} in the tree`);
  const description = api.families.getTreeItem(item).description;
  return typeof description === 'string' ? description : '';
}

test('activates on use and registers its commands, views and status bar', async () => {
  const ext = vscode.extensions.getExtension<GasCityActivation>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is installed`);
  // The copy under test is the one installed from the .vsix, not this repository's folder.
  const extensionsDir = process.env.GASCITY_E2E_EXTENSIONS;
  assert.ok(extensionsDir, 'the driver names the extensions folder');
  assert.ok(ext.extensionPath.startsWith(extensionsDir + path.sep), `runs from the installed copy (${ext.extensionPath})`);
  assert.ok(!fs.existsSync(path.join(ext.extensionPath, 'src')), 'the installed copy carries no sources');
  // Opening the activity-bar container is a use: it activates the extension through its views.
  await vscode.commands.executeCommand('workbench.view.extension.gascity');
  const activation = await eventually(async () => (ext.isActive ? ext.exports : await ext.activate()), 'activation');
  // The views asked for their rows, which opens the ledger; open() hands over the services once it is open.
  const opened = await activation.open();
  assert.ok(opened, 'the ledger opened');
  api = opened;
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['gascity.startRun', 'gascity.promoteVariant', 'gascity.rollbackFamily', 'gascity.openLedgerGraph', 'gascity.importFormulas']) {
    assert.ok(commands.includes(id), `${id} registered`);
  }
  assert.ok(fs.existsSync(api.ledgerDir), 'the ledger folder exists in the workspace storage');
  assert.match(api.statusBar.text, /0 runs · 0 trials/);
});

test('imports a formula family and mutates it into a second variant', async () => {
  fs.mkdirSync(path.join(workspaceRoot(), 'formulas'), { recursive: true });
  fs.writeFileSync(path.join(workspaceRoot(), 'formulas', `${FAMILY}.formula.toml`), FORMULA);
  const imported = await vscode.commands.executeCommand<{ families: number }>('gascity.importFormulas');
  assert.equal(imported.families, 1);
  rootVariant = activeVariantOf(FAMILY) ?? '';
  assert.ok(rootVariant, 'the imported variant is active');
  const created = await vscode.commands.executeCommand<string | undefined>('gascity.mutateFormula', rootVariant, [
    { op: 'set_retry', stepId: 'test', retry: { max: 2, onExhausted: 'fail' } },
  ]);
  assert.ok(created, 'mutation created a variant');
  candidate = created;
  const v = api.model.lineage.variant(candidate)!;
  assert.equal(v.generation, api.model.lineage.variant(rootVariant)!.generation + 1);
  assert.equal(v.status, 'candidate');
  assert.deepEqual(v.parents, [rootVariant]);
  await eventually(() => variantItems().length === 2, 'the tree shows both variants');
  assert.match(treeDescription(rootVariant), /★ active/);
  assert.match(treeDescription(candidate), /candidate/);
  // The mutation is also written out as an evolution file, to be reviewed and committed like code.
  assert.ok(fs.readdirSync(path.join(workspaceRoot(), 'formulas', 'evolution', FAMILY)).some((f) => f.endsWith('.formula.toml')));
});

test('clicking a variant in the lineage tree opens its formula as a diff against its parent', async () => {
  await vscode.commands.executeCommand('workbench.view.extension.gascity');
  await sleep(500);
  const label = variantLabel(api.model.lineage.variant(candidate)!);
  await driver({ kind: 'click', selector: `.monaco-list-row:has-text("${label}")` });
  const tab = await eventually(() => {
    const t = vscode.window.tabGroups.activeTabGroup.activeTab;
    return t?.input instanceof vscode.TabInputTextDiff ? t.input : undefined;
  }, 'a diff editor');
  assert.ok(tab.modified.path.includes(encodeURIComponent(candidate)), `modified side is the candidate (${tab.modified.toString()})`);
  assert.ok(tab.original.path.includes(encodeURIComponent(rootVariant)), 'original side is the parent');
  const text = (await vscode.workspace.openTextDocument(tab.modified)).getText();
  assert.match(text, /\[steps\.retry\]|retry/);
  await sleep(600);
  await driver({ kind: 'screenshot', name: 'sidebar' });
});

test('promotes the candidate with a real click in the lineage graph webview', async () => {
  // A richer lineage for the picture: a sibling that was rejected and a grandchild of the root.
  const sibling = await api.actions.mutate(rootVariant, [{ op: 'set_review', stepId: 'code', review: true }]);
  assert.ok(sibling);
  await api.model.lineage.formulas.rejectVariant({ variantId: sibling, reason: 'reviews slowed every run' }, 'e2e');
  const grandchild = await api.actions.mutate(candidate, [{ op: 'edit_instructions', stepId: 'docs', instructions: 'Update README and CHANGELOG.' }]);
  assert.ok(grandchild);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  await vscode.commands.executeCommand('gascity.openLineage', FAMILY, candidate);
  await driver({ kind: 'webviewWait', view: 'lineage:', selector: 'body[data-rendered]', state: 'attached', timeout: 30_000 });
  const label = variantLabel(api.model.lineage.variant(candidate)!);
  await eventually(async () => String(await driver({ kind: 'webviewText', view: 'lineage:', selector: '#details h2' })).includes(label), 'the candidate selected in the graph');
  await sleep(400);
  await driver({ kind: 'screenshot', name: 'lineage-graph' });
  await driver({ kind: 'webviewClick', view: 'lineage:', selector: '#promote' });
  await driver({ kind: 'webviewWait', view: 'lineage:', selector: '#confirm', state: 'visible' });
  const question = String(await driver({ kind: 'webviewText', view: 'lineage:', selector: '#confirm-text' }));
  assert.match(question, new RegExp(`Promote ${label}`));
  assert.match(question, /no runs yet/, 'a candidate without runs is promoted with a warning');
  await driver({ kind: 'webviewClick', view: 'lineage:', selector: '#confirm-yes' });
  await eventually(() => activeVariantOf(FAMILY) === candidate, 'the ledger records the candidate as active');
  assert.equal(api.model.lineage.variant(rootVariant)!.status, 'retired');
  // A person's promotion is a recorded decision, and the new variant is watched against the one it replaced.
  const decision = api.model.lineage.promotion.decisions(FAMILY).find((d) => d.candidateId === candidate && d.verdict === 'promote');
  assert.ok(decision, 'a promote decision is recorded');
  assert.equal(decision.actor, 'person:vscode');
  await eventually(() => /1 trial\b/.test(api.statusBar.text), 'the status bar counts the watch');
  await eventually(() => /★ active/.test(treeDescription(candidate)), 'the tree marks the candidate active');
  assert.match(treeDescription(rootVariant), /retired/);
  await eventually(async () => String(await driver({ kind: 'webviewText', view: 'lineage:', selector: '#details h2' })).includes('★'), 'the graph marks it active');
  await eventually(async () => /now the active variant/.test(String(await driver({ kind: 'webviewText', view: 'lineage:', selector: '#status' }))), 'the webview says what happened');
});

test('rolls back from the webview with the keyboard (R, then Enter)', async () => {
  await driver({ kind: 'webviewPress', view: 'lineage:', key: 'r' });
  await driver({ kind: 'webviewWait', view: 'lineage:', selector: '#confirm', state: 'visible' });
  const question = String(await driver({ kind: 'webviewText', view: 'lineage:', selector: '#confirm-text' }));
  const back = variantLabel(api.model.lineage.variant(rootVariant)!);
  const away = variantLabel(api.model.lineage.variant(candidate)!);
  assert.ok(question.includes(`back to ${back}`) && question.includes(`${away} will be marked rejected`), `the confirmation names both variants: ${question}`);
  await driver({ kind: 'webviewPress', view: 'lineage:', selector: '#confirm-yes', key: 'Enter' });
  await eventually(() => activeVariantOf(FAMILY) === rootVariant, 'the ledger records the rollback');
  await eventually(() => /★ active/.test(treeDescription(rootVariant)), 'the tree follows the rollback');
  // The ledger rejects a variant that was rolled away from, so it is not proposed again unnoticed.
  assert.equal(api.model.lineage.variant(candidate)!.status, 'rejected');
  assert.ok(api.model.lineage.promotion.decisions(FAMILY).some((d) => d.candidateId === candidate && d.actor === 'person:vscode' && d.verdict !== 'promote'));
  assert.match(treeDescription(candidate), /rejected/);
});

test('starts a run and shows its workflow graph; arrow keys walk along edges', async () => {
  const runId = await vscode.commands.executeCommand<string | undefined>('gascity.startRun', FAMILY);
  assert.ok(runId, 'a run started');
  const run = api.model.ledger.getRun(runId)!;
  assert.equal(run.variantId, rootVariant, 'a run of the family uses its active variant');
  await eventually(() => api.runs.getChildren().some((r) => r.kind === 'run' && r.run.id === runId), 'the runs tree lists the run');
  await driver({ kind: 'webviewWait', view: 'run:', selector: `body[data-view="run:${runId}"]`, state: 'attached', timeout: 30_000 });
  // Claim and start the first node so the graph shows more than one state and a worker binding.
  const claim = await api.model.ledger.claimNode({ worker: 'codex-e2e', runId });
  assert.ok(claim);
  await api.model.ledger.dispatchNode({ nodeId: claim.nodeId, worker: 'codex-e2e', threadId: 'thr_e2e_1' });
  await api.model.ledger.reportNode({ nodeId: claim.nodeId, worker: 'codex-e2e', outcome: 'done', summary: 'planned', tokens: 1200, durationMs: 3000 });
  const next = await api.model.ledger.claimNode({ worker: 'codex-e2e', runId });
  assert.ok(next);
  await api.model.ledger.dispatchNode({ nodeId: next.nodeId, worker: 'codex-e2e', threadId: 'thr_e2e_2' });
  // The open graph follows these changes as patches of the nodes that changed, not as the whole graph again.
  await driver({ kind: 'webviewWait', view: 'run:', selector: 'body[data-patched]', state: 'attached', timeout: 15_000 });
  // The run's row in the tree was refreshed in place: one node done, four open.
  const runRow = api.runs.getChildren().find((r) => r.kind === 'run' && r.run.id === runId)!;
  await eventually(() => /4 open/.test(String(api.runs.getTreeItem(runRow).description)), 'the run row counts four open nodes');
  await driver({ kind: 'webviewPress', view: 'run:', key: 'ArrowDown' });
  await eventually(async () => String(await driver({ kind: 'webviewText', view: 'run:', selector: '#details h2' })).includes('Plan the change'), 'the first node selected');
  await eventually(async () => /done/.test(String(await driver({ kind: 'webviewText', view: 'run:', selector: '#details' }))), 'the plan node shows done');
  await driver({ kind: 'webviewPress', view: 'run:', key: 'ArrowDown' });
  const second = String(await driver({ kind: 'webviewText', view: 'run:', selector: '#details h2' }));
  assert.ok(/Implement the code|Update the docs/.test(second), `ArrowDown followed an edge to ${second}`);
  // The lineage graph stays open beside the run graph: one panel of each kind, in two editor groups.
  assert.deepEqual(api.graph.openTargets.map((t) => t.kind), ['lineage', 'run']);
  const columns = vscode.window.tabGroups.all.filter((g) => g.tabs.some((t) => t.input instanceof vscode.TabInputWebview)).map((g) => g.viewColumn);
  assert.equal(columns.length, 2, 'the two graphs are side by side');
  assert.doesNotMatch(String(await driver({ kind: 'webviewText', view: 'run:', selector: '#status' })), /promote|roll/i, 'a run graph advertises no promotion keys');
  await sleep(400);
  await driver({ kind: 'screenshot', name: 'run-graph' });
  assert.match(api.statusBar.text, /1 run · 0 trials/);
});

test('mail to a node shows on the run graph when the Mail overlay is on, and Read Mail lists it', async () => {
  const run = api.runs.getChildren().find((r) => r.kind === 'run');
  assert.ok(run && run.kind === 'run', 'a run is listed');
  const nodeId = api.model.ledger.runGraph(run.run.id)!.nodes[0]!.id;
  const sent = await vscode.commands.executeCommand<{ id: string } | undefined>('gascity.sendMail', { toKind: 'node', to: nodeId, subject: 'heads up', body: 'the API changed' });
  assert.ok(sent?.id, 'the mail was written');
  await driver({ kind: 'webviewClick', view: 'run:', selector: '#overlay-mail' });
  await driver({ kind: 'webviewWait', view: 'run:', selector: 'body[data-overlaid="1"]', state: 'attached', timeout: 15_000 });
  await driver({ kind: 'webviewWait', view: 'run:', selector: 'body[data-overlays="mail"]', state: 'attached' });
  const read = await vscode.commands.executeCommand<{ subject: string }[] | undefined>('gascity.readMail', { runId: run.run.id, nodeId });
  assert.deepEqual(read?.map((m) => m.subject), ['heads up']);
  const doc = vscode.window.activeTextEditor?.document;
  assert.match(doc?.getText() ?? '', /heads up[\s\S]*the API changed/, 'the mail document shows the message');
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  await driver({ kind: 'webviewClick', view: 'run:', selector: '#overlay-mail' });
  await driver({ kind: 'webviewWait', view: 'run:', selector: 'body[data-overlaid="0"]', state: 'attached' });
});

test('a human gate waits in the Needs you group, and a real click on Open Gate lets the node through', async () => {
  const { runId } = await api.model.ledger.startRun({
    title: 'gated deploy',
    nodes: [{ key: 'approve', title: 'Approve the deploy', gate: { kind: 'human' } }, { key: 'deploy', title: 'Deploy it', needs: ['approve'] }],
  });
  const nodeId = `${runId}.approve`;
  await vscode.commands.executeCommand('gascity.runs.focus');
  await eventually(() => {
    const [first] = api.runs.getChildren();
    return first?.kind === 'needs' && first.nodes.some((n) => n.id === nodeId);
  }, 'the runs tree opens with a Needs you group holding the gated node');
  const row = api.runs.getChildren(api.runs.getChildren()[0]).find((r) => r.kind === 'node' && r.node.id === nodeId)!;
  const item = api.runs.getTreeItem(row);
  assert.equal(item.contextValue, 'needs.open_gate');
  assert.match(String(item.tooltip), /waits for a person at its human gate: they open it in VS Code \(Needs you\)/);
  // A person selects the row and clicks its inline Open Gate action.
  const rowSelector = '.monaco-list-row:has-text("Approve the deploy")';
  await driver({ kind: 'click', selector: rowSelector });
  await sleep(300);
  await driver({ kind: 'screenshot', name: 'needs-you' });
  await driver({ kind: 'click', selector: `${rowSelector} .action-label[aria-label="Open Gate"]` });
  await eventually(() => api.model.ledger.getNode(nodeId)?.state === 'ready', 'the gate opened and the node is ready');
  const opened = api.model.ledger.events(0, 100_000).filter((e) => e.kind === 'node.gate_opened').at(-1)!;
  assert.equal(opened.actor, 'person:vscode');
  assert.equal((opened.payload as { nodeId: string }).nodeId, nodeId);
  await eventually(() => api.runs.getChildren()[0]?.kind !== 'needs', 'nothing waits for a person any more');
  await api.model.ledger.cancelRun({ runId, reason: 'end of the e2e test' });
});

test('closes the loop from the command palette: a trial, a person\'s verdict on a run, an assessment, a rejection', async () => {
  const grandchild = api.model.lineage.variants(FAMILY).find((v) => v.status === 'candidate');
  assert.ok(grandchild, 'a candidate to try');
  const trialId = await vscode.commands.executeCommand<string | undefined>('gascity.startTrial', grandchild.id);
  assert.ok(trialId, 'a trial started');
  assert.equal(api.model.lineage.variant(grandchild.id)!.status, 'trial');
  await eventually(() => /· 1 trial\b/.test(api.statusBar.text), 'the status bar counts the trial');
  // New runs of the family are split between the arms by the trial; each run records the variant it ran.
  const runId = await vscode.commands.executeCommand<string | undefined>('gascity.startRun', FAMILY);
  assert.ok(runId);
  const run = api.model.ledger.getRun(runId)!;
  assert.ok([grandchild.id, rootVariant].includes(run.variantId!), `the run ran one of the arms (${run.variantId})`);
  assert.ok(run.arm === 'candidate' || run.arm === 'incumbent', `the run records its arm (${run.arm})`);
  const marked = await vscode.commands.executeCommand<boolean>('gascity.markRunResult', runId, false, 'the change broke the build');
  assert.equal(marked, true);
  assert.equal(api.model.ledger.getRun(runId)!.outcome, 'failure');
  const evidence = api.model.ledger.evidence({ runId });
  assert.equal(evidence[0]?.actor, 'person:vscode');
  const report = await vscode.commands.executeCommand<string | undefined>('gascity.assessVariant', grandchild.id);
  assert.ok(report, 'an assessment');
  assert.match(report, /stage \*\*trial\*\*/);
  assert.match(report, /Still missing/);
  assert.match(report, /more candidate runs/);
  const assessment = vscode.window.activeTextEditor?.document;
  assert.equal(assessment?.uri.scheme, 'gascity-report', 'the assessment is a read-only report');
  assert.equal(assessment?.isDirty, false);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  assert.equal(await vscode.commands.executeCommand<boolean>('gascity.rejectVariant', grandchild.id, 'not worth the extra retries'), true);
  assert.equal(api.model.lineage.variant(grandchild.id)!.status, 'rejected');
  const decision = api.model.lineage.promotion.decisions(FAMILY).find((d) => d.candidateId === grandchild.id && d.verdict === 'reject');
  assert.ok(decision, 'the rejection is a recorded decision');
  assert.equal(decision.actor, 'person:vscode');
  assert.match(decision.reason, /extra retries/);
  await eventually(() => /0 trials/.test(api.statusBar.text), 'the status bar drops the trial');
});

test('Formula Evidence shows the family\'s steps; the lineage details list each step\'s heat', async () => {
  const evidence = await vscode.commands.executeCommand<{ familyId: string; variants: { variantId: string; steps: unknown[] }[] } | undefined>('gascity.formulaEvidence', FAMILY);
  assert.equal(evidence?.familyId, FAMILY);
  const withSteps = evidence!.variants.find((v) => v.steps.length > 0);
  assert.ok(withSteps, 'a variant whose runs give its steps figures');
  assert.match(vscode.window.activeTextEditor?.document.getText() ?? '', /^# Formula evidence: /);
  await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  await vscode.commands.executeCommand('gascity.openLineage', FAMILY, withSteps.variantId);
  await driver({ kind: 'webviewWait', view: 'lineage:', selector: '#details table.heat tr[data-step]', state: 'attached', timeout: 20_000 });
});

test('registers the MCP server with Codex in the global config, names the file, shows the change read-only, and undoes it', async () => {
  const registration = await vscode.commands.executeCommand<{ configPath: string; after: string; global: boolean } | undefined>('gascity.registerMcpServer', { approvals: 'write' });
  assert.ok(registration, 'registered');
  // HOME is the driver's temp folder, so this is the global ~/.codex/config.toml of this (test) user.
  assert.equal(registration.configPath, path.join(process.env.HOME ?? '', '.codex', 'config.toml'));
  assert.equal(registration.global, true);
  const text = fs.readFileSync(registration.configPath, 'utf8');
  assert.match(text, /\[mcp_servers\.gascity\]/);
  // The entry survives extension updates: it names the copy in global storage, not the versioned extension folder.
  const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
  const script = /args = \["([^"]+)"/.exec(text)?.[1] ?? '';
  assert.match(script, /globalStorage.*mcp-server[\\/]mcp\.js$/, `the registered server is the stable copy (${script})`);
  assert.ok(!script.startsWith(ext.extensionPath), 'not the versioned extension folder');
  assert.ok(fs.existsSync(script) && fs.existsSync(path.join(path.dirname(script), 'sql-wasm.wasm')), 'the copy and its WASM exist');
  assert.ok(!text.includes(api.ledgerDir), 'the global entry does not pin one workspace\'s ledger');
  // Codex may run read and ordinary write tools without asking; destructive ones ask.
  assert.match(text, /\[mcp_servers\.gascity\.tools\.workflow_start\]\napproval_mode = "approve"/);
  assert.match(text, /\[mcp_servers\.gascity\.tools\.formula_rollback\]\napproval_mode = "prompt"/);
  // Each Codex session finds its workspace's ledger through the pointer the extension keeps there, out of git.
  const pointer = JSON.parse(fs.readFileSync(path.join(workspaceRoot(), '.gascity', 'ledger-location.json'), 'utf8')) as { dir: string };
  assert.equal(pointer.dir, api.ledgerDir);
  assert.match(fs.readFileSync(path.join(workspaceRoot(), '.gascity', '.gitignore'), 'utf8'), /^\*$/m);
  const shown = vscode.window.activeTextEditor?.document;
  assert.ok(shown, 'the change is shown');
  assert.equal(shown.uri.scheme, 'gascity-report', 'in a read-only view, not an Untitled editor');
  assert.match(shown.getText(), /global Codex config[\s\S]*## After[\s\S]*mcp_servers\.gascity/);
  assert.equal(shown.isDirty, false);
  assert.equal(await vscode.commands.executeCommand<boolean>('gascity.unregisterMcpServer'), true);
  const after = fs.existsSync(registration.configPath) ? fs.readFileSync(registration.configPath, 'utf8') : '';
  assert.doesNotMatch(after, /mcp_servers\.gascity/);
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  assert.ok(vscode.workspace.textDocuments.every((d) => !(d.isUntitled && d.isDirty)), 'no Untitled editor asks to be saved');
});

test('a repository without formulas is offered the starter formulas shipped in the .vsix', async () => {
  const formulas = path.join(workspaceRoot(), 'formulas');
  fs.renameSync(formulas, `${formulas}.mine`);
  const before = api.model.lineage.families().length;
  const r = await vscode.commands.executeCommand<{ families: number; startersAdded: number }>('gascity.importFormulas', { addStarters: true });
  const shipped = fs.readdirSync(path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'formulas')).filter((f) => f.endsWith('.formula.toml'));
  assert.ok(shipped.length >= 4, 'the installed extension carries its starter formulas');
  assert.equal(r.startersAdded, shipped.length);
  assert.deepEqual(fs.readdirSync(formulas).sort(), [...shipped].sort(), 'copied into the workspace, to read and edit');
  assert.equal(r.families, shipped.length);
  assert.equal(api.model.lineage.families().length, before + shipped.length);
  // A second import finds them there and offers nothing.
  const again = await vscode.commands.executeCommand<{ families: number; startersAdded: number }>('gascity.importFormulas', { addStarters: true });
  assert.equal(again.startersAdded, 0);
  assert.equal(again.families, 0);
});

const FAN_OUT = `name = "fan-out"
version = 1
description = "Nine reviews in parallel, then a merge; shipping also waits for the plan directly."

[[steps]]
id = "plan"
title = "Plan the nine reviews"
instructions = "Plan."
${Array.from({ length: 9 }, (_, i) => `
[[steps]]
id = "review-${i + 1}"
title = "Review area ${i + 1} of the change"
instructions = "Review."
needs = ["plan"]
`).join('')}
[[steps]]
id = "merge"
title = "Merge the reviews"
instructions = "Merge."
needs = [${Array.from({ length: 9 }, (_, i) => `"review-${i + 1}"`).join(', ')}]

[[steps]]
id = "ship"
title = "Ship it"
instructions = "Ship."
needs = ["merge", "plan"]
`;

test('a 9-way fan-out is drawn at a reading size, and a direct edge bends around the nodes between', async () => {
  const dir = fs.mkdtempSync(path.join(workspaceRoot(), '.fan-out-'));
  fs.writeFileSync(path.join(dir, 'fan-out.formula.toml'), FAN_OUT);
  await api.model.lineage.importFormulas(dir, 'e2e');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  const runId = await vscode.commands.executeCommand<string | undefined>('gascity.startRun', 'fan-out');
  assert.ok(runId);
  await driver({ kind: 'webviewWait', view: 'run:', selector: `body[data-view="run:${runId}"]`, state: 'attached', timeout: 30_000 });
  const zoom = Number(await driver({ kind: 'webviewAttribute', view: 'run:', selector: 'body', name: 'data-zoom' }));
  assert.ok(zoom >= 0.85, `labels of 11 px are drawn at ${(11 * zoom).toFixed(1)} px (zoom ${zoom})`);
  // The run graph's data says which edge is routed: plan → ship spans the review row and the merge.
  const graph = api.graph.viewOf({ kind: 'run', runId });
  assert.ok(graph?.kind === 'run');
  assert.ok(graph.graph.edges.some((e) => e.source.endsWith('.plan') && e.target.endsWith('.ship')));
  // The runs tree lists the nodes in workflow order: plan first, ship last.
  const run = api.runs.getChildren().find((r) => r.kind === 'run' && r.run.id === runId)!;
  const order = api.runs.getChildren(run).map((n) => (n.kind === 'node' ? n.node.stepId : ''));
  assert.equal(order[0], 'plan');
  assert.equal(order.at(-1), 'ship');
  assert.equal(order.at(-2), 'merge');
  await sleep(400);
  await driver({ kind: 'screenshot', name: 'fan-out' });
});

test('a formula file is a language: problems as you type, completion, go to definition, live figures', async () => {
  const file = path.join(workspaceRoot(), 'formulas', 'implement-and-review.formula.toml');
  assert.ok(fs.existsSync(file), 'a starter formula from the earlier test');
  const doc = await vscode.workspace.openTextDocument(file);
  const editor = await vscode.window.showTextDocument(doc);
  // The family's live figures above its name.
  const lenses = await eventually(async () => {
    const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', doc.uri);
    return l.length ? l : undefined;
  }, 'a CodeLens');
  assert.match(lenses[0]!.command?.title ?? '', /^generation 1 · active · (no runs yet|\d+ of \d+ runs? ok)$/);
  // A problem as it is typed: a need that names no step.
  const needsLine = doc.getText().split('\n').findIndex((l) => /^\s*needs\s*=\s*\[/.test(l));
  assert.ok(needsLine > 0, 'the formula has a needs line');
  const line = doc.lineAt(needsLine);
  const open = line.text.indexOf('[') + 1;
  await editor.edit((e) => e.insert(new vscode.Position(needsLine, open), '"no-such-step", '));
  const diagnostics = await eventually(() => {
    const d = vscode.languages.getDiagnostics(doc.uri);
    return d.length ? d : undefined;
  }, 'a diagnostic');
  assert.equal(diagnostics[0]!.range.start.line, needsLine);
  assert.match(diagnostics[0]!.message, /needs "no-such-step".*Use one of the step ids/);
  // Completion inside the quotes offers the formula's step ids.
  const completions = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(needsLine, open + 1));
  const labels = completions.items.map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
  assert.ok(labels.includes('plan'), `step ids offered: ${labels.slice(0, 10).join(', ')}`);
  // Go to definition on a real need lands on that step's id.
  const firstNeed = /"([a-z0-9_-]+)"/.exec(doc.lineAt(needsLine).text.slice(open + '"no-such-step", '.length))!;
  const col = open + '"no-such-step", '.length + firstNeed.index + 2;
  const defs = await vscode.commands.executeCommand<(vscode.Location | vscode.LocationLink)[]>('vscode.executeDefinitionProvider', doc.uri, new vscode.Position(needsLine, col));
  assert.equal(defs.length, 1);
  const target = defs[0]! instanceof vscode.Location ? (defs[0] as vscode.Location).range : (defs[0] as vscode.LocationLink).targetRange;
  assert.match(doc.lineAt(target.start.line).text, new RegExp(`^id = "${firstNeed[1]}"`));
  // Undoing the edit clears the problem.
  await vscode.commands.executeCommand('undo');
  await eventually(() => vscode.languages.getDiagnostics(doc.uri).length === 0, 'the problem is gone');
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
});

// Run worktrees and the replay lab: the workspace becomes a git repository from here on, so these come last.
worktreeTests(workspaceRoot, () => api);

export async function run(): Promise<void> {
  await runAll(() => ({
    vscode: vscode.version,
    node: process.version,
    activation: api ? `${api.activationMs.toFixed(1)} ms` : 'unknown',
    'ledger open': api ? `${api.openMs.toFixed(0)} ms` : 'unknown',
  }));
}
