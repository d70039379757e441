/**
 * Every job the service runs, in one place: its queue, name, payload schema, options and id. Producer, dispatcher
 * and workers take these facts from here only. DO NOT RENAME a queue or job name: they are keys in a live Redis.
 * Plain data (no BullMQ import), so every package may read it.
 */
import type { z } from 'zod';
import { QUEUES, type QueueName } from '../queues';
import { jobId } from './ids';
import {
  importJobSchema,
  refreshCheckJobSchema,
  refreshBatchJobSchema,
  refreshJobSchema,
  topupJobSchema,
  type RefreshCheckJob,
  type RefreshJob,
} from './payloads';

/** The backoff type the import worker computes (exponential with jitter, capped: see apps/worker/src/import/worker.ts). */
export const IMPORT_BACKOFF_TYPE = 'mk-exponential-jitter';

export interface JobDefinition<
  Q extends QueueName = QueueName,
  N extends string = string,
  S extends z.ZodTypeAny = z.ZodTypeAny,
> {
  queue: Q;
  name: N;
  payload: S;
  /** BullMQ job options (plain data), or how to derive them from the settings they depend on. */
  options: object | ((settings: never) => object);
  /** The job id from what identifies the work: the same work never gets two jobs. */
  id: (...args: never[]) => string;
  /** Ids an earlier version gave the same work, for finding its jobs still queued. */
  legacyId?: (...args: never[]) => string;
  /** The id of the import job a top-up enqueues for connections new to the run. */
  importId?: (...args: never[]) => string;
}

export const importJob = {
  queue: QUEUES.import,
  name: 'import',
  payload: importJobSchema,
  options: {
    attempts: 8,
    backoff: { type: IMPORT_BACKOFF_TYPE },
    // The ledger is the record: completed jobs need not stay in Redis. Failed ones stay for the dashboard until
    // `purge` or the worker's PAYLOAD_FAILED_RETENTION_HOURS sweep removes them with their sealed payloads.
    removeOnComplete: true,
    removeOnFail: false,
  },
  /**
   * One dump line: run + source user + line (+ retry round). Not run + user: a user's connections may be spread over
   * several lines (a dump written one line per Plaid item), and BullMQ would silently drop the second line's job as a
   * duplicate of the first. The line is stable across re-runs of the same dump, so a re-run finds the job it enqueued
   * before instead of adding a second one.
   */
  id: (runId: string, sourceUserId: string, line: number, round?: number): string =>
    jobId(runId, sourceUserId, `L${line}`, ...(round ? [`retry${round}`] : [])),
  /** Ids given before line numbers were part of them (run + user, + retry round): a re-run still finds those jobs. */
  legacyId: (runId: string, sourceUserId: string, round?: number): string =>
    jobId(runId, sourceUserId, ...(round ? [`retry${round}`] : [])),
} as const satisfies JobDefinition;

/**
 * `mk-migrate topup`: a newer dump's transactions not on a user's links yet, on the import queue (the same workers,
 * under the same app-wide import limit). Kept like import jobs: the ledger records are the record.
 */
export const topupJob = {
  queue: QUEUES.import,
  name: 'topup',
  payload: topupJobSchema,
  options: importJob.options,
  /** One line of the newer dump, per top-up: running the same top-up again finds the job it enqueued. */
  id: (runId: string, sourceUserId: string, line: number, topupId: string): string =>
    jobId(runId, sourceUserId, `L${line}`, `topup=${topupId}`),
  /** Connections new in the newer dump are imported by an import job of their own, named after the top-up. */
  importId: (runId: string, sourceUserId: string, line: number, topupId: string): string =>
    jobId(runId, sourceUserId, `L${line}`, `new=${topupId}`),
} as const satisfies JobDefinition;

export const refreshJob = {
  queue: QUEUES.refresh,
  name: 'refresh',
  payload: refreshJobSchema,
  /** From the refresh settings (packages/refresh options), set as the queue's defaults. */
  options: (settings: { attempts: number; backoffMs: number }) => ({
    attempts: settings.attempts,
    backoff: { type: 'exponential', delay: settings.backoffMs },
    // The same job id comes back every cycle: a kept job, finished or failed, would swallow the next one and leave
    // its link unrefreshed. The registry is the record; a job that fails for good is counted and logged there.
    removeOnComplete: true,
    removeOnFail: true,
  }),
  /** One link and the products due together: a repeated dispatch of a queued link adds nothing. */
  id: (due: Pick<RefreshJob, 'linkId' | 'products'>): string => jobId(due.linkId, due.products.join('+')),
} as const satisfies JobDefinition;

export const refreshBatchJob = {
  queue: QUEUES.refresh,
  name: 'refresh-batch',
  payload: refreshBatchJobSchema,
  options: refreshJob.options,
  /**
   * One dispatch of its first link: a link is handed to one dispatch at a time (its hand-over lease), so no two batches
   * share an id. A link dispatched again once its lease ended may be in two batches: its claim lets one call through.
   */
  id: (first: { linkId: string; handOverUntil: number }): string =>
    jobId('batch', first.linkId, String(first.handOverUntil)),
} as const satisfies JobDefinition;

export const refreshCheckJob = {
  queue: QUEUES.refresh,
  name: 'refresh-check',
  payload: refreshCheckJobSchema,
  // one look, retried briefly: a check that cannot be made leaves the call counted, which is always safe
  options: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: true },
  /** One uncertain call: the link and when its claim was taken. */
  id: (check: Pick<RefreshCheckJob, 'linkId' | 'claimedAt'>): string =>
    jobId('check', check.linkId, String(check.claimedAt)),
} as const satisfies JobDefinition;

export const JOBS = [importJob, topupJob, refreshJob, refreshBatchJob, refreshCheckJob] as const;
export type JobName = (typeof JOBS)[number]['name'];
/** The names of the jobs one queue carries. */
export type JobNameOf<Q extends QueueName> = Extract<(typeof JOBS)[number], { queue: Q }>['name'];
