/**
 * What the dashboard reads about migrations and the refresh pipeline. The dashboard only reads through these
 * two interfaces; `sources.ts` wires the Redis-backed implementations (ledger, refresh registry) in.
 * Sources report facts; derived figures (totals, remaining, ETA, the run's state) are computed once, in progress.ts,
 * by the same function (@mk/ledger's decideRunState) the CLI uses.
 */
import type { ErrorClass } from '@mk/shared';
import type { RejectRecord, RunHistory, RunSignals } from '@mk/ledger';
import type { RefreshHistory, RefreshStats } from '@mk/refresh';

export type { RunHistory, RefreshHistory };

/** The run page's charts cover this many minutes (one point each). */
export const CHART_MINUTES = 180;

export interface RunFailure {
  sourceUserId: string;
  connectionId: string;
  /** Already safe to show (the ledger stores FailureInfo, which holds no secrets or bodies). */
  reason: string;
  errorClass?: ErrorClass;
  /** Epoch ms of the last attempt. */
  at?: number;
}

/**
 * A run's facts: the ledger's and the import queue's signals (RunSignals: producer phase, counts, rejects,
 * throughput over the time elapsed, queue paused and by whom, workers, upstream errors, connections with no job),
 * plus what the pages list.
 */
export interface RunSnapshot extends RunSignals {
  runId: string;
  dump?: string;
  /** Links of this run waiting for the end user to reconnect before refreshes resume, when the source knows. */
  parkedLinks?: number;
  /** The reconnect campaign: how many imported links their users reconnected, day by day (UTC). */
  reconnects?: ReconnectFigures;
  /** Most recent first, a bounded list. */
  recentFailures: RunFailure[];
  recentRejects: RejectRecord[];
  /** Imports, errors and 429s minute by minute (the detail view only). */
  history?: RunHistory;
}

export interface ReconnectFigures {
  /** Imported links reconnected by their user (each counted once). */
  reconnected: number;
  /** Imported links still waiting for their user. */
  waiting: number;
  /** waiting / imported, 0–1 (0 when nothing is imported). */
  shareWaiting: number;
  /** Epoch ms of each UTC day from the run's first to today (at most RECONNECT_DAYS), with its reconnects. */
  days: number[];
  perDay: number[];
  /** Share of the imported links still waiting at the end of each day, 0–1. */
  shareWaitingByDay: number[];
}

/** The reconnect chart covers at most this many days. */
export const RECONNECT_DAYS = 90;

export interface RunStatusSource {
  /** Newest first. */
  listRuns(): Promise<RunSnapshot[]>;
  getRun(runId: string): Promise<RunSnapshot | undefined>;
}

/** What the pages and /metrics show of the refresh registry's stats. */
export type RefreshHealth = Pick<RefreshStats, 'registered' | 'dueNow' | 'overdue' | 'parked' | 'quotaDeferrals'> &
  Partial<Pick<RefreshStats, 'nonListpackShare'>>;

export interface RefreshStatusSource {
  stats(): Promise<RefreshHealth>;
  /** Accepted, deferred and parked minute by minute, oldest first; without it the run page draws no refresh chart. */
  history?(minutes: number): Promise<RefreshHistory>;
}
