// A child formula flattens onto its parent: merge by step id, remove steps, detect cycles.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseFormula, resolveExtends } from '../../../src/ledger/formula/index';
import type { Formula } from '../../../src/ledger/formula/index';

function parseOk(source: string): Formula {
  const result = parseFormula(source, 'test.formula.toml');
  assert.deepEqual(result.problems, []);
  return result.formula as Formula;
}

const parent = parseOk(`name = "base"
version = 1
description = "the base"

[vars.task]
required = true

[[steps]]
id = "plan"
title = "Plan"
instructions = "plan {{task}}"

[[steps]]
id = "build"
title = "Build"
needs = ["plan"]
instructions = "build"
review = true

[steps.retry]
max = 2
on_exhausted = "fail"

[[steps]]
id = "docs"
needs = ["plan"]
instructions = "write docs"
`);

function lookupOf(...formulas: Formula[]) {
  return (name: string) => formulas.find((f) => f.name === name);
}

describe('resolveExtends', () => {
  test('merges a step by id key by key, removes steps and appends new ones', () => {
    const child = parseOk(`name = "strict"
version = 3
extends = "base"
remove_steps = ["docs"]

[vars.level]
default = "high"

[[steps]]
id = "build"
instructions = "build carefully at {{level}}"

[[steps]]
id = "audit"
needs = ["build"]
instructions = "audit {{task}}"
`);
    const result = resolveExtends(child, lookupOf(parent));
    assert.ok(result.ok, JSON.stringify(result));
    const flat = result.formula;
    assert.equal(flat.name, 'strict');
    assert.equal(flat.version, 3);
    assert.equal(flat.description, 'the base');
    assert.equal(flat.extends, null);
    assert.deepEqual(flat.steps.map((s) => s.id), ['plan', 'build', 'audit']);
    const build = flat.steps[1]!;
    assert.equal(build.instructions, 'build carefully at {{level}}');
    assert.equal(build.title, 'Build', 'keys the child did not set come from the parent');
    assert.deepEqual(build.needs, ['plan']);
    assert.equal(build.review, true);
    assert.deepEqual(build.retry, { max: 2, onExhausted: 'fail' });
    assert.deepEqual(Object.keys(flat.vars).sort(), ['level', 'task']);
  });

  test('an extends cycle is named as a path', () => {
    const a = parseOk(`name = "a"\nversion = 1\nextends = "b"\n`);
    const b = parseOk(`name = "b"\nversion = 1\nextends = "c"\n`);
    const c = parseOk(`name = "c"\nversion = 1\nextends = "a"\n`);
    const result = resolveExtends(a, lookupOf(a, b, c));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(result.problems.length, 1);
    assert.match(result.problems[0]!.message, /extends forms a cycle: a → b → c → a/);
    assert.equal(result.problems[0]!.field, 'extends');
  });

  test('removing a step others still need is refused after flattening', () => {
    const child = parseOk(`name = "lean"\nversion = 1\nextends = "base"\nremove_steps = ["plan", "nope"]\n`);
    const result = resolveExtends(child, lookupOf(parent));
    assert.equal(result.ok, false);
    if (result.ok) return;
    const messages = result.problems.map((p) => p.message);
    assert.ok(messages.some((m) => /removes step "nope", but its parent "base" has no such step/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /after applying extends: step "build" needs "plan", which is not a step/.test(m)), messages.join('\n'));
  });

  test('a missing parent is reported', () => {
    const child = parseOk(`name = "x"\nversion = 1\nextends = "ghost"\n`);
    const result = resolveExtends(child, lookupOf(parent));
    assert.equal(result.ok, false);
    if (!result.ok) assert.match(result.problems[0]!.message, /extends "ghost", which was not found/);
  });

  test('grandchildren resolve through the whole chain', () => {
    const child = parseOk(`name = "child"\nversion = 1\nextends = "base"\n\n[[steps]]\nid = "ship"\nneeds = ["build"]\ninstructions = "ship"\n`);
    const grandchild = parseOk(`name = "grandchild"\nversion = 1\nextends = "child"\nremove_steps = ["docs"]\n\n[[steps]]\nid = "ship"\ntitle = "Ship it"\n`);
    const result = resolveExtends(grandchild, lookupOf(parent, child));
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(result.formula.steps.map((s) => `${s.id}:${s.title}`), ['plan:Plan', 'build:Build', 'ship:Ship it']);
    assert.equal(result.formula.steps[2]!.instructions, 'ship');
  });
});
