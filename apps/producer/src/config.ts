import { z } from 'zod';
import {
  ConfigError,
  commonEnvSchema,
  envInt,
  importEnvSchema,
  loadConfig,
  moneykitEnvSchema,
  payloadKeysEnvSchema,
  redisTargetOf,
  requireClusterPrefix,
  requireCompleteMoneykitSettings,
  type RedisTarget,
} from '@mk/shared';
import { refreshEnvSchema, refreshOptionsFromConfig, type RefreshOptions } from '@mk/refresh';

/** The producer's settings: its own, the import rate (for plan estimates) and the refresh section the workers read. */
export const producerEnvSchema = commonEnvSchema
  .merge(importEnvSchema)
  .merge(refreshEnvSchema)
  .merge(payloadKeysEnvSchema)
  // `verify` reads MoneyKit back (the sandbox when unset, like the worker)
  .merge(moneykitEnvSchema)
  .extend({
    /** Import jobs allowed to wait in the queue before the producer pauses: bounds Redis memory. */
    PRODUCER_MAX_WAITING: envInt(1).default(2000),
    /** Where `run` and `retry` write their rejects files unless --rejects names one (--out-dir overrides it). */
    PRODUCER_OUT_DIR: z.string().trim().min(1).default('mk-out'),
    /** `verify`: reads in flight at once (p-limit). */
    VERIFY_CONCURRENCY: envInt(1).max(256).default(8),
    /** `verify`: all its reads per minute, across every verify process (a shared Redis limiter), on top of MoneyKit's per-link read limits. */
    VERIFY_READS_PER_MIN: envInt(1).max(60_000).default(3000),
  });
export type ProducerConfig = z.infer<typeof producerEnvSchema> & {
  /** The refresh registry's options, resolved at start like the workers' (TIME_SCALE, REFRESH_*). */
  refresh: RefreshOptions;
};

export function loadProducerConfig(env: NodeJS.ProcessEnv = process.env): ProducerConfig {
  const config = loadConfig(producerEnvSchema, env);
  // Both set is wrong even for `plan`, which needs neither; a cluster's prefix rule is checked here, once.
  if (typeof redisTargetOf(config) === 'object') requireClusterPrefix(config.REDIS_PREFIX);
  requireCompleteMoneykitSettings(config);
  return { ...config, refresh: refreshOptionsFromConfig(config) };
}

/** Commands that touch the queue need Redis (REDIS_URL, or REDIS_CLUSTER_NODES for a cluster); `plan` does not. */
export function requireRedisTarget(config: ProducerConfig): RedisTarget {
  const target = redisTargetOf(config);
  if (!target)
    throw new ConfigError(
      'REDIS_URL',
      'is required for this command: the redis:// URL of the Redis the workers use (or REDIS_CLUSTER_NODES for a Redis Cluster)',
    );
  return target;
}
