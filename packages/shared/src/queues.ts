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
  /**
   * Why a queue is paused, when a process paused it (hash: by, reason, at ms). Absent while the queue is paused
   * means an operator paused it (Bull Board, CLI). Whoever resumes the queue deletes it.
   */
  queuePause: (queue: QueueName) => `${prefix}:pause:${queue}`,
});

/**
 * BullMQ job ids: no ':' and not all digits (see bullmq-facts.md); '-' separates the parts. Each part is escaped
 * byte by byte (UTF-8, %XX) outside [A-Za-z0-9_.@+=], '-' and '%' included, so different parts never give the
 * same id: a collision would make BullMQ silently ignore the second job.
 */
export function jobId(...parts: string[]): string {
  return parts.map(escapeIdPart).join('-');
}

/**
 * The import job of one dump line: run + source user + line (+ retry round). Not run + user: a user's connections
 * may be spread over several lines (a dump written one line per Plaid item), and BullMQ would silently drop the
 * second line's job as a duplicate of the first. The line is stable across re-runs of the same dump, so a re-run
 * finds the job it enqueued before instead of adding a second one; the payload stays one line's connections.
 */
export function importJobId(runId: string, sourceUserId: string, line: number, round?: number): string {
  return jobId(runId, sourceUserId, `L${line}`, ...(round ? [`retry${round}`] : []));
}

const SAFE_ID_BYTE = /[A-Za-z0-9_.@+=]/;

function escapeIdPart(part: string): string {
  if (/^[A-Za-z0-9_.@+=]*$/.test(part)) return part;
  let out = '';
  for (const byte of Buffer.from(part, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE_ID_BYTE.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Backoff type the import worker knows (exponential with jitter); set on every import job. */
export const IMPORT_BACKOFF_TYPE = 'mk-exponential-jitter';

/** Options of every import job (plain data, so this package needs no BullMQ). */
export const IMPORT_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: IMPORT_BACKOFF_TYPE },
  // The ledger is the record: completed jobs need not stay in Redis. Failed ones stay for the dashboard until
  // `purge` or the worker's PAYLOAD_FAILED_RETENTION_HOURS sweep removes them with their sealed payloads.
  removeOnComplete: true,
  removeOnFail: false,
} as const;
