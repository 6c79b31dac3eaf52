// End-to-end tests of run worktrees and the replay lab in the extension host (docs/replay.md): the workspace becomes
// a git repository, runs are driven by the real Codex CLI (the checkout's node_modules/.bin/codex, as
// `gascity.codexPath`) against a scripted model on loopback started here, in the extension host, and pointed at
// through CODEX_HOME, which the window's Codex app-servers inherit. The e2e driver has no model of its own.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GasCityApi } from '../../../src/extension/main';
import type { ReplayReport } from '../../../src/controller/index';
import { ScriptedModel, toolOutputs } from '../../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../../support/scriptedModel';
import { driver, eventually, sleep, test } from './harness';

const REPLAY_FAMILY = 'replay-e2e';
const REPLAY_FORMULA = `name = "${REPLAY_FAMILY}"
version = 1
description = "One step, replayed on a candidate."

[[steps]]
id = "fix"
title = "Fix the issue"
instructions = "Fix it."
`;

/** What the scripted model does: write a file through Codex's exec_command and report, or never answer. */
let mode: 'write' | 'hang' = 'write';
/** The file the model writes in write mode. */
let file = 'notes.txt';
let model: ScriptedModel | undefined;

function script(request: ResponsesRequest): ModelStep {
  if (mode === 'hang') return { hang: true };
  const outputs = toolOutputs(request).length;
  if (outputs === 0) return { call: 'exec_command', args: { cmd: `printf 'one\\ntwo\\n' > ${file}` } };
  if (outputs === 1) return { call: 'report_result', args: { outcome: 'done', summary: `wrote ${file}` }, usage: { input: 100, output: 20 } };
  return { say: 'Done.' };
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=E2E', '-c', 'user.email=e2e@localhost', ...args], { cwd, encoding: 'utf8' }).trim();
}

/** The workspace as a git repository with one commit, and Codex pointed at the scripted model. */
async function gitWorkspaceWithCodex(root: string): Promise<void> {
  if (!fs.existsSync(path.join(root, '.git'))) {
    git(root, 'init', '-q', '-b', 'main');
    fs.writeFileSync(path.join(root, '.gitignore'), '.gascity/\n');
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'the e2e workspace');
  }
  if (model) return;
  const repo = process.env.GASCITY_E2E_REPO;
  assert.ok(repo, 'the driver names the checkout (GASCITY_E2E_REPO)');
  const codex = path.join(repo, 'node_modules', '.bin', 'codex');
  assert.ok(fs.existsSync(codex), `the bundled Codex CLI at ${codex}`);
  model = new ScriptedModel(script);
  const baseUrl = await model.start();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-e2e-codex-'));
  fs.writeFileSync(path.join(home, 'config.toml'), [
    'model_provider = "mock"', 'model = "mock-model"', 'approval_policy = "never"',
    '[model_providers.mock]', 'name = "mock"', `base_url = "${baseUrl}"`, 'wire_api = "responses"', 'requires_openai_auth = false', 'supports_websockets = false', '',
  ].join('\n'));
  // The app-servers the extension starts inherit the extension host's environment.
  process.env.CODEX_HOME = home;
  await vscode.workspace.getConfiguration('gascity').update('codexPath', codex, vscode.ConfigurationTarget.Global);
}

function runRowText(api: GasCityApi, runId: string): { description: string; contextValue: string } {
  const row = api.runs.getChildren().find((r) => r.kind === 'run' && r.run.id === runId);
  assert.ok(row, `run ${runId} in the runs tree`);
  const item = api.runs.getTreeItem(row);
  return { description: typeof item.description === 'string' ? item.description : '', contextValue: item.contextValue ?? '' };
}

/** Registers the worktree and replay tests; `api` is the activated extension's (set by the suite's first test). */
export function worktreeTests(workspaceRoot: () => string, getApi: () => GasCityApi): void {
  test('a run finished by the controller shows its worktree branch and diff stats in the Runs tree; clicking Merge merges it', async () => {
    const api = getApi();
    const root = workspaceRoot();
    await gitWorkspaceWithCodex(root);
    mode = 'write';
    const before = git(root, 'rev-parse', 'HEAD');
    const title = 'e2e worktree notes';
    const { runId } = await api.model.ledger.startRun({ title, nodes: [{ key: 'write', title: 'Write the notes' }] });
    await vscode.commands.executeCommand('gascity.runWithCodex', runId);
    await eventually(() => api.model.worktreeOf(runId)?.state === 'open', 'the run ended and its worktree waits for a person', 120_000);
    assert.equal(api.model.ledger.getRun(runId)?.status, 'done');
    assert.ok(!fs.existsSync(path.join(root, 'notes.txt')), 'the run worked in its worktree, not in the checkout');
    const branch = `gascity/${runId}`;
    const waiting = runRowText(api, runId);
    assert.match(waiting.description, new RegExp(`^done · ${branch.replace('/', '\\/')} · 1 file, \\+2 -0 · open$`));
    assert.equal(waiting.contextValue, 'run.done.worktree.open');

    // What a person sees: the row in the Runs view, then a click on its inline Merge action and the modal's Merge.
    await vscode.commands.executeCommand('gascity.runs.focus');
    const rowSelector = `.monaco-list-row:has-text("${title}")`;
    await eventually(async () => String(await driver({ kind: 'text', selector: rowSelector })).includes(`${branch} · 1 file, +2 -0 · open`), 'the row shows the branch and diff stats');
    await driver({ kind: 'click', selector: rowSelector });
    // The row's click opened its run graph; its details show the same worktree.
    await driver({ kind: 'webviewWait', view: `run:${runId}`, selector: '#details section.worktree', state: 'attached', timeout: 30_000 });
    const details = String(await driver({ kind: 'webviewText', view: `run:${runId}`, selector: '#details section.worktree' }));
    assert.match(details, new RegExp(`Branch\\s*${branch}[\\s\\S]*Base\\s*${before.slice(0, 12)}[\\s\\S]*Changes\\s*1 file, \\+2 -0[\\s\\S]*State\\s*open`));
    await driver({ kind: 'screenshot', name: 'run-worktree' });
    await vscode.commands.executeCommand('gascity.runs.focus');
    await driver({ kind: 'click', selector: rowSelector });
    await sleep(300);
    await driver({ kind: 'click', selector: `${rowSelector} .action-label[aria-label="Merge Run Worktree"]` });
    // The confirmation names the branch and its changes (a quick pick: the workbench refuses modal dialogs under test).
    const confirm = `.quick-input-widget .monaco-list-row:has-text("Merge ${branch}")`;
    await eventually(async () => String(await driver({ kind: 'text', selector: confirm })).includes('1 file, +2 -0'), 'the confirmation shows the changes');
    await driver({ kind: 'screenshot', name: 'merge-confirm' });
    await driver({ kind: 'click', selector: confirm });
    await eventually(() => api.model.worktreeOf(runId)?.state === 'merged', 'the worktree is merged', 60_000);

    // The run's file is in the workspace's HEAD, through a merge commit; the worktree and branch are gone.
    assert.equal(git(root, 'show', 'HEAD:notes.txt'), 'one\ntwo');
    assert.equal(git(root, 'rev-parse', 'HEAD^1'), before, 'a merge commit on top of the workspace\'s commit');
    assert.equal(git(root, 'branch', '--list', branch), '');
    assert.match(git(root, 'status', '--porcelain'), /^$/, 'the checkout is clean');
    assert.match(runRowText(api, runId).description, / · merged$/);
    assert.equal(runRowText(api, runId).contextValue, 'run.done.worktree.merged');
    await eventually(async () => String(await driver({ kind: 'text', selector: rowSelector })).includes(`${branch} · 1 file, +2 -0 · merged`), 'the row says merged');
    await eventually(async () => /State\s*merged/.test(String(await driver({ kind: 'webviewText', view: `run:${runId}`, selector: '#details section.worktree' }))), 'the run graph says merged');
  }, 240_000);

  test('clicking Discard on a run worktree removes it and its branch; the checkout stays as it was', async () => {
    const api = getApi();
    const root = workspaceRoot();
    await gitWorkspaceWithCodex(root);
    mode = 'write';
    file = 'scratch.txt';
    const before = git(root, 'rev-parse', 'HEAD');
    const title = 'e2e worktree scratch';
    const { runId } = await api.model.ledger.startRun({ title, nodes: [{ key: 'write', title: 'Write scratch' }] });
    await vscode.commands.executeCommand('gascity.runWithCodex', runId);
    await eventually(() => api.model.worktreeOf(runId)?.state === 'open', 'the run ended and its worktree waits for a person', 120_000);
    const branch = `gascity/${runId}`;
    await vscode.commands.executeCommand('gascity.runs.focus');
    const rowSelector = `.monaco-list-row:has-text("${title}")`;
    await eventually(async () => String(await driver({ kind: 'text', selector: rowSelector })).includes(`${branch} · 1 file, +2 -0 · open`), 'the row shows the branch and diff stats');
    await driver({ kind: 'click', selector: rowSelector });
    await vscode.commands.executeCommand('gascity.runs.focus');
    await driver({ kind: 'click', selector: rowSelector });
    await sleep(300);
    await driver({ kind: 'click', selector: `${rowSelector} .action-label[aria-label="Discard Run Worktree"]` });
    await driver({ kind: 'click', selector: `.quick-input-widget .monaco-list-row:has-text("Discard ${branch}")` });
    await eventually(() => api.model.worktreeOf(runId)?.state === 'discarded', 'the worktree is discarded', 60_000);
    assert.equal(git(root, 'rev-parse', 'HEAD'), before, 'no commit was added');
    assert.ok(!fs.existsSync(path.join(root, 'scratch.txt')), 'the run\'s file never reached the checkout');
    assert.equal(git(root, 'branch', '--list', branch), '');
    assert.ok(!git(root, 'worktree', 'list').includes(runId));
    await eventually(async () => String(await driver({ kind: 'text', selector: rowSelector })).includes(`${branch} · 1 file, +2 -0 · discarded`), 'the row says discarded');
    file = 'notes.txt';
  }, 240_000);

  test('Replay Variant shows its progress and can be cancelled; nothing stays claimed', async () => {
    const api = getApi();
    const root = workspaceRoot();
    await gitWorkspaceWithCodex(root);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gascity-e2e-replay-'));
    fs.writeFileSync(path.join(dir, `${REPLAY_FAMILY}.formula.toml`), REPLAY_FORMULA);
    await api.model.lineage.importFormulas(dir, 'e2e');
    const incumbent = api.model.lineage.family(REPLAY_FAMILY)?.activeVariantId;
    assert.ok(incumbent, 'the family has an active variant');
    // A past task of the incumbent: finished, with a task key and a person's verdict.
    const past = await api.model.lineage.formulas.startRunFromFormula({ family: REPLAY_FAMILY, taskKey: 'issue-1' });
    const claim = await api.model.ledger.claimNode({ worker: 'e2e', runId: past.runId });
    assert.ok(claim);
    await api.model.ledger.reportNode({ nodeId: claim.nodeId, worker: 'e2e', outcome: 'done', summary: 'tried' });
    assert.equal(await vscode.commands.executeCommand<boolean>('gascity.markRunResult', past.runId, false, 'the issue is still there'), true);
    const candidate = await vscode.commands.executeCommand<string | undefined>('gascity.mutateFormula', incumbent, [
      { op: 'set_retry', stepId: 'fix', retry: { max: 2, onExhausted: 'fail' } },
    ]);
    assert.ok(candidate, 'a candidate');

    // The model never answers, so the pair stays in progress until the person cancels it.
    mode = 'hang';
    const replaying = vscode.commands.executeCommand<ReplayReport | undefined>('gascity.replayVariant', candidate, 1);
    const replayRuns = (): string[] => api.model.ledger.listRuns({ limit: 50 }).filter((r) => r.taskKey === `replay:${past.runId}`).map((r) => r.id);
    await eventually(() => replayRuns().length === 2 && api.model.ledger.heldNodes().filter((n) => replayRuns().includes(n.runId)).length === 2,
      'both runs of the pair are claimed by the replay\'s controller', 120_000);
    await driver({ kind: 'screenshot', name: 'replay-progress' });
    // The notification center lists the progress notification whether or not its toast is on screen.
    await vscode.commands.executeCommand('notifications.showList');
    const toast = '.notifications-center .notification-list-item:has-text("Replaying")';
    await eventually(async () => /pair 1 of 1/.test(String(await driver({ kind: 'text', selector: toast }))), 'the notification counts the pair');
    await driver({ kind: 'click', selector: `${toast} .monaco-button:has-text("Cancel")` });
    const report = await replaying;
    assert.equal(report?.stop, 'cancelled', `the replay says it was cancelled (${report?.summary ?? 'no report'})`);
    const runs = replayRuns();
    assert.equal(runs.length, 2);
    await eventually(() => runs.every((r) => api.model.ledger.getRun(r)?.status === 'cancelled'), 'both replay runs are cancelled');
    assert.deepEqual(api.model.ledger.heldNodes().filter((n) => runs.includes(n.runId)), [], 'nothing stays claimed');
    const left = git(root, 'worktree', 'list');
    assert.ok(runs.every((r) => !left.includes(r)), `the throwaway worktrees are removed:\n${left}`);
    mode = 'write';
  }, 240_000);

  test('stops the scripted model', async () => {
    await model?.stop();
    model = undefined;
  });
}
