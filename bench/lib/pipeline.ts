/** The service's own pieces wired for a bench: a private Redis, the producer's enqueue, the import worker. */
import path from 'node:path';
import { Queue } from 'bullmq';
import IORedis, { type Redis } from 'ioredis';
import { createLogger, importJob } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { startPrivateRedis, testSealer, type PrivateRedis, TEST_PAYLOAD_KEYS } from '@mk/testkit';
import { enqueueRun } from '@mk/producer';
import { importApiFromClient, startImportWorker, type ImportWorker } from '../../apps/worker/src/import';
import { importTimings, loadWorkerConfig } from '../../apps/worker/src/config';
import { OUT_DIR } from './dumps';
import type { SandboxProcess } from './sandbox-process';

export const PREFIX = '{bench}';
export const quietLogger = createLogger('bench', { level: 'error' });

export interface BenchRedis {
  server: PrivateRedis;
  redis: Redis;
  close(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const server = await startPrivateRedis();
  const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  return {
    server,
    redis,
    async close() {
      redis.disconnect();
      await server.stop();
    },
  };
}

/** Enqueues a whole dump with the producer's `run` path; returns how many users and connections went in. */
export async function enqueueDump(
  redis: Redis,
  dump: string,
  runId: string,
): Promise<{ users: number; connections: number }> {
  const queue = new Queue(importJob.queue, { connection: redis, prefix: PREFIX });
  const ledger = new MigrationLedger(redis, PREFIX);
  try {
    const progress = await enqueueRun(queue, ledger, {
      runId,
      dump,
      rejectsPath: path.join(OUT_DIR, `${runId}.rejects.ndjson`),
      maxWaiting: Number.MAX_SAFE_INTEGER,
      logger: quietLogger,
      sealer: testSealer(),
    });
    const counts = await ledger.counts(runId);
    return { users: progress.enqueued, connections: Object.values(counts).reduce((a, b) => a + b, 0) };
  } finally {
    await queue.close();
  }
}

export function clientFor(sandbox: SandboxProcess, concurrency: number): MoneyKitClient {
  return new MoneyKitClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    maxSockets: Math.max(concurrency, 8),
  });
}

export function startWorker(
  redis: Redis,
  client: MoneyKitClient,
  opts: { ratePerMinute: number; concurrency: number },
): ImportWorker {
  return startImportWorker({
    redis,
    prefix: PREFIX,
    api: importApiFromClient(client),
    ledger: new MigrationLedger(redis, PREFIX),
    logger: quietLogger,
    // the worker's defaults, as a deployment without settings would run
    ...importTimings(loadWorkerConfig({ REDIS_URL: 'redis://127.0.0.1:6379', PAYLOAD_KEYS: TEST_PAYLOAD_KEYS })),
    ratePerMinute: opts.ratePerMinute,
    concurrency: opts.concurrency,
    sink: { linkImported: async () => undefined },
    sealer: testSealer(),
  });
}
