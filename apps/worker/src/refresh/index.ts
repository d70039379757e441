/**
 * The refresh processes of a worker: the dispatcher (due index → queue) and the refresh worker (claim → call →
 * settle). The registry they work on is @mk/refresh.
 */
export { startRefresh, type RefreshServiceOptions, type RunningRefresh } from './service';
export { startDispatcher, type Dispatcher } from './dispatcher';
export {
  createRefreshProcessor,
  sendWindowMs,
  type RefreshClient,
  type RefreshResult,
  type ProcessorDeps,
} from './processor';
export { decideRefreshOutcome, type RefreshDecision, type DecisionContext } from './outcome';
export { LagTracker } from './lag';
export { CongestionLimit, type CallSignal } from './congestion';
