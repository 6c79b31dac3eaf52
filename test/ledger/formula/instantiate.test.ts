// From formula and variables to the nodes a run starts with.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { contentHash, instantiate, parseFormula } from '../../../src/ledger/formula/index';
import type { Formula, NodeSpec, RunPlan } from '../../../src/ledger/formula/index';

function parseOk(source: string): Formula {
  const result = parseFormula(source, 'test.formula.toml');
  assert.deepEqual(result.problems, []);
  return result.formula as Formula;
}

const formula = parseOk(`name = "fan"
version = 1

[vars.goal]
required = true

[vars.files]
default = []

[vars.mode]
default = "careful"
enum = ["careful", "fast"]

[vars.ticket]
default = "ABC-1"
pattern = "[A-Z]+-[0-9]+"

[[steps]]
id = "prepare"
title = "Prepare {{goal}}"
instructions = "Prepare {{goal}} for {{ticket}}"

[[steps]]
id = "edit"
title = "Edit {{item}}"
needs = ["prepare"]
for_each = "{{files}}"
when = "{{item}} != 'skip.ts'"
instructions = "Edit {{item}} (#{{index}}) towards {{goal}}"

[steps.retry]
max = 2
on_exhausted = "skip"

[[steps]]
id = "double-check"
needs = ["prepare"]
when = "{{mode}} == 'careful'"
instructions = "Check again"

[[steps]]
id = "join"
needs = ["edit", "double-check"]
instructions = "Bring it together"

[steps.gate]
kind = "human"
`);

function planOf(vars: Record<string, string | boolean | string[]>, items?: Record<string, string[]>): RunPlan {
  const result = instantiate(formula, vars, items ? { items } : {});
  assert.ok(result.ok, JSON.stringify(result, null, 2));
  return result.plan;
}

function node(plan: RunPlan, key: string): NodeSpec {
  const found = plan.nodes.find((n) => n.key === key);
  assert.ok(found, `no node ${key} in ${plan.nodes.map((n) => n.key).join(', ')}`);
  return found;
}

describe('instantiate', () => {
  test('fans out over a comma-separated list and joins on every instance', () => {
    const plan = planOf({ goal: 'speed', files: 'a.ts, b.ts ,skip.ts' });
    assert.deepEqual(plan.nodes.map((n) => n.key), ['prepare', 'edit[0]', 'edit[1]', 'edit[2]', 'double-check', 'join']);
    const edit1 = node(plan, 'edit[1]');
    assert.equal(edit1.title, 'Edit b.ts');
    assert.equal(edit1.instructions, 'Edit b.ts (#1) towards speed');
    assert.deepEqual(edit1.needs, ['prepare']);
    assert.deepEqual(edit1.retry, { max: 2, onExhausted: 'skip' });
    assert.equal(edit1.skipped, false);
    assert.equal(node(plan, 'edit[2]').skipped, true, 'the condition sees {{item}}');
    assert.deepEqual(node(plan, 'join').needs, ['edit[0]', 'edit[1]', 'edit[2]', 'double-check']);
    assert.deepEqual(node(plan, 'join').gate, { kind: 'human' });
    assert.equal(node(plan, 'prepare').instructions, 'Prepare speed for ABC-1');
    assert.equal(plan.formulaHash, contentHash(formula));
  });

  test('a JSON array value and a list value fan out the same way', () => {
    const fromJson = planOf({ goal: 'g', files: '["x, y.ts", "z.ts"]' });
    assert.deepEqual(fromJson.nodes.filter((n) => n.stepId === 'edit').map((n) => n.item), ['x, y.ts', 'z.ts']);
    const fromList = planOf({ goal: 'g', files: ['x, y.ts', 'z.ts'] });
    assert.deepEqual(fromList.nodes, fromJson.nodes.map((n) => n));
  });

  test('items given at run time override the variable', () => {
    const plan = planOf({ goal: 'g', files: 'a.ts' }, { edit: ['found.ts'] });
    assert.deepEqual(plan.nodes.filter((n) => n.stepId === 'edit').map((n) => n.title), ['Edit found.ts']);
  });

  test('an empty fan-out hands its needs to the join', () => {
    const plan = planOf({ goal: 'g' });
    assert.deepEqual(plan.nodes.map((n) => n.key), ['prepare', 'double-check', 'join']);
    assert.deepEqual(node(plan, 'join').needs, ['prepare', 'double-check']);
  });

  test('a condition that is false marks the node skipped but keeps it in the graph', () => {
    const plan = planOf({ goal: 'g', mode: 'fast' });
    assert.equal(node(plan, 'double-check').skipped, true);
    assert.deepEqual(node(plan, 'join').needs, ['prepare', 'double-check']);
    assert.equal(planOf({ goal: 'g', mode: 'careful' }).nodes.find((n) => n.key === 'double-check')?.skipped, false);
  });

  test('a missing required variable, a value outside the enum, a pattern miss and an unknown variable are each named', () => {
    const result = instantiate(formula, { mode: 'reckless', ticket: 'nope', colour: 'red' });
    assert.equal(result.ok, false);
    if (result.ok) return;
    const messages = result.problems.map((p) => p.message);
    assert.ok(messages.includes('variable "goal" is required by formula "fan" and was not given'), messages.join('\n'));
    assert.ok(messages.includes('variable "mode" is not allowed: "reckless" is not one of "careful", "fast"'), messages.join('\n'));
    assert.ok(messages.includes('variable "ticket" is not allowed: "nope" does not match the pattern /[A-Z]+-[0-9]+/'), messages.join('\n'));
    assert.ok(messages.includes('variable "colour" is not declared by formula "fan"'), messages.join('\n'));
    assert.deepEqual(result.problems.map((p) => p.field).sort(), ['vars.colour', 'vars.goal', 'vars.mode', 'vars.ticket']);
  });

  test('a fan-out value that is not a list is refused', () => {
    const result = instantiate(formula, { goal: 'g', files: '[not json' });
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.problems[0]!.message, /fans out over variable "files", but its value is not a list/);
  });

  test('a value of the wrong type, as JSON input may carry, is refused by name', () => {
    const result = instantiate(formula, { goal: 3 as unknown as string });
    assert.equal(result.ok, false);
    if (!result.ok) assert.equal(result.problems[0]!.message, 'variable "goal" must be text, true/false or a list of text, but it is 3');
  });

  test('is deterministic', () => {
    assert.deepEqual(planOf({ goal: 'g', files: 'a,b' }), planOf({ files: 'a,b', goal: 'g' }));
  });

  test('the shipped research formula plans one research node per default angle', () => {
    const research = parseOk(readFileSync(join(__dirname, '../../../formulas/research-then-plan.formula.toml'), 'utf8'));
    const result = instantiate(research, { question: 'How do we add offline support?' });
    assert.ok(result.ok);
    if (!result.ok) return;
    assert.deepEqual(result.plan.nodes.map((n) => `${n.key}${n.skipped ? ' (skipped)' : ''}`), ['frame', 'research[0]', 'research[1]', 'research[2]', 'deep-dive (skipped)', 'plan', 'approve']);
    assert.equal(result.plan.nodes[2]!.title, 'Research: constraints and risks');
  });
});
