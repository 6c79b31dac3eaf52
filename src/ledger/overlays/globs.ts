import * as path from 'node:path';
import { Minimatch } from 'minimatch';
import { invalid } from '../errors';
import { UNSAFE_NAME_CHARS } from './inputs';

/**
 * Limits on the path globs of blackboard claims. Globs arrive from models and people, so they are hostile
 * input: minimatch (a maintained matcher) compiles each segment to a regular expression, and a segment with
 * many `*` backtracks polynomially in the name's length (O(n^k) for k stars), while `**` segments backtrack
 * over the path's depth. Braces (which expand exponentially) and extglobs (nested groups) are switched off;
 * several globs in one claim do what braces would.
 */
export const GLOB_LIMITS = {
  /** Characters in one glob. */
  length: 256,
  /** Globs in one claim. */
  perClaim: 32,
  /** `*` and `?` in one path segment (a `**` segment counts apart). */
  starsPerSegment: 3,
  /** `**` segments in one glob. */
  globstars: 3,
  /** Characters of a changed file's path that is compared; longer paths are not matched. */
  pathLength: 1024,
  /** Segments (folders) of a changed file's path that is compared. */
  pathDepth: 64,
} as const;

const OPTIONS = { dot: true, nobrace: true, noext: true, nocomment: true, nonegate: true, optimizationLevel: 2 } as const;

/**
 * Checks one glob of a claim and returns it normalized (no `./` prefix). Throws a LedgerError naming `field`
 * for: an empty or over-long glob, an absolute path or a `..` segment (a claim stays inside the workspace),
 * a backslash, a NUL or other control character, braces or extglob groups, or more wildcards than GLOB_LIMITS.
 */
export function checkGlob(glob: string, field: string): string {
  if (glob.length === 0) throw invalid(field, 'give a path glob such as "src/ledger/**" or "README.md"');
  if (glob.length > GLOB_LIMITS.length) throw invalid(field, `the glob is ${glob.length} characters long; keep it under ${GLOB_LIMITS.length}`);
  if (UNSAFE_NAME_CHARS.test(glob)) throw invalid(field, 'the glob contains a control or text-direction character; write a plain path glob');
  if (glob.includes('\\')) throw invalid(field, 'use forward slashes in globs ("src/a.ts", not "src\\a.ts")');
  if (glob.startsWith('/') || /^[A-Za-z]:/.test(glob)) throw invalid(field, `"${glob}" is absolute; claims are relative to the run's workspace (e.g. "src/**")`);
  const g = glob.replace(/^(\.\/)+/, '');
  const segments = g.split('/');
  if (segments.some((s) => s === '..')) throw invalid(field, `"${glob}" leaves the workspace (a ".." segment); claim paths inside it`);
  if (/[{}]/.test(g)) throw invalid(field, 'braces are not expanded in claims; give several globs instead of "{a,b}"');
  if (/[@!+*?]\(/.test(g)) throw invalid(field, 'extglob groups such as "+(a|b)" are not supported; give several plain globs');
  let globstars = 0;
  for (const s of segments) {
    if (s === '**') { globstars++; continue; }
    const stars = (s.match(/[*?]/g) ?? []).length;
    if (stars > GLOB_LIMITS.starsPerSegment) throw invalid(field, `"${s}" has ${stars} wildcards in one path segment; use at most ${GLOB_LIMITS.starsPerSegment}`);
  }
  if (globstars > GLOB_LIMITS.globstars) throw invalid(field, `the glob has ${globstars} "**" segments; use at most ${GLOB_LIMITS.globstars}`);
  if (g.length === 0 || segments.every((s) => s === '' || s === '.')) throw invalid(field, 'give a path glob such as "src/ledger/**" or "README.md"');
  return g;
}

/**
 * A test for changed files against a claim's globs (already checked by checkGlob). A file is given as a
 * workspace-relative POSIX path; paths over GLOB_LIMITS.pathLength characters or pathDepth segments never match.
 * A glob names a file or, when it names a folder ("src/ledger" or "src/ledger/"), everything under it.
 */
export function claimMatcher(globs: readonly string[]): (file: string) => boolean {
  const tests = globs.map(compiled);
  return (file) => file.length <= GLOB_LIMITS.pathLength && file.split('/').length <= GLOB_LIMITS.pathDepth && tests.some((t) => t(file));
}

/** Compiled globs, most recently used last: a run's claims are compared with every change of every turn. */
const COMPILED = new Map<string, (file: string) => boolean>();
const COMPILED_MAX = 2000;

function compiled(glob: string): (file: string) => boolean {
  const hit = COMPILED.get(glob);
  if (hit) {
    COMPILED.delete(glob);
    COMPILED.set(glob, hit);
    return hit;
  }
  const bare = glob.replace(/\/+$/, '');
  const exact = new Minimatch(bare, OPTIONS);
  const under = new Minimatch(`${bare}/**`, OPTIONS);
  const test = (f: string) => exact.match(f) || under.match(f);
  COMPILED.set(glob, test);
  if (COMPILED.size > COMPILED_MAX) COMPILED.delete(COMPILED.keys().next().value!);
  return test;
}

/**
 * A changed file's path relative to `root`, with forward slashes; null when it lies outside `root` (such a
 * change touches no claim of the run) or is empty. `file` may be absolute (Codex reports absolute paths) or relative.
 */
export function workspacePath(root: string, file: string): string | null {
  const abs = path.resolve(root, file);
  const rel = path.relative(path.resolve(root), abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}
