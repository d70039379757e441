/**
 * Reads what `decideRunState` needs about a run from Redis: the ledger (counts, activity, producer beat, open
 * records) and the import queue. The queue is reached through `ImportQueueProbe`, which a BullMQ `Queue` satisfies
 * as it is, so this package needs no BullMQ.
 * "No worker alive" is BullMQ's own view (`getWorkersCount`: the clients its workers name with CLIENT SETNAME):
 * it needs no heartbeat from the worker and drops a SIGKILLed worker as soon as Redis sees its connection close.
 * Where CLIENT LIST is refused (some managed Redis), BullMQ answers 1 and we never claim there is no worker.
 */
import { QUEUES } from '@mk/shared';
import type { MigrationLedger, OpenConnection } from './ledger';
import {
  countSince,
  decideRunState,
  openConnectionsOf,
  producerDone,
  throughputOf,
  UPSTREAM_ERROR_WINDOW_MS,
  type RunSignals,
  type RunState,
} from './run-state';
import type { RunMeta } from './records';

export interface ImportQueueProbe extends JobProbe {
  isPaused(): Promise<boolean>;
  getWorkersCount(): Promise<number>;
}

/** What telling a job's liveness needs of a BullMQ `Queue`: its keys and its Redis connection. */
export interface JobProbe {
  toKey(type: string): string;
  getBackend(): { readonly client: Promise<{ pipeline(): JobPipeline }> };
}
/** The part of BullMQ's pipeline (its IRedisTransaction) the probe uses. */
interface JobPipeline {
  runCommand(name: string, args: string[]): JobPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** The import queue as every run sees it (read once for a page of runs). */
export type ImportQueueSignals = NonNullable<RunSignals['importQueue']>;

/**
 * Which of these jobs will still run: the job's hash exists (BullMQ deletes it when the job is removed) and it is in
 * neither finished set (a failed job with attempts left waits in `delayed`, not `failed`). Three O(1) reads a job in
 * one round trip; BullMQ's getJobState searches the wait list for each job instead, so `status` over a run of
 * 100,000 queued jobs took minutes.
 */
export async function jobsWillRun(queue: JobProbe, jobIds: readonly string[]): Promise<boolean[]> {
  if (jobIds.length === 0) return [];
  const pipeline = (await queue.getBackend().client).pipeline();
  const [failed, completed] = [queue.toKey('failed'), queue.toKey('completed')];
  for (const id of jobIds)
    pipeline
      .runCommand('exists', [queue.toKey(id)])
      .runCommand('zscore', [failed, id])
      .runCommand('zscore', [completed, id]);
  const replies = (await pipeline.exec()) ?? [];
  return jobIds.map((_, i) => {
    const [exists, inFailed, inCompleted] = replies.slice(3 * i, 3 * i + 3).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    return exists === 1 && inFailed === null && inCompleted === null;
  });
}

export const jobWillRun = async (queue: JobProbe, jobId: string): Promise<boolean> =>
  (await jobsWillRun(queue, [jobId]))[0]!;
const JOB_STATE_BATCH = 1000;

export async function probeImportQueue(ledger: MigrationLedger, queue: ImportQueueProbe): Promise<ImportQueueSignals> {
  const [paused, pausedBy, workers] = await Promise.all([
    queue.isPaused(),
    ledger.queuePause(QUEUES.import),
    // CLIENT LIST refused by an ACL: unknown, not zero.
    queue.getWorkersCount().catch(() => undefined),
  ]);
  return { paused, ...(paused && pausedBy && { pausedBy }), ...(workers !== undefined && { workers }) };
}

/**
 * Open connections of a run whose job will never run them: no job id recorded is not counted (records a worker
 * registered itself, or written before job ids were recorded); a recorded job that is gone or failed is.
 * A worker settles a job's connections before BullMQ removes the completed job, so a connection still open after
 * its job was seen gone is truly without one: candidates are re-read once at the end.
 */
export async function connectionsWithoutJob(
  ledger: MigrationLedger,
  runId: string,
  queue: JobProbe,
): Promise<OpenConnection[]> {
  const byJob = new Map<string, OpenConnection[]>();
  for await (const c of ledger.openConnections(runId)) {
    if (!c.job) continue;
    const list = byJob.get(c.job) ?? [];
    list.push(c);
    byJob.set(c.job, list);
  }
  const ids = [...byJob.keys()];
  const orphans: OpenConnection[] = [];
  for (let i = 0; i < ids.length; i += JOB_STATE_BATCH) {
    const batch = ids.slice(i, i + JOB_STATE_BATCH);
    const live = await jobsWillRun(queue, batch);
    batch.forEach((id, j) => {
      if (!live[j]) orphans.push(...byJob.get(id)!);
    });
  }
  return ledger.stillOpen(runId, orphans);
}

export interface ReadSignalsOptions {
  /** The import queue, for job existence; without it (and without `queueSignals`) queue facts are unknown. */
  queue?: ImportQueueProbe;
  /** Already probed (a page of runs probes the queue once). */
  queueSignals?: ImportQueueSignals;
  now?: number;
}

export async function readRunSignals(
  ledger: MigrationLedger,
  meta: RunMeta,
  opts: ReadSignalsOptions = {},
): Promise<RunSignals> {
  const now = opts.now ?? Date.now();
  const { runId } = meta;
  const [counts, activity, producer] = await Promise.all([
    ledger.counts(runId),
    ledger.activity(runId, now),
    ledger.producerBeat(runId),
  ]);
  const open = openConnectionsOf(counts);
  const importQueue =
    open === 0 ? undefined : (opts.queueSignals ?? (opts.queue && (await probeImportQueue(ledger, opts.queue))));
  const judged = open > 0 && opts.queue && producerDone({ status: meta.status, ...(producer && { producer }) }, now);
  const withoutJob = judged ? (await connectionsWithoutJob(ledger, runId, opts.queue!)).length : undefined;
  return {
    createdAt: meta.createdAt,
    status: meta.status,
    counts,
    rejects: meta.rejects,
    throughputPerMin: throughputOf(activity.imported, now, meta.createdAt),
    ...(meta.bytesRead !== undefined && {
      dumpProgress: {
        connectionsSeen: meta.connectionsSeen,
        bytesRead: meta.bytesRead,
        bytesTotal: meta.bytesTotal ?? 0,
      },
    }),
    ...(producer && { producer }),
    upstreamErrors: Math.round(countSince(activity.errors, now - UPSTREAM_ERROR_WINDOW_MS, now)),
    ...(activity.lastError !== undefined && { lastError: activity.lastError }),
    ...(activity.lastImportAt !== undefined && { lastImportAt: activity.lastImportAt }),
    ...(importQueue && { importQueue }),
    ...(withoutJob !== undefined && { connectionsWithoutJob: withoutJob }),
  };
}

/** Signals and the state they decide, read in one go. */
export async function readRunState(
  ledger: MigrationLedger,
  meta: RunMeta,
  opts: ReadSignalsOptions = {},
): Promise<{ signals: RunSignals; state: RunState }> {
  const now = opts.now ?? Date.now();
  const signals = await readRunSignals(ledger, meta, { ...opts, now });
  return { signals, state: decideRunState(signals, now) };
}
