// The shipped evolve-formula end to end: a controller dispatches its steps to the real Codex CLI, whose
// scripted model reads formula_evidence through our MCP server (registered in the thread's config, as a
// person's Codex would have it), proposes one mutation of the failing step with a rationale citing the
// figures through formula_mutate, and starts a screen. The model decides from what the tools answer:
// the step it targets and the figures in its rationale come from formula_evidence, not from the test.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordCheckedOutcome } from '../../src/ledger/outcome';
import type { Ledger } from '../../src/ledger/index';
import { parsedToolOutputs, messages } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { cleanup, nodeOf, setup } from '../controller/helpers';
import { buildServer, REPO } from './helpers';

after(cleanup);

const FIX = `
name = "fix"
version = 1
[vars.task]
required = true
[[steps]]
id = "plan"
instructions = "Plan {{task}}."
[[steps]]
id = "code"
needs = ["plan"]
instructions = "Write the code for {{task}}."
[[steps]]
id = "test"
needs = ["code"]
instructions = "Run npm test and fix what fails."
[steps.retry]
max = 1
on_exhausted = "fail"

[[checks]]
id = "tests"
run = "npm test"
`;

const CHECK_OUTPUT = 'FAIL test/login.test.js\n  POST /login returns 500: session store not configured';

interface Evidence {
  variants: Array<{ variantId: string; steps: Array<{ stepId: string; attempts: number; failures: number; retries: number }>; failingRuns: Array<{ failedChecks: string[] }> }>;
}

/** Works one run of `fix` by hand, as a worker would: `test` fails both attempts in a failing run; then the checks decide. */
async function seedRun(ledger: Ledger, runId: string, fails: boolean): Promise<void> {
  for (;;) {
    const claim = await ledger.claimNode({ runId, worker: 'seed' });
    if (!claim) break;
    const step = ledger.getNode(claim.nodeId)!.stepId;
    const failed = fails && step === 'test';
    await ledger.reportNode({ nodeId: claim.nodeId, worker: 'seed', outcome: failed ? 'failed' : 'done', summary: failed ? 'npm test: POST /login returns 500' : `${step} done`, tokens: 500 });
  }
  const results = [{ id: 'tests', kind: 'run', passed: !fails, summary: fails ? 'exited with code 1' : 'exited with code 0', subject: 'npm test', output: fails ? CHECK_OUTPUT : 'ok' }];
  await recordCheckedOutcome(ledger, runId, results);
}

/** The step of the family that fails most per attempt, by the figures formula_evidence returned. */
function worstStep(e: Evidence) {
  const steps = e.variants[0]!.steps.filter((s) => s.attempts > 0);
  return steps.reduce((a, b) => (b.failures / b.attempts > a.failures / a.attempts ? b : a));
}

const seen: Record<string, ResponsesRequest[]> = {};

/** The model: plays each of evolve-formula's steps from its thread's tool outputs. */
function script(request: ResponsesRequest): ModelStep {
  const nodeId = nodeOf(request);
  const step = nodeId.slice(nodeId.indexOf('.') + 1);
  (seen[step] ??= []).push(request);
  const outs = parsedToolOutputs(request);
  const mcp = (call: string, args: Record<string, unknown>): ModelStep => ({ call, args, namespace: 'mcp__gascity' });
  const report = (summary: string): ModelStep => ({ call: 'report_result', args: { outcome: 'done', summary } });
  if (step === 'read-evidence') {
    if (outs.length === 0) return mcp('formula_evidence', { family: 'fix' });
    if (outs.length === 1) {
      const w = worstStep(outs[0]!.json as Evidence);
      return report(`${w.stepId}: ${w.failures} failures in ${w.attempts} attempts, ${w.retries} retries`);
    }
  }
  if (step === 'propose') {
    if (outs.length === 0) return mcp('formula_evidence', { family: 'fix' });
    if (outs.length === 1) return mcp('formula_view', { family: 'fix', diff: false });
    if (outs.length === 2) {
      const e = outs[0]!.json as Evidence;
      const w = worstStep(e);
      const view = outs[1]!.json as { variant: { id: string } };
      const check = e.variants[0]!.failingRuns[0]!.failedChecks[0]!.split('\n').slice(-1)[0]!.trim();
      return mcp('formula_mutate', {
        variantId: view.variant.id, summary: `configure the session store before ${w.stepId}`,
        rationale: `${w.stepId} failed ${w.failures} of ${w.attempts} attempts (${w.retries} retries); the failing checks say: ${check}`,
        mutations: [{ op: 'edit_instructions', stepId: w.stepId, instructions: 'Configure the session store (see config/session.js), then run npm test and fix what fails.' }],
      });
    }
    if (outs.length === 3) return report(`proposed ${(outs[2]!.json as { variantId: string }).variantId}`);
  }
  if (step === 'screen') {
    if (outs.length === 0) return mcp('lineage_view', { family: 'fix' });
    if (outs.length === 1) {
      const candidate = (outs[0]!.json as { variants: Array<{ id: string; status: string }> }).variants.find((v) => v.status === 'candidate')!;
      return mcp('formula_select', { variantId: candidate.id, stage: 'screen' });
    }
    if (outs.length === 2) return report(`screen ${(outs[1]!.json as { id?: string; trialId?: string }).id ?? ''}`);
  }
  return { say: `Finished ${step}.` };
}

test('evolve-formula proposes a valid mutation of the failing step from a failing history, with its rationale, and starts a screen', { timeout: 240_000 }, async () => {
  const server = buildServer();
  const s = await setup({ fix: FIX, 'evolve-formula': fs.readFileSync(path.join(REPO, 'formulas', 'evolve-formula.formula.toml'), 'utf8') }, script);
  const active = s.formulas.getFamily('fix')!.activeVariantId!;
  // The history: four runs whose test step failed twice and whose checks failed, two that passed.
  for (let i = 0; i < 6; i++) {
    const { runId } = await s.formulas.startRunFromFormula({ family: 'fix', vars: { task: `task ${i}` }, taskKey: `t${i}` });
    await seedRun(s.ledger, runId, i < 4);
  }
  const { runId } = await s.formulas.startRunFromFormula({ family: 'evolve-formula', vars: { family: 'fix' } });
  const c = await s.controller({
    runIds: [runId],
    threadConfig: { 'mcp_servers.gascity': { command: process.execPath, args: [server, '--ledger', s.ledgerDir, '--workspace', s.workspace], default_tools_approval_mode: 'approve' } },
    requireMcpServers: ['gascity'],
  });
  const [run] = await c.waitForRuns([runId]);
  assert.equal(run!.status, 'done', JSON.stringify(s.ledger.runGraph(runId)!.nodes.map((n) => [n.stepId, n.state, n.result])));

  // The formula's own words told the model to read the evidence.
  const first = seen['read-evidence']![0]!;
  assert.match(`${messages(first, 'developer')}\n${messages(first, 'user')}`, /Call the MCP tool formula_evidence with \{"family": "fix"\}/);

  // One new candidate, one generation on, changing the step the evidence blamed, with the figures in its rationale.
  const variants = s.formulas.listVariants('fix');
  const candidate = variants.find((v) => v.id !== active)!;
  assert.equal(variants.length, 2);
  assert.deepEqual(candidate.parents, [active]);
  assert.deepEqual((candidate.mutation as { ops: Array<{ op: string; stepId: string }> }).ops.map((o) => [o.op, o.stepId]), [['edit_instructions', 'test']]);
  assert.equal(candidate.rationale, 'test failed 8 of 10 attempts (4 retries); the failing checks say: POST /login returns 500: session store not configured');
  assert.equal(s.formulas.lineage('fix')!.variants.find((v) => v.id === candidate.id)!.rationale, candidate.rationale);
  // A screen of it is open, and nothing was promoted by hand.
  const trial = s.promotion.liveTrialOf('fix');
  assert.deepEqual([trial?.candidateId, trial?.stage], [candidate.id, 'screen']);
  assert.equal(s.formulas.getFamily('fix')!.activeVariantId, active);
  assert.match(s.ledger.runGraph(runId)!.nodes.find((n) => n.stepId === 'read-evidence')!.result ?? '', /^test: 8 failures in 10 attempts, 4 retries$/);
});
