/**
 * The BullMQ side of imports: the worker process's queue consumer. Retries are bounded with BullMQ's exponential
 * backoff with jitter, capped at the worker's maximum; a refused credential pauses the queue instead of burning every user's attempts, and the queue
 * resumes by itself once MoneyKit accepts the credentials again (credentials-pause.ts).
 */
import { Backoffs, Queue, Worker, type BackoffStrategy, type Job } from 'bullmq';
import type { Redis } from '@mk/shared';
import {
  IMPORT_BACKOFF_TYPE,
  importJob,
  queuePrefixOn,
  routeJobs,
  topupJob,
  unrecoverableRedisError,
  type Logger,
  type PayloadSealer,
} from '@mk/shared';
import type { MigrationLedger } from '@mk/ledger';
import { queueTelemetry } from '@mk/telemetry';
import { CredentialsRefusedError, failOpenConnections, processImportJob } from './processor';
import { processTopupJob } from './topup';
import type { ImportApi } from './import-connection';
import type { LinkSink } from './link-sink';
import { ImportRateLimiter } from './rate-limiter';
import { startCredentialsPause, type CredentialsPauseOptions } from '../credentials-pause';
import { startFailedJobSweep } from './failed-job-sweep';

export interface ImportWorkerOptions {
  /** A worker-role connection (maxRetriesPerRequest: null). */
  redis: Redis;
  prefix: string;
  api: ImportApi;
  ledger: MigrationLedger;
  sink: LinkSink;
  logger: Logger;
  /** Opens the sealed payloads: PAYLOAD_KEYS. */
  sealer: PayloadSealer;
  /** Failed jobs (and their sealed payloads) are removed after this long; default: kept until `purge`. */
  failedRetentionMs?: number;
  /** Calls to /links/import and /import/transactions per minute, across every worker process. */
  ratePerMinute: number;
  /** Jobs in flight in this process: ~10 keep a 60/min limit busy at 10 s per call. */
  concurrency: number;
  /** Retry backoff: BullMQ's exponential from the base, with jitter, never above the maximum. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** BullMQ lock; a job whose worker died is picked up again after about this long. */
  lockDurationMs: number;
  /** See ImportDeps.upstreamWaitMs (IMPORT_SETTLE_MS). */
  upstreamWaitMs: number;
  /** Backoff of those probes (tests shorten it). */
  credentialsProbe?: Pick<CredentialsPauseOptions, 'probeBaseMs' | 'probeMaxMs' | 'pollMs'>;
  /** A Redis error no retry cures (unrecoverableRedisError): the process stops with it instead of looping. */
  onFatal?: (reason: string, err: Error) => void;
}

/** Share of each retry delay drawn at random, so jobs that failed together do not come back together. */
const BACKOFF_JITTER = 0.5;

/**
 * BullMQ's exponential backoff from `baseMs`, jittered; once that would pass `maxMs`, BullMQ's fixed backoff at
 * `maxMs`, jittered too, so jobs that reach the cap together still come back apart.
 */
export function importBackoff(baseMs: number, maxMs: number): BackoffStrategy {
  const exponential = Backoffs.builtinStrategies.exponential!(baseMs, BACKOFF_JITTER);
  const atCap = Backoffs.builtinStrategies.fixed!(maxMs, BACKOFF_JITTER);
  return (attemptsMade, ...rest) =>
    (baseMs * 2 ** Math.max(0, attemptsMade - 1) < maxMs ? exponential : atCap)(attemptsMade, ...rest);
}

export interface ImportWorker {
  worker: Worker;
  close(): Promise<void>;
}

export function startImportWorker(opts: ImportWorkerOptions): ImportWorker {
  const limiter = new ImportRateLimiter(opts.redis, opts.prefix, opts.ratePerMinute);
  const deps = {
    api: opts.api,
    ledger: opts.ledger,
    limiter,
    sink: opts.sink,
    logger: opts.logger,
    sealer: opts.sealer,
    upstreamWaitMs: opts.upstreamWaitMs,
  };
  const { backoffBaseMs: baseMs, lockDurationMs: lockDuration } = opts;
  const backoff = importBackoff(baseMs, opts.backoffMaxMs);
  const processor = routeJobs<typeof importJob.queue, Job>(importJob.queue, {
    [importJob.name]: (job) => processImportJob(deps, job),
    [topupJob.name]: (job) => processTopupJob(deps, job),
  });
  const bullPrefix = queuePrefixOn(opts.redis, opts.prefix, importJob.queue);
  const fatal = (err: Error): boolean => {
    const reason = unrecoverableRedisError(err);
    if (reason) opts.onFatal?.(reason, err);
    return reason !== undefined;
  };
  const worker = new Worker(importJob.queue, processor, {
    // with tracing on, the job's processing continues the trace of the producer's enqueue
    ...queueTelemetry(),
    connection: opts.redis,
    prefix: bullPrefix,
    concurrency: opts.concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // A worker killed mid-job is normal here (deploys, SIGKILL); the ledger makes re-running safe.
    maxStalledCount: 5,
    settings: {
      backoffStrategy: (attemptsMade, type, ...rest) =>
        type === IMPORT_BACKOFF_TYPE ? backoff(attemptsMade, type, ...rest) : baseMs,
    },
  });
  const queue = new Queue(importJob.queue, { connection: opts.redis, prefix: bullPrefix, ...queueTelemetry() });
  const credentials = startCredentialsPause({
    redis: opts.redis,
    prefix: opts.prefix,
    queue,
    logger: opts.logger,
    ...(opts.api.verifyCredentials && { verifyCredentials: () => opts.api.verifyCredentials!() }),
    ...opts.credentialsProbe,
  });
  worker.on('failed', (job, err) => {
    if (fatal(err)) return;
    if (err instanceof CredentialsRefusedError) return void credentials.pause(err.failure);
    // BullMQ gave up on the job without a processing run to record it (its workers kept dying)
    if (job && /stalled more than allowable limit/.test(err.message)) {
      const reason = `import job abandoned: its worker died ${job.stalledCounter} times while holding it`;
      void failOpenConnections(opts.ledger, opts.sealer, job.data, reason)
        .then(
          (n) =>
            n &&
            opts.logger.warn(
              { jobId: job.id, connections: n },
              `${reason}: connections failed, \`retry\` re-drives them`,
            ),
        )
        .catch((e: unknown) =>
          opts.logger.error({ err: e, jobId: job.id }, 'could not record an abandoned import job'),
        );
    }
  });
  worker.on('error', (err) => {
    if (!fatal(err)) opts.logger.error({ err }, 'import worker error');
  });
  const sweep =
    opts.failedRetentionMs !== undefined
      ? startFailedJobSweep({ queue, maxAgeMs: opts.failedRetentionMs, logger: opts.logger })
      : undefined;

  let closing: Promise<void> | undefined;
  return {
    worker,
    close() {
      closing ??= (async () => {
        sweep?.stop();
        await worker.close();
        await credentials.close();
        await queue.close();
      })();
      return closing;
    },
  };
}
