import { z } from 'zod';
import { commonEnvSchema, envInt, moneykitEnvSchema, redisUrlSchema, refreshQuotaEnvSchema, loadConfig } from '@mk/shared';

export const WORKER_ROLES = ['import', 'refresh', 'webhooks'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

/** The sandbox's defaults: what the worker talks to when no MoneyKit settings are given. */
export const SANDBOX_DEFAULTS = { baseUrl: 'http://127.0.0.1:8787', clientId: 'sandbox-client-id', clientSecret: 'sandbox-client-secret' };

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
    IMPORT_RATE_PER_MIN: envInt(1).default(60),
    IMPORT_CONCURRENCY: envInt(1).default(12),
    IMPORT_LOCK_MS: envInt(1000).default(120_000),
    /** Wait after an import with an unknown outcome before looking for the link it may have created. */
    IMPORT_SETTLE_MS: envInt(0).default(30_000),
    IMPORT_BACKOFF_BASE_MS: envInt(1).default(2000),
    IMPORT_BACKOFF_MAX_MS: envInt(1).default(300_000),
    /** Refresh jobs held by a worker that died go to another after about this long. */
    REFRESH_LOCK_MS: envInt(1000).default(30_000),
    OPS_PORT: envInt(0).default(9464),
    OPS_HOST: z.string().default('0.0.0.0'),
  });
export type WorkerConfig = z.infer<typeof workerEnvSchema>;

export const loadWorkerConfig = (env: NodeJS.ProcessEnv = process.env) => loadConfig(workerEnvSchema, env);
