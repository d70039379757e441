import { z } from 'zod';
import {
  commonEnvSchema,
  ConfigError,
  envInt,
  envNumber,
  importEnvSchema,
  envPort,
  moneykitEnvSchema,
  payloadKeysEnvSchema,
  loadConfig,
  redisTargetOf,
  requireClusterPrefix,
  requireCompleteMoneykitSettings,
  requirePayloadKeys,
  SANDBOX_UPSTREAM,
  type RedisTarget,
} from '@mk/shared';
import { refreshEnvSchema, refreshOptionsFromConfig, type RefreshOptions } from '@mk/refresh';
import { webhookEnvSchema, webhookOptionsFromConfig } from './webhooks/options';
import { notifyEnvSchema, notifyOptionsFromConfig, type NotifyOptions } from './notify/options';

export const WORKER_ROLES = ['import', 'refresh', 'webhooks'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

/** The sandbox's defaults: what the worker talks to when no MoneyKit settings are given. */
export const SANDBOX_DEFAULTS = SANDBOX_UPSTREAM;

export const workerEnvSchema = commonEnvSchema
  .merge(moneykitEnvSchema)
  .merge(importEnvSchema)
  .merge(refreshEnvSchema)
  .merge(webhookEnvSchema)
  .merge(payloadKeysEnvSchema)
  .merge(notifyEnvSchema)
  .extend({
    /** Failed import jobs, and their sealed payloads, are removed after this many hours (`purge` removes them sooner). */
    PAYLOAD_FAILED_RETENTION_HOURS: envNumber(0.001).default(168),
    /** Which parts this process runs, comma-separated: import, refresh, webhooks. */
    WORKER_ROLES: z
      .string()
      .default('import,refresh,webhooks')
      .transform((s) =>
        s
          .split(',')
          .map((r) => r.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(WORKER_ROLES)).min(1)),
    IMPORT_CONCURRENCY: envInt(1).max(500).default(12),
    IMPORT_LOCK_MS: envInt(1000).max(3_600_000).default(120_000),
    /** Wait after an import with an unknown outcome before looking for the link it may have created. */
    IMPORT_SETTLE_MS: envInt(0).max(600_000).default(30_000),
    IMPORT_BACKOFF_BASE_MS: envInt(1).max(3_600_000).default(2000),
    IMPORT_BACKOFF_MAX_MS: envInt(1).max(86_400_000).default(300_000),
    /** Refresh jobs held by a worker that died go to another after about this long. */
    REFRESH_LOCK_MS: envInt(1000).max(3_600_000).default(30_000),
    OPS_PORT: envPort().default(9464),
    OPS_HOST: z.string().min(1).default('0.0.0.0'),
  });
export type WorkerConfig = z.infer<typeof workerEnvSchema>;

/** The worker's own settings, with the rules that tie several of them together. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const config = loadConfig(workerEnvSchema, env);
  const target = redisTargetOf(config, true);
  if (typeof target !== 'string') requireClusterPrefix(config.REDIS_PREFIX);
  requireCompleteMoneykitSettings(config);
  if (config.WORKER_ROLES.includes('import')) requirePayloadKeys(config);
  notifyOptionsFromConfig(config);
  if (config.IMPORT_BACKOFF_BASE_MS > config.IMPORT_BACKOFF_MAX_MS) {
    throw new ConfigError(
      'IMPORT_BACKOFF_BASE_MS',
      `(${config.IMPORT_BACKOFF_BASE_MS}) must not exceed IMPORT_BACKOFF_MAX_MS (${config.IMPORT_BACKOFF_MAX_MS})`,
    );
  }
  return config;
}

/** The import worker's timings, from its settings. */
export function importTimings(config: WorkerConfig) {
  return {
    backoffBaseMs: config.IMPORT_BACKOFF_BASE_MS,
    backoffMaxMs: config.IMPORT_BACKOFF_MAX_MS,
    lockDurationMs: config.IMPORT_LOCK_MS,
    upstreamWaitMs: config.IMPORT_SETTLE_MS,
  };
}

export interface WorkerSettings {
  /** Every setting as parsed (redis, moneykit, import, refresh, webhooks, ops variables). */
  config: WorkerConfig;
  /** `target`: REDIS_URL or the cluster's seeds (REDIS_CLUSTER_NODES). */
  redis: { target: RedisTarget; prefix: string; connectTimeoutMs: number };
  import: ReturnType<typeof importTimings> & { ratePerMinute: number; concurrency: number };
  refresh: RefreshOptions;
  /** Only when this process receives webhooks. */
  webhooks?: ReturnType<typeof webhookOptionsFromConfig>;
  /** Only when NOTIFY_URL is set: events for the team's backend are kept and delivered. */
  notify?: NotifyOptions;
  ops: { host: string; port: number };
}

/**
 * Every setting a worker process reads, validated together before it connects to anything: a bad WEBHOOK_PORT
 * or REFRESH_QUOTAS stops it at start with the setting's name, not after it has taken jobs.
 */
export function loadWorkerSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  return settingsOf(loadWorkerConfig(env));
}

/** The sections of parsed settings: one parse, each consumer reads its section. */
export function settingsOf(config: WorkerConfig): WorkerSettings {
  const webhooks = config.WORKER_ROLES.includes('webhooks') ? webhookOptionsFromConfig(config) : undefined;
  const notify = notifyOptionsFromConfig(config);
  return {
    config,
    redis: {
      target: redisTargetOf(config, true),
      prefix: config.REDIS_PREFIX,
      connectTimeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
    },
    import: {
      ...importTimings(config),
      ratePerMinute: config.IMPORT_RATE_PER_MIN,
      concurrency: config.IMPORT_CONCURRENCY,
    },
    refresh: refreshOptionsFromConfig(config),
    ...(webhooks && { webhooks }),
    ...(notify && { notify }),
    ops: { host: config.OPS_HOST, port: config.OPS_PORT },
  };
}
