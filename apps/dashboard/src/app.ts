/**
 * The dashboard: Bull Board (admin and read-only boards) behind a login, the run pages and their JSON, the ops
 * probes and the service-wide Prometheus metrics. Access to it amounts to access to Redis: an admin can
 * retry, clean, empty or obliterate any queue.
 */
import { Queue } from 'bullmq';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createLogger, DEFAULT_PREFIX, QUEUES, type Logger, type Redis } from '@mk/shared';
import { redisReady, registerOpsRoutes } from '@mk/telemetry';
import { installAuth, type AuthOptions } from './auth/guard';
import { boardPaths, mountBoards } from './board';
import { createDashboardMetrics } from './metrics';
import { registerStaticAssets } from './static';
import { registerStatusRoutes } from './status/routes';
import type { RefreshStatusSource, RunStatusSource } from './status/types';

export interface DashboardOptions {
  /** Connection the queues use (BullMQ needs maxRetriesPerRequest: null). The dashboard does not close it. */
  redis: Redis;
  /** BullMQ prefix, REDIS_PREFIX. */
  prefix?: string;
  /** Queues to show; default every queue of the service. */
  queueNames?: readonly string[];
  auth: AuthOptions;
  runs: RunStatusSource;
  /** The refresh pipeline's health; without it the pages say it is unavailable. */
  refresh?: RefreshStatusSource;
  /** Where Bull Board lives; the admin board is under `<boardPath>/admin`, the read-only one under `<boardPath>/viewer`. */
  boardPath?: string;
  /** For login events and errors; default silent. */
  logger?: Logger;
}

export async function createDashboard(opts: DashboardOptions): Promise<FastifyInstance> {
  const logger = opts.logger ?? createLogger('dashboard', { level: 'silent' });
  const app = Fastify({ loggerInstance: logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const queues = (opts.queueNames ?? Object.values(QUEUES)).map((name) => new Queue(name, { connection: opts.redis, prefix }));
  // ioredis reconnects by itself; say so once a minute at most instead of once per attempt (/readyz tells the rest).
  let lastRedisWarning = 0;
  for (const q of queues) {
    q.on('error', (err) => {
      if (Date.now() - lastRedisWarning < 60_000) return;
      lastRedisWarning = Date.now();
      logger.warn({ err, queue: q.name }, 'queue cannot reach Redis; retrying');
    });
  }
  app.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => q.close()));
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    if (!req.url.startsWith('/static') && !req.url.includes('/static/')) reply.header('cache-control', 'no-store');
    return payload;
  });

  const paths = boardPaths(opts.boardPath ?? '/board');
  installAuth(app, { auth: opts.auth, adminOnlyPrefix: paths.admin, boardPath: paths.root });
  registerOpsRoutes(app, {
    ready: redisReady(opts.redis),
    metrics: createDashboardMetrics({ queues, runs: opts.runs, refresh: opts.refresh, redis: opts.redis }),
  });
  registerStaticAssets(app);
  registerStatusRoutes(app, { runs: opts.runs, refresh: opts.refresh, boardPath: paths.root });
  await mountBoards(app, queues, paths);
  return app;
}
