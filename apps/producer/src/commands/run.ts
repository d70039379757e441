/**
 * `run`: enqueue one import job per source user. Safe to run again after a crash or over a partly migrated
 * dump: the ledger says who is done, the job id (run + user) says who is queued, so nobody is skipped or doubled.
 * Backpressure keeps at most `maxWaiting` jobs queued, so Redis memory stays bounded whatever the dump's size.
 */
import path from 'node:path';
import type { Queue } from 'bullmq';
import { IMPORT_JOB_OPTIONS, jobId, type ImportJob, type Logger, type Product } from '@mk/shared';
import type { MigrationLedger } from '@mk/ledger';
import type { ConvertOptions } from '@mk/converters';
import { usersOf, type DumpUser } from '../dump-source';
import { RejectsWriter, type RejectRecord } from '../dump';

export interface RunOptions extends ConvertOptions {
  runId: string;
  dump: string;
  rejectsPath: string;
  maxWaiting: number;
  /** Only these users (for `retry`); undefined = everyone. */
  onlyUsers?: Set<string>;
  /** Products this run's links are refreshed for; default: the workers' REFRESH_PRODUCTS. */
  refreshProducts?: Product[];
  /** Distinguishes a retry round's jobs from the first round's (job ids are never reused by BullMQ). */
  round?: number;
  onProgress?: (p: RunProgress) => void;
  logger: Logger;
}

export interface RunProgress {
  /** Input bytes read (compressed bytes for a gzipped dump), against the file's size. */
  bytes: number;
  users: number;
  enqueued: number;
  skipped: number;
  rejects: number;
}

const BACKPRESSURE_POLL_MS = 200;

async function waitForRoom(queue: Queue, maxWaiting: number): Promise<void> {
  while ((await queue.count()) >= maxWaiting) await new Promise((r) => setTimeout(r, BACKPRESSURE_POLL_MS));
}

export async function enqueueRun(queue: Queue, ledger: MigrationLedger, opts: RunOptions): Promise<RunProgress> {
  const { runId } = opts;
  await ledger.openRun(runId, {
    dump: path.resolve(opts.dump), ...(opts.format && { format: opts.format }), pendingPolicy: opts.pending ?? 'skip', rejectsFile: path.resolve(opts.rejectsPath),
    ...(opts.refreshProducts && { products: opts.refreshProducts.join(',') }),
  });
  await ledger.updateRun(runId, { status: opts.round ? 'retrying' : 'enqueuing' });
  const rejects = new RejectsWriter(opts.rejectsPath);
  const progress: RunProgress = { bytes: 0, users: 0, enqueued: 0, skipped: 0, rejects: 0 };
  let connections = 0;
  let roomChecked = 0;
  const recentRejects: RejectRecord[] = [];
  const reject = async (r: RejectRecord) => {
    await rejects.write(r);
    progress.rejects++;
    if (recentRejects.length < 100) recentRejects.push(r);
  };

  try {
    for await (const item of usersOf(opts.dump, opts)) {
      progress.bytes = item.inputBytes;
      if (!item.ok) {
        await reject(item.reject);
        continue;
      }
      for (const r of item.rejects) await reject(r);
      const { user } = item;
      if (opts.onlyUsers && !opts.onlyUsers.has(user.sourceUserId)) continue;
      progress.users++;
      connections += user.connections.length;

      // Checked before registering: a duplicate's connections must not enter the ledger without a job to import them.
      const known = await ledger.getMany(runId, user.sourceUserId, user.connections.map((c) => c.connectionId));
      const sameUserElsewhere = known.find((r) => r?.line !== undefined && r.line !== user.line);
      if (sameUserElsewhere) {
        await reject({ line: user.line, sourceId: user.sourceUserId, reason: `duplicate source user: already read at line ${sameUserElsewhere.line}` });
        continue;
      }
      const records = await ledger.register(runId, user.sourceUserId, user.line, user.connections.map((c) => ({
        connectionId: c.connectionId, accounts: c.request.accounts.length, transactions: c.request.transactions.length, batchesTotal: c.batches,
      })));
      if (records.every((r) => r.state === 'imported' || r.state === 'failed')) {
        progress.skipped++;
        continue;
      }
      // Checking the queue length on every add would double the Redis round trips; every few adds bounds it as well.
      if (roomChecked++ % 20 === 0) await waitForRoom(queue, opts.maxWaiting);
      const id = jobId(runId, user.sourceUserId, ...(opts.round ? [`retry${opts.round}`] : []));
      // BullMQ ignores an add whose id exists, even a failed job's: a user left unfinished behind one is retried instead.
      const existing = known.some(Boolean) ? await queue.getJob(id) : undefined;
      if (existing && (await existing.isFailed())) await existing.retry('failed');
      else await queue.add('import', jobPayload(runId, user), { ...IMPORT_JOB_OPTIONS, jobId: id });
      progress.enqueued++;
      if (progress.users % 500 === 0) {
        opts.onProgress?.(progress);
        await flushRunMeta();
      }
    }
  } finally {
    await rejects.close();
  }
  await flushRunMeta();
  await ledger.updateRun(runId, { status: 'enqueued' });
  opts.onProgress?.(progress);
  return progress;

  async function flushRunMeta() {
    await ledger.addRejects(runId, recentRejects.splice(0));
    if (opts.round) return; // a retry pass reads only some users: keep the first pass's totals
    await ledger.updateRun(runId, {
      usersSeen: progress.users, usersEnqueued: progress.enqueued, usersSkipped: progress.skipped, connectionsSeen: connections, rejects: progress.rejects,
    });
  }
}

function jobPayload(runId: string, user: DumpUser): ImportJob {
  return {
    runId,
    sourceUserId: user.sourceUserId,
    line: user.line,
    connections: user.connections.map(({ connectionId, request }) => ({ connectionId, request })),
  };
}
