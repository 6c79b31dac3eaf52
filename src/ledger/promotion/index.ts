// The promotion decision layer's public surface, so callers need not know how it is split into files.
export * from './policy';
export * from './stats';
export * from './decide';
export * from './assign';
export * from './simulate';
