import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormulaService, openLedger } from '../../src/ledger/index';
import type { Ledger } from '../../src/ledger/index';
import { formulaEvidence } from '../../src/ledger/evidence';
import { evidenceReport } from '../../src/extension/evidenceReport';
import { toLineageGraph } from '../../src/extension/viewModel';
import { heatStrip } from '../../src/webview/elements';
import { isLineageGraph } from '../../src/shared/protocol';
import { tempDir } from '../ledger/helpers';

const FORMULA = `
name = "fix"
version = 1
[[steps]]
id = "plan"
instructions = "Plan."
[[steps]]
id = "code"
needs = ["plan"]
instructions = "Code."
[steps.retry]
max = 3
[[steps]]
id = "test"
needs = ["code"]
instructions = "Test."
`;

let ledger: Ledger;
let dir: string;
after(() => {
  ledger.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One run of the variant: `code` fails `codeFailures` times before it is done; the other steps are done at once. */
async function run(formulas: FormulaService, variantId: string, codeFailures: number, key: string): Promise<void> {
  const { runId } = await formulas.startRunFromFormula({ family: 'fix', variantId, vars: {}, taskKey: key });
  let failures = codeFailures;
  for (let guard = 0; guard < 20; guard++) {
    const claim = await ledger.claimNode({ runId, worker: 'w' });
    if (!claim) return;
    const failing = claim.nodeId.endsWith('.code') && failures-- > 0;
    await ledger.reportNode({ nodeId: claim.nodeId, worker: 'w', outcome: failing ? 'failed' : 'done', summary: failing ? 'login test | 500' : 'ok', tokens: 1000 });
  }
}

test('the Formula Evidence report and the lineage show each step\'s heat, the steps a mutation changed, and its rationale', async () => {
  dir = tempDir('gascity-evidence-view-');
  fs.mkdirSync(path.join(dir, 'formulas'));
  fs.writeFileSync(path.join(dir, 'formulas', 'fix.formula.toml'), FORMULA);
  ledger = await openLedger(path.join(dir, 'ledger'), { actor: 'test' });
  const formulas = new FormulaService(ledger, { workspaceDir: dir });
  await formulas.importFormulas(path.join(dir, 'formulas'));
  const root = formulas.getFamily('fix')!.activeVariantId!;
  await run(formulas, root, 2, 't1');
  await run(formulas, root, 0, 't2');
  const m = await formulas.mutateVariant({
    variantId: root, proposedBy: 'codex', rationale: 'code failed 2 of 4 attempts on the login test',
    mutations: [{ op: 'edit_instructions', stepId: 'code', instructions: 'Run the login tests before reporting.' }],
  });
  await run(formulas, m.variantId, 0, 't3');

  const evidence = formulaEvidence(ledger, { familyId: 'fix' });
  const report = evidenceReport(evidence);
  assert.match(report, /^# Formula evidence: fix/);
  // The root: code failed 2 of 4 attempts (50 %, the hottest band); plan and test never failed.
  assert.match(report, /\| ▇ \| code \(`code`\) \| 2 \/ 4 \(50%\) \| 2 \| 4,000 \| {2}\|/);
  assert.match(report, /\| ▁ \| plan \(`plan`\) \| 0 \/ 2 \(0%\) \|/);
  // The child names the operation that changed `code`, and its rationale.
  assert.match(report, /\| ▁ \| code \(`code`\) \| 0 \/ 1 \(0%\) \| 0 \| 1,000 \| edit_instructions \|/);
  assert.match(report, /\*\*Rationale:\*\* code failed 2 of 4 attempts on the login test/);

  const heat = new Map(evidence.variants.map((v) => [v.variantId, v]));
  const family = { id: 'fix', description: '', activeVariantId: root };
  const variants = formulas.listVariants('fix').map((v) => ({
    id: v.id, familyId: 'fix', generation: v.generation, parents: v.parents, summary: v.summary, status: v.status, contentHash: v.contentHash,
    createdAt: '', runs: 0, finishedRuns: 0, successes: 0,
  }));
  const lineage = toLineageGraph(family, variants, () => ({ runs: 0, successes: 0, failures: 0, interventions: 0, tokens: 0 }), [], undefined, (id) => heat.get(id));
  assert.ok(isLineageGraph(lineage), 'the page accepts the lineage with heat');
  const rootView = lineage.variants.find((v) => v.id === root)!;
  const childView = lineage.variants.find((v) => v.id === m.variantId)!;
  assert.equal(heatStrip(rootView.steps!), '▁▇▁');
  assert.equal(heatStrip(childView.steps!), '▁▁*▁');
  assert.equal(childView.rationale, 'code failed 2 of 4 attempts on the login test');
  assert.equal(rootView.rationale, undefined);

  // A run that fails on `code` is listed with the worker's own words, whose pipe cannot break the document's table.
  await run(formulas, m.variantId, 10, 't4');
  const failing = evidenceReport(formulaEvidence(ledger, { variantId: m.variantId }));
  const line = failing.split('\n').find((l) => l.startsWith('- `'));
  assert.ok(line, 'the failing run is listed');
  assert.match(line, /code: login test \\\| 500/);
});
