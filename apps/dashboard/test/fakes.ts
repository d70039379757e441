/** In-memory status sources: the dashboard's pages and JSON are tested against these. */
import type { RefreshHealth, RefreshHistory, RefreshStatusSource, RunSnapshot, RunStatusSource } from '@mk/dashboard';

export class InMemoryRunSource implements RunStatusSource {
  readonly runs = new Map<string, RunSnapshot>();

  constructor(runs: RunSnapshot[] = []) {
    for (const run of runs) this.runs.set(run.runId, run);
  }

  async listRuns(): Promise<RunSnapshot[]> {
    return [...this.runs.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  async getRun(runId: string): Promise<RunSnapshot | undefined> {
    return this.runs.get(runId);
  }
}

export class InMemoryRefreshSource implements RefreshStatusSource {
  constructor(
    public current: RefreshHealth,
    public minutes?: RefreshHistory,
  ) {}

  async stats(): Promise<RefreshHealth> {
    return this.current;
  }

  async history(minutes: number): Promise<RefreshHistory> {
    const h = this.minutes ?? { minutes: [], accepted: [], deferred: [], parked: [] };
    const from = Math.max(0, h.minutes.length - minutes);
    return {
      minutes: h.minutes.slice(from),
      accepted: h.accepted.slice(from),
      deferred: h.deferred.slice(from),
      parked: h.parked.slice(from),
    };
  }
}

/** A refresh pipeline's last `minutes` minutes: a steady accepted rate, quota deferrals in waves, a few parks. */
export function sampleRefreshHistory(minutes: number, now = Date.now()): RefreshHistory {
  const last = Math.floor(now / 60_000);
  const range = Array.from({ length: minutes }, (_, i) => last - minutes + 1 + i);
  return {
    minutes: range.map((m) => m * 60_000),
    accepted: range.map((m, i) => Math.round(40 + 15 * Math.sin(i / 9) + (m % 5))),
    deferred: range.map((_, i) => (i % 30 < 6 ? 12 - (i % 30) * 2 : 0)),
    parked: range.map((_, i) => (i % 17 === 0 ? 2 : 0)),
  };
}

export function sampleRun(overrides: Partial<RunSnapshot> = {}): RunSnapshot {
  return {
    runId: 'plaid-2026-11-20',
    createdAt: Date.UTC(2026, 10, 20, 9, 30),
    status: 'enqueued',
    dump: 'plaid-users.ndjson.gz',
    counts: { pending: 1180, importing: 10, linked: 10, imported: 2780, failed: 20 },
    rejects: 7,
    throughputPerMin: 59.5,
    parkedLinks: 2780,
    recentFailures: [
      {
        sourceUserId: 'user-0042',
        connectionId: 'item-9',
        reason: 'institution not supported (400 unsupported_institution)',
        errorClass: 'terminal',
        at: Date.UTC(2026, 10, 20, 10, 2),
      },
      {
        sourceUserId: 'user-0077',
        connectionId: 'item-3',
        reason: 'retries exhausted: 503 <script>alert(1)</script>',
        errorClass: 'retryable',
        at: Date.UTC(2026, 10, 20, 10, 1),
      },
    ],
    recentRejects: [{ line: 118, sourceId: 'user-0118', reason: 'account acc-2 has no currency' }],
    ...overrides,
  };
}

export const sampleRefresh: RefreshHealth = {
  registered: 2780,
  dueNow: 12,
  overdue: 0,
  parked: 2731,
  quotaDeferrals: 41,
  nonListpackShare: 0.02,
};
