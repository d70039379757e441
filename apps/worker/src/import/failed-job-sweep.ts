/**
 * Failed import jobs keep their sealed payload only for PAYLOAD_FAILED_RETENTION_HOURS: this sweep removes older
 * ones (BullMQ's removeOnFail age would only act when another job fails). The ledger keeps every failure and its
 * reason; `retry` re-reads the dump. Each worker process sweeps; the removals are idempotent.
 */
import type { Queue } from 'bullmq';
import type { Logger } from '@mk/shared';

const BATCH = 1000;

export function startFailedJobSweep(opts: { queue: Queue; maxAgeMs: number; logger: Logger; everyMs?: number }): {
  stop(): void;
  sweep(): Promise<number>;
} {
  const sweep = async () => {
    let removed = 0;
    for (;;) {
      const ids = await opts.queue.clean(opts.maxAgeMs, BATCH, 'failed');
      removed += ids.length;
      if (ids.length < BATCH) break;
    }
    if (removed)
      opts.logger.info(
        { removed, maxAgeMs: opts.maxAgeMs },
        'failed import jobs past their retention removed with their payloads',
      );
    return removed;
  };
  const everyMs = opts.everyMs ?? Math.min(3_600_000, Math.max(1000, Math.floor(opts.maxAgeMs / 10)));
  const timer = setInterval(
    () => void sweep().catch((err: unknown) => opts.logger.warn({ err }, 'failed-job sweep could not run')),
    everyMs,
  );
  timer.unref();
  return { stop: () => clearInterval(timer), sweep };
}
