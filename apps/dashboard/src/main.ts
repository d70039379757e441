/**
 * Starts the dashboard from the environment (.env.example lists every variable). Exits 1 ("could not run", as
 * every app) on a configuration error or when Redis does not answer within REDIS_CONNECT_TIMEOUT_MS; a Redis
 * that answers but is misconfigured (eviction, no AOF) is logged as a warning, because the dashboard only reads.
 */
import {
  checkRedisServer,
  ConfigError,
  connectRedis,
  createLogger,
  envUsage,
  exitOnHelp,
  RedisUnreachableError,
} from '@mk/shared';
import { createDashboard } from './app';
import { dashboardEnvSchema, loadDashboardSettings } from './config';
import { createSources } from './sources';

/** "Could not run", the same code in every app (README). */
const EXIT_COULD_NOT_RUN = 1;

async function main(): Promise<void> {
  exitOnHelp(
    envUsage(
      'pnpm dashboard',
      'The run pages, Bull Board behind a login, /metrics, /healthz and /readyz.',
      dashboardEnvSchema,
    ),
  );
  const logger = createLogger('dashboard');
  let settings;
  try {
    settings = loadDashboardSettings();
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal(err.message);
      process.exit(EXIT_COULD_NOT_RUN);
    }
    throw err;
  }
  const { config, auth } = settings;
  if (auth.mode === 'none')
    logger.warn('DASHBOARD_DEV_NO_AUTH=true: anyone who can reach this port is an admin (loopback only)');

  let redis;
  try {
    redis = await connectRedis(settings.redis, 'worker', { timeoutMs: config.REDIS_CONNECT_TIMEOUT_MS });
  } catch (err) {
    if (!(err instanceof RedisUnreachableError)) throw err;
    logger.fatal({ redis: err.url, timeoutMs: err.timeoutMs }, err.message);
    process.exit(EXIT_COULD_NOT_RUN);
  }
  const check = await checkRedisServer(redis).catch((err: Error) => {
    logger.fatal(err.message);
    return process.exit(EXIT_COULD_NOT_RUN);
  });
  for (const problem of check.problems) logger.warn({ redisVersion: check.version }, `Redis configuration: ${problem}`);

  const sources = await createSources(redis, config.REDIS_PREFIX, settings.refresh);
  const app = await createDashboard({
    redis,
    prefix: config.REDIS_PREFIX,
    auth,
    trustProxy: config.DASHBOARD_TRUST_PROXY,
    runs: sources.runs,
    ...(sources.refresh && { refresh: sources.refresh }),
    logger,
  });
  await app.listen({ port: config.DASHBOARD_PORT, host: config.DASHBOARD_HOST });
  logger.info({ host: config.DASHBOARD_HOST, port: config.DASHBOARD_PORT, auth: auth.mode }, 'dashboard listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'dashboard stopping');
    await app.close();
    await sources.close();
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  createLogger('dashboard').fatal({ err }, 'dashboard failed to start');
  process.exit(EXIT_COULD_NOT_RUN);
});
