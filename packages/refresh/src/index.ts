/** The refresh registry, shared by the worker's refresh processes, the webhook receiver, the CLI and the dashboard. */
export {
  RefreshRegistry,
  registerLinks,
  type LinkRegistration,
  type RegisterResult,
  type LinkRefreshState,
  type ProductRefreshState,
  type RefreshStats,
  type EncodingHealth,
  type RefreshCounter,
  type RegistryOptions,
  type DueLink,
  type Claim,
  type Claimed,
  type Settled,
  type Settlement,
  type LinkAction,
  type LinkActionResult,
} from './registry';
export {
  resolveRefreshOptions,
  refreshOptionsFromConfig,
  refreshOptionsFromEnv,
  refreshEnvSchema,
  refreshSettingsSchema,
  DEFAULT_EXPECTED_LINKS,
  productTimings,
  type RefreshEnv,
  type RefreshOptions,
  type ProductTiming,
} from './options';
export { refreshKeys, bucketOf, bucketsFor, DEFAULT_BUCKETS, LINKS_PER_BUCKET, type RefreshKeys } from './keys';
export { RefreshMinutes, MINUTE_EVENTS, type MinuteEvent, type RefreshHistory } from './minutes';
export { RefreshTrace, type TraceEntry, type TraceStep } from './trace';
export { REASONS, decodeLink, encodeLink, encodeTime, type Reason, type ProductStatus, type LinkMode } from './state';
