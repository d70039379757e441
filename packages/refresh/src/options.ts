/**
 * Settings of the refresh scheduler, resolved once into the millisecond figures the Lua scripts use.
 * Quota windows and cadences are given in (unscaled) seconds and divided by `timeScale`, as the sandbox does;
 * delays that are about our own machinery (leases, timeouts, backoff) are real milliseconds.
 */
import { z } from 'zod';
import {
  ConfigError,
  commonEnvSchema,
  DEFAULT_REFRESH_QUOTAS,
  PRODUCTS,
  envInt,
  envNumber,
  loadConfig,
  parseQuotaTable,
  productSchema,
  windowMs,
  type Product,
  type RefreshQuotaTable,
} from '@mk/shared';

export interface RefreshOptions {
  /** Divides every quota window and cadence (rehearsals run hours in seconds); must equal the upstream's. */
  timeScale: number;
  /** MoneyKit's per-link quota per product, seconds. */
  quotas: RefreshQuotaTable;
  /** Wanted time between two refreshes per product, seconds; never below the quota. Default: the quota. */
  cadence: Partial<RefreshQuotaTable>;
  /** Products a link wants when its registration names none. */
  defaultProducts: Product[];
  /**
   * Extra margin on top of every quota window, real ms: covers clock drift between Redis and MoneyKit and
   * the spread of request latency (the ledger measures from our side of the wire).
   */
  quotaGuardMs: number;
  /**
   * How long after a claim a request may still reach MoneyKit when we never learn its outcome (timeout,
   * crash), real ms. Until then the claim counts as the last refresh. Keep it above the client timeout.
   */
  inFlightMs: number;
  /** A product due now may wait up to this share of its cadence for another product of the link to come due. */
  groupFraction: number;
  /** Each next due time is pushed later by a random 0..jitterFraction of the cadence. */
  jitterFraction: number;
  /** Newly registered active links get their first due time spread over this many real ms (0 = due now). */
  firstDueSpreadMs: number;
  /**
   * A link taken from the due index is due again after this long unless its job was still in the queue half of it
   * later (then `leaseMs`) or it settled first, real ms: a process killed between taking links and adding their jobs
   * costs them this much delay, nothing more.
   */
  handOverMs: number;
  /**
   * A queued link is dispatched again after this long unless its job settled it first, real ms. A safety net for a
   * job lost from the queue: a settled job plans the next due time, and a link dispatched again while its job still
   * waits is sent once (its claim lets one of the two calls through).
   */
  leaseMs: number;
  /** A link whose call failed every attempt without reaching MoneyKit is tried again after this long, real ms. */
  retryLaterMs: number;
  /** Links moved into the queue per dispatcher round. */
  dispatchBatch: number;
  /**
   * Pause after a dispatcher round that found less than a batch due, real ms. A round takes from one registry shard:
   * each shard is visited every shards × this ms, shared among the dispatching processes.
   */
  dispatchIdleMs: number;
  /** Refresh jobs processed at once per worker process. */
  concurrency: number;
  /** Attempts of a refresh that failed without reaching MoneyKit (network, 5xx before commit). */
  attempts: number;
  /** First retry delay, doubled each attempt, real ms. */
  backoffMs: number;
  /** Distinct links answered 429 within `appRateLimitWindowMs` that make us treat a 429 as app-wide. */
  appRateLimitLinks: number;
  appRateLimitWindowMs: number;
  /** A link due longer than this ago counts as overdue in stats(), real ms. Default: one minute, scaled. */
  overdueMs: number;
  /** Share of links (0..1, picked by a hash of the link id) whose every step is kept for `mk-migrate links` (trace.ts). */
  traceSample: number;
  /**
   * Hash tags a new registry spreads its buckets over (REFRESH_SHARDS); unset: 1 on one Redis, the cluster's masters
   * × SHARDS_PER_MASTER on a cluster. An existing registry keeps its own.
   */
  shards?: number;
  /**
   * Links this registry is sized for (REFRESH_EXPECTED_LINKS): a new registry gets `bucketsFor(expectedLinks)` buckets,
   * and an existing one whose bucket count differs is refused at open. Unset: an existing registry is taken as it is,
   * a new one is sized for the schema's default.
   */
  expectedLinks?: number;
}

const HOUR_MS = 3_600_000;

export function resolveRefreshOptions(partial: Partial<RefreshOptions> = {}): RefreshOptions {
  const defined = Object.fromEntries(
    Object.entries(partial).filter(([, v]) => v !== undefined),
  ) as Partial<RefreshOptions>;
  const timeScale = defined.timeScale ?? commonEnvSchema.shape.TIME_SCALE.parse(undefined);
  if (!(timeScale > 0)) throw new Error(`timeScale must be > 0, got ${timeScale}`);
  const options: RefreshOptions = {
    timeScale,
    quotas: { ...DEFAULT_REFRESH_QUOTAS, ...defined.quotas },
    cadence: { ...defined.cadence },
    defaultProducts: defined.defaultProducts ?? ENV_DEFAULTS.REFRESH_PRODUCTS,
    quotaGuardMs: ENV_DEFAULTS.REFRESH_QUOTA_GUARD_MS,
    inFlightMs: ENV_DEFAULTS.REFRESH_IN_FLIGHT_MS,
    groupFraction: 0.1,
    jitterFraction: 0.02,
    firstDueSpreadMs: Math.min(HOUR_MS, windowMs(3600, timeScale)),
    handOverMs: 5_000,
    leaseMs: ENV_DEFAULTS.REFRESH_LEASE_MS,
    retryLaterMs: 60_000,
    dispatchBatch: ENV_DEFAULTS.REFRESH_DISPATCH_BATCH,
    dispatchIdleMs: 100,
    concurrency: ENV_DEFAULTS.REFRESH_CONCURRENCY,
    attempts: ENV_DEFAULTS.REFRESH_ATTEMPTS,
    backoffMs: 1000,
    appRateLimitLinks: 3,
    appRateLimitWindowMs: 10_000,
    overdueMs: windowMs(60, timeScale),
    traceSample: ENV_DEFAULTS.REFRESH_TRACE_SAMPLE,
    ...defined,
  };
  if (options.defaultProducts.length === 0) throw new Error('defaultProducts must name at least one product');
  for (const product of PRODUCTS) {
    const cadence = options.cadence[product];
    if (cadence !== undefined && !(cadence > 0))
      throw new Error(`cadence of ${product} must be a positive number of seconds`);
  }
  return options;
}

/** The per-product figures the scripts work with, in ms. */
export interface ProductTiming {
  /** A refresh may be claimed this long after the previous one (quota + guard). */
  allowMs: number;
  /** Planned time between two refreshes (max of cadence and allowMs). */
  intervalMs: number;
  /** How long a due product may wait to be grouped with another. */
  deferMs: number;
}

export function productTimings(o: RefreshOptions): Record<Product, ProductTiming> {
  const out = {} as Record<Product, ProductTiming>;
  for (const p of PRODUCTS) {
    const allowMs = windowMs(o.quotas[p], o.timeScale) + o.quotaGuardMs;
    const intervalMs = Math.max(allowMs, windowMs(o.cadence[p] ?? o.quotas[p], o.timeScale));
    out[p] = { allowMs, intervalMs, deferMs: Math.round(intervalMs * o.groupFraction) };
  }
  return out;
}

const productListSchema = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .pipe(z.array(productSchema).min(1));

/**
 * Environment settings of the refresh pipeline (every one documented in .env.example). Their defaults are written
 * here only: `resolveRefreshOptions` takes them from this schema.
 */
export const refreshEnvSchema = z.object({
  REFRESH_QUOTAS: z.string().optional(),
  /** Wanted cadence per product, same form as REFRESH_QUOTAS (seconds), e.g. `transactions=21600`. */
  REFRESH_CADENCE: z.string().optional(),
  /** Products a link wants unless its registration says otherwise, e.g. `accounts,transactions`. */
  REFRESH_PRODUCTS: z.string().default('accounts,transactions').pipe(productListSchema),
  REFRESH_CONCURRENCY: envInt(1).default(50),
  REFRESH_QUOTA_GUARD_MS: envInt(0).default(1000),
  REFRESH_IN_FLIGHT_MS: envInt(1).default(60_000),
  REFRESH_DISPATCH_BATCH: envInt(1).default(500),
  REFRESH_ATTEMPTS: envInt(1).default(5),
  REFRESH_LEASE_MS: envInt(1000).max(3_600_000).default(300_000),
  REFRESH_TRACE_SAMPLE: envNumber(0).max(1).default(0),
  /** Registry shards (hash tags) of a new registry; unset: 1 on one Redis, 4 per master on a Redis Cluster. */
  REFRESH_SHARDS: envInt(1).max(4096).optional(),
  /**
   * Links the registry is sized for: it picks the bucket count (keys.ts bucketsFor), fixed when the registry is
   * created; a process whose figure gives another count is refused at start.
   */
  REFRESH_EXPECTED_LINKS: envInt(1).max(1_000_000_000).default(1_000_000),
});
export type RefreshEnv = z.infer<typeof refreshEnvSchema>;

const ENV_DEFAULTS = refreshEnvSchema.parse({});
/** Links a new registry is sized for when nobody says (REFRESH_EXPECTED_LINKS' default). */
export const DEFAULT_EXPECTED_LINKS = ENV_DEFAULTS.REFRESH_EXPECTED_LINKS;

/** The refresh settings with TIME_SCALE (a common setting), for reading them alone (producer, dashboard, tests). */
export const refreshSettingsSchema = refreshEnvSchema.extend({ TIME_SCALE: commonEnvSchema.shape.TIME_SCALE });

/** The refresh section of an app's parsed settings, resolved. Throws a ConfigError naming a bad quota table. */
export function refreshOptionsFromConfig(cfg: RefreshEnv & { TIME_SCALE: number }): RefreshOptions {
  const table = (name: string, spec: string | undefined, base: RefreshQuotaTable) => {
    try {
      return parseQuotaTable(spec, base);
    } catch (err) {
      throw new ConfigError(name, (err as Error).message);
    }
  };
  const quotas = table('REFRESH_QUOTAS', cfg.REFRESH_QUOTAS, DEFAULT_REFRESH_QUOTAS);
  const cadence = cfg.REFRESH_CADENCE ? table('REFRESH_CADENCE', cfg.REFRESH_CADENCE, quotas) : {};
  return resolveRefreshOptions({
    timeScale: cfg.TIME_SCALE,
    quotas,
    cadence,
    defaultProducts: cfg.REFRESH_PRODUCTS,
    concurrency: cfg.REFRESH_CONCURRENCY,
    quotaGuardMs: cfg.REFRESH_QUOTA_GUARD_MS,
    inFlightMs: cfg.REFRESH_IN_FLIGHT_MS,
    dispatchBatch: cfg.REFRESH_DISPATCH_BATCH,
    attempts: cfg.REFRESH_ATTEMPTS,
    leaseMs: cfg.REFRESH_LEASE_MS,
    traceSample: cfg.REFRESH_TRACE_SAMPLE,
    ...(cfg.REFRESH_SHARDS !== undefined && { shards: cfg.REFRESH_SHARDS }),
    expectedLinks: cfg.REFRESH_EXPECTED_LINKS,
  });
}

/** The refresh settings alone, read from `env` (throws a ConfigError naming the first bad one). */
export function refreshOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): RefreshOptions {
  return refreshOptionsFromConfig(loadConfig(refreshSettingsSchema, env));
}
