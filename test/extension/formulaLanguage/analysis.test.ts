// What the formula editor knows while a person types: problems from the import's own validator, the steps and their
// lines, what the cursor is on (needs, extends), and the figures line of the CodeLens.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cursorContext, figuresLine, formulaProblems, MAX_ANALYSED_CHARS, needsCompletions, outline } from '../../../src/extension/formulaLanguage/analysis';

const TEXT = `name = "ship"
version = 1

[[steps]]
id = "plan"
title = "Plan the change"
instructions = "Plan."

[[steps]]
id = "code"
title = "Write the code"
instructions = "Code."
needs = ["plan", "nope"]

[[steps]]
id = "review"
instructions = "Review."
needs = [
  "code",
  "pl
]
`;

/** The 0-based (line, column) of the first `marker` in TEXT, plus `offset`. */
function at(text: string, marker: string, offset = 0): [number, number] {
  const index = text.indexOf(marker) + offset;
  const before = text.slice(0, index).split('\n');
  return [before.length - 1, before.at(-1)!.length];
}

describe('formula analysis', () => {
  it('reports the validator\'s problems with line, field and fix', () => {
    const problems = formulaProblems(TEXT.replace('"pl\n', '"plan"\n'), 'ship.formula.toml');
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.line, 13);
    assert.equal(problems[0]!.field, 'steps[1].needs');
    assert.match(problems[0]!.message, /needs "nope"/);
    assert.match(problems[0]!.fix, /Use one of the step ids/);
    assert.match(formulaProblems('name = "x\n', 'f')[0]!.message, /TOML syntax error/);
    const huge = formulaProblems('#'.repeat(MAX_ANALYSED_CHARS + 1), 'f');
    assert.match(huge[0]!.message, /not checked as you type/);
  });

  it('outlines name and steps with their lines, even when the TOML does not parse', () => {
    const o = outline(TEXT);
    assert.deepEqual(o.name, { value: 'ship', line: 0 });
    assert.deepEqual(o.steps.map((s) => [s.id, s.line, s.title]), [['plan', 4, 'Plan the change'], ['code', 9, 'Write the code'], ['review', 15, undefined]]);
    assert.equal(o.steps[0]!.column, 6);
    assert.deepEqual(outline('extends = "base"\nname = "child"\n').extendsName, { value: 'base', line: 0, column: 11 });
  });

  it('knows the cursor is in needs (one line or several) and offers the other steps', () => {
    const [l1, c1] = at(TEXT, '"nope"', 2);
    const inline = cursorContext(TEXT, l1, c1);
    assert.equal(inline.kind, 'needs');
    if (inline.kind === 'needs') {
      assert.equal(inline.stepId, 'code');
      assert.equal(inline.word, 'nope');
      assert.deepEqual(needsCompletions(TEXT, inline).map((s) => s.id), ['plan', 'review'], 'not the step itself');
    }
    const [l2, c2] = at(TEXT, '"pl\n', 3);
    const multi = cursorContext(TEXT, l2, c2);
    assert.equal(multi.kind, 'needs');
    if (multi.kind === 'needs') {
      assert.equal(multi.stepId, 'review');
      assert.equal(multi.word, 'pl');
    }
    const [l3, c3] = at(TEXT, 'Plan the change', 2);
    assert.equal(cursorContext(TEXT, l3, c3).kind, 'none', 'a title is not a reference');
    const [l4, c4] = at(TEXT, ']\n`'.slice(0, 1), 1);
    assert.equal(cursorContext(TEXT, l4, c4).kind, 'none', 'after the closing bracket');
    const ext = cursorContext('extends = "impl"\n', 0, 14);
    assert.deepEqual(ext, { kind: 'extends', word: 'impl', range: [11, 15] });
  });

  it('writes the live figures in one line', () => {
    assert.equal(figuresLine({ generation: 2, status: 'active', active: true }, { runs: 20, successes: 14 }), 'generation 2 · active · 14 of 20 runs ok');
    assert.equal(figuresLine({ generation: 1, status: 'candidate', active: false }, { runs: 0, successes: 0 }), 'generation 1 · candidate · no runs yet');
  });

  // No timing assertion (speed is measured in bench/); a scan that hung or went quadratic would hit the test timeout.
  it('answers on hostile text: deep brackets, long lines, __proto__ ids', { timeout: 10_000 }, () => {
    const hostile = `[[steps]]\nid = "__proto__"\ninstructions = "x"\nneeds = [${'['.repeat(5000)}\n${'"a",'.repeat(20000)}\n`;
    outline(hostile);
    cursorContext(hostile, 3, 100);
    cursorContext(hostile, 4, 40000);
    formulaProblems(hostile, 'h');
    assert.equal(outline(hostile).steps[0]!.id, '__proto__');
  });
});
