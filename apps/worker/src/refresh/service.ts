/**
 * The refresh pipeline of one worker process: the dispatcher loop and the BullMQ refresh worker, over the
 * shared registry. Start it in as many processes as you like.
 */
import { Queue, Worker, type Job } from 'bullmq';
import {
  DEFAULT_PREFIX,
  createLogger,
  createRedis,
  queuePrefixOn,
  refreshBatchJob,
  refreshBatchJobSchema,
  refreshCheckJob,
  refreshJob,
  routeJobs,
  unrecoverableRedisError,
  type Logger,
  type Redis,
  type RedisTarget,
} from '@mk/shared';
import { startDispatcher, type Dispatcher } from './dispatcher';
import { watchEncoding } from './encoding-watch';
import { LagTracker } from './lag';
import { startCredentialsPause, type CredentialsPause, type CredentialsPauseOptions } from '../credentials-pause';
import { CongestionLimit } from './congestion';
import { createRefreshProcessor, type RefreshClient } from './processor';
import { RefreshRegistry, type RegistryOptions } from '@mk/refresh';
import { queueTelemetry } from '@mk/telemetry';
import type { LinkEvents } from '../link-events';

export interface RefreshServiceOptions extends RegistryOptions {
  /** REDIS_URL, or a cluster's seeds (REDIS_CLUSTER_NODES): the pipeline opens its own connections there. */
  redisUrl: RedisTarget;
  prefix?: string;
  client: RefreshClient;
  logger?: Logger;
  /** Run the dispatcher loop here (default true). */
  dispatch?: boolean;
  /** Run the refresh worker here (default true). */
  process?: boolean;
  /** BullMQ lock settings: a worker that dies leaves its jobs to others after about this long. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** Backoff of the credentials probes (tests shorten it). */
  credentialsProbe?: Pick<CredentialsPauseOptions, 'probeBaseMs' | 'probeMaxMs' | 'pollMs'>;
  /** A Redis error no retry cures (unrecoverableRedisError): the process stops with it instead of looping. */
  onFatal?: (reason: string, err: Error) => void;
  /** The migration ledger's side of links MoneyKit refuses (parked, removed, product forbidden). */
  links?: LinkEvents;
}

export interface RunningRefresh {
  registry: RefreshRegistry;
  queue: Queue;
  worker?: Worker;
  dispatcher?: Dispatcher;
  lag: LagTracker;
  close(): Promise<void>;
}

/** The links a refresh job was for (none for a payload that does not parse). */
function linksOf(job: Job): string[] {
  if (job.name === refreshBatchJob.name) {
    const batch = refreshBatchJobSchema.safeParse(job.data);
    return batch.success ? batch.data.links.map((l) => l.linkId) : [];
  }
  const linkId = (job.data as { linkId?: unknown }).linkId;
  return typeof linkId === 'string' ? [linkId] : [];
}

export async function startRefresh(opts: RefreshServiceOptions): Promise<RunningRefresh> {
  const logger = opts.logger ?? createLogger('refresh');
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  // BullMQ does not close connections it is given: every one opened here is closed by close()
  const connections: Redis[] = [];
  const connect = () => {
    const c = createRedis(opts.redisUrl, 'worker');
    connections.push(c);
    return c;
  };
  const commands = connect();
  const registry = await RefreshRegistry.open(commands, prefix, opts);
  const bullPrefix = queuePrefixOn(commands, prefix, refreshJob.queue);
  const fatal = (err: Error): boolean => {
    const reason = unrecoverableRedisError(err);
    if (reason) opts.onFatal?.(reason, err);
    return reason !== undefined;
  };
  const queue = new Queue(refreshJob.queue, {
    connection: connect(),
    prefix: bullPrefix,
    defaultJobOptions: refreshJob.options(registry.options),
    ...queueTelemetry(),
  });
  const lag = new LagTracker();

  let worker: Worker | undefined;
  let credentials: CredentialsPause | undefined;
  if (opts.process !== false) {
    const congestion = new CongestionLimit({
      max: registry.options.concurrency,
      cooldownMs: opts.client.maxExchangeMs('refresh_products'),
    });
    const verify = opts.client.verifyCredentials?.bind(opts.client);
    credentials = startCredentialsPause({
      redis: commands,
      prefix,
      queue,
      logger,
      ...(verify && { verifyCredentials: verify }),
      ...opts.credentialsProbe,
    });
    const paused = credentials;
    const { processRefresh, processBatch, processCheck } = createRefreshProcessor({
      registry,
      client: opts.client,
      queue,
      logger,
      lag,
      congestion,
      credentialsRefused: (f) => paused.pause(f),
      ...(opts.links && { links: opts.links }),
    });
    worker = new Worker(
      refreshJob.queue,
      routeJobs<typeof refreshJob.queue, Job>(refreshJob.queue, {
        [refreshJob.name]: processRefresh,
        [refreshBatchJob.name]: processBatch,
        [refreshCheckJob.name]: processCheck,
      }),
      {
        // with tracing on, a refresh's trace runs from its dispatch to the MoneyKit call
        ...queueTelemetry(),
        connection: connect(),
        prefix: bullPrefix,
        concurrency: registry.options.concurrency,
        // queue.rateLimit() (app-wide 429) only holds the queue when the worker has a limiter
        limiter: { max: 1_000_000, duration: 1000 },
        ...(opts.lockDurationMs !== undefined && { lockDuration: opts.lockDurationMs }),
        // A worker killed mid-job is routine (deploys, scale-in): its job runs again elsewhere, which the atomic claim
        // makes safe. BullMQ's default (1) would fail the job instead and leave the link to wait for its lease.
        maxStalledCount: 5,
        ...(opts.stalledIntervalMs !== undefined && { stalledInterval: opts.stalledIntervalMs }),
      },
    );
    worker.on('error', (err) => {
      if (!fatal(err)) logger.error({ err }, 'refresh worker error');
    });
    worker.on('failed', (job, err) => {
      if (fatal(err)) return;
      const final = job !== undefined && (job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled/i.test(err.message));
      if (!final) return logger.debug({ jobId: job?.id, err }, 'refresh job attempt failed');
      // plan its links again from their state at once, rather than when their leases end
      logger.warn({ jobId: job.id, err }, 'refresh job failed for good: its links are planned again');
      void Promise.all([registry.count('jobsFailed'), registry.rescheduleMany(linksOf(job))]).catch(() => undefined);
    });
  }
  const dispatcher = opts.dispatch === false ? undefined : startDispatcher(registry, queue, logger, fatal);
  // the dispatching processes tell when the buckets outgrow the size the registry was made for
  const encoding = dispatcher && watchEncoding(registry, logger);

  let closing: Promise<void> | undefined;
  return {
    registry,
    queue,
    ...(worker && { worker }),
    ...(dispatcher && { dispatcher }),
    lag,
    close() {
      closing ??= (async () => {
        encoding?.stop();
        await dispatcher?.stop();
        await worker?.close();
        await credentials?.close();
        await queue.close();
        for (const c of connections) c.disconnect();
      })();
      return closing;
    },
  };
}
