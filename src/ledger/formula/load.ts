// Loading a folder of formula files. One bad file never keeps the others from loading: each file's
// problems are reported with its name, and the good formulas are returned alongside.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveExtends } from './extends';
import { MAX_FORMULA_LENGTH, parseFormula } from './parse';
import { SourceLocator } from './locate';
import type { Formula, Problem } from './types';

export interface LoadedFormula {
  /** The file's path as given by `dir` joined with its name. */
  file: string;
  /** The formula as written. */
  formula: Formula;
  /** The flat formula after extends; null when extends could not be resolved (see problems). */
  resolved: Formula | null;
}

export interface FormulaDirectory {
  formulas: LoadedFormula[];
  /** Every problem of every file, each naming its file. */
  problems: Problem[];
}

/** Loads `*.formula.toml` in a folder (not its subfolders, so evolution files stay apart), resolving extends among them. */
export async function loadFormulaDir(dir: string): Promise<FormulaDirectory> {
  // A workspace without a formulas folder simply has no formulas.
  const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const names = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.formula.toml'))
    .map((entry) => entry.name)
    .sort();
  const problems: Problem[] = [];
  const parsed: Array<{ file: string; source: string; formula: Formula }> = [];
  const byName = new Map<string, { file: string; formula: Formula }>();
  for (const name of names) {
    const file = join(dir, name);
    let source: string;
    try {
      // A huge file is refused before it is read, so it costs neither the memory nor the time.
      const size = (await stat(file)).size;
      if (size > MAX_FORMULA_LENGTH) {
        problems.push({ file, line: 1, field: '', message: `the file has ${size} bytes; a formula may have at most ${MAX_FORMULA_LENGTH}`, fix: 'Split the workflow into formulas that start each other through run gates.' });
        continue;
      }
      source = await readFile(file, 'utf8');
    } catch (error) {
      problems.push({ file, line: 0, field: '', message: `the file could not be read: ${(error as Error).message}`, fix: 'Check that the file exists and is readable.' });
      continue;
    }
    const result = parseFormula(source, file);
    problems.push(...result.problems);
    if (!result.formula) continue;
    const earlier = byName.get(result.formula.name);
    if (earlier) {
      const line = new SourceLocator(source).find('name');
      problems.push({ file, line: line.line, column: line.column, field: 'name', message: `formula name "${result.formula.name}" is already used by ${earlier.file}`, fix: 'Give each formula its own name; the name, not the file name, identifies a formula.' });
      continue;
    }
    byName.set(result.formula.name, { file, formula: result.formula });
    parsed.push({ file, source, formula: result.formula });
  }
  const formulas: LoadedFormula[] = parsed.map(({ file, source, formula }) => {
    if (formula.extends === null) return { file, formula, resolved: formula };
    const result = resolveExtends(formula, (name) => byName.get(name)?.formula, file);
    if (result.ok) return { file, formula, resolved: result.formula };
    // Place extends problems on the extends line of the child, where the author will look.
    const at = new SourceLocator(source).find('extends');
    problems.push(...result.problems.map((p) => ({ ...p, line: at.line, column: at.column })));
    return { file, formula, resolved: null };
  });
  return { formulas, problems };
}
