// How every surface words a run's git worktree (docs/replay.md): the runs tree's row, its tooltip and the run
// graph's details say the same. Pure (no vscode, no DOM), so both the host and the page use it.
import type { RunWorktree } from './protocol';

/** What the state of a worktree means to a person, as one word or two. */
export const WORKTREE_STATE_TEXT: Readonly<Record<RunWorktree['state'], string>> = {
  working: 'run working in it',
  open: 'open',
  merged: 'merged',
  discarded: 'discarded',
  removed: 'removed',
};

/** The branch's diff stats against its base, as git's --shortstat words them: `1 file, +2 -0` (empty while the run works). */
export function worktreeStats(w: RunWorktree): string {
  if (w.filesChanged === undefined) return '';
  const files = `${w.filesChanged} file${w.filesChanged === 1 ? '' : 's'}`;
  return `${files}, +${w.insertions ?? 0} -${w.deletions ?? 0}`;
}

/** One line for a run row: `gascity/r-abc · 1 file, +2 -0 · open`. */
export function worktreeLine(w: RunWorktree): string {
  return [w.branch, worktreeStats(w), WORKTREE_STATE_TEXT[w.state]].filter(Boolean).join(' · ');
}

/** Label and value pairs for a details table: branch, base, commits, changes, state (and the merge commit). */
export function worktreeFields(w: RunWorktree): [string, string][] {
  const rows: [string, string][] = [['Branch', w.branch], ['Base', w.base]];
  if (w.commits !== undefined) rows.push(['Commits', String(w.commits)]);
  const stats = worktreeStats(w);
  if (stats) rows.push(['Changes', stats]);
  rows.push(['State', WORKTREE_STATE_TEXT[w.state]]);
  if (w.mergeCommit) rows.push(['Merge commit', w.mergeCommit]);
  return rows;
}
