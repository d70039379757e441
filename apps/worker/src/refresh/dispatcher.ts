/**
 * Moves due links from the due index into the refresh queue, as batch jobs of LINKS_PER_JOB links.
 * Safe to run in every worker process at once: the dispatch script hands each due link to exactly one caller under a
 * short hand-over lease, so a process killed between the script and addBulk (which is not atomic) delays those links
 * by that lease only. A job still in the queue half a hand-over lease later has its links' leases made the long one
 * (most jobs are done by then and their links planned anew: nothing to extend). Should that be missed (this process
 * killed), a link is dispatched again while its job waits: its claim lets one of the two calls through.
 */
import type { Queue } from 'bullmq';
import { refreshBatchJob, type Logger, type RefreshBatchJob } from '@mk/shared';
import type { DueLink, RefreshRegistry } from '@mk/refresh';

/**
 * Links per batch job: a job's own Redis work (add, take, finish: ~120 µs) shared by this many links, while a job
 * stays a few KB and a worker killed mid-job sends little again.
 */
export const LINKS_PER_JOB = 100;

/**
 * Due links in jobs of LINKS_PER_JOB, in the order taken (shard by shard): a job's claims and settles are one script
 * call per shard among its links, so a job spanning shards costs BullMQ once and the registry once per shard.
 */
export function batchJobs(due: DueLink[]): { id: string; data: RefreshBatchJob; links: DueLink[] }[] {
  const jobs: { id: string; data: RefreshBatchJob; links: DueLink[] }[] = [];
  for (let i = 0; i < due.length; i += LINKS_PER_JOB) {
    const links = due.slice(i, i + LINKS_PER_JOB);
    jobs.push({
      id: refreshBatchJob.id(links[0]!),
      links,
      data: { links: links.map((d) => ({ linkId: d.linkId, products: d.products, dueAt: d.dueAt })) },
    });
  }
  return jobs;
}

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
  const { handOverMs } = registry.options;
  let stopped = false;
  let dispatched = 0;
  /** Jobs added, oldest first, with when to look whether they still wait (local clock). */
  const queued: { id: string; links: DueLink[]; lookAt: number }[] = [];
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  /** The links of the jobs added before `until` that still exist (waiting, delayed or running) keep the long lease. */
  async function confirmStillQueued(until: number): Promise<void> {
    let n = 0;
    while (n < queued.length && queued[n]!.lookAt <= until) n++;
    if (n === 0) return;
    const looked = queued.splice(0, n);
    const states = await Promise.all(looked.map((j) => queue.getJobState(j.id)));
    const waiting = looked.filter((_, i) => !['unknown', 'completed', 'failed'].includes(states[i]!));
    await registry.confirmQueued(waiting.flatMap((j) => j.links));
  }

  async function tick(): Promise<number> {
    await confirmStillQueued(Date.now());
    // one shard a round: what came due in a shard since its last round goes out in one dispatch, one job and one claim
    // per group, instead of every round's few links of each shard costing a script call of their own
    const due = await registry.takeDue(dispatchBatch, 1);
    if (due.length === 0) return 0;
    const jobs = batchJobs(due);
    await queue.addBulk(jobs.map((j) => ({ name: refreshBatchJob.name, data: j.data, opts: { jobId: j.id } })));
    const lookAt = Date.now() + handOverMs / 2;
    for (const j of jobs) queued.push({ id: j.id, links: j.links, lookAt });
    dispatched += due.length;
    for (const j of jobs)
      for (const d of j.data.links)
        if (registry.trace.traced(d.linkId)) await registry.trace.note(d.linkId, 'queued', j.id);
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
      // the jobs this process added and nobody took yet keep their links leased for the next process
      await confirmStillQueued(Infinity).catch((err: unknown) =>
        logger.warn({ err }, 'refresh dispatch: leases of queued jobs not extended at stop'),
      );
    },
  };
}
