/** Settings of the events for the team's backend (every one documented in .env.example and docs/notify.md). */
import { z } from 'zod';
import { ConfigError, envInt, envNumber, httpUrlSchema } from '@mk/shared';

export const notifyEnvSchema = z.object({
  /** The team's endpoint; unset = no events are kept or sent. */
  NOTIFY_URL: httpUrlSchema.optional(),
  /** HMAC-SHA256 key of the Migrator-Signature header; required with NOTIFY_URL, at least 16 characters. */
  NOTIFY_SECRET: z.string().optional(),
  NOTIFY_TIMEOUT_MS: envInt(100).max(600_000).default(10_000),
  /** First retry after this long, doubling up to NOTIFY_RETRY_MAX_MS. */
  NOTIFY_RETRY_BASE_MS: envInt(1).max(3_600_000).default(1000),
  NOTIFY_RETRY_MAX_MS: envInt(1).max(86_400_000).default(600_000),
  /** An event still refused this long after its first attempt goes to the dead letters (`notify resend --dead-letters`). */
  NOTIFY_GIVE_UP_AFTER_HOURS: envNumber(0.0001)
    .max(24 * 30)
    .default(48),
  /** Deliveries in flight at once (never two of one link). */
  NOTIFY_CONCURRENCY: envInt(1).max(100).default(8),
  /** One worker process delivers at a time; another takes over this long after it dies. */
  NOTIFY_LEASE_MS: envInt(500).max(600_000).default(15_000),
});
export type NotifyEnv = z.infer<typeof notifyEnvSchema>;

export const NOTIFY_SECRET_MIN_LENGTH = 16;

export interface NotifyOptions {
  url: string;
  secret: string;
  timeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  giveUpAfterMs: number;
  concurrency: number;
  leaseMs: number;
}

/** The notifier's options, or undefined when NOTIFY_URL is unset; a ConfigError naming a bad or missing setting. */
export function notifyOptionsFromConfig(cfg: NotifyEnv): NotifyOptions | undefined {
  if (cfg.NOTIFY_URL === undefined) {
    if (cfg.NOTIFY_SECRET !== undefined)
      throw new ConfigError('NOTIFY_URL', 'is missing: NOTIFY_SECRET is set, but without NOTIFY_URL no event is sent');
    return undefined;
  }
  if (cfg.NOTIFY_SECRET === undefined || cfg.NOTIFY_SECRET.trim() === '') {
    throw new ConfigError(
      'NOTIFY_SECRET',
      "is required with NOTIFY_URL: the key the team's endpoint verifies Migrator-Signature with (e.g. `openssl rand -hex 32`)",
    );
  }
  if (cfg.NOTIFY_SECRET.length < NOTIFY_SECRET_MIN_LENGTH)
    throw new ConfigError('NOTIFY_SECRET', `is too short: at least ${NOTIFY_SECRET_MIN_LENGTH} characters`);
  if (cfg.NOTIFY_RETRY_BASE_MS > cfg.NOTIFY_RETRY_MAX_MS) {
    throw new ConfigError(
      'NOTIFY_RETRY_BASE_MS',
      `(${cfg.NOTIFY_RETRY_BASE_MS}) must not exceed NOTIFY_RETRY_MAX_MS (${cfg.NOTIFY_RETRY_MAX_MS})`,
    );
  }
  return {
    url: cfg.NOTIFY_URL,
    secret: cfg.NOTIFY_SECRET,
    timeoutMs: cfg.NOTIFY_TIMEOUT_MS,
    retryBaseMs: cfg.NOTIFY_RETRY_BASE_MS,
    retryMaxMs: cfg.NOTIFY_RETRY_MAX_MS,
    giveUpAfterMs: cfg.NOTIFY_GIVE_UP_AFTER_HOURS * 3_600_000,
    concurrency: cfg.NOTIFY_CONCURRENCY,
    leaseMs: cfg.NOTIFY_LEASE_MS,
  };
}
