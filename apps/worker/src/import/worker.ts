/**
 * The BullMQ side of imports: the worker process's queue consumer. Retries are bounded with exponential backoff
 * and jitter; a refused credential pauses the queue instead of burning every user's attempts, and the queue
 * resumes by itself once MoneyKit accepts the credentials again (credentials-pause.ts).
 */
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUES, IMPORT_BACKOFF_TYPE, type Logger, type PayloadSealer } from '@mk/shared';
import type { MigrationLedger } from '@mk/ledger';
import { queueTelemetry } from '@mk/telemetry';
import { CredentialsRefusedError, failOpenConnections, processImportJob } from './processor';
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
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** BullMQ lock; a job whose worker died is picked up again after about this long. */
  lockDurationMs?: number;
  /** See ImportDeps.settleMs. */
  settleMs?: number;
  /** Backoff of those probes (tests shorten it). */
  credentialsProbe?: Pick<CredentialsPauseOptions, 'probeBaseMs' | 'probeMaxMs' | 'pollMs'>;
}

export function exponentialJitter(attemptsMade: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

export interface ImportWorker {
  worker: Worker;
  close(): Promise<void>;
}

export function startImportWorker(opts: ImportWorkerOptions): ImportWorker {
  const limiter = new ImportRateLimiter(opts.redis, opts.prefix, opts.ratePerMinute);
  const deps = { api: opts.api, ledger: opts.ledger, limiter, sink: opts.sink, logger: opts.logger, sealer: opts.sealer, ...(opts.settleMs !== undefined && { settleMs: opts.settleMs }) };
  const baseMs = opts.backoffBaseMs ?? 2000;
  const maxMs = opts.backoffMaxMs ?? 5 * 60_000;
  const lockDuration = opts.lockDurationMs ?? 30_000;
  const worker = new Worker(QUEUES.import, (job: Job) => processImportJob(deps, job), {
    // with tracing on, the job's processing continues the trace of the producer's enqueue
    ...queueTelemetry(),
    connection: opts.redis,
    prefix: opts.prefix,
    concurrency: opts.concurrency,
    lockDuration,
    stalledInterval: lockDuration,
    // A worker killed mid-job is normal here (deploys, SIGKILL); the ledger makes re-running safe.
    maxStalledCount: 5,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) => (type === IMPORT_BACKOFF_TYPE ? exponentialJitter(attemptsMade, baseMs, maxMs) : baseMs),
    },
  });
  const queue = new Queue(QUEUES.import, { connection: opts.redis, prefix: opts.prefix, ...queueTelemetry() });
  const credentials = startCredentialsPause({
    redis: opts.redis, prefix: opts.prefix, queue, logger: opts.logger, ...(opts.api.verifyCredentials && { verifyCredentials: () => opts.api.verifyCredentials!() }), ...opts.credentialsProbe,
  });
  worker.on('failed', (job, err) => {
    if (err instanceof CredentialsRefusedError) return void credentials.pause(err.failure);
    // BullMQ gave up on the job without a processing run to record it (its workers kept dying)
    if (job && /stalled more than allowable limit/.test(err.message)) {
      const reason = `import job abandoned: its worker died ${job.stalledCounter} times while holding it`;
      void failOpenConnections(opts.ledger, opts.sealer, job.data, reason)
        .then((n) => n && opts.logger.warn({ jobId: job.id, connections: n }, `${reason}: connections failed, \`retry\` re-drives them`))
        .catch((e: unknown) => opts.logger.error({ err: e, jobId: job.id }, 'could not record an abandoned import job'));
    }
  });
  worker.on('error', (err) => opts.logger.error({ err }, 'import worker error'));
  const sweep = opts.failedRetentionMs !== undefined ? startFailedJobSweep({ queue, maxAgeMs: opts.failedRetentionMs, logger: opts.logger }) : undefined;

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
