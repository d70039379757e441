/**
 * Queue names and the Redis prefix. DO NOT RENAME: they are keys in a live Redis; renaming strands every
 * job already queued under the old name.
 * The prefix is hash-tagged so that a Redis Cluster keeps each queue's keys on one slot.
 */
export const QUEUES = {
  import: 'mk-import',
  refresh: 'mk-refresh',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const DEFAULT_PREFIX = '{mk}';

/** Key names shared by several packages (each package names its own keys otherwise). Every key starts with the prefix. */
export const keys = (prefix: string = DEFAULT_PREFIX) => ({
  /**
   * Why a queue is paused, when a process paused it (hash: by, reason, at ms). Absent while the queue is paused
   * means an operator paused it (Bull Board, CLI). Whoever resumes the queue deletes it.
   */
  queuePause: (queue: QueueName) => `${prefix}:pause:${queue}`,
  /** Which worker process delivers the events for the team's backend now (string: its token, with a TTL). */
  notifyLease: `${prefix}:notify:lease`,
});
