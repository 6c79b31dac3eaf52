export { Controller } from './controller';
export type { ControllerEvent, ControllerOptions } from './controller';
export { holderIsGone, parseWorkerName, processStartTime } from './liveness';
export { explainWait, personAction } from './explain';
export type { PersonAction } from './explain';
