/**
 * `retry`: re-drive a run's failed connections, and any left open without a job (a retry that crashed part-way, a
 * job removed by hand). Their payloads come from the dump again (the ledger keeps no PII).
 */
import type { Queue } from 'bullmq';
import { connectionsWithoutJob, jobWillRun, type MigrationLedger } from '@mk/ledger';
import { enqueueRun, type RunOptions, type EnqueueProgress } from './run';

export async function retryFailed(
  queue: Queue,
  ledger: MigrationLedger,
  opts: Omit<RunOptions, 'onlyUsers' | 'round' | 'dump'> & { dump?: string },
): Promise<EnqueueProgress & { connectionsReset: number; waitingForTheirJob: number }> {
  const run = await ledger.getRun(opts.runId);
  if (!run) throw new Error(`run ${opts.runId} does not exist`);
  const dump = opts.dump ?? run.dump;
  if (!dump) throw new Error(`run ${opts.runId} has no dump recorded: pass --dump`);
  const users = new Set<string>();
  let connectionsReset = 0;
  let waitingForTheirJob = 0;
  const jobLives = new Map<string, boolean>();
  const lives = async (job: string | undefined) => {
    if (!job) return false;
    if (!jobLives.has(job)) jobLives.set(job, await jobWillRun(queue, job));
    return jobLives.get(job)!;
  };
  for await (const record of ledger.scan(opts.runId)) {
    if (record.state !== 'failed') continue;
    // Its job still runs (a sibling connection retries): re-driving it now would put the connection in two jobs.
    if (await lives(record.job)) {
      waitingForTheirJob++;
      continue;
    }
    // A link that exists resumes at its batches; otherwise the import starts again (looking first if uncertain).
    await ledger.transition(record, { state: record.linkId ? 'linked' : 'pending' }, { expect: ['failed'] });
    users.add(record.sourceUserId);
    connectionsReset++;
  }
  for (const orphan of await connectionsWithoutJob(ledger, opts.runId, queue)) users.add(orphan.sourceUserId);
  if (users.size === 0)
    return {
      bytes: 0,
      users: 0,
      enqueued: 0,
      skipped: 0,
      alreadyQueued: 0,
      rejects: 0,
      rowsSkipped: 0,
      duplicateConnections: 0,
      connectionsReset,
      waitingForTheirJob,
    };
  const round = (run.retryRounds ?? 0) + 1;
  await ledger.updateRun(opts.runId, { retryRounds: round });
  const progress = await enqueueRun(queue, ledger, {
    ...opts,
    dump,
    onlyUsers: users,
    round,
    format: opts.format ?? (run.format as RunOptions['format']),
    ...(run.layout && { layout: run.layout as RunOptions['layout'] }),
  });
  return { ...progress, connectionsReset, waitingForTheirJob };
}
