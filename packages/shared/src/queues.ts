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

/** Key names of our own data (ledgers, due index, quotas). Every key starts with the prefix. */
export const keys = (prefix: string = DEFAULT_PREFIX) => ({
  prefix,
  runs: `${prefix}:runs`,
  run: (runId: string) => `${prefix}:run:${runId}`,
});

/** BullMQ job ids: no ':' and not all digits (see bullmq-facts.md); '-' is the separator. */
export function jobId(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9_.@+=-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)).join('-');
}

/** Backoff type the import worker knows (exponential with jitter); set on every import job. */
export const IMPORT_BACKOFF_TYPE = 'mk-exponential-jitter';

/** Options of every import job (plain data, so this package needs no BullMQ). */
export const IMPORT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: IMPORT_BACKOFF_TYPE },
  // The ledger is the record: completed jobs need not stay in Redis. Failed ones stay for the dashboard.
  removeOnComplete: true,
  removeOnFail: false,
} as const;
