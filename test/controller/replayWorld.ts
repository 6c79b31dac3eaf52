// The replay lab's sample world: a git repository whose test fails, a formula whose one step never
// fixes it (the model says "done"; the check says failure), the incumbent's past tasks, and a
// candidate whose added step makes the scripted model fix the bug with Codex's exec_command.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPolicy } from '../../src/ledger/promotion/index';
import type { EvolutionPolicy } from '../../src/ledger/promotion/index';
import { messages, toolOutputs } from '../support/scriptedModel';
import type { ModelStep, ResponsesRequest } from '../support/scriptedModel';
import { gitIn, gitRepo } from './git';
import { nodeOf, setup } from './helpers';
import type { Setup } from './helpers';

const FIX_BUG = `name = "fix-bug"
version = 1
[vars.issue]
default = "add(2, 3) is not 5"
[[steps]]
id = "investigate"
instructions = "Read the failing test and say what is wrong: {{issue}}."

[[checks]]
id = "tests"
run = "node test.js"
timeout_seconds = 30
`;

export const REPO_FILES = {
  'calc.js': 'exports.add = (a, b) => a - b;\n',
  'test.js': "const { add } = require('./calc');\nif (add(2, 3) !== 5) { console.log('1 failing: add(2, 3) should be 5, got ' + add(2, 3)); process.exit(1); }\nconsole.log('all passing');\n",
  '.gitignore': '.gascity/ledger/\n',
};

/** The step the candidate adds: when the model sees it, it fixes calc.js with Codex's shell. */
const APPLY_FIX = 'APPLY THE FIX: change calc.js so that add returns a + b, then run the tests.';

/** Set `hangOnFix` to make the model never answer on the APPLY THE FIX step (a turn that runs forever). */
export const modelSwitches = { hangOnFix: false };

/** The worker model: reports every node done; on the APPLY THE FIX step it first runs the fix in its cwd. */
function model(request: ResponsesRequest): ModelStep {
  const nodeId = nodeOf(request);
  const fixing = `${messages(request, 'developer')}\n${messages(request, 'user')}`.includes('APPLY THE FIX');
  if (fixing && modelSwitches.hangOnFix) return { hang: true };
  const outputs = toolOutputs(request);
  if (fixing && outputs.length === 0) return { call: 'exec_command', args: { cmd: "sed -i 's/a - b/a + b/' calc.js && node test.js" } };
  if (outputs.length === (fixing ? 1 : 0)) return { call: 'report_result', args: { outcome: 'done', summary: `finished ${nodeId}` }, usage: { input: 100, output: 20 } };
  return { say: `Reported ${nodeId}.` };
}

/**
 * The default policy with two changes for a test: a screen may decide after three pairs, and the
 * wall-time guardrail is off (a loaded machine's seconds say nothing about the formula). The added
 * step costs a second turn, so the token guardrail allows three times the tokens.
 */
function testPolicy(): EvolutionPolicy {
  const p = defaultPolicy();
  p.stages.screen.minPairs = 3;
  p.guardrails.tokensPerRun = { enabled: true, kind: 'relative', maxIncrease: 3 };
  p.guardrails.durationPerRun = { enabled: false, kind: 'relative', maxIncrease: 0.25 };
  return p;
}

/** Runs the CLI bundle as a child process without blocking this one (the scripted model answers from here). */
export function runCli(cli: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

export const THREAD = { approvalPolicy: 'never', sandbox: 'workspace-write' } as const;

/** A repository, the incumbent's past tasks (all failing their check), and a candidate with the fixing step. */
export async function world(pastTasks: number): Promise<{ s: Setup; base: string; past: string[]; candidate: string; incumbent: string }> {
  const s = await setup({ 'fix-bug': FIX_BUG }, model);
  const base = gitRepo(s.workspace, REPO_FILES);
  const incumbent = s.formulas.listFamilies().find((f) => f.id === 'fix-bug')!.activeVariantId!;
  const past: string[] = [];
  for (let i = 1; i <= pastTasks; i++) {
    past.push((await s.formulas.startRunFromFormula({ family: 'fix-bug', vars: { issue: `report #${i}: add(2, 3) is not 5` }, taskKey: `issue-${i}` })).runId);
  }
  const c = await s.controller({ threadParams: THREAD });
  await c.waitForRuns(past);
  await c.stop();
  for (const r of past) assert.deepEqual([s.ledger.getRun(r)!.status, s.ledger.getRun(r)!.outcome], ['done', 'failure'], 'the incumbent never fixes the bug');
  // A later commit on main: replays must still run at the past runs' base commit.
  fs.writeFileSync(path.join(s.workspace, 'NOTES.md'), 'later work\n');
  gitIn(s.workspace, 'add', 'NOTES.md');
  gitIn(s.workspace, 'commit', '-q', '-m', 'later');
  const m = await s.formulas.mutateVariant({
    variantId: incumbent, proposedBy: 'test',
    mutations: [{ op: 'add_step', step: { id: 'apply-fix', instructions: APPLY_FIX, needs: ['investigate'] }, after: 'investigate' }],
  });
  await s.promotion.setPolicy('fix-bug', testPolicy());
  return { s, base, past, candidate: m.variantId, incumbent };
}
