/**
 * Where the dashboard's status comes from: the wiring of the Redis-backed sources, in one place.
 * Runs: the migration ledger (@mk/ledger). Refresh: the refresh registry of the workers (@mk/worker).
 */
import type { Redis } from '@mk/shared';
import { MigrationLedger, type RunMeta } from '@mk/ledger';
import { RefreshRegistry, refreshOptionsFromEnv } from '@mk/worker';
import type { RefreshStatusSource, RunFailure, RunSnapshot, RunStatusSource } from './status/types';

const RECENT = 50;
/**
 * The ledger keeps no index of failed connections, so the detail page finds them by scanning the run's records,
 * at most this many per view (a few ms per thousand). Past it, the page shows the failures found so far.
 */
const FAILURE_SCAN_LIMIT = 20_000;

export class LedgerRunSource implements RunStatusSource {
  constructor(private readonly ledger: MigrationLedger) {}

  async listRuns(): Promise<RunSnapshot[]> {
    const runs = await this.ledger.listRuns();
    return Promise.all(runs.map((meta) => this.snapshot(meta, false)));
  }

  async getRun(runId: string): Promise<RunSnapshot | undefined> {
    const meta = await this.ledger.getRun(runId);
    return meta && this.snapshot(meta, true);
  }

  private async snapshot(meta: RunMeta, detail: boolean): Promise<RunSnapshot> {
    const [counts, throughputPerMin, recentRejects] = await Promise.all([
      this.ledger.counts(meta.runId),
      this.ledger.importedPerMinute(meta.runId),
      detail ? this.ledger.recentRejects(meta.runId, RECENT) : Promise.resolve([]),
    ]);
    const recentFailures = detail && counts.failed > 0 ? await this.failures(meta.runId) : [];
    return {
      runId: meta.runId,
      createdAt: meta.createdAt,
      status: meta.status,
      dump: meta.dump,
      counts,
      rejects: meta.rejects,
      throughputPerMin,
      recentFailures,
      recentRejects,
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

export interface DashboardSources {
  runs: RunStatusSource;
  /** Without it the pages say the pipeline status is unavailable. */
  refresh?: RefreshStatusSource;
}

/** Runs from the ledger; refresh health from the registry the workers share (its timing from the same env). */
export async function createSources(redis: Redis, prefix: string, env: NodeJS.ProcessEnv = process.env): Promise<DashboardSources> {
  const refresh = await RefreshRegistry.open(redis, prefix, refreshOptionsFromEnv(env));
  return { runs: new LedgerRunSource(new MigrationLedger(redis, prefix)), refresh };
}
