#!/usr/bin/env node
/**
 * The worker process: the import consumer, the refresh pipeline and the webhook receiver (WORKER_ROLES picks
 * which), plus /healthz, /readyz and /metrics. Any number of these processes can share one Redis.
 * Start-up checks every setting, then Redis (within REDIS_CONNECT_TIMEOUT_MS), then binds its ports, and only
 * then takes jobs; whatever fails on the way is said and the process exits 1.
 * SIGTERM/SIGINT: stop taking jobs, let in-flight ones finish, close connections.
 */
import {
  ConfigError,
  RedisUnreachableError,
  checkRedisServer,
  connectRedis,
  createLogger,
  envUsage,
  exitOnHelp,
  type Logger,
} from '@mk/shared';
import { startOpsServer, redisReady, startTracing } from '@mk/telemetry';
import { loadWorkerSettings, workerEnvSchema } from './config';
import { startWorker } from './start';

/** "Could not run", the same code in every app (README). */
const EXIT_COULD_NOT_RUN = 1;

async function main(): Promise<void> {
  exitOnHelp(
    envUsage(
      'pnpm worker',
      'The import worker, the refresh pipeline and the webhook receiver (WORKER_ROLES picks which), with /healthz, /readyz and /metrics.',
      workerEnvSchema,
    ),
  );
  let settings;
  let tracing;
  try {
    settings = loadWorkerSettings();
    tracing = startTracing('mk-worker');
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(EXIT_COULD_NOT_RUN);
    }
    throw err;
  }
  const { config } = settings;
  const logger = createLogger('worker', { level: config.LOG_LEVEL });
  let redis;
  try {
    redis = await connectRedis(settings.redis.target, 'worker', { timeoutMs: config.REDIS_CONNECT_TIMEOUT_MS });
  } catch (err) {
    if (err instanceof RedisUnreachableError) fatal(logger, { redis: err.url, timeoutMs: err.timeoutMs }, err.message);
    throw err;
  }
  const check = await checkRedisServer(redis, config.REDIS_CONNECT_TIMEOUT_MS).catch((err: Error) =>
    fatal(logger, {}, err.message),
  );
  for (const problem of check.problems) logger.warn({ redisVersion: check.version }, problem);

  // Ports before jobs: a port already taken stops the process before it holds any job.
  const ops = await startOpsServer({ port: config.OPS_PORT, host: config.OPS_HOST, ready: redisReady(redis) }).catch(
    (err: Error) =>
      fatal(
        logger,
        { port: config.OPS_PORT, host: config.OPS_HOST },
        `OPS_PORT ${config.OPS_PORT} cannot be listened on: ${err.message}`,
      ),
  );
  // A Redis error no retry cures (CROSSSLOT, a cluster node behind REDIS_URL, refused credentials) stops the process
  // with its reason: looping on it would only fill the logs.
  const onFatal = (reason: string) => fatal(logger, {}, reason);
  const worker = await startWorker(settings, redis, logger, onFatal).catch(async (err: Error) => {
    await ops.close();
    return fatal(logger, { err }, `worker failed to start: ${err.message}`);
  });
  logger.info(
    { roles: config.WORKER_ROLES, ops: ops.url, ...(worker.webhookUrl && { webhooks: worker.webhookUrl }) },
    'worker started',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight jobs');
    await worker.close();
    await ops.close();
    await tracing.shutdown().catch(() => undefined);
    redis.disconnect();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function fatal(logger: Logger, fields: Record<string, unknown>, message: string): never {
  logger.fatal(fields, message);
  process.exit(EXIT_COULD_NOT_RUN);
}

main().catch((err) => {
  process.stderr.write(`worker failed to start: ${(err as Error).message}\n`);
  process.exit(EXIT_COULD_NOT_RUN);
});
