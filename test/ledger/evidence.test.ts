// formula_evidence (src/ledger/evidence.ts) on a seeded ledger: the per-step figures a person or Codex
// reads before proposing a change, paging through history, a family's variants side by side, the
// migration's backfill, and hostile queries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LedgerError } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { backfillNodeAttribution, formulaEvidence } from '../../src/ledger/evidence';
import type { StepAttribution } from '../../src/ledger/evidence';
import { recordCheckedOutcome } from '../../src/ledger/outcome';
import { ledgerProjection } from '../../src/ledger/projection';
import { replay } from '../../src/ledger/store/store';
import { dumpTables, formulaWorkspace } from './helpers';


const FORMULA = `
name = "fix"
version = 1
[[steps]]
id = "plan"
instructions = "Plan."
[[steps]]
id = "code"
needs = ["plan"]
review = true
instructions = "Code."
[steps.retry]
max = 2
on_exhausted = "escalate"
[[steps]]
id = "test"
needs = ["code"]
instructions = "Test."

[[checks]]
id = "tests"
run = "npm test"
`;

async function world() {
  const { ledger, formulas } = await formulaWorkspace(FORMULA, 'gascity-evidence-');
  return { ledger, formulas, variant: formulas.getFamily('fix')!.activeVariantId! };
}

type Script = Record<string, Array<'done' | 'failed' | 'reject' | 'escalate-open'>>;

/**
 * Works one run: each node claims and reports as its script says, in order (a review node's "done" is
 * approved unless the next entry is "reject"; "escalate-open" opens the human gate an escalation put up).
 */
async function work(ledger: Ledger, runId: string, script: Script, tokens = 100): Promise<void> {
  const left: Script = Object.fromEntries(Object.entries(script).map(([k, v]) => [k, [...v]]));
  for (let guard = 0; guard < 100; guard++) {
    const g = ledger.runGraph(runId)!;
    if (g.run.status !== 'running') return;
    const review = g.nodes.find((n) => n.state === 'review');
    if (review) {
      const next = left[review.stepId]?.[0];
      if (next === 'reject') { left[review.stepId]!.shift(); await ledger.reviewNode({ nodeId: review.id, verdict: 'reject', note: 'not good enough' }); } else await ledger.reviewNode({ nodeId: review.id, verdict: 'approve' });
      continue;
    }
    const blocked = g.nodes.find((n) => n.state === 'blocked');
    if (blocked) {
      assert.equal(left[blocked.stepId]?.shift(), 'escalate-open', `script of ${blocked.stepId} expects the escalation`);
      await ledger.openGate({ nodeId: blocked.id, note: 'looked at it' });
      continue;
    }
    const claim = await ledger.claimNode({ runId, worker: 'w' });
    if (!claim) return;
    const step = ledger.getNode(claim.nodeId)!.stepId;
    const outcome = left[step]?.shift() ?? 'done';
    assert.ok(outcome === 'done' || outcome === 'failed', `a claim of ${step} reports done or failed, not ${outcome}`);
    await ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome, tokens, durationMs: 1000, summary: `${step} ${outcome}: attempt note` });
  }
}

const failing = { id: 'tests', kind: 'run', passed: false, summary: 'exited with code 1', subject: 'npm test', output: 'FAIL login.test.js\nexpected 200, got 500' };
const passing = { ...failing, passed: true, summary: 'exited with code 0', output: 'ok' };

function step(steps: readonly StepAttribution[], id: string): StepAttribution {
  const s = steps.find((x) => x.stepId === id);
  assert.ok(s, `step ${id} is listed`);
  return s;
}

test('per-step figures of a variant: attempts, failures, retries, interventions, review rejections, tokens, failing runs with check output', async () => {
  const w = await world();
  // Run 1: code fails once, then is rejected in review once, then passes; the checks pass.
  const r1 = (await w.formulas.startRunFromFormula({ family: 'fix', vars: {}, taskKey: 't1' })).runId;
  await work(w.ledger, r1, { code: ['failed', 'done', 'reject', 'done'] });
  await recordCheckedOutcome(w.ledger, r1, [passing]);
  // Run 2: code fails three times, its last attempt (escalated to a person, who opens it), then done; the model says done but the tests fail.
  const r2 = (await w.formulas.startRunFromFormula({ family: 'fix', vars: {}, taskKey: 't2' })).runId;
  await work(w.ledger, r2, { code: ['failed', 'failed', 'failed', 'escalate-open', 'done'] });
  await recordCheckedOutcome(w.ledger, r2, [failing]);
  // Run 3: clean, tests pass.
  const r3 = (await w.formulas.startRunFromFormula({ family: 'fix', vars: {}, taskKey: 't3' })).runId;
  await work(w.ledger, r3, {});
  await recordCheckedOutcome(w.ledger, r3, [passing]);

  const e = formulaEvidence(w.ledger, { variantId: w.variant });
  assert.equal(e.familyId, 'fix');
  assert.equal(e.activeVariantId, w.variant);
  const v = e.variants[0]!;
  assert.deepEqual(v.steps.map((s) => s.stepId), ['plan', 'code', 'test'], 'steps in the order they run');
  assert.deepEqual(
    { ...v.totals },
    { runs: 3, succeeded: 2, failed: 1, open: 0, reportedDone: 3, falseDone: 1, interventions: 1, reviewRejections: 1, tokens: 100 * 14, durationMs: 1000 * 14 },
  );
  const code = step(v.steps, 'code');
  // Attempts: run 1 made 3 (failed, rejected, done), run 2 made 4 (three failed, then done after the person), run 3 made 1.
  assert.deepEqual(
    { runs: code.runs, nodes: code.nodes, attempts: code.attempts, failures: code.failures, retries: code.retries, interventions: code.interventions, reviewRejections: code.reviewRejections, done: code.done, tokens: code.tokens },
    { runs: 3, nodes: 3, attempts: 8, failures: 5, retries: 5, interventions: 1, reviewRejections: 1, done: 3, tokens: 100 * 8 },
  );
  assert.equal(code.failureRate, 5 / 8);
  assert.equal(code.lastFailures.length, 2, 'the two runs whose code step failed');
  assert.match(code.lastFailures[0]!.summary, /^code /);
  const plan = step(v.steps, 'plan');
  assert.deepEqual([plan.attempts, plan.failures, plan.retries, plan.interventions, plan.failureRate], [3, 0, 0, 0, 0]);
  assert.equal(v.failingRuns.length, 1);
  const f = v.failingRuns[0]!;
  assert.equal(f.runId, r2);
  assert.equal(f.falseDone, true);
  assert.match(f.failedChecks[0]!, /check tests \(run\) failed: exited with code 1\n\$ npm test\nFAIL login.test.js/);
  assert.deepEqual(f.failedSteps.map((s) => [s.stepId, s.failures]), [['code', 3]]);

  // A mutation with a rationale: the child's steps say which ones its mutation changed, and the rationale is kept.
  const m = await w.formulas.mutateVariant({
    variantId: w.variant, proposedBy: 'codex', rationale: 'code failed 5 of 8 attempts; the failing run shows a login 500.',
    mutations: [{ op: 'edit_instructions', stepId: 'code', instructions: 'Run the login tests before reporting.' }],
  });
  const r4 = (await w.formulas.startRunFromFormula({ family: 'fix', variantId: m.variantId, vars: {}, taskKey: 't4' })).runId;
  await work(w.ledger, r4, {});
  const fam = formulaEvidence(w.ledger, { familyId: 'fix' });
  assert.deepEqual(fam.variants.map((x) => x.variantId), [m.variantId, w.variant], 'newest generation first');
  assert.deepEqual(step(fam.variants[0]!.steps, 'code').changedBy, ['edit_instructions']);
  assert.deepEqual(step(fam.variants[0]!.steps, 'plan').changedBy, []);
  assert.equal(fam.variants[0]!.rationale, 'code failed 5 of 8 attempts; the failing run shows a login 500.');
  assert.equal(w.formulas.lineage('fix')!.variants.find((x) => x.id === m.variantId)!.rationale, fam.variants[0]!.rationale, 'the lineage returns it too');
  assert.equal(fam.variants[1]!.rationale, null);

  // The counters the projection keeps equal those the migration's backfill recounts from the events.
  const before = w.ledger.sql.all('SELECT id, interventions, review_rejections FROM nodes ORDER BY rowid');
  const rebuilt = await replay(ledgerProjection, w.ledger.events(0, 1_000_000));
  rebuilt.run('UPDATE nodes SET interventions = 0, review_rejections = 0');
  for (const e2 of w.ledger.events(0, 1_000_000)) rebuilt.run('INSERT OR IGNORE INTO events(seq, ts, actor, kind, payload) VALUES (?, ?, ?, ?, ?)', [e2.seq, e2.ts, e2.actor, e2.kind, JSON.stringify(e2.payload)]);
  backfillNodeAttribution(rebuilt);
  assert.deepEqual(rebuilt.all('SELECT id, interventions, review_rejections FROM nodes ORDER BY rowid'), before);
  rebuilt.close();
  const again = await replay(ledgerProjection, w.ledger.events(0, 1_000_000));
  assert.deepEqual(dumpTables(again).nodes, dumpTables(w.ledger.sql).nodes, 'a replay builds the same per-node counters');
  again.close();
});

test('a long history is read a page at a time, and every page costs the same', async () => {
  const w = await world();
  for (let i = 0; i < 25; i++) {
    const r = (await w.formulas.startRunFromFormula({ family: 'fix', vars: {}, taskKey: `k${i}` })).runId;
    await work(w.ledger, r, i % 5 === 0 ? { test: ['failed'] } : {});
  }
  const seen: number[] = [];
  let before: number | undefined;
  let pages = 0;
  for (;;) {
    const v = formulaEvidence(w.ledger, { variantId: w.variant, runs: 10, before, failures: 0 }).variants[0]!;
    pages++;
    assert.ok(v.window.runs <= 10);
    seen.push(v.window.runs);
    assert.equal(step(v.steps, 'plan').runs, v.window.runs);
    if (v.window.nextBefore === null) break;
    before = v.window.nextBefore;
  }
  assert.deepEqual(seen, [10, 10, 5]);
  assert.equal(pages, 3);
  const all = formulaEvidence(w.ledger, { variantId: w.variant, runs: 1000 }).variants[0]!;
  assert.equal(step(all.steps, 'test').failures, 5);
  assert.equal(all.failingRuns.length, 5);
});

test('bad and hostile queries are refused at once, naming the field', async () => {
  const w = await world();
  const bad: Array<[unknown, string, RegExp]> = [
    [{}, 'variantId', /either a variant/],
    [{ variantId: w.variant, familyId: 'fix' }, 'variantId', /not both/],
    [{ variantId: 'v-nope' }, 'variantId', /no variant/],
    [{ familyId: 'nope' }, 'familyId', /no family/],
    [{ variantId: 'x'.repeat(1_000_000) }, 'variantId', /longer than 200/],
    [{ variantId: w.variant, runs: 1e9 }, 'runs', /at most 1000/],
    [{ variantId: w.variant, runs: -1 }, 'runs', /at least 1/],
    [{ variantId: w.variant, runs: 2.5 }, 'runs', /whole number/],
    [{ variantId: w.variant, before: 'yesterday' }, 'before', /number/],
    [{ variantId: w.variant, typo: 1 }, 'input', /typo/],
    [JSON.parse('{"variantId":"v","__proto__":{"runs":5}}'), '__proto__', /cannot be used as a key/],
    ['fix', 'input', /object/],
    [null, 'input', /object/],
  ];
  for (const [query, field, message] of bad) {
    const started = Date.now();
    assert.throws(() => formulaEvidence(w.ledger, query), (err: unknown) => {
      assert.ok(err instanceof LedgerError, String(err));
      assert.equal(err.field, field, `${JSON.stringify(query)?.slice(0, 80)}: ${err.message}`);
      assert.match(err.message, message);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
  }
  await assert.rejects(w.formulas.mutateVariant({ variantId: w.variant, rationale: 'x'.repeat(5000), mutations: [{ op: 'edit_instructions', stepId: 'plan', instructions: 'P.' }] }),
    (err: unknown) => err instanceof LedgerError && err.field === 'rationale' && /4000/.test(err.message));
  await assert.rejects(w.formulas.mutateVariant({ variantId: w.variant, rationale: '   ', mutations: [{ op: 'edit_instructions', stepId: 'plan', instructions: 'P.' }] }),
    (err: unknown) => err instanceof LedgerError && err.field === 'rationale');
  assert.equal(w.formulas.listVariants('fix').length, 1, 'nothing was written');
});
