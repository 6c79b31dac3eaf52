// variantStandings (src/ledger/variantStanding.ts) on a real ledger: the figures the Formula Families tree shows for
// every variant, read in one query, agree with reading each variant's runs and evidence on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { FormulaService, openLedger } from '../../src/ledger/index';
import { variantStandings } from '../../src/ledger/variantStanding';
import { tempDir } from './helpers';

const SHIPPED = path.join(__dirname, '..', '..', 'formulas');
const FAMILY = 'implement-and-review';

test('one query gives each variant the runs, outcomes and evidence sums that reading it alone gives', async () => {
  const ledger = await openLedger(path.join(tempDir('gascity-standing-'), 'ledger'));
  try {
    const formulas = new FormulaService(ledger);
    await formulas.importFormulas(SHIPPED);
    const root = formulas.getFamily(FAMILY)!.activeVariantId!;
    const stepId = formulas.variantFormula(root).steps[0]!.id;
    const ids = [root];
    for (let i = 0; i < 4; i++) {
      const m = await formulas.mutateVariant({ variantId: ids[i % ids.length], mutations: [{ op: 'edit_instructions', stepId, instructions: `Try ${i}.` }] });
      ids.push(m.variantId);
    }
    // Variant 1: two runs that succeed, one that fails, one still running; variant 2: evidence only.
    const finish = async (variantId: string, outcome: 'done' | 'failed' | null) => {
      const run = await ledger.startRun({ title: 't', familyId: FAMILY, variantId, nodes: [{ key: 'a', title: 'A' }] });
      if (!outcome) return;
      await ledger.claimNode({ nodeId: run.nodeIds[0], worker: 'w' });
      await ledger.reportNode({ nodeId: run.nodeIds[0], worker: 'w', outcome });
    };
    await finish(ids[1]!, 'done');
    await finish(ids[1]!, 'done');
    await finish(ids[1]!, 'failed');
    await finish(ids[1]!, null);
    await ledger.recordEvidence({ variantId: ids[2], kind: 'tokens', tokens: 1200 });
    await ledger.recordEvidence({ variantId: ids[2], kind: 'tokens', tokens: 34, interventions: 2 });
    await ledger.recordEvidence({ variantId: ids[2], kind: 'note', note: 'no figures' });
    await ledger.recordEvidence({ variantId: ids[1], kind: 'tokens', tokens: 5, interventions: 1 });

    const standings = variantStandings(ledger.sql, { familyId: FAMILY });
    const listed = formulas.listVariants(FAMILY);
    assert.deepEqual(standings.map((s) => s.id), listed.map((v) => v.id), 'the same variants in the same order as listVariants');
    for (const v of listed) {
      const s = standings.find((x) => x.id === v.id)!;
      const rows = ledger.evidence({ variantId: v.id, limit: 10_000 });
      assert.deepEqual(
        { generation: s.generation, parents: s.parents, summary: s.summary, status: s.status, contentHash: s.contentHash, runs: s.runs, finished: s.finishedRuns, successes: s.successes },
        { generation: v.generation, parents: v.parents, summary: v.summary, status: v.status, contentHash: v.contentHash, runs: v.runs, finished: v.finishedRuns, successes: v.successes },
        `variant ${v.id}`,
      );
      assert.equal(s.evidence, rows.length, `evidence rows of ${v.id}`);
      assert.equal(s.tokens, rows.reduce((n, r) => n + (r.tokens ?? 0), 0), `tokens of ${v.id}`);
      assert.equal(s.interventions, rows.reduce((n, r) => n + (r.interventions ?? 0), 0), `interventions of ${v.id}`);
    }
    const one = standings.find((s) => s.id === ids[1])!;
    assert.equal(one.runs, 4);
    assert.equal(one.finishedRuns, 3);
    assert.equal(one.successes, 2);
    const two = standings.find((s) => s.id === ids[2])!;
    assert.deepEqual([two.evidence, two.tokens, two.interventions, two.runs], [3, 1234, 2, 0]);

    assert.deepEqual(variantStandings(ledger.sql, { variantId: ids[2] }), [two], 'one variant alone reads the same figures');
    const all = variantStandings(ledger.sql);
    assert.deepEqual(all.filter((s) => s.familyId === FAMILY), standings, 'every family holds this family unchanged');
    assert.ok(new Set(all.map((s) => s.familyId)).size > 1, 'every family means all of them');
    assert.deepEqual(variantStandings(ledger.sql, { familyId: 'no-such-family' }), []);
    assert.deepEqual(variantStandings(ledger.sql, { familyId: '__proto__' }), []);
    assert.deepEqual(variantStandings(ledger.sql, { variantId: "x' OR 1=1 --" }), [], 'ids are bound, not spliced');
  } finally {
    ledger.close();
  }
});
