/**
 * Runs the sandbox as a process (the demo, docker-compose, rehearsals). Every setting comes from the
 * environment and is validated once; a bad value stops it with a message naming the variable.
 */
import { createLogger, envUsage, exitOnHelp, loadConfig } from '@mk/shared';
import { sandboxEnvSchema } from './config';
import { DEFAULT_GRANTED_PRODUCTS, readLimitsScaled } from './options';
import { startSandbox } from './server';

async function main(): Promise<void> {
  exitOnHelp(
    envUsage(
      'pnpm sandbox',
      'A MoneyKit API emulator with realistic latency, limits and fault injection (apps/sandbox/README.md).',
      sandboxEnvSchema,
    ),
  );
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
    readLimits: readLimitsScaled(env.SANDBOX_READ_LIMIT_SCALE),
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
