/**
 * Config comes from environment variables only, validated once at start. A bad value stops the program with
 * a message naming the setting (ConfigError); `.env.example` documents every variable.
 */
import { z } from 'zod';
import { ConfigError } from './errors';
import { parseQuotaTable } from './products';
import { parsePayloadKeys, type PayloadKey } from './payload-seal';
import { DEFAULT_REDIS_CONNECT_TIMEOUT_MS, parseClusterSeeds, type RedisClusterSeeds } from './redis';

export const envBool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
export const envInt = (min = 0) => z.coerce.number().int().min(min);
export const envNumber = (min = 0) => z.coerce.number().finite().min(min);

/** redis:// or rediss:// (TLS), with an optional password and database number. */
export const redisUrlSchema = z
  .string()
  .url()
  .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://');

/** Seed nodes of a Redis Cluster (redis.ts parseClusterSeeds); empty = unset. */
export const redisClusterNodesSchema = z
  .string()
  .optional()
  .transform((spec, ctx): RedisClusterSeeds | undefined => {
    if (spec === undefined || spec.trim() === '') return undefined;
    try {
      return parseClusterSeeds(spec);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

/** http:// or https:// only: a MoneyKit base URL with another scheme is a typo, not an upstream. */
export const httpUrlSchema = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must start with http:// or https://');

/** A TCP port to listen on; 0 = any free port. */
export const envPort = () => envInt(0).max(65_535);

/** Settings every app shares. */
export const commonEnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Empty = unset, so an inherited REDIS_URL can be cleared for a cluster.
  REDIS_URL: z.preprocess((v) => (v === '' ? undefined : v), redisUrlSchema.optional()),
  /** A Redis Cluster instead of REDIS_URL: seed nodes host:port,host:port,… (never both). */
  REDIS_CLUSTER_NODES: redisClusterNodesSchema,
  REDIS_PREFIX: z.string().min(1).default('{mk}'),
  /** At start, how long to wait for Redis before saying so and exiting 1. */
  REDIS_CONNECT_TIMEOUT_MS: envInt(100).max(600_000).default(DEFAULT_REDIS_CONNECT_TIMEOUT_MS),
  /** Rehearsals and tests: divide every quota window, cadence and delay by this factor. */
  TIME_SCALE: envNumber(0.000001).default(1),
});

/** The upstream every app talks to when no MONEYKIT_* setting is given: the embedded sandbox, with its credentials. */
export const SANDBOX_UPSTREAM = {
  baseUrl: 'http://127.0.0.1:8787',
  clientId: 'sandbox-client-id',
  clientSecret: 'sandbox-client-secret',
} as const;

export const moneykitEnvSchema = z.object({
  MONEYKIT_BASE_URL: httpUrlSchema.optional(),
  MONEYKIT_CLIENT_ID: z.string().min(1).optional(),
  MONEYKIT_CLIENT_SECRET: z.string().min(1).optional(),
  /** Read timeout of /links/import and /import/transactions (the API takes up to ~10 s). */
  MONEYKIT_IMPORT_TIMEOUT_MS: envInt(1000).max(600_000).default(90_000),
  MONEYKIT_TIMEOUT_MS: envInt(100).max(600_000).default(30_000),
});

/**
 * MoneyKit settings come all three or not at all: a base URL without its own credentials would be sent the
 * sandbox's defaults, and real credentials without a base URL would go to the sandbox. Throws a ConfigError
 * naming the missing setting.
 */
export function requireCompleteMoneykitSettings(
  env: Pick<z.infer<typeof moneykitEnvSchema>, 'MONEYKIT_BASE_URL' | 'MONEYKIT_CLIENT_ID' | 'MONEYKIT_CLIENT_SECRET'>,
): void {
  const given = (['MONEYKIT_BASE_URL', 'MONEYKIT_CLIENT_ID', 'MONEYKIT_CLIENT_SECRET'] as const).filter(
    (k) => env[k] !== undefined,
  );
  if (given.length === 0 || given.length === 3) return;
  const missing = (['MONEYKIT_BASE_URL', 'MONEYKIT_CLIENT_ID', 'MONEYKIT_CLIENT_SECRET'] as const).find(
    (k) => env[k] === undefined,
  )!;
  const why =
    missing === 'MONEYKIT_BASE_URL'
      ? 'MoneyKit credentials without a base URL would be sent to the sandbox'
      : "the sandbox's default credentials are never sent to another URL";
  throw new ConfigError(
    missing,
    `is missing: ${given.join(' and ')} ${given.length === 1 ? 'is' : 'are'} set, and ${why}`,
  );
}

/** The import limiter spaces calls by whole milliseconds: 60,000 a minute is the most it can tell apart. */
export const MAX_IMPORT_RATE_PER_MIN = 60_000;

/** Settings of the import side that more than one app reads (the worker enforces the rate, the producer plans with it). */
export const importEnvSchema = z.object({
  /** Import calls per minute across every worker process (MoneyKit: 60 per app). */
  IMPORT_RATE_PER_MIN: envInt(1).max(MAX_IMPORT_RATE_PER_MIN).default(60),
});

/** The sandbox's quota table (MoneyKit's own, which the sandbox stands in for); the worker reads REFRESH_QUOTAS with @mk/refresh. */
export const refreshQuotaEnvSchema = z.object({
  /** Overrides of the per-link refresh quota table, e.g. `transactions=86400,identity=86400`. */
  REFRESH_QUOTAS: z
    .string()
    .optional()
    .transform((spec, ctx) => {
      try {
        return parseQuotaTable(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
});

/** Keys of import payloads at rest (payload-seal.ts); the producer seals, the import worker opens. */
export const payloadKeysEnvSchema = z.object({
  /** `kid:base64key,...`, 32-byte keys (openssl rand -base64 32); the first seals, all open. */
  PAYLOAD_KEYS: z
    .string()
    .optional()
    .transform((spec, ctx): PayloadKey[] | undefined => {
      if (spec === undefined || spec.trim() === '') return undefined;
      try {
        return parsePayloadKeys(spec);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
});

/** The payload keys, or a ConfigError: import payloads are never stored or read in clear. */
export function requirePayloadKeys(config: { PAYLOAD_KEYS?: PayloadKey[] | undefined }): PayloadKey[] {
  if (!config.PAYLOAD_KEYS) {
    throw new ConfigError(
      'PAYLOAD_KEYS',
      'is required: kid:base64key (32 bytes, e.g. `k1:$(openssl rand -base64 32)`), the same in the producer and every import worker',
    );
  }
  return config.PAYLOAD_KEYS;
}

/** Parses `env` with `schema`; throws a ConfigError naming the first bad setting. */
export function loadConfig<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const setting = issue.path.join('.') || '(environment)';
  const given = issue.path.length ? env[String(issue.path[0])] : undefined;
  const shown = given === undefined ? 'is missing or invalid' : `has an invalid value`;
  throw new ConfigError(setting, `${shown}: ${issue.message}`);
}
