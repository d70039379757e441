/**
 * Where the dashboard's status comes from: the wiring of the Redis-backed sources, in one place.
 * Runs: the migration ledger (@mk/ledger). Refresh: the refresh registry (@mk/refresh).
 */
import { Queue } from 'bullmq';
import { QUEUES, queuePrefixOn, type Redis } from '@mk/shared';
import {
  MigrationLedger,
  probeImportQueue,
  readRunSignals,
  type ImportQueueProbe,
  type ImportQueueSignals,
  type RunMeta,
} from '@mk/ledger';
import { RefreshRegistry, type RefreshOptions } from '@mk/refresh';
import {
  CHART_MINUTES,
  RECONNECT_DAYS,
  type ReconnectFigures,
  type RefreshStatusSource,
  type RunFailure,
  type RunSnapshot,
  type RunStatusSource,
} from './status/types';

const RECENT = 50;
/**
 * The ledger keeps no index of failed connections, so the detail page finds them by scanning the run's records,
 * at most this many per view (a few ms per thousand). Past it, the page shows the failures found so far.
 */
const FAILURE_SCAN_LIMIT = 20_000;

export class LedgerRunSource implements RunStatusSource {
  /** With the import queue, runs also know whether it is paused, has workers, and holds their jobs. */
  constructor(
    private readonly ledger: MigrationLedger,
    private readonly queue?: ImportQueueProbe,
  ) {}

  async listRuns(): Promise<RunSnapshot[]> {
    const [runs, queueSignals] = await Promise.all([this.ledger.listRuns(), this.probeQueue()]);
    return Promise.all(runs.map((meta) => this.snapshot(meta, false, queueSignals)));
  }

  async getRun(runId: string): Promise<RunSnapshot | undefined> {
    const meta = await this.ledger.getRun(runId);
    return meta && this.snapshot(meta, true, await this.probeQueue());
  }

  private probeQueue(): Promise<ImportQueueSignals | undefined> {
    return this.queue ? probeImportQueue(this.ledger, this.queue) : Promise.resolve(undefined);
  }

  private async snapshot(
    meta: RunMeta,
    detail: boolean,
    queueSignals: ImportQueueSignals | undefined,
  ): Promise<RunSnapshot> {
    const [signals, recentRejects, history, reconnects] = await Promise.all([
      readRunSignals(this.ledger, meta, {
        ...(this.queue && { queue: this.queue }),
        ...(queueSignals && { queueSignals }),
      }),
      detail ? this.ledger.recentRejects(meta.runId, RECENT) : Promise.resolve([]),
      detail
        ? this.ledger.history(meta.runId, { minutes: CHART_MINUTES, createdAt: meta.createdAt })
        : Promise.resolve(undefined),
      this.ledger.reconnects(meta.runId),
    ]);
    const recentFailures = detail && (signals.counts.failed ?? 0) > 0 ? await this.failures(meta.runId) : [];
    const figures = reconnectFigures(signals.counts.imported ?? 0, reconnects, meta.createdAt);
    return {
      ...signals,
      runId: meta.runId,
      ...(meta.dump && { dump: meta.dump }),
      reconnects: figures,
      recentFailures,
      recentRejects,
      ...(history && { history }),
    };
  }

  private async failures(runId: string): Promise<RunFailure[]> {
    const found: RunFailure[] = [];
    let scanned = 0;
    for await (const record of this.ledger.scan(runId)) {
      if (record.state === 'failed') {
        found.push({
          sourceUserId: record.sourceUserId,
          connectionId: record.connectionId,
          reason: record.lastError?.message ?? 'unknown',
          errorClass: record.lastError?.errorClass,
          at: record.updatedAt,
        });
      }
      if (++scanned >= FAILURE_SCAN_LIMIT) break;
    }
    return found.sort((a, b) => (b.at ?? 0) - (a.at ?? 0)).slice(0, RECENT);
  }
}

const DAY_MS = 86_400_000;

/** Reconnects per day from the run's first day to today, and the share of imported links still waiting after each. */
export function reconnectFigures(
  imported: number,
  r: { perDay: Map<number, number>; total: number },
  createdAt: number,
  now = Date.now(),
): ReconnectFigures {
  const today = Math.floor(now / DAY_MS);
  const first = Math.max(Math.min(Math.floor(createdAt / DAY_MS), ...r.perDay.keys()), today - RECONNECT_DAYS + 1);
  const days: number[] = [];
  const perDay: number[] = [];
  const shareWaitingByDay: number[] = [];
  // reconnects before the first day shown still count for the share
  let cumulative = [...r.perDay].filter(([d]) => d < first).reduce((n, [, c]) => n + c, 0);
  const share = (reconnected: number) => (imported === 0 ? 0 : Math.max(0, imported - reconnected) / imported);
  for (let d = first; d <= today; d++) {
    const n = r.perDay.get(d) ?? 0;
    cumulative += n;
    days.push(d * DAY_MS);
    perDay.push(n);
    shareWaitingByDay.push(share(cumulative));
  }
  return {
    reconnected: r.total,
    waiting: Math.max(0, imported - r.total),
    shareWaiting: share(r.total),
    days,
    perDay,
    shareWaitingByDay,
  };
}

export interface DashboardSources {
  runs: RunStatusSource;
  /** Without it the pages say the pipeline status is unavailable. */
  refresh?: RefreshStatusSource;
  /** Closes what the sources opened (not the Redis connection). */
  close(): Promise<void>;
}

/** Runs from the ledger and the import queue; refresh health from the registry the workers share (its timing from the same settings). */
export async function createSources(
  redis: Redis,
  prefix: string,
  refreshOptions: RefreshOptions,
): Promise<DashboardSources> {
  const refresh = await RefreshRegistry.open(redis, prefix, refreshOptions);
  const imports = new Queue(QUEUES.import, { connection: redis, prefix: queuePrefixOn(redis, prefix, QUEUES.import) });
  return {
    runs: new LedgerRunSource(new MigrationLedger(redis, prefix), imports),
    refresh: { stats: () => refresh.stats(), history: (minutes) => refresh.minutes.history(minutes) },
    close: () => imports.close(),
  };
}
