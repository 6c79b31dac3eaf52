// A hostile user at the built MCP server (dist/mcp.js over stdio, as Codex starts it): calls that must be
// refused by name with nothing written.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FormulaService, PromotionService, openLedger } from '../../src/ledger/index';
import { REPO, SHIPPED_FORMULAS, tempDir, textOf } from './helpers';

let DIST = '';
let workspace = '';
let ledgerDir = '';
let client: Client;
let candidate = '';

before(async () => {
  const built = spawnSync(process.execPath, ['esbuild.mjs'], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`node esbuild.mjs failed: ${built.stderr}`);
  // A private copy of the server and the CLI it starts replays with, so another build cannot swap them.
  DIST = tempDir('gascity-mcp-hostile-dist-');
  for (const file of ['mcp.js', 'cli.js', 'sql-wasm.wasm']) fs.copyFileSync(path.join(REPO, 'dist', file), path.join(DIST, file));
  workspace = tempDir('gascity-mcp-hostile-ws-');
  ledgerDir = path.join(workspace, '.gascity', 'ledger');
  const ledger = await openLedger(ledgerDir, { actor: 'test' });
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  await formulas.importFormulas(SHIPPED_FORMULAS);
  ledger.close();
  const transport = new StdioClientTransport({
    command: process.execPath, args: [path.join(DIST, 'mcp.js'), '--ledger', ledgerDir, '--workspace', workspace],
    env: { ...getDefaultEnvironment(), GASCITY_CODEX_PATH: '/nonexistent/codex' }, stderr: 'ignore',
  });
  client = new Client({ name: 'hostile', version: '0.0.0' });
  await client.connect(transport);
  const mutated = await call('formula_mutate', { variantId: 'v-7ecaea40', mutations: [{ op: 'edit_instructions', stepId: 'plan', instructions: 'Plan in one line.' }], rationale: 'shorter plans' });
  assert.equal(mutated.isError, undefined, textOf(mutated));
  candidate = (mutated.structuredContent as { variantId: string }).variantId;
});

after(async () => {
  await client?.close();
});

async function call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

/** The error's field, from the structured error the server puts in the text. */
function fieldOf(r: CallToolResult): string | undefined {
  const m = /"field":"([^"]*)"/.exec(textOf(r));
  return m?.[1];
}

test('formula_replay of a candidate whose incumbent has no past task refuses by name and opens no screen trial', async () => {
  const r = await call('formula_replay', { variantId: candidate });
  assert.equal(r.isError, true, textOf(r));
  assert.equal(fieldOf(r), 'variantId');
  assert.match(textOf(r), /the incumbent v-7ecaea40 of implement-and-review has no finished past run with a task key to replay, so no screen trial was opened/);
  const ledger = await openLedger(ledgerDir, { actor: 'test' });
  try {
    const promotion = new PromotionService(ledger, new FormulaService(ledger, { workspaceDir: workspace }));
    assert.equal(promotion.liveTrialOf('implement-and-review'), undefined, 'no trial was opened');
    promotion.dispose();
  } finally {
    ledger.close();
  }
  // A second candidate of the family can still be screened: nothing was left open that blocks it.
  const other = await call('formula_mutate', { variantId: 'v-7ecaea40', mutations: [{ op: 'edit_instructions', stepId: 'plan', instructions: 'Plan in two lines.' }], rationale: 'r' });
  assert.equal(other.isError, undefined, textOf(other));
  const again = await call('formula_replay', { variantId: (other.structuredContent as { variantId: string }).variantId });
  assert.doesNotMatch(textOf(again), /has a open trial|decide it first/);
});

test('formula_evidence with neither or both of variantId and family names only fields the tool has', async () => {
  for (const args of [{}, { variantId: candidate, family: 'implement-and-review' }]) {
    const r = await call('formula_evidence', args);
    assert.equal(r.isError, true);
    assert.equal(fieldOf(r), 'variantId');
    assert.doesNotMatch(textOf(r), /familyId/, 'the tool has no field familyId');
    assert.match(textOf(r), /name either a variant or a family, not both or neither/);
  }
});

test('names and claim globs with text-direction controls (Trojan Source) are refused by field, nothing written', async () => {
  const started = await call('workflow_start', { title: 'bidi', nodes: [{ key: 'a', title: 'A' }] });
  assert.equal(started.isError, undefined, textOf(started));
  const runId = (started.structuredContent as { runId: string }).runId;
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['blackboard_write', { runId, kind: 'finding', author: 'w1\u202eevil', title: 't' }, 'author'],
    ['blackboard_write', { runId, kind: 'claim', author: 'w1', title: 't', paths: ['src/\u202esj.**'] }, 'paths.0'],
    ['blackboard_write', { runId, kind: 'finding', author: '\u2067w1', title: 't' }, 'author'],
    ['coalition', { action: 'form', runId, name: 'c', members: ['w1', 'w2\u200f'] }, 'members.1'],
    ['mail_send', { from: 'me', toKind: 'person', to: 'boss\u202e', body: 'hi' }, 'to'],
    ['mail_send', { from: 'me\u0085', toKind: 'person', to: 'boss', body: 'hi' }, 'from'],
  ];
  for (const [name, args, field] of cases) {
    const r = await call(name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${textOf(r)}`);
    assert.equal(fieldOf(r), field, textOf(r));
    assert.match(textOf(r), /control or text-direction character/);
  }
  const board = await call('blackboard_read', { runId, history: true });
  assert.deepEqual((board.structuredContent as { entries: unknown[] }).entries, [], 'nothing was written');
  const plain = await call('blackboard_write', { runId, kind: 'finding', author: 'w1', title: 'ünïcödé 💥 names are fine' });
  assert.equal(plain.isError, undefined, textOf(plain));
});

test('a second replay of a candidate while one runs is refused (MCP and CLI), so the screen never counts a task twice', async () => {
  // A family of one step whose incumbent has one finished past task, written through a second ledger handle.
  const formulasDir = tempDir('gascity-mcp-hostile-formulas-');
  fs.writeFileSync(path.join(formulasDir, 'one.formula.toml'), 'name = "one"\nversion = 1\n[[steps]]\nid = "s"\ninstructions = "Do it."\n');
  const ledger = await openLedger(ledgerDir, { actor: 'test' });
  let candidateId: string;
  try {
    const formulas = new FormulaService(ledger, { workspaceDir: workspace });
    await formulas.importFormulas(formulasDir);
    const past = await formulas.startRunFromFormula({ family: 'one', vars: {}, taskKey: 'task-1' });
    await ledger.claimNode({ nodeId: past.nodeIds[0], worker: 'w' });
    await ledger.reportNode({ nodeId: past.nodeIds[0], worker: 'w', outcome: 'done', summary: 'done' });
    assert.equal(ledger.getRun(past.runId)?.outcome, 'success');
    const incumbent = formulas.getFamily('one')!.activeVariantId!;
    const mutated = await call('formula_mutate', { variantId: incumbent, mutations: [{ op: 'edit_instructions', stepId: 's', instructions: 'Do it well.' }], rationale: 'r' });
    assert.equal(mutated.isError, undefined, textOf(mutated));
    candidateId = (mutated.structuredContent as { variantId: string }).variantId;
  } finally {
    ledger.close();
  }
  // This test's own process stands for a replay that is running: the lock names a live process.
  const locks = path.join(workspace, '.gascity', 'replays');
  fs.mkdirSync(locks, { recursive: true });
  const lock = path.join(locks, `${candidateId}.lock`);
  fs.writeFileSync(lock, String(process.pid));
  const refused = await call('formula_replay', { variantId: candidateId });
  assert.equal(refused.isError, true, textOf(refused));
  assert.equal(fieldOf(refused), 'variantId');
  assert.match(textOf(refused), new RegExp(`a replay of ${candidateId} is already running \\(process ${process.pid}\\)`));
  const cli = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), '--ledger', ledgerDir, '--workspace', workspace, 'replay', candidateId],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GASCITY_CODEX_PATH: '/nonexistent/codex' } });
  assert.equal(cli.status, 2, cli.stdout);
  assert.match(cli.stderr, new RegExp(`VARIANT: a replay of ${candidateId} is already running \\(process ${process.pid}\\)`));
  assert.doesNotMatch(cli.stderr, /Codex app-server/, 'refused before Codex is started');
  // A lock left by a process that is gone does not hold the candidate back.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  fs.writeFileSync(lock, gone.stdout);
  const started = await call('formula_replay', { variantId: candidateId, tasks: 1 });
  assert.equal(started.isError, undefined, textOf(started));
  assert.equal((started.structuredContent as { started: boolean }).started, true);
});

test('a write tool sees what another process wrote just before (formula_mutate of a variant the CLI just imported)', async () => {
  const formulasDir = tempDir('gascity-mcp-hostile-formulas-');
  fs.writeFileSync(path.join(formulasDir, 'two.formula.toml'), 'name = "two"\nversion = 1\n[[steps]]\nid = "s"\ninstructions = "Do it."\n');
  const cliImport = spawnSync(process.execPath, [path.join(DIST, 'cli.js'), '--ledger', ledgerDir, '--workspace', workspace, 'import', formulasDir], { encoding: 'utf8' });
  assert.equal(cliImport.status, 0, cliImport.stderr);
  const families = JSON.parse(spawnSync(process.execPath, [path.join(DIST, 'cli.js'), '--ledger', ledgerDir, '--workspace', workspace, '--json', 'families'], { encoding: 'utf8' }).stdout) as Array<{ id: string; activeVariantId: string }>;
  const two = families.find((f) => f.id === 'two')!.activeVariantId;
  // No read tool in between: the write tool itself must look at the ledger first.
  const mutated = await call('formula_mutate', { variantId: two, mutations: [{ op: 'edit_instructions', stepId: 's', instructions: 'Do it twice.' }], rationale: 'r' });
  assert.equal(mutated.isError, undefined, textOf(mutated));
  assert.equal((mutated.structuredContent as { familyId: string }).familyId, 'two');
});

test('with no controller running, a round past its deadline lapses and frees its node; a cancelled run\'s round takes no bid', async () => {
  const started = await call('workflow_start', { title: 'rounds', nodes: [{ key: 'a', title: 'A' }, { key: 'b', title: 'B' }] });
  const { runId, nodeIds: [a, b] } = started.structuredContent as { runId: string; nodeIds: string[] };
  const round = await call('node_announce', { nodeId: a, announcedBy: 'lead', deadlineSeconds: 1, quorum: 3 });
  assert.equal(round.isError, undefined, textOf(round));
  const roundId = (round.structuredContent as { id: string }).id;
  // Wait on the condition (the deadline passing), not on a fixed time: until then the node is held for bids.
  const until = Date.now() + 30_000;
  let claim: CallToolResult;
  for (;;) {
    claim = await call('node_claim', { nodeId: a, worker: 'solo' });
    if (!claim.isError) break;
    assert.match(textOf(claim), /is announced for bids/, 'refused only while the round is open');
    assert.ok(Date.now() < until, `node ${a} was never freed: ${textOf(claim)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const view = await call('bids_view', { roundId });
  assert.equal((view.structuredContent as { rounds: Array<{ status: string }> }).rounds[0]!.status, 'lapsed');
  const late = await call('bid_submit', { roundId, bidder: 'late', cost: 5, confidence: 0.9 });
  assert.equal(late.isError, true);
  assert.match(textOf(late), /closed \(lapsed\)/);

  const open = await call('node_announce', { nodeId: b, announcedBy: 'lead', deadlineSeconds: 600, quorum: 3 });
  const openId = (open.structuredContent as { id: string }).id;
  assert.equal((await call('workflow_cancel', { runId })).isError, undefined);
  const bid = await call('bid_submit', { roundId: openId, bidder: 'w', cost: 5, confidence: 0.9 });
  assert.equal(bid.isError, true, textOf(bid));
  assert.equal(fieldOf(bid), 'roundId');
  assert.match(textOf(bid), new RegExp(`run ${runId} is cancelled; round ${openId} takes no more bids`));
  const bids = await call('bids_view', { roundId: openId });
  assert.deepEqual((bids.structuredContent as { rounds: Array<{ bids: unknown[] }> }).rounds[0]!.bids, [], 'nothing was written');
});
