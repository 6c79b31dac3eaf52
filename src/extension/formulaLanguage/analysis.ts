// What the editor knows about a formula file (`*.formula.toml`) as a person types: its problems (from the same
// parser and validator the import uses), its step ids with their lines, and what the cursor is on (a step id inside
// `needs = [...]`, the parent name of `extends`, the formula's `name`). Pure (no vscode import), so it is unit-tested;
// src/extension/formulaLanguage/providers.ts turns it into diagnostics, completion, definitions, hovers and CodeLens.
//
// The scan is line-based and tolerant: it must answer while the file is half-written and the TOML does not parse.
import { parseFormula } from '../../ledger/formula/index';
import type { Problem } from '../../ledger/formula/index';

/** Texts longer than this are not scanned as you type (the import still reads them and says what is wrong). */
export const MAX_ANALYSED_CHARS = 1_000_000;

/** A step's id where it is defined: `id = "plan"` under `[[steps]]`. Lines and columns are 0-based. */
export interface StepDefinition {
  readonly id: string;
  readonly title: string | undefined;
  readonly line: number;
  /** Column of the id's first character (inside the quotes). */
  readonly column: number;
}

export interface FormulaOutline {
  /** The `name = "..."` value and its line, when the file has one at the top level. */
  readonly name: { readonly value: string; readonly line: number } | undefined;
  readonly extendsName: { readonly value: string; readonly line: number; readonly column: number } | undefined;
  readonly steps: readonly StepDefinition[];
}

/** What the cursor is on, for completion, definitions and hovers. */
export type CursorContext =
  | { readonly kind: 'needs'; readonly stepId: string | undefined; readonly word: string; readonly range: readonly [number, number] }
  | { readonly kind: 'extends'; readonly word: string; readonly range: readonly [number, number] }
  | { readonly kind: 'none' };

/** The problems of a formula file as the import would report them (1-based lines, as Problem has them). */
export function formulaProblems(text: string, file: string): Problem[] {
  if (text.length > MAX_ANALYSED_CHARS) {
    return [{ file, line: 1, field: '', message: `the file has ${text.length} characters; it is not checked as you type`, fix: 'Import it to see its problems, or split it.' }];
  }
  return parseFormula(text, file).problems;
}

const HEADER = /^\s*(\[\[?)\s*([A-Za-z0-9_."'-]+?)\s*(\]\]?)\s*(#.*)?$/;
const STRING_KEY = /^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*"((?:[^"\\]|\\.)*)"/;

/** The top-level name and extends, and every `[[steps]]` table's id and title, with their lines. */
export function outline(text: string): FormulaOutline {
  let name: FormulaOutline['name'];
  let extendsName: FormulaOutline['extendsName'];
  const steps: StepDefinition[] = [];
  let table = '';
  let current: { id?: string; title?: string; line?: number; column?: number } | undefined;
  const flush = (): void => {
    if (current?.id !== undefined) steps.push({ id: current.id, title: current.title, line: current.line!, column: current.column! });
    current = undefined;
  };
  const lines = text.length > MAX_ANALYSED_CHARS ? [] : text.split('\n');
  lines.forEach((raw, line) => {
    const header = HEADER.exec(raw);
    if (header) {
      flush();
      table = header[1] === '[[' ? `[[${header[2]}]]` : header[2]!;
      if (table === '[[steps]]') current = {};
      return;
    }
    const kv = STRING_KEY.exec(raw);
    if (!kv) return;
    const [, key, value] = kv;
    if (table === '' && key === 'name') name = { value: value!, line };
    else if (table === '' && key === 'extends') extendsName = { value: value!, line, column: raw.indexOf('"') + 1 };
    else if (table === '[[steps]]' && current) {
      if (key === 'id') Object.assign(current, { id: value, line, column: raw.indexOf('"') + 1 });
      else if (key === 'title') current.title = value;
    }
  });
  flush();
  return { name, extendsName, steps };
}

/** The quoted word around `column` on a line: its text and its range (without the quotes), or undefined. */
function quotedWordAt(line: string, column: number): { word: string; range: [number, number] } | undefined {
  let start = column;
  while (start > 0 && /[A-Za-z0-9_.-]/.test(line[start - 1]!)) start--;
  let end = column;
  while (end < line.length && /[A-Za-z0-9_.-]/.test(line[end]!)) end++;
  if (line[start - 1] !== '"') return undefined;
  return { word: line.slice(start, end), range: [start, end] };
}

/**
 * What the cursor at (line, column), 0-based, is on: a step id in a `needs` array (also when the array spans
 * lines), the parent in `extends = "..."`, or nothing we complete.
 */
export function cursorContext(text: string, line: number, column: number): CursorContext {
  if (text.length > MAX_ANALYSED_CHARS) return { kind: 'none' };
  const lines = text.split('\n');
  const here = lines[line] ?? '';
  const quoted = quotedWordAt(here, column);
  if (/^\s*extends\s*=\s*"/.test(here) && quoted) return { kind: 'extends', word: quoted.word, range: quoted.range };
  // Inside `needs = [`: from that line to the cursor, more `[` than `]` outside strings.
  for (let l = line; l >= 0 && l > line - 50; l--) {
    const text = l === line ? here.slice(0, column) : lines[l]!;
    if (l !== line && (HEADER.test(text) || /^\s*[A-Za-z_][A-Za-z0-9_-]*\s*=/.test(text) && !/^\s*needs\s*=/.test(text))) break;
    const m = /^\s*needs\s*=\s*\[/.exec(text);
    if (!m) continue;
    const upToCursor = [...lines.slice(l, line), here.slice(0, column)].join('\n').slice(m[0].length);
    const open = upToCursor.replace(/"(?:[^"\\]|\\.)*"?/g, '').split('').reduce((depth, c) => depth + (c === '[' ? 1 : c === ']' ? -1 : 0), 1);
    if (open <= 0) break;
    const stepId = stepAt(lines, line);
    return { kind: 'needs', stepId, word: quoted?.word ?? '', range: quoted?.range ?? [column, column] };
  }
  return { kind: 'none' };
}

/** The id of the `[[steps]]` table a line is in, if it has one. */
function stepAt(lines: readonly string[], line: number): string | undefined {
  let start = line;
  while (start >= 0 && !HEADER.test(lines[start]!)) start--;
  if (start < 0 || !/^\s*\[\[\s*steps\s*\]\]/.test(lines[start]!)) return undefined;
  for (let l = start + 1; l < lines.length && !HEADER.test(lines[l]!); l++) {
    const kv = STRING_KEY.exec(lines[l]!);
    if (kv && kv[1] === 'id') return kv[2];
  }
  return undefined;
}

/** The step ids `needs` may name at the cursor: every step but the one being edited, in file order. */
export function needsCompletions(text: string, context: Extract<CursorContext, { kind: 'needs' }>): StepDefinition[] {
  return outline(text).steps.filter((s) => s.id !== context.stepId);
}

/**
 * A variant's live figures in one line, e.g. "generation 2 · active · 14 of 20 runs ok": what the hover and the
 * CodeLens on a formula's `name` show.
 */
export function figuresLine(v: { readonly generation: number; readonly status: string; readonly active: boolean }, evidence: { readonly runs: number; readonly successes: number }): string {
  const runs = evidence.runs === 0 ? 'no runs yet' : `${evidence.successes} of ${evidence.runs} run${evidence.runs === 1 ? '' : 's'} ok`;
  return `generation ${v.generation} · ${v.active ? 'active' : v.status} · ${runs}`;
}
