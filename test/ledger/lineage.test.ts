import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { FormulaService, openLedger } from '../../src/ledger/index';
import { contentHash, parseFormula, readEvolutionDir } from '../../src/ledger/formula/index';
import { tempDir } from './helpers';

const SHIPPED = path.join(__dirname, '..', '..', 'formulas');
const FAMILY = 'implement-and-review';

type Op =
  | { op: 'mutate'; pick: number; text: number }
  | { op: 'select'; pick: number }
  | { op: 'rollback' }
  | { op: 'reject'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('mutate' as const), pick: fc.nat(30), text: fc.nat(6) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('select' as const), pick: fc.nat(30) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('rollback' as const) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('reject' as const), pick: fc.nat(30) }), weight: 1 },
);

test('lineage invariants hold over random mutate / select / rollback / reject sequences', async () => {
  let accepted = 0;
  let refused = 0;
  await fc.assert(fc.asyncProperty(fc.array(opArb, { minLength: 3, maxLength: 25 }), async (ops) => {
    const workspace = tempDir('gascity-lineage-');
    const ledger = await openLedger(path.join(workspace, 'ledger'));
    const formulas = new FormulaService(ledger, { workspaceDir: workspace });
    try {
      await formulas.importFormulas(SHIPPED);
      for (const o of ops) {
        const variants = formulas.listVariants(FAMILY);
        const v = variants[('pick' in o ? o.pick : 0) % variants.length]!;
        try {
          if (o.op === 'mutate') {
            const step = formulas.variantFormula(v.id).steps[o.text % 2]!;
            await formulas.mutateVariant({ variantId: v.id, mutations: [{ op: 'edit_instructions', stepId: step.id, instructions: `${step.instructions}\nVariant text ${o.text}.` }] });
          } else if (o.op === 'select') await formulas.selectVariant({ variantId: v.id });
          else if (o.op === 'rollback') await formulas.rollback({ familyId: FAMILY });
          else await formulas.rejectVariant({ variantId: v.id });
          accepted++;
        } catch (e) {
          assert.equal((e as Error).name, 'LedgerError', (e as Error).stack);
          refused++;
        }
        // Exactly one active variant, and the family's pointer names it.
        const all = formulas.listVariants(FAMILY);
        const active = all.filter((x) => x.status === 'active');
        assert.equal(active.length, 1, `active variants: ${active.map((x) => x.id).join(', ')}`);
        assert.equal(formulas.getFamily(FAMILY)!.activeVariantId, active[0]!.id);
        const byId = new Map(all.map((x) => [x.id, x]));
        for (const x of all) {
          // Generation is one more than the parents'; parents exist and were created earlier, so there is no cycle.
          if (x.parents.length === 0) assert.equal(x.generation, 1);
          else assert.equal(x.generation, Math.max(...x.parents.map((p) => byId.get(p)!.generation)) + 1);
          for (const p of x.parents) assert.ok(byId.get(p)!.createdAt <= x.createdAt);
          // The same content is the same variant: hashes are unique in the family.
          assert.equal(all.filter((y) => y.contentHash === x.contentHash).length, 1);
          assert.equal(contentHash(formulas.variantFormula(x.id)), x.contentHash);
        }
      }
    } finally {
      ledger.close();
      fs.rmSync(workspace, { recursive: true, force: true });
    }
  }), { numRuns: Number(process.env.GASCITY_LINEAGE_RUNS ?? 25) });
  assert.ok(accepted > 50 && refused > 5, `both accepted (${accepted}) and refused (${refused}) operations occur`);
});

test('round trip file → ledger → evolution file keeps content, hash and lineage (re-import: families.test.ts)', async () => {
  const workspace = tempDir('gascity-roundtrip-');
  const ledger = await openLedger(path.join(workspace, 'ledger'));
  const formulas = new FormulaService(ledger, { workspaceDir: workspace });
  try {
    await formulas.importFormulas(SHIPPED);
    const g1 = formulas.getFamily(FAMILY)!.activeVariantId!;
    const original = parseFormula(fs.readFileSync(path.join(SHIPPED, `${FAMILY}.formula.toml`), 'utf8')).formula!;
    assert.equal(formulas.getVariant(g1)!.contentHash, contentHash(original), 'the ledger holds the file\'s content');
    const m = await formulas.mutateVariant({ variantId: g1, mutations: [{ op: 'set_description', description: 'Round-trip test variant.' }] });
    const written = await formulas.exportEvolutionFiles();
    assert.ok(written.length >= 2);
    const { entries, problems } = await readEvolutionDir(workspace);
    assert.deepEqual(problems, []);
    const child = entries.find((e) => e.hash === formulas.getVariant(m.variantId)!.contentHash)!;
    assert.equal(child.generation, 2);
    assert.deepEqual(child.parents, [formulas.getVariant(g1)!.contentHash]);
    assert.equal(fs.readFileSync(path.join(workspace, child.path), 'utf8').includes('Round-trip test variant.'), true);
  } finally {
    ledger.close();
  }
});
