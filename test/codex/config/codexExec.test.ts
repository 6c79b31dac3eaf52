// What a person gets after "Register MCP Server with Codex" (or `gascity mcp register`) with the recommended
// approvals: the real `codex exec` (whose approval policy is "never": it cannot ask anyone) reads the config.toml our
// registration wrote, starts the stable copy of the server, and a scripted model on loopback calls a read tool, an
// ordinary write tool and a destructive one. The first two run; the destructive one is refused and writes nothing.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { approvalsFor, registerMcpServer } from '../../../src/codex/config/registration';
import { installServer } from '../../../src/codex/config/serverInstall';
import { tomlInline } from '../../../src/codex/config/toml';
import { FormulaService, openLedger } from '../../../src/ledger/index';
import { writeLedgerPointer } from '../../../src/ledger/location';
import { FORMULA_TOOLS, PROMOTION_TOOLS, WORKFLOW_TOOLS } from '../../../src/mcp/tools';
import { buildServer, SHIPPED_FORMULAS, tempDir } from '../../mcp/helpers';
import { CODEX_BIN, mockProviderConfig, parsedToolOutputs, ScriptedModel } from '../../support/scriptedModel';
import type { ModelStep, ParsedToolOutput } from '../../support/scriptedModel';

const FAMILY = 'implement-and-review';
let workspace = '';
let ledgerDir = '';
let stableScript = '';

before(async () => {
  // The extension copies dist/ into its global storage; here a temp folder stands in for it.
  const dist = path.dirname(buildServer());
  stableScript = installServer(dist, path.join(tempDir('gascity-global-storage-'), 'mcp-server')).script;
  workspace = tempDir('gascity-exec-ws-');
  ledgerDir = path.join(tempDir('gascity-exec-storage-'), 'ledger');
  const ledger = await openLedger(ledgerDir, { actor: 'test-setup' });
  await new FormulaService(ledger, { workspaceDir: workspace }).importFormulas(SHIPPED_FORMULAS);
  ledger.close();
  // As the extension does: the workspace points at its ledger, so the globally registered server finds it.
  writeLedgerPointer(workspace, ledgerDir);
});

/**
 * The model's turn: each call once it went through. `codex exec` does not wait for MCP servers before the first model
 * request, so a call made before the server is up comes back as "unsupported call"; like a real model, the script
 * tries it again (a few times at most).
 */
function script(all: ParsedToolOutput[]): ModelStep {
  const outputs = all.filter((o) => !o.raw.startsWith('unsupported call'));
  if (all.length - outputs.length > 20) return { say: 'The Gas City tools never became available.' };
  const steps: ModelStep[] = [
    { call: 'formula_list', args: {} },
    { call: 'workflow_start', args: { family: FAMILY, vars: { task: 'add a --json flag' } } },
    { call: 'formula_rollback', args: { family: FAMILY, reason: 'testing that it asks first' } },
  ];
  const step = steps[outputs.length];
  return step ? { ...step, namespace: 'mcp__gascity' } : { say: 'Done.' };
}

function execCodex(home: string, baseUrl: string): Promise<{ code: number | null; output: string }> {
  const overrides = Object.entries(mockProviderConfig(baseUrl)).flatMap(([k, v]) => ['-c', `${k}=${tomlInline(v)}`]);
  const child = spawn(CODEX_BIN, ['exec', '--skip-git-repo-check', '-C', workspace, ...overrides, 'Start a run, then roll the family back.'], {
    env: { ...process.env, CODEX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

/** Registers with `approvals` in a fresh CODEX_HOME, runs `codex exec` with the script, returns what the tools returned. */
async function execWith(approvals: ReturnType<typeof approvalsFor>): Promise<ParsedToolOutput[]> {
  const home = tempDir('gascity-exec-codex-home-');
  registerMcpServer({ command: process.execPath, serverScript: stableScript, approvals }, { codexHome: home, codex: CODEX_BIN });
  const model = new ScriptedModel((request) => script(parsedToolOutputs(request)));
  const baseUrl = await model.start();
  try {
    const { code, output } = await execCodex(home, baseUrl);
    assert.equal(code, 0, output.slice(-3000));
    const outputs = parsedToolOutputs(model.requests.at(-1)!).filter((o) => !o.raw.startsWith('unsupported call'));
    assert.equal(outputs.length, 3, output.slice(-3000));
    return outputs;
  } finally {
    await model.stop();
  }
}

const TOOLS = [...WORKFLOW_TOOLS, ...FORMULA_TOOLS, ...PROMOTION_TOOLS];

test('codex exec uses the approved read and write tools of a registration, and a destructive tool is refused', { timeout: 120_000 }, async () => {
  const [list, start, rollback] = await execWith(approvalsFor(TOOLS, 'write'));
  assert.ok((list!.json as { families?: unknown[] }).families?.length, `formula_list ran: ${list!.raw.slice(0, 300)}`);
  assert.ok((start!.json as { runId?: string }).runId, `workflow_start ran: ${start!.raw.slice(0, 300)}`);
  assert.equal(rollback!.json, undefined, 'the destructive tool returned nothing of ours');
  assert.match(rollback!.raw, /requires approval, but approval policy is never/, 'formula_rollback was refused for approval');

  // The ledger agrees: one run, and the family was not rolled back.
  const ledger = await openLedger(ledgerDir, { actor: 'test-check' });
  try {
    assert.equal(ledger.listRuns({ limit: 10 }).length, 1);
    const lineage = new FormulaService(ledger, { workspaceDir: workspace }).lineage(FAMILY);
    assert.ok(lineage);
    assert.equal(JSON.stringify(lineage).includes('testing that it asks first'), false, 'no rollback was recorded');
  } finally {
    ledger.close();
  }
});

test('with "only read tools", codex exec is refused the write tool too: Codex follows the settings written', { timeout: 120_000 }, async () => {
  const [list, start] = await execWith(approvalsFor(TOOLS, 'read'));
  assert.ok((list!.json as { families?: unknown[] }).families?.length, 'the read-only tool runs');
  assert.match(start!.raw, /requires approval, but approval policy is never/);
});
