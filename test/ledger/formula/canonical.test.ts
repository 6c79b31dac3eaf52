// The canonical text is the identity of a variant: it must round-trip and ignore formatting.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { canonicalize, contentHash, parseFormula, toToml } from '../../../src/ledger/formula/index';
import type { Formula } from '../../../src/ledger/formula/index';

const formulasDir = join(__dirname, '../../../formulas');
const shipped = readdirSync(formulasDir).filter((name) => name.endsWith('.formula.toml'));

function parseOk(source: string): Formula {
  const result = parseFormula(source, 'test.formula.toml');
  assert.deepEqual(result.problems, []);
  return result.formula as Formula;
}

// Random strings rarely hit what TOML strings find hard, so half the cases are built from those pieces.
const trickyText = fc
  .array(fc.constantFrom('"', '""', '"""', '\\', '\n', '\r\n', "'''", 'a', '\u0001', '\t', ' ', '\u007f', 'é'), { maxLength: 12 })
  .map((parts) => parts.join(''));

describe('round trip', () => {
  for (const name of shipped) {
    test(`${name}: file → parse → toToml → parse gives the same formula`, () => {
      const formula = parseOk(readFileSync(join(formulasDir, name), 'utf8'));
      const again = parseOk(toToml(formula));
      assert.deepEqual(again, formula);
      assert.equal(toToml(again), toToml(formula));
    });
  }

  test('a formula that extends another keeps exactly the keys it sets', () => {
    const child = parseOk(`name = "child"
version = 2
extends = "parent"
remove_steps = ["old"]

[[steps]]
id = "review"
needs = []
instructions = "stricter review"
`);
    assert.deepEqual(child.stepKeys, { review: ['instructions', 'needs'] });
    const text = toToml(child);
    assert.doesNotMatch(text, /title =/);
    assert.deepEqual(parseOk(text), child);
  });

  test('any text survives toToml and parse, quotes, backslashes and control characters included', () => {
    const base = parseOk(`name = "t"\nversion = 1\n\n[vars.v]\ndefault = "x"\n\n[[steps]]\nid = "a"\ninstructions = "x"\n`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), trickyText), fc.string({ maxLength: 30 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), (instructions, title, list) => {
        const formula = structuredClone(base);
        const step = formula.steps[0]!;
        step.instructions = `${instructions}!`; // never empty, so it stays a valid formula
        step.title = `${title}t`;
        formula.description = instructions;
        formula.vars['v']!.default = list;
        const text = toToml(formula);
        const again = parseFormula(text, 'x').formula;
        assert.deepEqual(again, formula, text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('contentHash', () => {
  const tidy = `name = "demo"
version = 1
description = "d"

[vars.mode]
default = "fast"
enum = ["fast", "slow"]

[vars.task]
required = true

[[steps]]
id = "a"
title = "A"
instructions = """
Do {{task}}.
"""

[[steps]]
id = "b"
title = "B"
needs = ["a"]
when = "{{mode}} == 'fast'"
instructions = "Then b."

[steps.retry]
max = 2
on_exhausted = "skip"
`;

  // Same content: other key order, comments, whitespace, inline tables, literal strings, another var order.
  const messy = `# A comment that changes nothing.
version   =   1
description = 'd'
name = "demo"   # trailing comment

[vars.task]
required = true
[vars.mode]
enum = [ "fast",
         "slow" ]
default = "fast"

[[steps]]
instructions = '''
Do {{task}}.
'''
title = "A"
id = "a"

[[steps]]
retry = { on_exhausted = "skip", max = 2 }
instructions = "Then b."
when = "{{mode}} == 'fast'"
needs = [ "a" ]
id = "b"
title = "B"
`;

  test('is the same under reformatting, comments and key order', () => {
    assert.equal(contentHash(parseOk(messy)), contentHash(parseOk(tidy)));
    assert.equal(canonicalize(parseOk(messy)), canonicalize(parseOk(tidy)));
    assert.match(contentHash(parseOk(tidy)), /^[0-9a-f]{64}$/);
  });

  test('changes when the content changes, including step order', () => {
    const base = contentHash(parseOk(tidy));
    assert.notEqual(contentHash(parseOk(tidy.replace('Then b.', 'Then b!'))), base);
    assert.notEqual(contentHash(parseOk(tidy.replace('max = 2', 'max = 3'))), base);
    const reordered = parseOk(tidy);
    reordered.steps.reverse();
    assert.notEqual(contentHash(reordered), base);
  });
});
