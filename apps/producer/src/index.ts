export { main } from './cli';
export { EXIT } from './exit-codes';
export type { ExitCode } from './exit-codes';
export { enqueueRun } from './commands/run';
export { retryFailed } from './commands/retry';
export { purgeRun } from './commands/purge';
export { plan } from './commands/plan';
export { runStatus, writeReport, exitCodeOf } from './commands/report';
