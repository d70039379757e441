/**
 * `purge RUN`: once a run is finished, remove its import jobs still in Redis (the failed ones: completed jobs are
 * removed as they complete), and with them their sealed payloads. The ledger (the source → MoneyKit mapping, the
 * outcome and the reason of every failure) stays: `report` and `retry` read it, and `retry` re-reads the dump.
 */
import type { Job, JobType, Queue } from 'bullmq';
import type { MigrationLedger } from '@mk/ledger';
import { runStatus } from './report';

const PAGE = 500;
/** A finished run has no jobs in other states; these are listed so that a job left over is purged too. */
const JOB_STATES: JobType[] = ['failed', 'completed', 'wait', 'delayed', 'prioritized'];

export class RunNotFinishedError extends Error {}

export async function purgeRun(queue: Queue, ledger: MigrationLedger, runId: string): Promise<{ removed: number }> {
  const status = await runStatus(ledger, runId, queue);
  const { state } = status.state;
  if (state !== 'completed' && state !== 'completed_with_failures') {
    throw new RunNotFinishedError(
      `run ${runId} is ${status.state.summary}: purge removes the payloads of a finished run only`,
    );
  }
  // Ids first, removal after: removing while paging would shift the pages.
  const ids: string[] = [];
  for (const jobState of JOB_STATES) {
    for (let start = 0; ; start += PAGE) {
      const jobs: Job[] = await queue.getJobs([jobState], start, start + PAGE - 1);
      for (const job of jobs)
        if (job?.id && (job.data as { runId?: unknown } | undefined)?.runId === runId) ids.push(job.id);
      if (jobs.length < PAGE) break;
    }
  }
  let removed = 0;
  for (const id of ids) {
    const job = await queue.getJob(id);
    if (!job) continue;
    await job.remove();
    removed++;
  }
  return { removed };
}
