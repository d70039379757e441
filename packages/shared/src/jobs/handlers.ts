/**
 * A queue's worker handles every job the catalog puts on that queue: `routeJobs` checks it when the worker is
 * built (a missing handler stops the process at start, naming the job) and sends each job to its handler by name.
 */
import { ConfigError } from '../errors';
import type { QueueName } from '../queues';
import { JOBS, type JobNameOf } from './catalog';

export type JobHandler<J> = (job: J) => Promise<unknown>;

/** Thrown for a job whose name the catalog does not know on that queue (written by something else, or a newer version). */
export class UnknownJobError extends Error {
  constructor(queue: string, name: string) {
    super(
      `queue ${queue} has no job named "${name}" (known: ${JOBS.filter((j) => j.queue === queue)
        .map((j) => j.name)
        .join(', ')})`,
    );
    this.name = 'UnknownJobError';
  }
}

export function routeJobs<Q extends QueueName, J extends { name: string }>(
  queue: Q,
  handlers: Partial<Record<JobNameOf<Q>, JobHandler<J>>>,
): JobHandler<J> {
  const table = handlers as Partial<Record<string, JobHandler<J>>>;
  for (const job of JOBS) {
    if (job.queue === queue && !table[job.name])
      throw new ConfigError(`job ${job.name}`, `has no handler in this ${queue} worker`);
  }
  return (job) => {
    const handler = table[job.name];
    if (!handler) throw new UnknownJobError(queue, job.name);
    return handler(job);
  };
}
