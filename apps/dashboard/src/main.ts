/**
 * Starts the dashboard from the environment (.env.example lists every variable). Exits 2 on a configuration
 * error, 1 when Redis cannot be reached; a Redis that answers but is misconfigured (eviction, no AOF) is logged
 * as a warning, because the dashboard only reads while workers and producers refuse to run on it.
 */
import { checkRedisServer, ConfigError, createLogger, createRedis, loadConfig, waitReady } from '@mk/shared';
import { createDashboard } from './app';
import { dashboardEnvSchema, resolveAuth } from './config';
import { createSources } from './sources';

async function main(): Promise<void> {
  const logger = createLogger('dashboard');
  let config;
  let auth;
  try {
    config = loadConfig(dashboardEnvSchema);
    auth = resolveAuth(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      logger.fatal(err.message);
      process.exit(2);
    }
    throw err;
  }
  if (auth.mode === 'none') logger.warn('DASHBOARD_DEV_NO_AUTH=true: anyone who can reach this port is an admin (loopback only)');
  if (auth.mode === 'credentials' && !auth.sessionSecret) {
    logger.info('DASHBOARD_SESSION_SECRET is not set: sessions end when this process restarts and are not shared between replicas');
  }

  const redis = createRedis(config.REDIS_URL, 'worker');
  try {
    await waitReady(redis, 10_000);
  } catch {
    logger.fatal({ redis: redactUrl(config.REDIS_URL) }, 'Redis is not reachable: check REDIS_URL, the network and the Redis password');
    redis.disconnect();
    process.exit(1);
  }
  const check = await checkRedisServer(redis);
  for (const problem of check.problems) logger.warn({ redisVersion: check.version }, `Redis configuration: ${problem}`);

  const sources = await createSources(redis, config.REDIS_PREFIX);
  const app = await createDashboard({ redis, prefix: config.REDIS_PREFIX, auth, runs: sources.runs, ...(sources.refresh && { refresh: sources.refresh }), logger });
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

/** The Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable)';
  }
}

main().catch((err) => {
  createLogger('dashboard').fatal({ err }, 'dashboard failed to start');
  process.exit(1);
});
