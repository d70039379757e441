/**
 * Service-wide gauges, read from Redis at scrape time. The dashboard is the one process that exports them (a
 * worker replica would export the same numbers N times); workers export only their own process counters.
 */
import type { Queue } from 'bullmq';
import { redisMasters, type Redis } from '@mk/shared';
import { Gauge, Registry } from 'prom-client';
import { registry as processRegistry } from '@mk/telemetry';
import { RUN_STATES, STALL_KINDS } from '@mk/ledger';
import { runProgress } from './status/progress';
import type { RefreshStatusSource, RunStatusSource } from './status/types';

/** BullMQ job states exported per queue (BullMQ 6 keeps a paused queue's jobs in wait: see mk_queue_paused). */
export const QUEUE_STATES = [
  'wait',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'completed',
  'failed',
] as const;

export interface DashboardMetricsOptions {
  queues: Queue[];
  runs: RunStatusSource;
  refresh?: RefreshStatusSource;
  /** For Redis's memory use against its maxmemory (the system of record must never fill up: noeviction refuses writes). */
  redis?: Redis;
  /** Per-run series are exported for the newest runs only, to bound label cardinality. */
  runLimit?: number;
}

export function createDashboardMetrics(opts: DashboardMetricsOptions): () => Promise<string> {
  const own = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [own] });

  const queueJobs = gauge('mk_queue_jobs', 'Jobs per BullMQ queue and state', ['queue', 'state']);
  const queuePaused = gauge('mk_queue_paused', '1 when the queue is paused', ['queue']);
  const ledger = gauge('mk_ledger_connections', 'Source connections per migration run and ledger state', [
    'run',
    'state',
  ]);
  const rejects = gauge('mk_run_rejects', 'Dump records rejected by the producer, per run', ['run']);
  const throughput = gauge(
    'mk_run_throughput_per_minute',
    'Connections imported per minute over the last 60 s (since start when younger), per run',
    ['run'],
  );
  const runState = gauge('mk_run_state', `A run's state: 1 for the current one of ${RUN_STATES.join(', ')}`, [
    'run',
    'state',
  ]);
  const runStalled = gauge('mk_run_stalled', `Why a run is stalled: 1 per reason of ${STALL_KINDS.join(', ')}`, [
    'run',
    'reason',
  ]);
  const runEta = gauge(
    'mk_run_eta_seconds',
    'Seconds left at the current throughput (absent while stalled or when nothing moves)',
    ['run'],
  );
  const runParked = gauge('mk_run_parked_links', 'Links of a run parked until the end user reconnects', ['run']);
  const waitingReconnect = gauge(
    'mk_run_links_waiting_reconnect',
    'Imported links of a run still waiting for their user to reconnect them',
    ['run'],
  );
  const reconnected = gauge(
    'mk_run_links_reconnected_total',
    'Imported links of a run their user reconnected (each once; only grows)',
    ['run'],
  );
  const refreshLinks = gauge('mk_refresh_links', 'Refresh pipeline: registered, due, overdue and parked links', [
    'state',
  ]);
  const deferrals = gauge(
    'mk_refresh_quota_deferrals',
    'Refreshes postponed by a closed per-link quota window (as recorded in Redis)',
    [],
  );
  const notListpack = gauge(
    'mk_refresh_buckets_not_listpack_ratio',
    'Share of sampled refresh-registry bucket keys not listpack-encoded (above 0: more links than REFRESH_EXPECTED_LINKS)',
    [],
  );
  const redisUsed = gauge('mk_redis_used_memory_bytes', "Redis's used_memory (INFO memory)", []);
  const redisMax = gauge('mk_redis_maxmemory_bytes', "Redis's maxmemory (0: no limit set)", []);

  const merged = Registry.merge([processRegistry, own]);
  const runLimit = opts.runLimit ?? 20;

  return async () => {
    const [queueCounts, runs, refresh, memory] = await Promise.all([
      Promise.all(
        opts.queues.map(async (q) => ({
          q,
          counts: await q.getJobCounts(...QUEUE_STATES),
          paused: await q.isPaused(),
        })),
      ),
      opts.runs.listRuns(),
      opts.refresh?.stats(),
      opts.redis && fullestMemory(opts.redis),
    ]);
    for (const g of [
      queueJobs,
      queuePaused,
      ledger,
      rejects,
      throughput,
      runState,
      runStalled,
      runEta,
      runParked,
      waitingReconnect,
      reconnected,
      refreshLinks,
      deferrals,
      notListpack,
      redisUsed,
      redisMax,
    ])
      g.reset();
    if (memory !== undefined) {
      const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(memory)?.[1]);
      if (Number.isFinite(field('used_memory'))) redisUsed.set(field('used_memory'));
      if (Number.isFinite(field('maxmemory'))) redisMax.set(field('maxmemory'));
    }

    for (const { q, counts, paused } of queueCounts) {
      for (const state of QUEUE_STATES) queueJobs.set({ queue: q.name, state }, counts[state] ?? 0);
      queuePaused.set({ queue: q.name }, paused ? 1 : 0);
    }
    for (const run of runs.slice(0, runLimit)) {
      for (const [state, n] of Object.entries(run.counts)) ledger.set({ run: run.runId, state }, n);
      rejects.set({ run: run.runId }, run.rejects);
      throughput.set({ run: run.runId }, run.throughputPerMin);
      const progress = runProgress(run);
      for (const state of RUN_STATES) runState.set({ run: run.runId, state }, state === progress.state ? 1 : 0);
      for (const reason of STALL_KINDS)
        runStalled.set({ run: run.runId, reason }, progress.stalled.some((r) => r.kind === reason) ? 1 : 0);
      if (progress.etaSeconds !== null) runEta.set({ run: run.runId }, progress.etaSeconds);
      if (run.parkedLinks !== undefined) runParked.set({ run: run.runId }, run.parkedLinks);
      if (run.reconnects) {
        waitingReconnect.set({ run: run.runId }, run.reconnects.waiting);
        reconnected.set({ run: run.runId }, run.reconnects.reconnected);
      }
    }
    if (refresh) {
      refreshLinks.set({ state: 'registered' }, refresh.registered);
      refreshLinks.set({ state: 'due' }, refresh.dueNow);
      refreshLinks.set({ state: 'overdue' }, refresh.overdue);
      refreshLinks.set({ state: 'parked' }, refresh.parked);
      deferrals.set(refresh.quotaDeferrals);
      if (refresh.nonListpackShare !== undefined) notListpack.set(refresh.nonListpackShare);
    }

    return merged.metrics();
  };
}

/** INFO memory of the fullest master (a cluster fills node by node: the alarm is about the first to run out). */
async function fullestMemory(redis: Redis): Promise<string> {
  const infos = await Promise.all(redisMasters(redis).map((node) => node.info('memory')));
  const used = (info: string) => Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
  return infos.reduce((a, b) => (used(b) > used(a) ? b : a));
}
