/**
 * Runs the sandbox as a process (the demo, docker-compose, rehearsals). Every setting comes from the
 * environment and is validated once; a bad value stops it with a message naming the variable.
 */
import { commonEnvSchema, createLogger, envInt, envUsage, exitOnHelp, loadConfig, productSchema, refreshQuotaEnvSchema } from '@mk/shared';
import { z } from 'zod';
import { DEFAULT_GRANTED_PRODUCTS, DEFAULT_OPTIONS } from './options';
import { startSandbox } from './server';

const productList = z
  .string()
  .transform((s) => s.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(productSchema).min(1));

const latencySpec = z
  .string()
  .default('realistic')
  .transform((spec, ctx) => {
    if (spec === 'realistic' || spec === 'none') return spec;
    // "<baseMs>,<perKbMs>,<maxMs>" for a custom model.
    const [baseMs, perKbMs, maxMs] = spec.split(',').map(Number);
    if ([baseMs, perKbMs, maxMs].every((n) => Number.isFinite(n) && n! >= 0)) return { baseMs: baseMs!, perKbMs: perKbMs!, maxMs: maxMs! };
    ctx.addIssue({ code: 'custom', message: "expected 'realistic', 'none' or '<baseMs>,<perKbMs>,<maxMs>'" });
    return z.NEVER;
  });

// REFRESH_QUOTAS is the service's own variable: one setting keeps the sandbox's quotas and the service's ledger equal.
const sandboxEnvSchema = commonEnvSchema.merge(refreshQuotaEnvSchema).extend({
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
});

async function main(): Promise<void> {
  exitOnHelp(envUsage('pnpm sandbox', 'A MoneyKit API emulator with realistic latency, limits and fault injection (apps/sandbox/README.md).', sandboxEnvSchema));
  const env = loadConfig(sandboxEnvSchema);
  const logger = createLogger('sandbox', { level: env.LOG_LEVEL });
  const sandbox = await startSandbox({
    port: env.SANDBOX_PORT,
    host: env.SANDBOX_HOST,
    clientId: env.SANDBOX_CLIENT_ID,
    clientSecret: env.SANDBOX_CLIENT_SECRET,
    tokenTtlSeconds: env.SANDBOX_TOKEN_TTL_SECONDS,
    importRatePerMinute: env.SANDBOX_IMPORT_RATE_PER_MIN,
    latency: env.SANDBOX_LATENCY,
    timeScale: env.TIME_SCALE,
    quotas: env.REFRESH_QUOTAS,
    webhookUrl: env.SANDBOX_WEBHOOK_URL,
    refreshCompletionDelayMs: env.SANDBOX_REFRESH_COMPLETION_MS,
    grantedProducts: env.SANDBOX_GRANTED_PRODUCTS ?? DEFAULT_GRANTED_PRODUCTS,
    seed: env.SANDBOX_SEED,
    logger,
  });
  // The one line scripts wait for: where to point MONEYKIT_BASE_URL.
  process.stdout.write(`MoneyKit sandbox listening on ${sandbox.url}\n`);

  const stop = (signal: string) => {
    logger.info({ signal }, 'sandbox stopping');
    void sandbox.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: Error) => {
  process.stderr.write(`${err.name === 'ConfigError' ? err.message : `sandbox failed to start: ${err.message}`}\n`);
  process.exit(1);
});
