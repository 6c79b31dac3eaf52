// Worktrees: a run in a git repository works in its own git worktree, on its own branch
// (gascity/<runId>) at a recorded base commit, so runs never edit the person's checkout or each
// other's files; a person merges or discards the branch afterwards. Uses the real git CLI (execFile,
// no shell), so no run id, branch name or path is ever read by a shell. A folder without git (or a
// repository with no commit yet) works in place, as before. See docs/replay.md.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LedgerError } from '../ledger/index';
import { processStartTime } from './liveness';
import { event } from '../ledger/events';
import type { Ledger } from '../ledger/index';

/** Where a run's worktree lives, relative to the repository's top folder (excluded from git status). */
export const WORKTREES_DIR = path.join('.gascity', 'worktrees');
/** The branch prefix of run branches: `gascity/<runId>`. */
export const BRANCH_PREFIX = 'gascity/';
/** Task keys of replays (src/controller/replay.ts): their runs are throwaway, their worktrees removed when they end. */
export const REPLAY_TASK_PREFIX = 'replay:';
/** Longest a git command may take before it is killed and its step fails, in ms. */
const GIT_TIMEOUT_MS = 60_000;
/** The identity of commits the controller makes for a run (a person's git identity may be unset). */
const IDENTITY = ['-c', 'user.name=Gas City', '-c', 'user.email=gascity@localhost', '-c', 'commit.gpgsign=false'];
/** A run id as the ledger makes them (`r-` and lowercase base-36): anything else never reaches git. */
const RUN_ID = /^r-[a-z0-9]{1,40}$/;
/** A commit id as git prints it (abbreviated or full, SHA-1 or SHA-256). */
const COMMIT = /^[0-9a-f]{7,64}$/;

/** A run's worktree as the ledger recorded it (table run_worktrees). */
export interface WorktreeRow {
  runId: string;
  /** Absolute path of the worktree's top folder. */
  path: string;
  branch: string;
  baseCommit: string;
  /** The branch's last commit when the run ended, else null. */
  headCommit: string | null;
  /** Diff stats of the branch against the base commit when the run ended (null while it runs). */
  commits: number | null;
  filesChanged: number | null;
  insertions: number | null;
  deletions: number | null;
  /**
   * open (the run works in it), finished (ended, waiting for a person), closing (a process is merging or
   * discarding it now; the note names it), merged, discarded or removed.
   */
  status: 'open' | 'finished' | 'closing' | 'merged' | 'discarded' | 'removed';
  mergeCommit: string | null;
  /** When the row last changed (ISO 8601, the ledger's clock). */
  updatedAt: string;
  note: string | null;
}

/** A git command failed: the command and what git said. */
export class GitError extends Error {
  constructor(readonly args: readonly string[], readonly stderr: string, readonly code: number | string | null) {
    super(`git ${args.join(' ')} failed${code !== null ? ` (${String(code)})` : ''}: ${stderr.trim().split('\n').slice(-4).join(' / ') || 'no output'}`);
    this.name = 'GitError';
  }
}

/** Runs git in `cwd` without a shell; resolves with stdout, rejects with a GitError. */
export function git(cwd: string, args: readonly string[], timeoutMs = GIT_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...args], {
      cwd, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, windowsHide: true,
      // Never wait for a password or an editor: a run's git step is unattended.
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_EDITOR: 'true', GIT_MERGE_AUTOEDIT: 'no', LC_ALL: 'C' },
    }, (error, stdout, stderr) => {
      if (error) reject(new GitError(args, `${stderr}${stdout ? `\n${stdout}` : ''}` || error.message, (error as NodeJS.ErrnoException).code ?? null));
      else resolve(stdout);
    });
  });
}

/** The repository around `dir`: its top folder and HEAD commit, or null when there is none (no git, no commit yet). */
export async function repositoryOf(dir: string): Promise<{ top: string; head: string } | null> {
  try {
    const top = (await git(dir, ['rev-parse', '--show-toplevel'])).trim();
    // A linked worktree of the repository (a run's own) is not a place to start another run's worktree.
    const head = (await git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).trim();
    return top && head ? { top: fs.realpathSync(top), head } : null;
  } catch {
    return null;
  }
}

/** Parses `git diff --shortstat` ("3 files changed, 10 insertions(+), 2 deletions(-)"). */
export function parseShortstat(text: string): { filesChanged: number; insertions: number; deletions: number } {
  const n = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
  return { filesChanged: n(/(\d+) files? changed/), insertions: n(/(\d+) insertions?\(\+\)/), deletions: n(/(\d+) deletions?\(-\)/) };
}

/** True for a run nobody merges: a replay (its task key starts with `replay:`). */
export function isThrowawayRun(run: { taskKey: string | null }): boolean {
  return !!run.taskKey && run.taskKey.startsWith(REPLAY_TASK_PREFIX);
}

function invalidRun(runId: unknown): LedgerError {
  return new LedgerError(`runId: "${String(runId).slice(0, 80)}" is not a run id (runs are named like r-1a2b3c); give one from gascity runs`, 'invalid_input', 'runId');
}

interface RawWorktree {
  run_id: string; path: string; branch: string; base_commit: string; head_commit: string | null; commits: number | null;
  files_changed: number | null; insertions: number | null; deletions: number | null; status: WorktreeRow['status'];
  merge_commit: string | null; note: string | null; updated_at: string;
}

function toRow(r: RawWorktree): WorktreeRow {
  return {
    runId: r.run_id, path: r.path, branch: r.branch, baseCommit: r.base_commit, headCommit: r.head_commit, commits: r.commits,
    filesChanged: r.files_changed, insertions: r.insertions, deletions: r.deletions, status: r.status, mergeCommit: r.merge_commit, note: r.note,
    updatedAt: r.updated_at,
  };
}

/** What the Worktrees service needs: the ledger, the workspace folder, and who writes. */
export interface WorktreesOptions {
  ledger: Ledger;
  /** The workspace folder; a run's cwd is the same folder inside its worktree. */
  workspaceDir: string;
  actor?: string;
  log?: (message: string) => void;
}

/**
 * Gives runs their own git worktrees and records them in the ledger (run.worktree_* events): created
 * when a run's first node is dispatched, finished (the run's work committed on its branch, diff stats
 * recorded) when the run ends, and closed when a person merges or discards it, or at once for a
 * throwaway run (a replay). Every method is safe to call twice: the ledger row says what is done.
 */
export class Worktrees {
  private readonly ledger: Ledger;
  private readonly actor: string;
  private readonly log: (message: string) => void;
  private repo: Promise<{ top: string; head: string } | null> | undefined;
  private readonly creating = new Map<string, Promise<string>>();

  constructor(private readonly options: WorktreesOptions) {
    this.ledger = options.ledger;
    this.actor = options.actor ?? 'controller';
    this.log = options.log ?? (() => undefined);
  }

  /** The repository the workspace is in (looked up once), or null: runs then work in place. */
  repository(): Promise<{ top: string; head: string } | null> {
    this.repo ??= repositoryOf(this.options.workspaceDir);
    return this.repo;
  }

  /** The run's worktree row, if the ledger has one. */
  get(runId: string): WorktreeRow | undefined {
    const r = this.ledger.sql.get<RawWorktree>('SELECT * FROM run_worktrees WHERE run_id = ?', [runId]);
    return r ? toRow(r) : undefined;
  }

  /** Every recorded worktree, newest first. */
  list(): WorktreeRow[] {
    return this.ledger.sql.all<RawWorktree>('SELECT * FROM run_worktrees ORDER BY created_seq DESC').map(toRow);
  }

  /**
   * The folder a run works in right now: the workspace folder inside the run's open or finished
   * worktree, or the workspace folder itself (no git, no worktree yet, or the worktree is gone).
   */
  dirFor(runId: string): string {
    const w = this.get(runId);
    if (!w || (w.status !== 'open' && w.status !== 'finished') || !fs.existsSync(w.path)) return this.options.workspaceDir;
    return path.join(w.path, this.relativeWorkspace(w.path));
  }

  /** The workspace folder relative to the repository's top (a workspace may be a subfolder of its repository). */
  private relativeWorkspace(worktreePath: string): string {
    // The worktree lives at <top>/.gascity/worktrees/<runId>, so <top> is three levels up.
    const top = path.resolve(worktreePath, '..', '..', '..');
    let ws = this.options.workspaceDir;
    try {
      ws = fs.realpathSync(ws);
    } catch {
      // A workspace that vanished: its name as given.
    }
    const rel = path.relative(top, ws);
    return rel.startsWith('..') || path.isAbsolute(rel) ? '' : rel;
  }

  /**
   * Makes sure a run has its worktree and returns the folder it works in. In a folder without git it
   * returns the workspace folder and records nothing. A repository whose worktree cannot be made
   * (git refuses) is logged and the run works in place: a run is never held up by its worktree.
   * `base` (a commit id, for replays) checks the worktree out at that commit instead of HEAD; a
   * value that is not a commit of the repository is refused with a LedgerError naming `base`.
   */
  async ensure(runId: string, base?: string): Promise<string> {
    if (!RUN_ID.test(runId)) throw invalidRun(runId);
    if (base !== undefined && !COMMIT.test(base)) {
      throw new LedgerError(`base: "${String(base).slice(0, 80)}" is not a commit id (7 to 64 hex digits)`, 'invalid_input', 'base');
    }
    if (this.get(runId)) return this.dirFor(runId);
    const repo = await this.repository();
    if (!repo) return this.options.workspaceDir;
    let pending = this.creating.get(runId);
    if (!pending) {
      pending = this.create(runId, repo, base).finally(() => this.creating.delete(runId));
      this.creating.set(runId, pending);
    }
    return pending;
  }

  private async create(runId: string, repo: { top: string; head: string }, wanted?: string): Promise<string> {
    if (wanted !== undefined) {
      // Checked before anything is made: a replay at a commit this repository lacks must not run elsewhere.
      const known = await git(repo.top, ['cat-file', '-e', `${wanted}^{commit}`]).then(() => true, () => false);
      if (!known) throw new LedgerError(`base: commit ${wanted} is not in the repository at ${repo.top}`, 'not_found', 'base');
    }
    const dir = path.join(repo.top, WORKTREES_DIR, runId);
    const branch = `${BRANCH_PREFIX}${runId}`;
    try {
      await this.excludeWorktrees(repo.top);
      // The base is the repository's HEAD now (a run started later sees later commits).
      const base = (await git(repo.top, ['rev-parse', '--verify', `${wanted ?? 'HEAD'}^{commit}`])).trim();
      fs.mkdirSync(path.dirname(dir), { recursive: true });
      if (fs.existsSync(dir)) {
        // A worktree left by a controller that stopped before recording it: start it afresh.
        await git(repo.top, ['worktree', 'remove', '--force', dir]).catch(() => fs.rmSync(dir, { recursive: true, force: true }));
        await git(repo.top, ['worktree', 'prune']);
      }
      await git(repo.top, ['worktree', 'add', '--force', '-B', branch, dir, base]);
      await this.ledger.commit(({ sql }) => {
        if (sql.get('SELECT 1 FROM run_worktrees WHERE run_id = ?', [runId])) return { events: [], result: undefined };
        return { events: [event('run.worktree_created', { runId, path: dir, branch, baseCommit: base })], result: undefined };
      }, this.actor);
      this.log(`run ${runId}: works in its own worktree ${dir} on branch ${branch} at ${base.slice(0, 12)}`);
    } catch (e) {
      this.log(`run ${runId}: no worktree (${e instanceof Error ? e.message : String(e)}); it works in the workspace folder`);
      return this.options.workspaceDir;
    }
    return this.dirFor(runId);
  }

  /** Keeps the worktrees out of the person's `git status`: `.gascity/worktrees/` in the repository's info/exclude. */
  private async excludeWorktrees(top: string): Promise<void> {
    const common = (await git(top, ['rev-parse', '--git-common-dir'])).trim();
    const file = path.join(path.resolve(top, common), 'info', 'exclude');
    const line = '/.gascity/worktrees/';
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text.split('\n').includes(line)) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.appendFileSync(file, `${text && !text.endsWith('\n') ? '\n' : ''}# Gas City: each run's own git worktree\n${line}\n`);
  }

  /**
   * The run ended: what it left in its worktree is committed on its branch (one commit, by "Gas City"),
   * and the branch's diff stats against the base commit are recorded. Returns the row, or undefined
   * for a run without a worktree. Checks run after this, so their artifacts are not part of the branch.
   */
  async finish(runId: string): Promise<WorktreeRow | undefined> {
    const w = this.get(runId);
    if (!w || w.status !== 'open') return w;
    if (!fs.existsSync(w.path)) {
      await this.close(runId, 'removed', null, 'the worktree folder was gone when the run ended');
      return this.get(runId);
    }
    const run = this.ledger.getRun(runId);
    await git(w.path, ['add', '-A']);
    const staged = (await git(w.path, ['diff', '--cached', '--name-only'])).trim();
    if (staged) {
      const title = (run?.title ?? runId).replace(/[\r\n]+/g, ' ').slice(0, 120);
      await git(w.path, [...IDENTITY, 'commit', '--no-verify', '-q', '-m', `gascity: ${title}`, '-m', `Run ${runId} (${run?.status ?? 'ended'}).`]);
    }
    const head = (await git(w.path, ['rev-parse', 'HEAD'])).trim();
    const commits = Number((await git(w.path, ['rev-list', '--count', `${w.baseCommit}..${head}`])).trim()) || 0;
    const stat = parseShortstat(await git(w.path, ['diff', '--shortstat', w.baseCommit, head]));
    await this.ledger.commit(({ sql }) => {
      const row = sql.get<{ status: string }>('SELECT status FROM run_worktrees WHERE run_id = ?', [runId]);
      if (row?.status !== 'open') return { events: [], result: undefined };
      return { events: [event('run.worktree_finished', { runId, headCommit: head, commits, ...stat })], result: undefined };
    }, this.actor);
    this.log(`run ${runId}: ${stat.filesChanged} file(s) changed, +${stat.insertions} -${stat.deletions}, on ${w.branch}`);
    return this.get(runId);
  }

  /**
   * Merges a finished run's branch into the branch checked out in the workspace (`git merge --no-ff`),
   * then removes its worktree and branch. Throws a LedgerError naming what to do when the run is still
   * running, has no worktree, was closed already, or git cannot merge (a conflict is aborted, nothing
   * is left half merged).
   */
  async merge(runId: string, actor = this.actor): Promise<WorktreeRow> {
    const w = await this.closable(runId, 'merge');
    const repo = await this.repository();
    if (!repo) throw new LedgerError(`runId: the workspace ${this.options.workspaceDir} is not in a git repository any more; nothing to merge into`, 'conflict', 'runId');
    if (w.status === 'open') {
      try {
        await this.finish(runId);
      } catch (e) {
        // Another process finishing the same worktree at once makes git refuse one of the two (its index lock);
        // the worktree is then finished all the same, and the closing below decides who merges.
        await this.ledger.refresh();
        if (this.get(runId)?.status === 'open') throw e;
      }
    }
    // finish() finds a worktree folder deleted by hand and records it removed: there is no work to merge,
    // and merging its bare branch would report a merge that changed nothing.
    const ended = this.get(runId)!;
    if (ended.status === 'removed') {
      throw new LedgerError(`runId: run ${runId}'s worktree ${ended.path} is gone (${ended.note ?? ended.status}); there is nothing to merge`, 'conflict', 'runId');
    }
    const from = await this.takeClosing(runId, 'merge', actor);
    const now = this.get(runId)!;
    const branch = now.branch;
    let mergeCommit: string;
    try {
      await git(repo.top, [...IDENTITY, 'merge', '--no-ff', '--no-edit', '-m', `Merge run ${runId} (${branch})`, branch]);
      mergeCommit = (await git(repo.top, ['rev-parse', 'HEAD'])).trim();
    } catch (e) {
      await git(repo.top, ['merge', '--abort']).catch(() => undefined);
      const why = e instanceof GitError ? e.stderr.trim().split('\n').slice(-6).join('\n  ') : String(e);
      await this.ledger.commit(() => ({ events: [event('run.worktree_close_failed', { runId, from, reason: `the merge failed and was aborted: ${why.slice(0, 500)}` })], result: undefined }), actor);
      throw new LedgerError(`runId: run ${runId}'s branch ${branch} could not be merged into ${repo.top}; nothing was changed (the merge was aborted). Commit or stash your changes, or resolve by hand with git merge ${branch}. git said:\n  ${why}`, 'conflict', 'runId');
    }
    await this.removeWorktree(runId);
    await this.close(runId, 'merged', mergeCommit, `merged into ${repo.top} as ${mergeCommit.slice(0, 12)}`, actor);
    return this.get(runId)!;
  }

  /** Discards a run's work: removes its worktree and deletes its branch, recorded. Same refusals as merge. */
  async discard(runId: string, actor = this.actor, note = 'discarded by a person'): Promise<WorktreeRow> {
    await this.closable(runId, 'discard');
    await this.takeClosing(runId, 'discard', actor);
    await this.removeWorktree(runId);
    await this.close(runId, 'discarded', null, note, actor);
    return this.get(runId)!;
  }

  /** Removes a throwaway run's worktree and branch (a replay's): recorded as removed. No-op without one. */
  async removeThrowaway(runId: string, note = 'a throwaway run: removed when it ended'): Promise<void> {
    const w = this.get(runId);
    if (!w || (w.status !== 'open' && w.status !== 'finished')) return;
    await this.removeWorktree(runId);
    await this.close(runId, 'removed', null, note);
  }

  /** The checks merge and discard make before any work, so that a refusal comes at once (takeClosing repeats them inside the commit). */
  private async closable(runId: string, what: 'merge' | 'discard'): Promise<WorktreeRow> {
    if (typeof runId !== 'string' || !RUN_ID.test(runId)) throw invalidRun(runId);
    await this.ledger.refresh();
    const w = this.get(runId);
    const refusal = closingRefusal(runId, what, this.ledger.getRun(runId)?.status, w);
    if (refusal) throw refusal;
    return w!;
  }

  /**
   * Takes the closing of a run's worktree for this process: the checks and the `run.worktree_closing` event are
   * one commit, so of two processes merging or discarding one run at once exactly one gets it; the other gets a
   * LedgerError conflict naming the process that has it. A closing whose process is gone (it crashed half way) is
   * taken over. Returns the status the worktree had (open or finished), to restore if the closing fails.
   */
  private async takeClosing(runId: string, what: 'merge' | 'discard', actor: string): Promise<'open' | 'finished'> {
    const holder = `${os.hostname()}/${process.pid}`;
    return this.ledger.commit(({ sql }) => {
      const raw = sql.get<RawWorktree>('SELECT * FROM run_worktrees WHERE run_id = ?', [runId]);
      const w = raw ? toRow(raw) : undefined;
      const run = sql.get<{ status: string }>('SELECT status FROM runs WHERE id = ?', [runId]);
      const refusal = closingRefusal(runId, what, run?.status, w);
      if (refusal) throw refusal;
      const from = w!.status === 'closing' ? closingOf(w!)!.from : (w!.status as 'open' | 'finished');
      // finish() finds a worktree folder deleted by hand and records it removed, so a merge only ever takes a finished one.
      if (what === 'merge' && from !== 'finished') throw new LedgerError(`runId: run ${runId}'s worktree ${w!.path} has no finished work to merge (${w!.note ?? w!.status})`, 'conflict', 'runId');
      return { events: [event('run.worktree_closing', { runId, action: what, from, holder })], result: from };
    }, actor);
  }

  /** Removes the worktree folder and its branch; what is already gone is fine. */
  private async removeWorktree(runId: string): Promise<void> {
    const w = this.get(runId);
    if (!w) return;
    const repo = await this.repository();
    const top = repo?.top ?? path.resolve(w.path, '..', '..', '..');
    await git(top, ['worktree', 'remove', '--force', '--force', w.path]).catch(() => fs.rmSync(w.path, { recursive: true, force: true }));
    await git(top, ['worktree', 'prune']).catch(() => undefined);
    await git(top, ['branch', '-D', w.branch]).catch(() => undefined);
  }

  private async close(runId: string, action: 'merged' | 'discarded' | 'removed', mergeCommit: string | null, note: string, actor = this.actor): Promise<void> {
    await this.ledger.commit(({ sql }) => {
      const row = sql.get<{ status: string }>('SELECT status FROM run_worktrees WHERE run_id = ?', [runId]);
      if (!row || (row.status !== 'open' && row.status !== 'finished' && row.status !== 'closing')) return { events: [], result: undefined };
      return { events: [event('run.worktree_closed', { runId, action, mergeCommit, note })], result: undefined };
    }, actor);
  }
}

/** The process closing a worktree now, read from its note (written by the run.worktree_closing projection), or null. */
function closingOf(w: WorktreeRow): { action: 'merge' | 'discard'; host: string; pid: number; from: 'open' | 'finished' } | null {
  const m = /^closing: (merge|discard) by ([^/\s]+)\/(\d+), from (open|finished)$/.exec(w.note ?? '');
  return w.status === 'closing' && m ? { action: m[1] as 'merge' | 'discard', host: m[2]!, pid: Number(m[3]), from: m[4] as 'open' | 'finished' } : null;
}

/**
 * True when the process closing a worktree is provably gone: on this host, exited, or its pid reused by a process
 * started after the closing began (as liveness.holderIsGone judges claims). A closing of another host is never taken over.
 */
function closingHolderGone(w: WorktreeRow): boolean {
  const c = closingOf(w);
  if (!c) return true;
  if (c.host !== os.hostname()) return false;
  if (c.pid === process.pid) return false;
  try {
    process.kill(c.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const started = processStartTime(c.pid);
  return started !== null && started > Date.parse(w.updatedAt) + 1000;
}

/** Why `what` (merge or discard) cannot close run `runId`'s worktree `w` now, given the run's status; null when it can. */
function closingRefusal(runId: string, what: 'merge' | 'discard', runStatus: string | undefined, w: WorktreeRow | undefined): LedgerError | null {
  if (runStatus === undefined) return new LedgerError(`runId: no run ${runId} in this ledger; see gascity runs`, 'not_found', 'runId');
  if (!w) return new LedgerError(`runId: run ${runId} has no worktree (it ran in the workspace folder, which has no git repository, or it never started); there is nothing to ${what}`, 'conflict', 'runId');
  if (w.status === 'closing' && !closingHolderGone(w)) {
    const c = closingOf(w);
    return new LedgerError(`runId: run ${runId}'s worktree is being ${c?.action === 'discard' ? 'discarded' : 'merged'} by process ${c ? `${c.host}/${c.pid}` : '(unknown)'} right now; ` +
      'see gascity worktrees once it is done', 'conflict', 'runId');
  }
  if (w.status !== 'open' && w.status !== 'finished' && w.status !== 'closing') return new LedgerError(`runId: run ${runId}'s worktree was ${w.status} already${w.note ? ` (${w.note})` : ''}`, 'conflict', 'runId');
  if (runStatus === 'running' && what === 'merge') return new LedgerError(`runId: run ${runId} is still running; wait for it to end (or cancel it) before merging its branch ${w.branch}`, 'conflict', 'runId');
  if (runStatus === 'running') return new LedgerError(`runId: run ${runId} is still running; cancel it first (gascity cancel ${runId}), then discard its worktree`, 'conflict', 'runId');
  return null;
}
