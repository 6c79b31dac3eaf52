// The `when` language: small, safe, and precise about errors.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evaluateExpression, ExpressionError, expressionVars, parseExpression } from '../../../src/ledger/formula/index';

const evaluate = (source: string, values: Record<string, string | boolean | string[]>): boolean => evaluateExpression(parseExpression(source), values);

describe('conditions', () => {
  test('compare, combine and negate', () => {
    const values = { mode: 'fast', dry_run: false, tags: ['a'] };
    assert.equal(evaluate("{{mode}} == 'fast'", values), true);
    assert.equal(evaluate('{{mode}} != "fast"', values), false);
    assert.equal(evaluate("mode == 'fast' and not dry_run", values), true);
    assert.equal(evaluate("{{mode}} == 'slow' or {{dry_run}} == false", values), true);
    assert.equal(evaluate("not ({{mode}} == 'fast' or dry_run)", values), false);
    assert.equal(evaluate('tags', values), true);
    assert.equal(evaluate('missing', values), false);
    assert.equal(evaluate("{{dry_run}} == 'false'", values), true, 'comparisons compare text');
  });

  test('and binds tighter than or', () => {
    assert.equal(evaluate('true or true and false', {}), true);
    assert.equal(evaluate('(true or true) and false', {}), false);
  });

  test('lists the variables it reads', () => {
    assert.deepEqual(expressionVars(parseExpression("{{a}} == 'x' and not b or c != {{a}}")), ['a', 'b', 'c']);
  });

  test('rejects anything that is not the language, saying where', () => {
    const cases: Array<[string, RegExp]> = [
      ['{{mode}} = 1', /unexpected "="/],
      ["{{mode}} == 'fast", /not closed/],
      ['(true', /"\(" is not closed/],
      ['true true', /unexpected "true" after a complete condition/],
      ['process.exit()', /unexpected "\."/],
      ['', /empty/],
      ['and', /"and" where a value was expected/],
    ];
    for (const [source, message] of cases) {
      assert.throws(() => parseExpression(source), (error: unknown) => error instanceof ExpressionError && message.test(error.message), source);
    }
  });
});
