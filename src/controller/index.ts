export { Controller } from './controller';
export type { ControllerEvent, ControllerOptions } from './controller';
export { holderIsGone, parseWorkerName, processStartTime } from './liveness';
