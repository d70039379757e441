#!/usr/bin/env node
/**
 * The worker process: the import consumer, the refresh pipeline and the webhook receiver (WORKER_ROLES picks
 * which), plus /healthz, /readyz and /metrics. Any number of these processes can share one Redis.
 * SIGTERM/SIGINT: stop taking jobs, let in-flight ones finish, close connections.
 */
import { ConfigError, checkRedisServer, createLogger, createRedis } from '@mk/shared';
import { startOpsServer, redisReady } from '@mk/telemetry';
import { loadWorkerConfig } from './config';
import { startWorker } from './start';

async function main(): Promise<void> {
  let config;
  try {
    config = loadWorkerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger('worker', { level: config.LOG_LEVEL });
  const redis = createRedis(config.REDIS_URL, 'worker');
  const check = await checkRedisServer(redis);
  for (const problem of check.problems) logger.warn({ redisVersion: check.version }, problem);

  const worker = await startWorker(config, redis, logger);
  const ops = await startOpsServer({ port: config.OPS_PORT, host: config.OPS_HOST, ready: redisReady(redis) });
  logger.info({ roles: config.WORKER_ROLES, ops: ops.url }, 'worker started');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing in-flight jobs');
    await worker.close();
    await ops.close();
    redis.disconnect();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`worker failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
