// What changed between a parent and a child variant, as data and as text.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyMutations, diffFormulas, parseFormula, renderDiff } from '../../../src/ledger/formula/index';
import type { Formula } from '../../../src/ledger/formula/index';

const parent = parseFormula(
  `name = "demo"
version = 1

[vars.mode]
default = "fast"

[[steps]]
id = "plan"
instructions = """
Read the task.
Write a plan."""

[[steps]]
id = "build"
needs = ["plan"]
instructions = "build"

[[steps]]
id = "test"
needs = ["build"]
instructions = "test"
`,
  'x',
).formula as Formula;

describe('diffFormulas', () => {
  test('reports added, removed, moved and changed steps with field-level before and after', () => {
    const result = applyMutations(parent, [
      { op: 'edit_instructions', stepId: 'plan', instructions: 'Read the task.\nWrite a short plan.' },
      { op: 'add_step', step: { id: 'lint', instructions: 'lint', needs: ['build'] }, after: 'build' },
      { op: 'set_needs', stepId: 'test', needs: ['build', 'lint'] },
      { op: 'reorder_step', stepId: 'test', after: null },
      { op: 'set_var', name: 'mode', spec: { default: 'slow' } },
      { op: 'set_gate', stepId: 'build', gate: { kind: 'human' } },
    ]);
    assert.ok(result.ok);
    if (!result.ok) return;
    const changes = diffFormulas(parent, result.formula);
    assert.deepEqual(
      changes.map((c) => `${c.kind}:${'stepId' in c ? c.stepId : 'name' in c ? c.name : ''}`),
      ['var_changed:mode', 'step_moved:test', 'step_changed:test', 'step_changed:plan', 'step_changed:build', 'step_added:lint'],
    );
    const test0 = changes.find((c) => c.kind === 'step_changed' && c.stepId === 'test');
    assert.deepEqual(test0, { kind: 'step_changed', stepId: 'test', fields: [{ field: 'needs', before: ['build'], after: ['build', 'lint'] }] });
    const text = renderDiff(changes, { before: 'g1', after: 'g2' });
    assert.equal(
      text,
      [
        '--- g1',
        '+++ g2',
        '~ var mode',
        '    default: "fast" → "slow"',
        '> step test moved from position 3 to 1',
        '~ step test',
        '    needs: ["build"] → ["build","lint"]',
        '~ step plan',
        '    instructions:',
        '        Read the task.',
        '      - Write a plan.',
        '      + Write a short plan.',
        '~ step build',
        '    gate: (none) → {"kind":"human"}',
        '+ step lint "lint" needs [build]',
        '    + lint',
        '',
      ].join('\n'),
    );
  });

  test('removed steps and vars, and no changes', () => {
    const result = applyMutations(parent, [
      { op: 'remove_step', stepId: 'build', rewire: true },
      { op: 'remove_var', name: 'mode' },
    ]);
    assert.ok(result.ok);
    if (!result.ok) return;
    const text = renderDiff(diffFormulas(parent, result.formula));
    assert.match(text, /^- var mode$/m);
    assert.match(text, /^- step build "build"$/m);
    assert.match(text, /needs: \["build"\] → \["plan"\]/);
    assert.deepEqual(diffFormulas(parent, parent), []);
    assert.match(renderDiff([]), /\(no changes\)/);
  });
});
