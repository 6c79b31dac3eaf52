// Evolved variants as files under formulas/evolution/<family>/, so that a mutation can be reviewed and
// committed like code. The lineage lives in comment lines: the formula parser ignores comments, so the
// content hash (and therefore the variant's identity) depends on the formula alone.
import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, posix, relative, isAbsolute } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { writeFileAtomic } from '../store/atomicWrite';
import { basicString, canonicalize, contentHash } from './canonical';
import { MAX_FORMULA_LENGTH, parseFormula } from './parse';
import type { Formula, Problem } from './types';
import { familyNameProblem } from './validate';

export const EVOLUTION_DIR = 'formulas/evolution';
const LINEAGE_PREFIX = '# lineage: ';

export interface Lineage {
  family: string;
  generation: number;
  /** Content hashes of the variants this one was derived from. */
  parents: string[];
  /** One line saying what changed (summarizeMutations). */
  summary: string;
}

export interface EvolutionEntry extends Lineage {
  /** Path relative to the root, with forward slashes. */
  path: string;
  /** Content hash recomputed from the formula in the file. */
  hash: string;
  formula: Formula;
}

function checkFamily(family: string): void {
  const problem = familyNameProblem(family);
  if (problem) throw new Error(`family "${family.length > 60 ? `${family.slice(0, 60)}…` : family}" cannot be a folder name: ${problem}`);
}

/**
 * Throws unless `folder` (which exists) lies inside `rootDir` once symbolic links are resolved: a
 * `formulas` or `formulas/evolution` that links elsewhere would otherwise send evolution files (or
 * reads) outside the workspace.
 */
async function checkInside(rootDir: string, folder: string): Promise<void> {
  const [root, real] = await Promise.all([realpath(rootDir), realpath(folder)]);
  const rel = relative(root, real);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new Error(`${folder} leads outside the workspace (to ${real}) through a symbolic link; evolution files are kept inside ${root} — replace the link with a folder`);
  }
}

/**
 * Throws unless the evolution folder of `family` under `rootDir`, as far as it exists, lies inside
 * `rootDir` once symbolic links are resolved. Called before a variant is recorded, so a mutation whose
 * file could not be written where it belongs is refused before anything is written.
 */
export async function checkEvolutionFolder(rootDir: string, family: string): Promise<void> {
  checkFamily(family);
  for (const folder of [join(rootDir, EVOLUTION_DIR, family), join(rootDir, EVOLUTION_DIR), join(rootDir, 'formulas')]) {
    const exists = await stat(folder).then(() => true, () => false);
    if (exists) {
      await checkInside(rootDir, folder);
      return;
    }
  }
}

/** `formulas/evolution/<family>/g<generation>-<hash8>.formula.toml`, relative to the workspace root. */
export function evolutionPath(family: string, generation: number, hash: string): string {
  checkFamily(family);
  if (!Number.isInteger(generation) || generation < 0) throw new Error(`generation ${generation} is not a whole number of at least 0`);
  if (!/^[0-9a-f]{8,}$/.test(hash)) throw new Error(`"${hash}" is not a hex content hash`);
  return posix.join(EVOLUTION_DIR, family, `g${generation}-${hash.slice(0, 8)}.formula.toml`);
}

/** The text of an evolution file: lineage comments, then the canonical formula. */
export function renderEvolutionFile(formula: Formula, lineage: Lineage): string {
  const hash = contentHash(formula);
  const header = [
    `# Variant of formula family "${lineage.family}", written by Gas City for Codex.`,
    '# The "# lineage:" lines say where it came from; they are comments, so the content hash covers only the formula.',
    `${LINEAGE_PREFIX}family = ${basicString(lineage.family)}`,
    `${LINEAGE_PREFIX}generation = ${lineage.generation}`,
    `${LINEAGE_PREFIX}parents = [${lineage.parents.map(basicString).join(', ')}]`,
    `${LINEAGE_PREFIX}summary = ${basicString(lineage.summary)}`,
    `${LINEAGE_PREFIX}hash = ${basicString(hash)}`,
  ];
  return `${header.join('\n')}\n\n${canonicalize(formula)}`;
}

export interface WrittenEvolutionFile {
  /** Path relative to the root, with forward slashes. */
  path: string;
  hash: string;
  /** False when the same file was already there, so writing again changed nothing. */
  written: boolean;
}

/**
 * Writes a variant's file atomically (temp file, fsync, rename, fsync of the folder), so a reader never
 * sees half a file. The family is the formula's name. Writing the same variant again is a no-op.
 */
export async function writeEvolutionFile(rootDir: string, formula: Formula, lineage: Omit<Lineage, 'family'>): Promise<WrittenEvolutionFile> {
  if (formula.extends !== null) throw new Error(`formula "${formula.name}" extends "${formula.extends}"; evolution files hold flat formulas`);
  const family = formula.name;
  const hash = contentHash(formula);
  const path = evolutionPath(family, lineage.generation, hash);
  const text = renderEvolutionFile(formula, { ...lineage, family });
  const target = join(rootDir, path);
  const folder = join(rootDir, EVOLUTION_DIR, family);
  const existing = await readFile(target, 'utf8').catch(() => null);
  if (existing === text) return { path, hash, written: false };
  await mkdir(folder, { recursive: true });
  await checkInside(rootDir, folder);
  // The project's one atomic write: temp file, fsync, rename, fsync of the folder; the temp file goes on failure.
  writeFileAtomic(target, text);
  return { path, hash, written: true };
}

/** Reads one evolution file's text: lineage from the comments, the formula from the rest. */
export function parseEvolutionFile(source: string, path: string): { entry: EvolutionEntry | null; problems: Problem[] } {
  const problems: Problem[] = [];
  const lineageLines: string[] = [];
  const lineNumbers: number[] = [];
  source.split(/\r?\n/).forEach((line, i) => {
    if (line.startsWith(LINEAGE_PREFIX)) {
      lineageLines.push(line.slice(LINEAGE_PREFIX.length));
      lineNumbers.push(i + 1);
    }
  });
  let lineage: Record<string, unknown> = {};
  try {
    lineage = parseToml(lineageLines.join('\n'));
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    problems.push({ file: path, line: lineNumbers[error.line - 1] ?? 1, field: 'lineage', message: `the lineage header is not valid: ${error.message.split('\n')[0]}`, fix: 'Restore the "# lineage:" lines as written, e.g. # lineage: generation = 2.' });
  }
  const { formula, problems: formulaProblems } = parseFormula(source, path);
  problems.push(...formulaProblems);
  if (!formula) return { entry: null, problems };
  const hash = contentHash(formula);
  const family = typeof lineage['family'] === 'string' ? lineage['family'] : formula.name;
  const generation = typeof lineage['generation'] === 'number' ? lineage['generation'] : 0;
  const parents = Array.isArray(lineage['parents']) ? lineage['parents'].filter((p): p is string => typeof p === 'string') : [];
  const summary = typeof lineage['summary'] === 'string' ? lineage['summary'] : '';
  if (lineage['generation'] === undefined && problems.length === 0) {
    problems.push({ file: path, line: 1, field: 'lineage.generation', message: 'the file has no "# lineage: generation = N" line', fix: 'Add the lineage header, or write the file with writeEvolutionFile.' });
  }
  if (family !== formula.name) {
    problems.push({ file: path, line: lineNumbers[0] ?? 1, field: 'lineage.family', message: `the lineage names family "${family}", but the formula is named "${formula.name}"`, fix: `Make them the same; a variant's name is its family.` });
  }
  if (typeof lineage['hash'] === 'string' && lineage['hash'] !== hash) {
    // Not an error: the content defines the variant. Saying so explains why the file now counts as new.
    problems.push({ file: path, line: lineNumbers[lineageLines.findIndex((l) => l.startsWith('hash'))] ?? 1, field: 'lineage.hash', message: `the formula was edited after the file was written: its content hash is now ${hash.slice(0, 8)}, not ${lineage['hash'].slice(0, 8)}`, fix: 'If the edit is intended, it is a new variant; write it with writeEvolutionFile so its file name and header match.' });
  }
  return { entry: { path, family, generation, parents, summary, hash, formula }, problems };
}

/**
 * Every variant file under `<rootDir>/formulas/evolution/`, sorted by family, generation and hash. A bad
 * file is reported in problems and never stops the others from loading. Importing the same files twice
 * gives the same hashes, so the ledger can treat an import as idempotent.
 */
export async function readEvolutionDir(rootDir: string): Promise<{ entries: EvolutionEntry[]; problems: Problem[] }> {
  const entries: EvolutionEntry[] = [];
  const problems: Problem[] = [];
  const base = join(rootDir, EVOLUTION_DIR);
  const families = await readdir(base, { withFileTypes: true }).catch(() => []);
  if (families.length > 0) {
    try {
      await checkInside(rootDir, base);
    } catch (error) {
      return { entries, problems: [{ file: EVOLUTION_DIR, line: 0, field: '', message: (error as Error).message, fix: `Make ${EVOLUTION_DIR} a real folder inside the workspace.` }] };
    }
  }
  // Symbolic links (to folders or files) are skipped: Dirent reports them as links, not as folders or files.
  for (const family of families.filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const names = (await readdir(join(base, family), { withFileTypes: true })).filter((d) => d.isFile() && d.name.endsWith('.formula.toml')).map((d) => d.name).sort();
    for (const name of names) {
      const path = posix.join(EVOLUTION_DIR, family, name);
      const size = (await stat(join(base, family, name))).size;
      if (size > MAX_FORMULA_LENGTH) {
        problems.push({ file: path, line: 1, field: '', message: `the file has ${size} bytes; a formula may have at most ${MAX_FORMULA_LENGTH}`, fix: 'Remove the file; an evolved variant is never that large.' });
        continue;
      }
      const source = await readFile(join(base, family, name), 'utf8');
      const { entry, problems: fileProblems } = parseEvolutionFile(source, path);
      problems.push(...fileProblems);
      if (entry && entry.family !== family) {
        problems.push({ file: path, line: 1, field: 'lineage.family', message: `the file is in folder "${family}" but belongs to family "${entry.family}"`, fix: `Move it to ${EVOLUTION_DIR}/${entry.family}/.` });
      }
      if (entry) entries.push(entry);
    }
  }
  entries.sort((a, b) => a.family.localeCompare(b.family) || a.generation - b.generation || a.hash.localeCompare(b.hash));
  return { entries, problems };
}
