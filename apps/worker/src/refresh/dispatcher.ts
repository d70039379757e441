/**
 * Moves due links from the due index into the refresh queue. Safe to run in every worker process at once: the
 * dispatch script hands each due link to exactly one caller under a short hand-over lease, so a process killed
 * between the script and addBulk (which is not atomic) delays those links by that lease only; once the jobs are
 * queued the lease is extended (a repeated dispatch of a queued link is a no-op: same job id).
 */
import type { Queue } from 'bullmq';
import { refreshJob, type Logger, type RefreshJob } from '@mk/shared';
import type { RefreshRegistry } from '@mk/refresh';

export interface Dispatcher {
  /** Links moved into the queue since start. */
  readonly dispatched: number;
  /** One round now (tests, CLI); returns how many links were queued. */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

/** `isFatal` tells an error no retry cures (it is handed on and the loop stops) from one worth another round. */
export function startDispatcher(
  registry: RefreshRegistry,
  queue: Queue,
  logger: Logger,
  isFatal: (err: Error) => boolean = () => false,
): Dispatcher {
  const { dispatchBatch, dispatchIdleMs } = registry.options;
  let stopped = false;
  let dispatched = 0;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function tick(): Promise<number> {
    const due = await registry.takeDue(dispatchBatch);
    if (due.length === 0) return 0;
    await queue.addBulk(
      due.map((d) => ({
        name: refreshJob.name,
        data: { linkId: d.linkId, products: d.products, dueAt: d.dueAt } satisfies RefreshJob,
        opts: { jobId: refreshJob.id(d) },
      })),
    );
    await registry.confirmQueued(due);
    dispatched += due.length;
    for (const d of due)
      if (registry.trace.traced(d.linkId)) await registry.trace.note(d.linkId, 'queued', refreshJob.id(d));
    return due.length;
  }

  const loop = (async () => {
    while (!stopped) {
      try {
        const n = await tick();
        if (n < dispatchBatch) await sleep(dispatchIdleMs);
      } catch (err) {
        if (isFatal(err as Error)) {
          stopped = true;
          break;
        }
        logger.error({ err }, 'refresh dispatch round failed; retrying');
        await sleep(Math.max(1000, dispatchIdleMs));
      }
    }
  })();

  return {
    get dispatched() {
      return dispatched;
    },
    tick,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
