import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormulaService, openLedger } from '../../src/ledger/index';
import { tempDir } from './helpers';

const SHIPPED = path.join(__dirname, '..', '..', 'formulas');

async function setup() {
  const workspace = tempDir('gascity-ws-');
  const ledger = await openLedger(path.join(workspace, '.gascity', 'ledger'), { actor: 'test' });
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  return { workspace, ledger, formulas };
}

test('importing the shipped formulas makes one family per formula with an active first variant; importing again changes nothing', async () => {
  const { ledger, formulas } = await setup();
  try {
    const first = await formulas.importFormulas(SHIPPED);
    assert.deepEqual(first.problems, []);
    const families = formulas.listFamilies();
    assert.ok(families.length >= 4);
    for (const f of families) {
      assert.ok(f.activeVariantId, `${f.id} has an active variant`);
      assert.equal(f.activeGeneration, 1);
    }
    const seq = ledger.seq;
    const again = await formulas.importFormulas(SHIPPED);
    assert.ok(again.imported.every((i) => !i.created));
    assert.equal(ledger.seq, seq, 'a second import writes nothing');
  } finally {
    ledger.close();
  }
});

test('mutate → candidate one generation later with a diff and an evolution file; select, rollback; rejected content is remembered', async () => {
  const { workspace, ledger, formulas } = await setup();
  try {
    await formulas.importFormulas(SHIPPED);
    const fam = formulas.getFamily('implement-and-review')!;
    const g1 = fam.activeVariantId!;
    const stepId = formulas.variantFormula(g1).steps[0]!.id;
    const m = await formulas.mutateVariant({
      variantId: g1, proposedBy: 'codex',
      mutations: [{ op: 'edit_instructions', stepId, instructions: 'Read the issue twice. Then write down the acceptance criteria.' }],
    });
    assert.equal(m.created, true);
    assert.equal(m.generation, 2);
    assert.match(m.diff, /acceptance criteria/);
    assert.ok(m.evolutionFile && fs.existsSync(path.join(workspace, m.evolutionFile)), 'the evolution file was written');
    const v2 = formulas.getVariant(m.variantId)!;
    assert.deepEqual(v2.parents, [g1]);
    assert.equal(v2.status, 'candidate');

    const same = await formulas.mutateVariant({ variantId: g1, mutations: [{ op: 'edit_instructions', stepId, instructions: 'Read the issue twice. Then write down the acceptance criteria.' }] });
    assert.equal(same.created, false);
    assert.equal(same.variantId, m.variantId, 'the same content is the same variant');

    await formulas.selectVariant({ variantId: m.variantId, reason: 'looks better' });
    assert.equal(formulas.getFamily('implement-and-review')!.activeVariantId, m.variantId);
    assert.equal(formulas.getVariant(g1)!.status, 'retired');

    await formulas.rollback({ familyId: 'implement-and-review', reason: 'regressed' });
    assert.equal(formulas.getFamily('implement-and-review')!.activeVariantId, g1);
    assert.equal(formulas.getVariant(m.variantId)!.status, 'rejected');
    await assert.rejects(
      formulas.mutateVariant({ variantId: g1, mutations: [{ op: 'edit_instructions', stepId, instructions: 'Read the issue twice. Then write down the acceptance criteria.' }] }),
      /proposed before as variant v-[0-9a-f]+ and rejected/);
    const lineage = formulas.lineage('implement-and-review')!;
    assert.deepEqual(lineage.edges, [{ parent: g1, child: m.variantId }]);
    assert.deepEqual(lineage.selections.map((s) => s.variantId), [g1, m.variantId, g1]);

    // A fresh ledger importing the workspace (shipped + evolution files) rebuilds the same lineage ids.
    const other = await openLedger(tempDir(), { actor: 'clone' });
    const clone = new FormulaService(other, { workspaceDir: workspace });
    await clone.importFormulas(SHIPPED);
    assert.ok(clone.getVariant(m.variantId), 'the evolved variant has the same id in the clone');
    assert.deepEqual(clone.getVariant(m.variantId)!.parents, [g1]);
    other.close();
  } finally {
    ledger.close();
  }
});

test('a run from a family records the family, variant and generation that ran; bad vars name the variable', async () => {
  const { ledger, formulas } = await setup();
  try {
    await formulas.importFormulas(SHIPPED);
    const fam = formulas.getFamily('implement-and-review')!;
    const required = Object.entries(formulas.variantFormula(fam.activeVariantId!).vars).filter(([, s]) => s.required).map(([n]) => n);
    const vars = Object.fromEntries(required.map((n) => [n, 'x']));
    const r = await formulas.startRunFromFormula({ family: 'implement-and-review', vars, taskKey: 'issue-7' });
    const run = ledger.getRun(r.runId)!;
    assert.equal(run.familyId, 'implement-and-review');
    assert.equal(run.variantId, fam.activeVariantId);
    assert.equal(run.generation, 1);
    assert.ok(r.nodeIds.length > 1);
    assert.ok(ledger.readyWork({ runId: r.runId }).length >= 1);
    if (required.length) {
      await assert.rejects(formulas.startRunFromFormula({ family: 'implement-and-review', vars: {} }), (e: Error & { field?: string }) => e.field === `vars.${required[0]}`);
    }
    await assert.rejects(formulas.startRunFromFormula({ family: 'nope' }), /no formula family "nope"; known families: /);
  } finally {
    ledger.close();
  }
});
