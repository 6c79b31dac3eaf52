// Ground truth end to end: real Codex CLI, a scripted model that reports every node done, and a
// formula whose checks decide the outcome. A failing check overrides the model's "done"; a passing one
// gives success; `gascity show` prints why.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { bundle } from '../ledger/storeBundle';
import { cleanup, setup, workerScript } from './helpers';

after(cleanup);

const formula = (name: string, checks: string): string => `
name = "${name}"
version = 1
[vars.target]
default = "fixed.txt"
[[steps]]
id = "edit"
instructions = "Fix the bug."
[[steps]]
id = "verify"
needs = ["edit"]
instructions = "Run the tests."
${checks}`;

const CLAIMS_DONE = formula('claims-done', `
[[checks]]
id = "tests"
run = 'node -e "console.log(\\"1 failing: login returns 500\\"); process.exit(1)"'

[[checks]]
id = "artifact"
file_exists = "fixed.txt"
`);

const REALLY_DONE = formula('really-done', `
[[checks]]
id = "tests"
run = "node -e \\"require('fs').writeFileSync('checked.txt', process.argv[1])\\" {{target}}"

[[checks]]
id = "artifact"
file_exists = "fixed.txt"
`);

test('a check overrides the model\'s false "done": the run ends as a failure with the checks\' output and a false_done row', { timeout: 120_000 }, async () => {
  const s = await setup({ 'claims-done': CLAIMS_DONE, 'really-done': REALLY_DONE }, workerScript());
  fs.writeFileSync(path.join(s.workspace, 'fixed.txt'), 'yes\n');
  const lied = await s.formulas.startRunFromFormula({ family: 'claims-done', vars: {} });
  const honest = await s.formulas.startRunFromFormula({ family: 'really-done', vars: { target: "it's fixed" } });
  const c = await s.controller();
  const [a, b] = await c.waitForRuns([lied.runId, honest.runId]);

  // The model reported every node done in both runs; only the checks tell them apart.
  for (const runId of [lied.runId, honest.runId]) {
    assert.deepEqual(s.ledger.runGraph(runId)!.nodes.map((n) => n.state), ['done', 'done']);
  }
  assert.deepEqual([a!.status, a!.outcome], ['done', 'failure']);
  assert.deepEqual([b!.status, b!.outcome], ['done', 'success']);

  // Each turn's tokens are evidence too; the rest is the checks' verdict, in the order written.
  const rows = s.ledger.evidence({ runId: lied.runId }).reverse().filter((e) => e.kind !== 'tokens');
  assert.deepEqual(rows.map((e) => [e.kind, e.success, e.actor]), [
    ['check', false, 'controller'], ['check', true, 'controller'], ['model_report', true, 'controller'], ['false_done', false, 'controller'], ['run_outcome', false, 'controller'],
  ]);
  assert.match(rows[0]!.note, /^check tests \(run\) failed: exited with code 1 after \d+\.\d s \(expected 0\)\n\$ node -e .*\n1 failing: login returns 500\n$/);
  assert.ok(rows.every((e) => e.variantId === a!.variantId));
  // The honest run's command ran in the workspace with its variable quoted.
  assert.equal(fs.readFileSync(path.join(s.workspace, 'checked.txt'), 'utf8'), "it's fixed");
  assert.deepEqual(s.ledger.evidence({ runId: honest.runId }).reverse().map((e) => e.kind).filter((k) => k !== 'tokens'), ['check', 'check', 'model_report', 'run_outcome']);

  // A person sees why it failed.
  await c.stop();
  const cli = await bundle('src/cli/main.ts');
  const shown = spawnSync(process.execPath, [cli, '--ledger', s.ledgerDir, '--workspace', s.workspace, 'show', lied.runId], { encoding: 'utf8' });
  assert.equal(shown.status, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^${lied.runId} done \\(failure\\) `));
  assert.match(shown.stdout, /check: check tests \(run\) failed: exited with code 1.*\n {4}\$ node -e .*\n {4}1 failing: login returns 500/);
  assert.match(shown.stdout, /false_done: the model reported the run done, but 1 of 2 checks failed: tests/);
});

test('a run gate waits for the checks of the run it awaits: a model\'s false "done" there fails the gated node', { timeout: 120_000 }, async () => {
  const formulas = {
    build: `name = "build"
version = 1
[[steps]]
id = "compile"
instructions = "Compile."

[[checks]]
id = "binary"
file_exists = "out/app"
`,
    release: `name = "release"
version = 1
[[steps]]
id = "ship"
instructions = "Ship."
[steps.gate]
kind = "run"
formula = "build"
`,
  };
  const s = await setup(formulas, workerScript());
  const { runId } = await s.formulas.startRunFromFormula({ family: 'release', vars: {} });
  const c = await s.controller({ runIds: [runId] });
  const [run] = await c.waitForRuns([runId]);
  // The gate forgets the run once it failed (a new attempt would start another); the ledger keeps it.
  const [awaited] = s.ledger.listRuns({ familyId: 'build' });
  assert.ok(awaited);
  const awaitedId = awaited.id;
  assert.deepEqual([awaited.status, awaited.outcome], ['done', 'failure'], 'the model said done; out/app is missing');
  assert.equal(s.ledger.events(0).some((e) => e.kind === 'node.gate_opened'), false, 'the gate never opened');
  assert.equal(run!.status, 'failed');
  assert.match(s.ledger.getNode(`${runId}.ship`)!.result ?? '', new RegExp(`${awaitedId}, ended done \\(failure\\)`));
});
