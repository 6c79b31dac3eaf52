export { Controller } from './controller';
export type { ControllerEvent, ControllerOptions } from './controller';
export { holderIsGone, parseWorkerName, processStartTime } from './liveness';
export { explainNext, explainPromotion, explainState, explainWait, personAction, situationOf } from './explain';
export type { NodeWait, PersonAction, RunSituation, WaitKind } from './explain';
