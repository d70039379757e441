/** The sandbox process's settings (environment only; every one documented in .env.example). */
import { commonEnvSchema, envInt, productSchema, refreshQuotaEnvSchema } from '@mk/shared';
import { z } from 'zod';
import { DEFAULT_OPTIONS } from './options';

const productList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  )
  .pipe(z.array(productSchema).min(1));

const latencySpec = z
  .string()
  .default('realistic')
  .transform((spec, ctx) => {
    if (spec === 'realistic' || spec === 'none') return spec;
    // "<baseMs>,<perKbMs>,<maxMs>" for a custom model.
    const [baseMs, perKbMs, maxMs] = spec.split(',').map(Number);
    if ([baseMs, perKbMs, maxMs].every((n) => Number.isFinite(n) && n! >= 0))
      return { baseMs: baseMs!, perKbMs: perKbMs!, maxMs: maxMs! };
    ctx.addIssue({ code: 'custom', message: "expected 'realistic', 'none' or '<baseMs>,<perKbMs>,<maxMs>'" });
    return z.NEVER;
  });

// REFRESH_QUOTAS is the service's own variable: one setting keeps the sandbox's quotas and the service's ledger equal.
export const sandboxEnvSchema = commonEnvSchema.merge(refreshQuotaEnvSchema).extend({
  SANDBOX_PORT: envInt(0).max(65_535).default(8787),
  SANDBOX_HOST: z.string().min(1).default('127.0.0.1'),
  SANDBOX_CLIENT_ID: z.string().min(1).default(DEFAULT_OPTIONS.clientId),
  SANDBOX_CLIENT_SECRET: z.string().min(1).default(DEFAULT_OPTIONS.clientSecret),
  SANDBOX_TOKEN_TTL_SECONDS: envInt(1).default(DEFAULT_OPTIONS.tokenTtlSeconds),
  SANDBOX_IMPORT_RATE_PER_MIN: envInt(1).default(DEFAULT_OPTIONS.importRatePerMinute),
  SANDBOX_LATENCY: latencySpec,
  SANDBOX_WEBHOOK_URL: z.string().url().optional(),
  SANDBOX_REFRESH_COMPLETION_MS: envInt(0).default(DEFAULT_OPTIONS.refreshCompletionDelayMs),
  SANDBOX_GRANTED_PRODUCTS: productList.optional(),
  SANDBOX_SEED: envInt(0).optional(),
  /** Multiplies MoneyKit's read limits (GET /links/{id}/accounts 4/min per link, GET /links/{id} 15/min per link, 1,000/min per app). */
  SANDBOX_READ_LIMIT_SCALE: envInt(1).default(1),
});
