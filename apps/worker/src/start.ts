/** Starts the parts of a worker process its roles name, on one Redis connection; `close()` stops them all. */
import type { Logger, Redis } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import type { WorkerConfig } from './config';
import { createMoneyKitClient } from './moneykit';
import { importApiFromClient, startImportWorker, type LinkSink } from './import';

export interface RunningWorker {
  close(): Promise<void>;
}

export async function startWorker(config: WorkerConfig, redis: Redis, logger: Logger, sink?: LinkSink): Promise<RunningWorker> {
  const client = createMoneyKitClient(config, logger);
  const closers: (() => Promise<void>)[] = [];
  const handOver: LinkSink = sink ?? { linkImported: async () => undefined };

  if (config.WORKER_ROLES.includes('import')) {
    const imports = startImportWorker({
      redis,
      prefix: config.REDIS_PREFIX,
      api: importApiFromClient(client),
      ledger: new MigrationLedger(redis, config.REDIS_PREFIX),
      sink: handOver,
      logger,
      ratePerMinute: config.IMPORT_RATE_PER_MIN,
      concurrency: config.IMPORT_CONCURRENCY,
      backoffBaseMs: config.IMPORT_BACKOFF_BASE_MS,
      backoffMaxMs: config.IMPORT_BACKOFF_MAX_MS,
      lockDurationMs: config.IMPORT_LOCK_MS,
      settleMs: config.IMPORT_SETTLE_MS,
    });
    closers.push(() => imports.close());
  }

  let closing: Promise<void> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        await Promise.all(closers.map((c) => c()));
        client.close();
      })()),
  };
}
