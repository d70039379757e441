/** Environment settings of the webhook receiver (every one documented in .env.example). */
import { z } from 'zod';
import { envInt, loadConfig } from '@mk/shared';
import { DEFAULT_DEDUPE_TTL_MS, DEFAULT_PROCESSING_LEASE_MS } from './dedupe';
import { DEFAULT_WEBHOOK_BODY_LIMIT, DEFAULT_WEBHOOK_PATH } from './route';

export const webhookEnvSchema = z.object({
  WEBHOOK_PORT: envInt(0).max(65_535).default(8788),
  WEBHOOK_HOST: z.string().min(1).default('0.0.0.0'),
  WEBHOOK_PATH: z.string().startsWith('/').default(DEFAULT_WEBHOOK_PATH),
  /** How far a signature's iat may be from our clock, seconds (MoneyKit: "a few minutes"). */
  WEBHOOK_IAT_LEEWAY_SECONDS: envInt(1).default(300),
  WEBHOOK_BODY_LIMIT_BYTES: envInt(1024).default(DEFAULT_WEBHOOK_BODY_LIMIT),
  /** Unknown kids refetch the JWKS at most this often, seconds. */
  WEBHOOK_JWKS_REFETCH_SECONDS: envInt(1).default(30),
  /** How long idempotency keys are remembered, seconds (≥ MoneyKit's 2 h of retries). */
  WEBHOOK_DEDUPE_TTL_SECONDS: envInt(7200).default(DEFAULT_DEDUPE_TTL_MS / 1000),
  /**
   * How long a delivery being applied holds its key, seconds: a receiver killed mid-apply delays that event's
   * retries this long. Longer than any apply, shorter than MoneyKit's gaps between redeliveries.
   */
  WEBHOOK_PROCESSING_LEASE_SECONDS: envInt(1)
    .max(300)
    .default(DEFAULT_PROCESSING_LEASE_MS / 1000),
  /** When set, the signature's iss must equal it. */
  WEBHOOK_ISSUER: z.string().min(1).optional(),
});

export type WebhookEnv = z.infer<typeof webhookEnvSchema>;

/** The receiver options from the webhook section of the worker's settings (add redis/registry and a JWKS source). */
export function webhookOptionsFromConfig(cfg: WebhookEnv) {
  return {
    port: cfg.WEBHOOK_PORT,
    host: cfg.WEBHOOK_HOST,
    path: cfg.WEBHOOK_PATH,
    leewayMs: cfg.WEBHOOK_IAT_LEEWAY_SECONDS * 1000,
    bodyLimit: cfg.WEBHOOK_BODY_LIMIT_BYTES,
    minJwksRefetchMs: cfg.WEBHOOK_JWKS_REFETCH_SECONDS * 1000,
    dedupeTtlMs: cfg.WEBHOOK_DEDUPE_TTL_SECONDS * 1000,
    processingLeaseMs: cfg.WEBHOOK_PROCESSING_LEASE_SECONDS * 1000,
    ...(cfg.WEBHOOK_ISSUER !== undefined && { issuer: cfg.WEBHOOK_ISSUER }),
  };
}

/** The webhook settings alone, read from `env`. */
export const webhookOptionsFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  webhookOptionsFromConfig(loadConfig(webhookEnvSchema, env));
