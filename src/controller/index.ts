export { Controller } from './controller';
export type { ControllerEvent, ControllerOptions } from './controller';
export { holderIsGone, parseWorkerName, processStartTime } from './liveness';
export { explainNext, explainPromotion, explainState, explainWait, personAction, situationOf } from './explain';
export type { NodeWait, PersonAction, RunSituation, WaitKind } from './explain';
// branch replay: worktrees and the replay lab
export { BRANCH_PREFIX, GitError, REPLAY_TASK_PREFIX, WORKTREES_DIR, Worktrees, git, isThrowawayRun, parseShortstat, repositoryOf } from './worktree';
export type { WorktreeRow, WorktreesOptions } from './worktree';
export { checkReplayable, openScreen, parseReplayInput, pastTasks, replayKey, replayVariant } from './replay';
export { REPLAY_LOCK_ENV, replayRunningError, replaysDir, runningReplay, takeReplayLock } from './replayLock';
export type { ReplayLock, ReplayLockRecord } from './replayLock';
export type { ReplayBudget, ReplayDeps, ReplayInput, ReplayPair, ReplayProgress, ReplayReport, ReplayStop } from './replay';
// branch overlays-2: worker profiles and their bidding turns
export { MAX_PROFILES, PROFILE_KEYS, REASONING_EFFORTS, parseProfileFlag, parseWorkerProfiles, profileWorker, turnProfile } from './profiles';
export type { ReasoningEffort, WorkerProfile } from './profiles';
export { Bidding } from './bidding';
export type { BiddingOptions } from './bidding';
