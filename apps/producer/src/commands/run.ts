/**
 * `run`: enqueue one import job per dump line. Safe to run again after a crash or over a partly migrated dump: the
 * ledger says who is done, the job id (run + user + line) says what is queued, so nobody is skipped or doubled.
 * A user's connections may be spread over several lines: each line is its own job. A connection read again at
 * another line is rejected (the first occurrence is kept), so no connection is ever carried by two jobs.
 * Backpressure keeps at most `maxWaiting` jobs queued (plus one batch of lines), so Redis memory stays bounded
 * whatever the dump's size.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Queue } from 'bullmq';
import {
  importJob,
  jobId,
  sealImportJob,
  type ImportJob,
  type Logger,
  type PayloadSealer,
  type Product,
  type SealedImportJob,
} from '@mk/shared';
import {
  OPEN_STATES,
  PRODUCER_BEAT_MS,
  jobWillRun,
  type ConnectionRecord,
  type RejectRecord,
  type MigrationLedger,
  type RunMeta,
} from '@mk/ledger';
import type { ConvertOptions } from '@mk/converters';
import { duplicateConnection, ledgerConnection, usersOf, type DumpUser } from '../dump-source';
import { RejectsWriter, redactUrl, type InputLayout } from '../dump';

export interface RunOptions extends ConvertOptions {
  runId: string;
  /** An NDJSON dump (default) or a folder of saved API responses. */
  layout?: InputLayout;
  /** With a postgres:// `dump`: the query whose `record` column holds one record per row. */
  query?: string;
  dump: string;
  rejectsPath: string;
  maxWaiting: number;
  /** Only these users (for `retry`); undefined = everyone. */
  onlyUsers?: Set<string>;
  /** Products this run's links are refreshed for; default: the workers' REFRESH_PRODUCTS. */
  refreshProducts?: Product[];
  /** Distinguishes a retry round's jobs from the first round's (job ids are never reused by BullMQ). */
  round?: number;
  onProgress?: (p: EnqueueProgress) => void;
  logger: Logger;
  /** Seals each job's payload (PAYLOAD_KEYS): Redis never holds a user's data in clear. */
  sealer: PayloadSealer;
}

export interface EnqueueProgress {
  /** Input bytes read (compressed bytes for a gzipped dump), against the file's size. */
  bytes: number;
  /** Dump lines read that hold a user with something to import (a user spread over three lines counts three). */
  users: number;
  enqueued: number;
  skipped: number;
  /** Lines whose job, enqueued by an earlier pass, is still queued or running: left to it. */
  alreadyQueued: number;
  rejects: number;
  /** Of `rejects`: unreadable rows left out of users imported without them. */
  rowsSkipped: number;
  /** Connections rejected because an earlier line of the dump already holds them (counted in `rejects` too). */
  duplicateConnections: number;
}

const isOpen = (r: ConnectionRecord | undefined) =>
  r !== undefined && (OPEN_STATES as readonly string[]).includes(r.state);
const BACKPRESSURE_POLL_MS = 200;
/** Lines whose Redis calls go out together (see enqueueRun). */
const ENQUEUE_BATCH = 64;
/** Progress is reported, and the run's totals saved, every this many users. */
const PROGRESS_EVERY = 500;

export async function waitForRoom(queue: Queue, maxWaiting: number): Promise<void> {
  while ((await queue.count()) >= maxWaiting) await new Promise((r) => setTimeout(r, BACKPRESSURE_POLL_MS));
}

/**
 * The job id for one line's connections. A job that still lives and carries some of them keeps them (a re-run or a
 * retry round adds nothing beside it): the one recorded on their records, or for records from before job ids were
 * recorded, run + user. Otherwise a re-run reuses the recorded id (a failed job is retried, a missing one re-added)
 * and a retry round takes its own.
 */
async function jobIdFor(
  queue: Queue,
  run: RunMeta,
  user: DumpUser,
  known: (ConnectionRecord | undefined)[],
  round?: number,
): Promise<{ id: string; live: boolean }> {
  const open = known.filter(isOpen) as ConnectionRecord[];
  const recorded = open.find((r) => r.job)?.job;
  const legacy = open.some((r) => !r.job)
    ? [
        importJob.legacyId(run.runId, user.sourceUserId),
        ...(run.retryRounds ? [importJob.legacyId(run.runId, user.sourceUserId, run.retryRounds)] : []),
      ]
    : [];
  for (const id of [...(recorded ? [recorded] : []), ...legacy])
    if (await jobWillRun(queue, id)) return { id, live: true };
  return {
    id: !round && recorded ? recorded : importJob.id(run.runId, user.sourceUserId, user.line, round),
    live: false,
  };
}

export async function enqueueRun(queue: Queue, ledger: MigrationLedger, opts: RunOptions): Promise<EnqueueProgress> {
  const { runId } = opts;
  const run = await ledger.openRun(runId, {
    dump: opts.query !== undefined ? redactUrl(opts.dump) : path.resolve(opts.dump),
    ...(opts.layout && opts.layout !== 'ndjson' && { layout: opts.layout }),
    ...(opts.format && { format: opts.format }),
    pendingPolicy: opts.pending ?? 'skip',
    rejectsFile: path.resolve(opts.rejectsPath),
    ...(opts.refreshProducts && { products: opts.refreshProducts.join(',') }),
  });
  const bytesTotal =
    opts.dump !== '-' && fs.statSync(opts.dump, { throwIfNoEntry: false })?.isFile() ? fs.statSync(opts.dump).size : 0;
  let line = 0;
  const beat = (stopped?: string) =>
    ledger.beat(runId, { at: Date.now(), line, ...(stopped !== undefined && { stopped }) });
  await beat();
  await ledger.updateRun(runId, { status: opts.round ? 'retrying' : 'enqueuing' });
  // Says "still reading" even while backpressure holds the loop; a producer that dies stops saying it.
  const beating = setInterval(() => void beat().catch(() => undefined), PRODUCER_BEAT_MS);
  beating.unref();
  const rejects = new RejectsWriter(opts.rejectsPath, { position: opts.query !== undefined ? 'row' : 'line' });
  const progress: EnqueueProgress = {
    bytes: 0,
    users: 0,
    enqueued: 0,
    skipped: 0,
    alreadyQueued: 0,
    rejects: 0,
    rowsSkipped: 0,
    duplicateConnections: 0,
  };
  let connections = 0;
  const recentRejects: RejectRecord[] = [];
  const reject = async (r: RejectRecord) => {
    await rejects.write(r);
    progress.rejects++;
    if (recentRejects.length < 100) recentRejects.push(r);
  };

  // Lines are handled a batch at a time: each step's Redis calls for the whole batch are in flight together and the
  // jobs go in one addBulk, so a line costs CPU, not round trips. A batch never holds two lines of one user: a later
  // line must see what the earlier one registered (its duplicate connections, its job).
  let batch: DumpUser[] = [];
  const batchUsers = new Set<string>();
  const flushBatch = async () => {
    if (batch.length === 0) return;
    const lines = batch;
    batch = [];
    batchUsers.clear();
    await enqueueBatch(lines);
  };

  try {
    for await (const item of usersOf(opts.dump, opts)) {
      progress.bytes = item.inputBytes;
      line = item.ok ? item.user.line : item.line;
      if (!item.ok) {
        await reject(item.reject);
        continue;
      }
      for (const r of item.rejects) await reject(r);
      progress.rowsSkipped += item.user.rowsSkipped;
      if (opts.onlyUsers && !opts.onlyUsers.has(item.user.sourceUserId)) continue;
      if (batchUsers.has(item.user.sourceUserId)) await flushBatch();
      batch.push(item.user);
      batchUsers.add(item.user.sourceUserId);
      if (batch.length >= ENQUEUE_BATCH) await flushBatch();
    }
    await flushBatch();
  } catch (err) {
    await beat((err as Error).message).catch(() => undefined);
    throw err;
  } finally {
    clearInterval(beating);
    await rejects.close();
  }
  await flushRunMeta();
  await ledger.updateRun(runId, { status: 'enqueued' });
  opts.onProgress?.(progress);
  return progress;

  async function enqueueBatch(lines: DumpUser[]) {
    // Checked before registering: a connection already read at another line stays with that line's job.
    const knownOf = await Promise.all(
      lines.map((u) =>
        ledger.getMany(
          runId,
          u.sourceUserId,
          u.connections.map((c) => c.connectionId),
        ),
      ),
    );
    const kept: { user: DumpUser; known: (ConnectionRecord | undefined)[] }[] = [];
    for (const [n, lineUser] of lines.entries()) {
      const known = knownOf[n]!;
      const keep: number[] = [];
      for (const [i, c] of lineUser.connections.entries()) {
        const first = known[i]?.line;
        if (first === undefined || first === lineUser.line) {
          keep.push(i);
          continue;
        }
        progress.duplicateConnections++;
        await reject(duplicateConnection(lineUser, c.connectionId, first));
      }
      if (keep.length === 0) continue;
      const user: DumpUser =
        keep.length === lineUser.connections.length
          ? lineUser
          : { ...lineUser, connections: keep.map((i) => lineUser.connections[i]!) };
      kept.push({ user, known: keep.map((i) => known[i]) });
    }

    const registered = await Promise.all(
      kept.map(async ({ user, known }) => {
        const { id, live } = await jobIdFor(queue, run, user, known, opts.round);
        const records = await ledger.register(
          runId,
          user.sourceUserId,
          user.line,
          user.connections.map(ledgerConnection),
          { job: id },
        );
        return { user, known, id, live, records };
      }),
    );

    const toAdd: Parameters<Queue['addBulk']>[0] = [];
    let room = false;
    const usersBefore = progress.users;
    for (const { user, known, id, live, records } of registered) {
      progress.users++;
      connections += user.connections.length;
      if (records.every((r) => r.state === 'imported' || r.state === 'failed')) {
        progress.skipped++;
        continue;
      }
      if (live) {
        progress.alreadyQueued++;
        continue;
      }
      // Once per batch: the queue may exceed maxWaiting by one batch at most.
      if (!room) {
        await waitForRoom(queue, opts.maxWaiting);
        room = true;
      }
      // BullMQ ignores an add whose id exists, even a failed job's: a line left unfinished behind one is retried instead.
      const existing = known.some(Boolean) ? await queue.getJob(id) : undefined;
      if (existing && (await existing.isFailed())) await existing.retry('failed');
      else
        toAdd.push({
          name: importJob.name,
          data: jobPayload(opts.sealer, runId, user),
          opts: { ...importJob.options, jobId: id },
        });
      progress.enqueued++;
    }
    if (toAdd.length) await queue.addBulk(toAdd);
    if (Math.floor(progress.users / PROGRESS_EVERY) > Math.floor(usersBefore / PROGRESS_EVERY)) {
      opts.onProgress?.(progress);
      await flushRunMeta();
    }
  }

  async function flushRunMeta() {
    await ledger.addRejects(runId, recentRejects.splice(0));
    if (opts.round) return; // a retry pass reads only some users: keep the first pass's totals
    await ledger.updateRun(runId, {
      usersSeen: progress.users,
      usersEnqueued: progress.enqueued,
      usersSkipped: progress.skipped,
      connectionsSeen: connections,
      rejects: progress.rejects,
      rowsSkipped: progress.rowsSkipped,
      bytesRead: progress.bytes,
      bytesTotal,
    });
  }
}

function jobPayload(sealer: PayloadSealer, runId: string, user: DumpUser): SealedImportJob {
  const job: ImportJob = {
    runId,
    sourceUserId: user.sourceUserId,
    line: user.line,
    connections: user.connections.map(({ connectionId, request }) => ({ connectionId, request })),
  };
  return sealImportJob(sealer, job);
}
