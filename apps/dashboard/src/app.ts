/**
 * The dashboard: Bull Board (admin and read-only boards) behind a login, the run pages and their JSON, the ops
 * probes and the service-wide Prometheus metrics. Access to it amounts to access to Redis: an admin can
 * retry, clean, empty or obliterate any queue.
 */
import { Queue } from 'bullmq';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createLogger, DEFAULT_PREFIX, QUEUES, queuePrefixOn, type Logger, type Redis } from '@mk/shared';
import { redisReady, registerOpsRoutes } from '@mk/telemetry';
import { installAuth, type AuthOptions } from './auth/guard';
import { boardPaths, mountBoards } from './board';
import { installSecurityHeaders } from './security-headers';
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
  /** Which proxies' X-Forwarded-For/-Proto/-Host to believe (Fastify's trustProxy): DASHBOARD_TRUST_PROXY. */
  trustProxy?: boolean | string[];
  /** For login events and errors; default silent. */
  logger?: Logger;
}

export async function createDashboard(opts: DashboardOptions): Promise<FastifyInstance> {
  const logger = opts.logger ?? createLogger('dashboard', { level: 'silent' });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Behind a TLS proxy the client address (and the origin the browser used) come from X-Forwarded-* only when trusted.
    trustProxy: opts.trustProxy ?? false,
  });
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const queues = (opts.queueNames ?? Object.values(QUEUES)).map(
    (name) => new Queue(name, { connection: opts.redis, prefix: queuePrefixOn(opts.redis, prefix, name) }),
  );
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

  await installSecurityHeaders(app, { https: opts.auth.mode === 'credentials' && opts.auth.cookieSecure === true });
  const paths = boardPaths(opts.boardPath ?? '/board');
  await installAuth(app, {
    auth: opts.auth,
    redis: opts.redis,
    prefix,
    adminOnlyPrefix: paths.admin,
    boardPath: paths.root,
  });
  registerOpsRoutes(app, {
    ready: redisReady(opts.redis),
    metrics: createDashboardMetrics({ queues, runs: opts.runs, refresh: opts.refresh, redis: opts.redis }),
  });
  registerStaticAssets(app);
  registerStatusRoutes(app, { runs: opts.runs, refresh: opts.refresh, boardPath: paths.root });
  await mountBoards(app, queues, paths);
  return app;
}
