// Structured edits: each op does what it says, refuses what would break the formula, and never
// touches its input.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { applyMutations, mutationSchema, parseFormula, summarizeMutations, toToml, validateFormula } from '../../../src/ledger/formula/index';
import type { Formula, Mutation } from '../../../src/ledger/formula/index';
import { findCycles } from '../../../src/ledger/formula/graph';

function parseOk(source: string): Formula {
  const result = parseFormula(source, 'test.formula.toml');
  assert.deepEqual(result.problems, []);
  return result.formula as Formula;
}

const base = parseOk(`name = "demo"
version = 1

[vars.task]
required = true

[vars.mode]
default = "fast"
enum = ["fast", "slow"]

[[steps]]
id = "plan"
instructions = "plan {{task}}"

[[steps]]
id = "build"
needs = ["plan"]
instructions = "build"

[[steps]]
id = "test"
needs = ["build"]
instructions = "test"
`);

function applied(mutations: Mutation[]): Formula {
  const result = applyMutations(base, mutations);
  assert.ok(result.ok, JSON.stringify(result, null, 2));
  return result.formula;
}

function refused(mutations: unknown[]): { field: string; message: string } {
  const before = structuredClone(base);
  const result = applyMutations(base, mutations);
  assert.equal(result.ok, false);
  assert.deepEqual(base, before, 'a refused mutation leaves the input unchanged');
  if (result.ok) throw new Error('unreachable');
  return result.problems[0]!;
}

describe('applyMutations', () => {
  test('add_step places the step after the named one and fills defaults', () => {
    const formula = applied([{ op: 'add_step', step: { id: 'lint', instructions: 'run the linter', needs: ['build'] }, after: 'build' }]);
    assert.deepEqual(formula.steps.map((s) => s.id), ['plan', 'build', 'lint', 'test']);
    assert.equal(formula.steps[2]!.title, 'lint');
    assert.equal(formula.steps[2]!.review, false);
    assert.equal(base.steps.length, 3, 'the input is not changed');
  });

  test('remove_step refuses while others need it, and rewire hands them its needs', () => {
    const problem = refused([{ op: 'remove_step', stepId: 'build' }]);
    assert.equal(problem.field, 'mutations[0].stepId');
    assert.match(problem.message, /mutation 0 \(remove_step on step "build"\) refused: step "build" is needed by "test"/);
    const formula = applied([{ op: 'remove_step', stepId: 'build', rewire: true }]);
    assert.deepEqual(formula.steps.map((s) => `${s.id}<${s.needs.join(',')}`), ['plan<', 'test<plan']);
  });

  test('a cycle is refused naming the op index and the field', () => {
    const problem = refused([
      { op: 'edit_title', stepId: 'plan', title: 'Plan it' },
      { op: 'set_needs', stepId: 'plan', needs: ['test'] },
    ]);
    assert.equal(problem.field, 'mutations[1].needs');
    assert.match(problem.message, /mutation 1 \(set_needs on step "plan"\) refused: the steps form a cycle: plan → test → build → plan/);
  });

  test('dangling needs and undeclared variables are refused', () => {
    assert.match(refused([{ op: 'set_needs', stepId: 'test', needs: ['deploy'] }]).message, /needs "deploy", which is not a step/);
    const undeclared = refused([{ op: 'edit_instructions', stepId: 'test', instructions: 'test {{target}}' }]);
    assert.equal(undeclared.field, 'mutations[0].instructions');
    assert.match(undeclared.message, /no variable "target" is declared/);
    assert.match(refused([{ op: 'remove_var', name: 'task' }]).message, /uses \{\{task\}\}/);
    assert.match(refused([{ op: 'set_condition', stepId: 'test', when: "{{speed}} == 'x'" }]).message, /reads "speed"/);
  });

  test('malformed ops are refused by the schema with the op index', () => {
    const problem = refused([{ op: 'set_gate', stepId: 'test', gate: { kind: 'manual' } }]);
    assert.match(problem.field, /^mutations\[0\]\.gate/);
    assert.match(problem.message, /mutation 0 is malformed/);
    assert.match(refused([{ op: 'teleport' }]).message, /mutation 0 is malformed/);
    assert.match(refused([{ op: 'edit_title', stepId: 'nope', title: 'x' }]).message, /there is no step "nope"/);
  });

  test('gates, retries, conditions, fan-out, review, vars and description', () => {
    const formula = applied([
      { op: 'set_gate', stepId: 'test', gate: { kind: 'timer', seconds: 60 } },
      { op: 'set_retry', stepId: 'build', retry: { max: 3, onExhausted: 'escalate' } },
      { op: 'set_condition', stepId: 'test', when: "{{mode}} == 'slow'" },
      { op: 'set_var', name: 'files', spec: { default: ['a.ts', 'b.ts'] } },
      { op: 'set_for_each', stepId: 'build', forEach: '{{files}}' },
      { op: 'set_review', stepId: 'build', review: true },
      { op: 'set_description', description: 'new' },
      { op: 'reorder_step', stepId: 'test', after: null },
    ]);
    const [test0, plan, build] = formula.steps;
    assert.deepEqual(test0!.gate, { kind: 'timer', seconds: 60 });
    assert.equal(test0!.when, "{{mode}} == 'slow'");
    assert.equal(plan!.id, 'plan');
    assert.deepEqual(build!.retry, { max: 3, onExhausted: 'escalate' });
    assert.equal(build!.forEach, 'files');
    assert.equal(build!.review, true);
    assert.equal(formula.description, 'new');
    assert.deepEqual(validateFormula(formula), []);
    assert.deepEqual(parseFormula(toToml(formula), 'x').formula, formula);
  });

  test('mutations are JSON: the schema accepts what JSON.parse gives back', () => {
    const mutations: Mutation[] = [{ op: 'add_step', step: { id: 'x', instructions: 'y' }, after: null }];
    const parsed = JSON.parse(JSON.stringify(mutations)) as unknown[];
    assert.ok(mutationSchema.safeParse(parsed[0]).success);
  });

  test('summarizeMutations says what changes in one line', () => {
    assert.equal(
      summarizeMutations([
        { op: 'add_step', step: { id: 'lint', instructions: 'x' }, after: 'build' },
        { op: 'set_needs', stepId: 'test', needs: ['build', 'lint'] },
        { op: 'set_gate', stepId: 'test', gate: { kind: 'human' } },
        { op: 'remove_step', stepId: 'plan', rewire: true },
      ]),
      'add step lint after build; test needs [build, lint]; human gate on test; remove step plan (rewired)',
    );
    assert.equal(summarizeMutations([]), 'no changes');
  });
});

describe('applyMutations over random sequences', () => {
  const ids = ['plan', 'build', 'test', 'x', 'y'];
  const varNames = ['task', 'mode', 'files', 'extra'];
  const id = fc.constantFrom(...ids);
  const maybeAfter = fc.option(id, { nil: null });
  const text = fc.oneof(fc.constantFrom('do it', 'use {{task}}', 'use {{extra}}', 'each {{item}}', ''), fc.string({ maxLength: 10 }));
  const condition = fc.option(fc.constantFrom("{{mode}} == 'fast'", 'not {{extra}}', '{{mode}} ==', "{{nope}} != 'x'", 'true'), { nil: null });
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ op: fc.constant('add_step' as const), step: fc.record({ id, instructions: text, needs: fc.uniqueArray(id, { maxLength: 3 }) }), after: fc.option(id, { nil: undefined }) }),
    fc.record({ op: fc.constant('remove_step' as const), stepId: id, rewire: fc.boolean() }),
    fc.record({ op: fc.constant('reorder_step' as const), stepId: id, after: maybeAfter }),
    fc.record({ op: fc.constant('edit_instructions' as const), stepId: id, instructions: text }),
    fc.record({ op: fc.constant('edit_title' as const), stepId: id, title: fc.constantFrom('T', '', '{{mode}}') }),
    fc.record({ op: fc.constant('set_needs' as const), stepId: id, needs: fc.array(id, { maxLength: 3 }) }),
    fc.record({ op: fc.constant('set_gate' as const), stepId: id, gate: fc.constantFrom(null, { kind: 'human' as const }, { kind: 'timer' as const, seconds: 5 }) }),
    fc.record({ op: fc.constant('set_retry' as const), stepId: id, retry: fc.constantFrom(null, { max: 2, onExhausted: 'skip' as const }) }),
    fc.record({ op: fc.constant('set_condition' as const), stepId: id, when: condition }),
    fc.record({ op: fc.constant('set_for_each' as const), stepId: id, forEach: fc.constantFrom(null, 'files', '{{files}}', 'nope') }),
    fc.record({ op: fc.constant('set_var' as const), name: fc.constantFrom(...varNames), spec: fc.record({ default: fc.constantFrom('fast', 'slow', 'a,b'), required: fc.boolean() }) }),
    fc.record({ op: fc.constant('remove_var' as const), name: fc.constantFrom(...varNames) }),
  );

  test('every accepted result validates, has no cycle and no dangling needs; refused ones leave the input unchanged', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 8 }), (mutations) => {
        const before = structuredClone(base);
        const result = applyMutations(base, mutations);
        assert.deepEqual(base, before);
        if (!result.ok) {
          rejected += 1;
          assert.ok(result.problems.length > 0);
          for (const problem of result.problems) assert.match(problem.field, /^mutations\[\d+\]/);
          return;
        }
        accepted += 1;
        const formula = result.formula;
        assert.deepEqual(validateFormula(formula), []);
        const known = new Set(formula.steps.map((s) => s.id));
        for (const step of formula.steps) for (const need of step.needs) assert.ok(known.has(need), `dangling ${need}`);
        assert.deepEqual(findCycles([...known], (s) => formula.steps.find((step) => step.id === s)?.needs ?? []), []);
        // An accepted formula is also a valid file.
        assert.deepEqual(parseFormula(toToml(formula), 'x').problems, []);
      }),
      { numRuns: 400 },
    );
    assert.ok(accepted > 20 && rejected > 20, `both outcomes exercised (accepted ${accepted}, rejected ${rejected})`);
  });
});
