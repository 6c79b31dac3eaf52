// The condition language of `when`: comparisons and boolean logic over variables and literals.
// It is parsed into a tree and interpreted, never handed to eval, so a formula file cannot run code.
//
//   expr    := or
//   or      := and ("or" and)*
//   and     := not ("and" not)*
//   not     := "not" not | compare
//   compare := operand (("==" | "!=") operand)?
//   operand := "(" expr ")" | "{{" name "}}" | name | 'string' | "string" | true | false
import type { VarValue } from './types';
import { varText } from './template';

/** Longest condition, in characters: a `when` is one line of logic, and the bound keeps every walk over its tree short. */
export const MAX_CONDITION_LENGTH = 2000;
/** Deepest nesting of parentheses and `not` in a condition; the parser recurses once per level. */
export const MAX_CONDITION_DEPTH = 32;

export type Expression =
  | { kind: 'literal'; value: string | boolean }
  | { kind: 'var'; name: string }
  | { kind: 'not'; operand: Expression }
  | { kind: 'and' | 'or'; left: Expression; right: Expression }
  | { kind: '==' | '!='; left: Expression; right: Expression };

type Token =
  | { kind: 'string'; value: string; at: number }
  | { kind: 'name'; value: string; at: number }
  | { kind: 'var'; value: string; at: number }
  | { kind: 'op'; value: '==' | '!=' | '(' | ')'; at: number };

export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

const WORD = /[A-Za-z_][A-Za-z0-9_-]*/y;

function tokenize(source: string): Token[] {
  if (source.length > MAX_CONDITION_LENGTH) {
    throw new ExpressionError(`the condition has ${source.length} characters; at most ${MAX_CONDITION_LENGTH} are allowed`, MAX_CONDITION_LENGTH);
  }
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const ch = source[i] as string;
    if (/\s/.test(ch)) {
      i += 1;
      continue;
    }
    if (source.startsWith('{{', i)) {
      const end = source.indexOf('}}', i);
      if (end < 0) throw new ExpressionError('"{{" is not closed by "}}"', i);
      const name = source.slice(i + 2, end).trim();
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw new ExpressionError(`"{{${name}}}" is not a variable name`, i);
      tokens.push({ kind: 'var', value: name, at: i });
      i = end + 2;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const end = source.indexOf(ch, i + 1);
      if (end < 0) throw new ExpressionError(`string starting at column ${i + 1} is not closed`, i);
      tokens.push({ kind: 'string', value: source.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    if (source.startsWith('==', i) || source.startsWith('!=', i)) {
      tokens.push({ kind: 'op', value: source.slice(i, i + 2) as '==' | '!=', at: i });
      i += 2;
      continue;
    }
    if (ch === '(' || ch === ')') {
      tokens.push({ kind: 'op', value: ch, at: i });
      i += 1;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(source);
    if (word) {
      tokens.push({ kind: 'name', value: word[0], at: i });
      i += word[0].length;
      continue;
    }
    throw new ExpressionError(`unexpected "${ch}" (allowed: ==, !=, and, or, not, parentheses, {{var}}, 'text', true, false)`, i);
  }
  return tokens;
}

/**
 * Parses a condition; throws ExpressionError saying where and what is wrong, including a condition longer
 * than MAX_CONDITION_LENGTH or nested deeper than MAX_CONDITION_DEPTH (so no input can overflow the stack).
 */
export function parseExpression(source: string): Expression {
  const tokens = tokenize(source);
  let position = 0;
  let depth = 0;
  const deeper = (at: number): void => {
    depth += 1;
    if (depth > MAX_CONDITION_DEPTH) {
      throw new ExpressionError(`the condition nests parentheses and "not" more than ${MAX_CONDITION_DEPTH} deep`, at);
    }
  };
  const peek = (): Token | undefined => tokens[position];
  const isWord = (word: string): boolean => {
    const token = peek();
    return token !== undefined && token.kind === 'name' && token.value === word;
  };

  function parseOr(): Expression {
    let left = parseAnd();
    while (isWord('or')) {
      position += 1;
      left = { kind: 'or', left, right: parseAnd() };
    }
    return left;
  }
  function parseAnd(): Expression {
    let left = parseNot();
    while (isWord('and')) {
      position += 1;
      left = { kind: 'and', left, right: parseNot() };
    }
    return left;
  }
  function parseNot(): Expression {
    if (isWord('not')) {
      deeper((peek() as Token).at);
      position += 1;
      const operand = parseNot();
      depth -= 1;
      return { kind: 'not', operand };
    }
    const left = parseOperand();
    const token = peek();
    if (token && token.kind === 'op' && (token.value === '==' || token.value === '!=')) {
      position += 1;
      return { kind: token.value, left, right: parseOperand() };
    }
    return left;
  }
  function parseOperand(): Expression {
    const token = peek();
    if (!token) throw new ExpressionError('the condition ends where a value was expected', source.length);
    position += 1;
    if (token.kind === 'op' && token.value === '(') {
      deeper(token.at);
      const inner = parseOr();
      depth -= 1;
      const close = peek();
      if (!close || close.kind !== 'op' || close.value !== ')') {
        throw new ExpressionError('"(" is not closed by ")"', token.at);
      }
      position += 1;
      return inner;
    }
    if (token.kind === 'string') return { kind: 'literal', value: token.value };
    if (token.kind === 'var') return { kind: 'var', name: token.value };
    if (token.kind === 'name') {
      if (token.value === 'true') return { kind: 'literal', value: true };
      if (token.value === 'false') return { kind: 'literal', value: false };
      if (token.value === 'and' || token.value === 'or' || token.value === 'not') {
        throw new ExpressionError(`"${token.value}" where a value was expected`, token.at);
      }
      return { kind: 'var', name: token.value };
    }
    throw new ExpressionError(`"${token.value}" where a value was expected`, token.at);
  }

  if (tokens.length === 0) throw new ExpressionError('the condition is empty', 0);
  const tree = parseOr();
  const rest = peek();
  if (rest) throw new ExpressionError(`unexpected "${rest.value}" after a complete condition`, rest.at);
  return tree;
}

/** Variable names a condition reads, in order of first appearance. */
export function expressionVars(expression: Expression): string[] {
  const names = new Set<string>();
  // An explicit stack: a long chain of `and` builds a tree as deep as the chain is long.
  const stack: Expression[] = [expression];
  while (stack.length > 0) {
    const node = stack.pop() as Expression;
    if (node.kind === 'var') names.add(node.name);
    else if (node.kind === 'not') stack.push(node.operand);
    else if (node.kind !== 'literal') stack.push(node.right, node.left);
  }
  return [...names];
}

/** A value is true unless it is false, an empty string, "false", or an empty list. */
export function truthy(value: VarValue | undefined): boolean {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.length > 0;
  return value !== '' && value !== 'false';
}

/**
 * Evaluates a condition. Comparisons compare text, so `{{fast}} == true` holds whether the variable is the
 * boolean true or the string "true"; an unknown variable reads as the empty string.
 */
export function evaluateExpression(expression: Expression, values: Record<string, VarValue>): boolean {
  const value = (node: Expression): VarValue => {
    if (node.kind === 'literal') return node.value;
    if (node.kind === 'var') return Object.prototype.hasOwnProperty.call(values, node.name) ? (values[node.name] as VarValue) : '';
    return evaluateExpression(node, values);
  };
  switch (expression.kind) {
    case 'literal':
    case 'var':
      return truthy(value(expression));
    case 'not':
      return !evaluateExpression(expression.operand, values);
    case 'and':
      return evaluateExpression(expression.left, values) && evaluateExpression(expression.right, values);
    case 'or':
      return evaluateExpression(expression.left, values) || evaluateExpression(expression.right, values);
    case '==':
      return varText(value(expression.left)) === varText(value(expression.right));
    case '!=':
      return varText(value(expression.left)) !== varText(value(expression.right));
  }
}
