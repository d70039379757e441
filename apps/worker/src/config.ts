import { z } from 'zod';
import { commonEnvSchema, ConfigError, envInt, envPort, moneykitEnvSchema, redisUrlSchema, refreshQuotaEnvSchema, loadConfig, requireCompleteMoneykitSettings } from '@mk/shared';
import { refreshOptionsFromEnv, type RefreshOptions } from '@mk/refresh';
import { webhookOptionsFromEnv } from './webhooks';

export const WORKER_ROLES = ['import', 'refresh', 'webhooks'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

/** The sandbox's defaults: what the worker talks to when no MoneyKit settings are given. */
export const SANDBOX_DEFAULTS = { baseUrl: 'http://127.0.0.1:8787', clientId: 'sandbox-client-id', clientSecret: 'sandbox-client-secret' };

/** The import limiter spaces calls by whole milliseconds: 60,000 a minute is the most it can tell apart. */
export const MAX_IMPORT_RATE_PER_MIN = 60_000;

export const workerEnvSchema = commonEnvSchema
  .merge(moneykitEnvSchema)
  .merge(refreshQuotaEnvSchema)
  .extend({
    REDIS_URL: redisUrlSchema,
    /** Which parts this process runs, comma-separated: import, refresh, webhooks. */
    WORKER_ROLES: z
      .string()
      .default('import,refresh,webhooks')
      .transform((s) => s.split(',').map((r) => r.trim()).filter(Boolean))
      .pipe(z.array(z.enum(WORKER_ROLES)).min(1)),
    /** Import calls per minute across every worker process (MoneyKit: 60 per app). */
    IMPORT_RATE_PER_MIN: envInt(1).max(MAX_IMPORT_RATE_PER_MIN).default(60),
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
  requireCompleteMoneykitSettings(config);
  if (config.IMPORT_BACKOFF_BASE_MS > config.IMPORT_BACKOFF_MAX_MS) {
    throw new ConfigError('IMPORT_BACKOFF_BASE_MS', `(${config.IMPORT_BACKOFF_BASE_MS}) must not exceed IMPORT_BACKOFF_MAX_MS (${config.IMPORT_BACKOFF_MAX_MS})`);
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
  config: WorkerConfig;
  refresh: RefreshOptions;
  webhooks?: ReturnType<typeof webhookOptionsFromEnv>;
}

/**
 * Every setting a worker process reads, validated together before it connects to anything: a bad WEBHOOK_PORT
 * or REFRESH_QUOTAS stops it at start with the setting's name, not after it has taken jobs.
 */
export function loadWorkerSettings(env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const config = loadWorkerConfig(env);
  const refresh = refreshOptionsFromEnv(env);
  const webhooks = config.WORKER_ROLES.includes('webhooks') ? webhookOptionsFromEnv(env) : undefined;
  return { config, refresh, ...(webhooks && { webhooks }) };
}
