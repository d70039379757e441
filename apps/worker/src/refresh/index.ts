/** Scheduled refresh of every registered link, within MoneyKit's per-link quotas. */
export { startRefresh, refreshJobOptions, type RefreshServiceOptions, type RunningRefresh } from './service';
export {
  RefreshRegistry,
  registerLinks,
  type LinkRegistration,
  type RegisterResult,
  type LinkRefreshState,
  type ProductRefreshState,
  type RefreshStats,
  type RegistryOptions,
  type DueLink,
  type Claim,
  type Settlement,
  type LinkAction,
  type LinkActionResult,
} from './registry';
export { resolveRefreshOptions, refreshOptionsFromEnv, refreshEnvSchema, productTimings, DEFAULT_WANTED_PRODUCTS, type RefreshOptions, type ProductTiming } from './options';
export { startDispatcher, refreshJobId, REFRESH_JOB_NAME, type Dispatcher } from './dispatcher';
export { createRefreshProcessor, type RefreshClient, type RefreshResult, type ProcessorDeps } from './processor';
export { decideRefreshOutcome, type RefreshDecision, type DecisionContext } from './outcome';
export { refreshKeys, bucketOf, DEFAULT_BUCKETS } from './keys';
export { LagTracker } from './lag';
export { RefreshTrace, type TraceEntry, type TraceStep } from './trace';
export { CongestionLimit, type CallSignal } from './congestion';
export { REASONS, type Reason, type ProductStatus, type LinkMode } from './state';
