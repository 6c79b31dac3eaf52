// "Add a step" from Mutate Formula: the mutations it makes, applied by the real mutation code to a shipped formula.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyMutations, parseFormula } from '../../src/ledger/formula/index';
import { followersOf, insertStepMutations } from '../../src/extension/stepInsert';

const text = readFileSync(join(__dirname, '..', '..', 'formulas', 'implement-and-review.formula.toml'), 'utf8');

describe('Add a step', () => {
  it('puts the new step, with its title, in line after the chosen step: its followers now wait for it', () => {
    const { formula } = parseFormula(text);
    assert.ok(formula);
    const after = formula.steps[0]!.id;
    const followers = followersOf(formula.steps, after);
    assert.ok(followers.length > 0, 'the first step has followers');
    const r = applyMutations(formula, insertStepMutations(formula.steps, after, { id: 'criteria', title: 'Write acceptance criteria', instructions: 'List them.' }));
    assert.ok(r.ok, JSON.stringify(r));
    const added = r.formula.steps.find((s) => s.id === 'criteria');
    assert.ok(added);
    assert.equal(added.title, 'Write acceptance criteria');
    assert.deepEqual(added.needs, [after]);
    for (const f of followers) {
      const step = r.formula.steps.find((s) => s.id === f)!;
      assert.ok(step.needs.includes('criteria') && !step.needs.includes(after), `${f} waits for the new step`);
    }
    // Nothing dangles: some step needs the new one.
    assert.ok(r.formula.steps.some((s) => s.needs.includes('criteria')));
  });

  it('after the last step, the new step simply comes last', () => {
    const { formula } = parseFormula(text);
    assert.ok(formula);
    const last = formula.steps.at(-1)!.id;
    const muts = insertStepMutations(formula.steps, last, { id: 'announce', title: 'Announce', instructions: 'Tell the team.' });
    assert.equal(muts.length, 1);
    const r = applyMutations(formula, muts);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.formula.steps.find((s) => s.id === 'announce')?.needs[0], last);
  });
});
