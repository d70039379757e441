/**
 * Where the dashboard's status comes from: the wiring of the Redis-backed sources, in one place.
 * Runs: the migration ledger (@mk/ledger). Refresh: the refresh registry (@mk/refresh).
 */
import { Queue } from 'bullmq';
import { QUEUES, queuePrefixOn, type Redis } from '@mk/shared';
import { MigrationLedger, probeImportQueue, readRunSignals, type ImportQueueProbe, type ImportQueueSignals, type RunMeta } from '@mk/ledger';
import { RefreshRegistry, type RefreshOptions } from '@mk/refresh';
import { CHART_MINUTES, type RefreshStatusSource, type RunFailure, type RunSnapshot, type RunStatusSource } from './status/types';

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

  private async snapshot(meta: RunMeta, detail: boolean, queueSignals: ImportQueueSignals | undefined): Promise<RunSnapshot> {
    const [signals, recentRejects, history] = await Promise.all([
      readRunSignals(this.ledger, meta, { ...(this.queue && { queue: this.queue }), ...(queueSignals && { queueSignals }) }),
      detail ? this.ledger.recentRejects(meta.runId, RECENT) : Promise.resolve([]),
      detail ? this.ledger.history(meta.runId, { minutes: CHART_MINUTES, createdAt: meta.createdAt }) : Promise.resolve(undefined),
    ]);
    const recentFailures = detail && (signals.counts.failed ?? 0) > 0 ? await this.failures(meta.runId) : [];
    return { ...signals, runId: meta.runId, ...(meta.dump && { dump: meta.dump }), recentFailures, recentRejects, ...(history && { history }) };
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

export interface DashboardSources {
  runs: RunStatusSource;
  /** Without it the pages say the pipeline status is unavailable. */
  refresh?: RefreshStatusSource;
  /** Closes what the sources opened (not the Redis connection). */
  close(): Promise<void>;
}

/** Runs from the ledger and the import queue; refresh health from the registry the workers share (its timing from the same settings). */
export async function createSources(redis: Redis, prefix: string, refreshOptions: RefreshOptions): Promise<DashboardSources> {
  const refresh = await RefreshRegistry.open(redis, prefix, refreshOptions);
  const imports = new Queue(QUEUES.import, { connection: redis, prefix: queuePrefixOn(redis, prefix, QUEUES.import) });
  return {
    runs: new LedgerRunSource(new MigrationLedger(redis, prefix), imports),
    refresh: { stats: () => refresh.stats(), history: (minutes) => refresh.minutes.history(minutes) },
    close: () => imports.close(),
  };
}
