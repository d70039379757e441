import type { FailureInfo } from '@mk/shared';

/**
 * A source connection's life: pending → importing → linked (link exists, transaction batches left) → imported,
 * or → failed (terminal, or retries exhausted) with its reason. `importing` is written BEFORE the import call:
 * found again later, it means an earlier attempt may have created a link that must be looked up, not re-created.
 */
export const CONNECTION_STATES = ['pending', 'importing', 'linked', 'imported', 'failed'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];
/** States that still need the import worker. */
export const OPEN_STATES = ['pending', 'importing', 'linked'] as const satisfies readonly ConnectionState[];

export interface ConnectionRecord {
  runId: string;
  sourceUserId: string;
  connectionId: string;
  line?: number;
  state: ConnectionState;
  /** Id of the import job that carries it (set by the producer when it enqueues): how `status` knows it has one. */
  job?: string;
  linkId?: string;
  /** The link was found by reconciliation (an earlier attempt's lost response), not created by the last call. */
  adopted?: boolean;
  accounts: number;
  transactions: number;
  transactionsImported: number;
  batchesTotal: number;
  batchesDone: number;
  /** Unreadable rows of it the producer left out (each in the rejects file); absent = none. */
  rowsSkipped?: number;
  /** A batch call whose outcome is unknown: check what landed before sending it again. */
  batchInFlight?: number;
  attempts: number;
  lastError?: FailureInfo;
  /** The last import attempt may have taken effect (unknown outcome). */
  uncertain?: boolean;
  /** When the last non-idempotent call (import or batch) was sent: its effect is looked for only after it settled. */
  sentAt?: number;
  updatedAt: number;
  /** MoneyKit's customer_user.id when it is not the source user id (written once linked: `verify` reads the user's links). */
  customerUserId?: string;
  /** The last top-up (its id) that worked on this connection, and whether it finished (`topup` waits on it). */
  topupId?: string;
  topupDone?: boolean;
  /** A top-up batch whose outcome is unknown (sent at `sentAt`): check what landed before sending again. */
  topupInFlight?: boolean;
  /** Transactions the top-up `topupId` added (also counted in transactionsImported). */
  transactionsToppedUp?: number;
  /** Why the last top-up of this connection stopped short (the link refused it for good). */
  topupError?: string;
  /**
   * Bumped by every change. A worker's changes are fenced on it (MigrationLedger.transitionFrom): a worker that lost
   * its job (lock expired while it was starved) and goes on working cannot overwrite what the job's new owner wrote.
   */
  rev?: number;
}

export interface RunMeta {
  runId: string;
  createdAt: number;
  dump?: string;
  /** 'responses' when the run reads a folder of saved API responses; absent = an NDJSON dump. */
  layout?: string;
  format?: string;
  pendingPolicy?: string;
  /** Products the run's links are refreshed for (comma-separated); unset = the workers' REFRESH_PRODUCTS. */
  products?: string;
  status: 'enqueuing' | 'enqueued' | 'retrying';
  usersSeen: number;
  usersEnqueued: number;
  usersSkipped: number;
  connectionsSeen: number;
  rejects: number;
  /** Of `rejects`, unreadable rows left out of users that were imported without them. */
  rowsSkipped?: number;
  rejectsFile?: string;
  retryRounds?: number;
  /** Input bytes read so far and the dump's size (0 when unknown, e.g. stdin): project the total while enqueuing. */
  bytesRead?: number;
  bytesTotal?: number;
  /** Hash tags the run's connections are spread over (ledger.ts), fixed when the run is created; absent: 1. */
  shards?: number;
  updatedAt: number;
}

/** What the producer says while it reads the dump, every few seconds (kept beside the meta, not in it). */
export interface ProducerBeat {
  /** Epoch ms of the last beat. */
  at: number;
  /** Dump line reached. */
  line: number;
  /** Set when the producer gave up (unreadable dump, Redis lost): why. */
  stopped?: string;
}

/** Why a process paused a queue: the hash `keys(prefix).queuePause(queue)` (absent = an operator paused it). */
export interface QueuePause {
  by: string;
  reason?: string;
  at?: number;
}

/** A dump record refused before anything was queued (validation, conversion, size): the rejects file's line and the run's list. */
export interface RejectRecord {
  line: number;
  sourceId?: string;
  /** A skipped row's connection and field (`--on-bad-row skip`). */
  connection?: string;
  field?: string;
  reason: string;
}
