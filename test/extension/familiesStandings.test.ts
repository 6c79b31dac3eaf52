// What the Formula Families tree reads for a family (Lineage.standings, one query) is what it read before, variant
// by variant (Lineage.variants + Lineage.evidenceSummary), on a real ledger with runs, outcomes and evidence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { openLedger } from '../../src/ledger/index';
import { Lineage } from '../../src/extension/lineage';
import { tempDir } from '../ledger/helpers';

const FAMILY = 'implement-and-review';

test('a family read in one query shows each variant as reading it variant by variant did', async () => {
  const workspace = tempDir('gascity-families-standing-');
  const ledger = await openLedger(path.join(workspace, 'ledger'));
  const lineage = new Lineage(ledger, workspace);
  try {
    await lineage.formulas.importFormulas(path.join(__dirname, '..', '..', 'formulas'));
    const root = lineage.family(FAMILY)!.activeVariantId!;
    const stepId = lineage.formulaOf(root).steps[0]!.id;
    const ids = [root];
    for (let i = 0; i < 6; i++) ids.push((await lineage.mutate(ids[(i * 5) % ids.length]!, [{ op: 'edit_instructions', stepId, instructions: `Try ${i}.` }], 'test')).variantId);
    for (let i = 0; i < 9; i++) {
      const variantId = ids[(i * 3) % ids.length]!;
      const run = await ledger.startRun({ title: `run ${i}`, familyId: FAMILY, variantId, nodes: [{ key: 'a', title: 'A' }] });
      if (i % 3 !== 2) {
        await ledger.claimNode({ nodeId: run.nodeIds[0], worker: 'w' });
        await ledger.reportNode({ nodeId: run.nodeIds[0], worker: 'w', outcome: i % 3 === 0 ? 'done' : 'failed' });
      }
      await ledger.recordEvidence({ runId: run.runId, variantId, kind: 'tokens', tokens: 100 * i + 1, interventions: i % 2 });
    }
    const standings = lineage.standings(FAMILY);
    const before = lineage.variants(FAMILY).map((variant) => ({ variant, evidence: lineage.evidenceSummary(variant) }));
    assert.deepEqual(standings, before);
    assert.ok(standings.some((s) => s.evidence.successes > 0) && standings.some((s) => s.evidence.failures > 0), 'the family has successes and failures to show');
    assert.ok(standings.some((s) => s.evidence.tokens > 0 && s.evidence.interventions > 0), 'and evidence sums');
    assert.deepEqual(lineage.standings('no-such-family'), []);
  } finally {
    lineage.dispose();
    ledger.close();
  }
});
