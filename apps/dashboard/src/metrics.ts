/**
 * Service-wide gauges, read from Redis at scrape time. The dashboard is the one process that exports them (a
 * worker replica would export the same numbers N times); workers export only their own process counters.
 */
import type { Queue } from 'bullmq';
import { Gauge, Registry } from 'prom-client';
import { registry as processRegistry } from '@mk/telemetry';
import type { RefreshStatusSource, RunStatusSource } from './status/types';

/** BullMQ job states exported per queue (BullMQ 6 keeps a paused queue's jobs in wait: see mk_queue_paused). */
export const QUEUE_STATES = ['wait', 'active', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'] as const;

export interface DashboardMetricsOptions {
  queues: Queue[];
  runs: RunStatusSource;
  refresh?: RefreshStatusSource;
  /** Per-run series are exported for the newest runs only, to bound label cardinality. */
  runLimit?: number;
}

export function createDashboardMetrics(opts: DashboardMetricsOptions): () => Promise<string> {
  const own = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [own] });

  const queueJobs = gauge('mk_queue_jobs', 'Jobs per BullMQ queue and state', ['queue', 'state']);
  const queuePaused = gauge('mk_queue_paused', '1 when the queue is paused', ['queue']);
  const ledger = gauge('mk_ledger_connections', 'Source connections per migration run and ledger state', ['run', 'state']);
  const rejects = gauge('mk_run_rejects', 'Dump records rejected by the producer, per run', ['run']);
  const throughput = gauge('mk_run_throughput_per_minute', 'Connections imported per minute (recent average), per run', ['run']);
  const runParked = gauge('mk_run_parked_links', 'Links of a run parked until the end user reconnects', ['run']);
  const refreshLinks = gauge('mk_refresh_links', 'Refresh pipeline: registered, due, overdue and parked links', ['state']);
  const deferrals = gauge('mk_refresh_quota_deferrals', 'Refreshes postponed by a closed per-link quota window (as recorded in Redis)', []);

  const merged = Registry.merge([processRegistry, own]);
  const runLimit = opts.runLimit ?? 20;

  return async () => {
    const [queueCounts, runs, refresh] = await Promise.all([
      Promise.all(opts.queues.map(async (q) => ({ q, counts: await q.getJobCounts(...QUEUE_STATES), paused: await q.isPaused() }))),
      opts.runs.listRuns(),
      opts.refresh?.stats(),
    ]);
    for (const g of [queueJobs, queuePaused, ledger, rejects, throughput, runParked, refreshLinks, deferrals]) g.reset();

    for (const { q, counts, paused } of queueCounts) {
      for (const state of QUEUE_STATES) queueJobs.set({ queue: q.name, state }, counts[state] ?? 0);
      queuePaused.set({ queue: q.name }, paused ? 1 : 0);
    }
    for (const run of runs.slice(0, runLimit)) {
      for (const [state, n] of Object.entries(run.counts)) ledger.set({ run: run.runId, state }, n);
      rejects.set({ run: run.runId }, run.rejects);
      throughput.set({ run: run.runId }, run.throughputPerMin);
      if (run.parkedLinks !== undefined) runParked.set({ run: run.runId }, run.parkedLinks);
    }
    if (refresh) {
      refreshLinks.set({ state: 'registered' }, refresh.registered);
      refreshLinks.set({ state: 'due' }, refresh.dueNow);
      refreshLinks.set({ state: 'overdue' }, refresh.overdue);
      refreshLinks.set({ state: 'parked' }, refresh.parked);
      deferrals.set(refresh.quotaDeferrals);
    }

    return merged.metrics();
  };
}
