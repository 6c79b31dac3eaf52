export { Controller } from './controller';
export type { ControllerEvent, ControllerOptions } from './controller';
export { holderIsGone, parseWorkerName, processStartTime } from './liveness';
export { explainNext, explainPromotion, explainState, explainWait, personAction, situationOf } from './explain';
export type { NodeWait, PersonAction, RunSituation, WaitKind } from './explain';
// branch replay: worktrees and the replay lab
export { BRANCH_PREFIX, GitError, REPLAY_TASK_PREFIX, WORKTREES_DIR, Worktrees, git, isThrowawayRun, parseShortstat, repositoryOf } from './worktree';
export type { WorktreeRow, WorktreesOptions } from './worktree';
export { checkReplayable, openScreen, parseReplayInput, pastTasks, replayKey, replayVariant, replaysDir, runningReplay } from './replay';
export type { ReplayBudget, ReplayDeps, ReplayInput, ReplayPair, ReplayProgress, ReplayReport, ReplayStop } from './replay';
