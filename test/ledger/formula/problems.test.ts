// Every kind of bad formula file, checked the way its author sees it: the line, the field and the message.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadFormulaDir, parseFormula } from '../../../src/ledger/formula/index';
import type { Problem } from '../../../src/ledger/formula/index';

function problemsOf(source: string): Problem[] {
  const result = parseFormula(source, 'bad.formula.toml');
  assert.equal(result.formula, null, 'a file with problems yields no formula');
  return result.problems;
}

/** The single problem on a field, failing with the whole list when there is not exactly one. */
function onlyProblem(problems: Problem[], field: string): Problem {
  const matching = problems.filter((p) => p.field === field);
  assert.equal(matching.length, 1, `expected one problem on ${field}, got ${JSON.stringify(problems, null, 2)}`);
  return matching[0] as Problem;
}

const header = `name = "demo"\nversion = 1\n`;

describe('formula problems', () => {
  test('a valid file has no problems', () => {
    const result = parseFormula(`${header}\n[[steps]]\nid = "a"\ninstructions = "do a"\n`, 'ok.formula.toml');
    assert.deepEqual(result.problems, []);
    assert.equal(result.formula?.steps[0]?.title, 'a');
  });

  test('a TOML syntax error is one problem at its line', () => {
    const problems = problemsOf(`${header}\n[[steps]]\nid = "a\ninstructions = "x"\n`);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.line, 5);
    assert.match(problems[0]?.message ?? '', /TOML syntax error/);
    assert.equal(problems[0]?.file, 'bad.formula.toml');
  });

  test('needs naming an unknown step points at the needs line and lists the real ids', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "build"
instructions = "build it"

[[steps]]
id = "test"
instructions = "test it"
needs = ["biuld"]
`);
    const problem = onlyProblem(problems, 'steps[1].needs');
    assert.equal(problem.line, 11);
    assert.match(problem.message, /step "test" needs "biuld", which is not a step/);
    assert.match(problem.fix, /"build", "test"/);
  });

  test('a cycle is named as a path and placed on the first step of the cycle', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"
needs = ["c"]

[[steps]]
id = "b"
instructions = "x"
needs = ["a"]

[[steps]]
id = "c"
instructions = "x"
needs = ["b"]
`);
    const problem = onlyProblem(problems, 'steps[0].needs');
    assert.match(problem.message, /the steps form a cycle: a → c → b → a/);
    assert.equal(problem.line, 7);
  });

  test('a step needing itself is reported once', () => {
    const problems = problemsOf(`${header}\n[[steps]]\nid = "a"\ninstructions = "x"\nneeds = ["a"]\n`);
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', /step "a" needs itself/);
  });

  test('a variable used but not declared names the variable and the key it is in', () => {
    const problems = problemsOf(`${header}
[vars.task]
description = "the task"

[[steps]]
id = "a"
instructions = """
Do {{task}} with {{tool}}.
"""
`);
    const problem = onlyProblem(problems, 'steps[0].instructions');
    assert.equal(problem.line, 9);
    assert.match(problem.message, /uses \{\{tool\}\} in instructions, but no variable "tool" is declared/);
    assert.match(problem.fix, /\[vars\.tool\]/);
  });

  test('a required variable with a default is refused at the default line', () => {
    const problems = problemsOf(`${header}
[vars.task]
required = true
default = "x"

[[steps]]
id = "a"
instructions = "{{task}}"
`);
    const problem = onlyProblem(problems, 'vars.task.default');
    assert.equal(problem.line, 6);
    assert.match(problem.message, /required and also has a default/);
  });

  test('a duplicate step id points at the second one', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"

[[steps]]
id = "a"
instructions = "y"
`);
    const problem = onlyProblem(problems, 'steps[1].id');
    assert.equal(problem.line, 9);
    assert.match(problem.message, /step id "a" is used twice \(steps 1 and 2\)/);
  });

  test('needs written as a string says to use a list', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"

[[steps]]
id = "b"
instructions = "y"
needs = "a"
`);
    const problem = onlyProblem(problems, 'steps[1].needs');
    assert.equal(problem.line, 11);
    assert.match(problem.message, /"needs" must be a list, but it is the text "a"/);
    assert.match(problem.fix, /needs = \["a"\]/);
  });

  test('a default outside the enum lists the allowed values', () => {
    const problems = problemsOf(`${header}
[vars.mode]
default = "slow"
enum = ["fast", "careful"]

[[steps]]
id = "a"
instructions = "{{mode}}"
`);
    const problem = onlyProblem(problems, 'vars.mode.default');
    assert.equal(problem.line, 5);
    assert.match(problem.message, /"slow" is not one of "fast", "careful"/);
  });

  test('an invalid regular expression is reported at the pattern line', () => {
    const problems = problemsOf(`${header}
[vars.branch]
pattern = "feature/(unclosed"

[[steps]]
id = "a"
instructions = "{{branch}}"
`);
    const problem = onlyProblem(problems, 'vars.branch.pattern');
    assert.equal(problem.line, 5);
    assert.match(problem.message, /pattern that cannot be used: error parsing regexp: missing closing \)/);
  });

  test('unknown keys are named with the allowed ones, at every level', () => {
    const problems = problemsOf(`${header}
author = "me"

[vars.x]
descripton = "typo"

[[steps]]
id = "a"
instructions = "{{x}}"
depends = ["b"]

[steps.retry]
max = 2
backoff = 5
`);
    const top = onlyProblem(problems, 'author');
    assert.equal(top.line, 4);
    assert.match(top.fix, /"name", "description", "version"/);
    const variable = onlyProblem(problems, 'vars.x.descripton');
    assert.equal(variable.line, 7);
    assert.match(variable.message, /unknown key "descripton" in variable "x"/);
    const step = onlyProblem(problems, 'steps[0].depends');
    assert.equal(step.line, 12);
    assert.match(step.fix, /"needs"/);
    const retry = onlyProblem(problems, 'steps[0].retry.backoff');
    assert.equal(retry.line, 16);
    assert.match(retry.fix, /"max", "on_exhausted"/);
  });

  test('a bad gate kind lists the kinds, at the kind line', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"

[steps.gate]
kind = "manual"
`);
    const problem = onlyProblem(problems, 'steps[0].gate.kind');
    assert.equal(problem.line, 9);
    assert.match(problem.message, /gate kind "manual" of step "a" is not a known kind/);
    assert.match(problem.fix, /"human", "timer", "run"/);
  });

  test('a timer gate without seconds and a run gate with seconds are both reported', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"

[steps.gate]
kind = "timer"

[[steps]]
id = "b"
instructions = "x"

[steps.gate]
kind = "run"
formula = "other"
seconds = 5
`);
    assert.equal(onlyProblem(problems, 'steps[0].gate').line, 8);
    assert.match(onlyProblem(problems, 'steps[0].gate').message, /"seconds" is missing/);
    const extra = onlyProblem(problems, 'steps[1].gate.seconds');
    assert.equal(extra.line, 18);
    assert.match(extra.message, /unknown key "seconds" in a run gate/);
  });

  test('a bad retry outcome and a bad max are reported', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"
retry = { max = 0, on_exhausted = "explode" }
`);
    assert.match(onlyProblem(problems, 'steps[0].retry.on_exhausted').message, /"explode", which is not a known outcome/);
    assert.match(onlyProblem(problems, 'steps[0].retry.max').message, /max must be a whole number from 1 to 100/);
    assert.equal(onlyProblem(problems, 'steps[0].retry.max').line, 7);
  });

  test('an invalid condition says what is wrong and where in the condition', () => {
    const problems = problemsOf(`${header}
[vars.mode]
default = "fast"

[[steps]]
id = "a"
instructions = "x"
when = "{{mode}} = 'fast'"
`);
    const problem = onlyProblem(problems, 'steps[0].when');
    assert.equal(problem.line, 10);
    assert.match(problem.message, /the condition of step "a" is not valid: unexpected "="/);
  });

  test('a condition reading an undeclared variable is refused', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "x"
when = "{{mode}} == 'fast' and not dry_run"
`);
    const messages = problems.map((p) => p.message);
    assert.ok(messages.some((m) => /reads "mode", but no variable "mode" is declared/.test(m)), messages.join('\n'));
    assert.ok(messages.some((m) => /reads "dry_run"/.test(m)), messages.join('\n'));
  });

  test('{{item}} outside a fan-out step and for_each over an undeclared variable are refused', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = "look at {{item}}"

[[steps]]
id = "b"
instructions = "x {{item}}"
for_each = "{{files}}"
`);
    assert.match(onlyProblem(problems, 'steps[0].instructions').message, /uses \{\{item\}\} but has no for_each/);
    const forEach = onlyProblem(problems, 'steps[1].for_each');
    assert.equal(forEach.line, 11);
    assert.match(forEach.message, /fans out over "files", but no variable "files" is declared/);
  });

  test('wrong types of top-level keys are reported with what they are', () => {
    const problems = problemsOf(`name = "demo"\nversion = "2"\n\n[[steps]]\nid = "a"\ninstructions = "x"\nreview = "yes"\n`);
    assert.match(onlyProblem(problems, 'version').message, /"version" must be a whole number, but it is the text "2"/);
    assert.equal(onlyProblem(problems, 'version').line, 2);
    assert.match(onlyProblem(problems, 'steps[0].review').message, /must be true or false/);
  });

  test('missing name, version, id and instructions are each reported', () => {
    const problems = problemsOf(`description = "no name"\n\n[[steps]]\ntitle = "untitled"\n`);
    const messages = problems.map((p) => p.message);
    for (const key of ['name', 'version', 'id', 'instructions']) {
      assert.ok(messages.includes(`"${key}" is missing`), `${key}: ${messages.join('\n')}`);
    }
    assert.equal(problems.find((p) => p.message === '"id" is missing')?.line, 3);
  });

  test('a formula without steps is refused', () => {
    const problems = problemsOf(header);
    assert.match(onlyProblem(problems, 'steps').message, /has no steps/);
  });

  test('keys inside multi-line instructions are not mistaken for keys', () => {
    const problems = problemsOf(`${header}
[[steps]]
id = "a"
instructions = """
needs = ["nothing"]
"""
needs = ["ghost"]
`);
    assert.equal(onlyProblem(problems, 'steps[0].needs').line, 9);
  });

  test('every problem of a file is reported at once, in line order', () => {
    const problems = problemsOf(`${header}
[vars.mode]
required = true
default = "x"

[[steps]]
id = "a"
instructions = "{{nope}}"
needs = ["ghost"]
`);
    assert.equal(problems.length, 3);
    assert.deepEqual(
      problems.map((p) => p.line),
      [6, 10, 11],
    );
  });
});

describe('loadFormulaDir', () => {
  test('a bad file never keeps the good ones from loading, and extends resolves across files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'formulas-'));
    try {
      await writeFile(join(dir, 'good.formula.toml'), `${header}\n[[steps]]\nid = "a"\ninstructions = "x"\n`);
      await writeFile(join(dir, 'broken.formula.toml'), `name = "broken\n`);
      await writeFile(join(dir, 'child.formula.toml'), `name = "child"\nversion = 1\nextends = "demo"\n\n[[steps]]\nid = "b"\nneeds = ["a"]\ninstructions = "y"\n`);
      await writeFile(join(dir, 'orphan.formula.toml'), `name = "orphan"\nversion = 1\n\nextends = "missing"\n`);
      await writeFile(join(dir, 'notes.md'), 'not a formula');
      const loaded = await loadFormulaDir(dir);
      assert.deepEqual(loaded.formulas.map((f) => f.formula.name).sort(), ['child', 'demo', 'orphan']);
      const child = loaded.formulas.find((f) => f.formula.name === 'child');
      assert.deepEqual(child?.resolved?.steps.map((s) => s.id), ['a', 'b']);
      assert.equal(loaded.formulas.find((f) => f.formula.name === 'orphan')?.resolved, null);
      const broken = loaded.problems.filter((p) => p.file.endsWith('broken.formula.toml'));
      assert.equal(broken.length, 1);
      assert.equal(broken[0]?.line, 1);
      const orphan = loaded.problems.filter((p) => p.file.endsWith('orphan.formula.toml'));
      assert.equal(orphan.length, 1);
      assert.equal(orphan[0]?.line, 4);
      assert.match(orphan[0]?.message ?? '', /extends "missing", which was not found/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing folder has no formulas and no problems', async () => {
    assert.deepEqual(await loadFormulaDir(join(tmpdir(), 'no-such-formulas-folder-9f3a')), { formulas: [], problems: [] });
  });

  test('the shipped formulas all load without problems', async () => {
    const loaded = await loadFormulaDir(join(__dirname, '../../../formulas'));
    assert.deepEqual(loaded.problems, []);
    assert.deepEqual(loaded.formulas.map((f) => f.formula.name), ['bug-fix-with-reproduction', 'evolve-formula', 'implement-and-review', 'refactor-with-tests', 'research-then-plan']);
    const features = loaded.formulas.flatMap((f) => f.formula.steps);
    assert.ok(features.some((s) => s.forEach !== null), 'a fan-out');
    assert.ok(features.some((s) => s.gate !== null), 'a gate');
    assert.ok(features.some((s) => s.retry !== null), 'a retry');
    assert.ok(features.some((s) => s.when !== null), 'a condition');
  });
});
