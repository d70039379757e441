/** Figures derived from a run's ledger counts: one place computes totals, remaining work and the ETA. */
import type { RunSnapshot } from './types';

/** States that still need work from the import worker. */
const OPEN_STATES = ['pending', 'importing', 'linked'] as const;

export interface RunProgress {
  total: number;
  imported: number;
  failed: number;
  remaining: number;
  /** 0–100, share of connections settled (imported or failed). */
  percentDone: number;
  /** Seconds at the current throughput; null when nothing moves (no rate yet, or nothing left). */
  etaSeconds: number | null;
  /** Epoch ms of the expected end, null like etaSeconds. */
  etaAt: number | null;
}

export function runProgress(run: RunSnapshot, now = Date.now()): RunProgress {
  const total = Object.values(run.counts).reduce((sum, n) => sum + n, 0);
  const imported = run.counts.imported ?? 0;
  const failed = run.counts.failed ?? 0;
  const remaining = OPEN_STATES.reduce((sum, state) => sum + (run.counts[state] ?? 0), 0);
  const percentDone = total === 0 ? 0 : ((imported + failed) / total) * 100;
  const etaSeconds = remaining > 0 && run.throughputPerMin > 0 ? Math.ceil((remaining / run.throughputPerMin) * 60) : null;
  return { total, imported, failed, remaining, percentDone, etaSeconds, etaAt: etaSeconds === null ? null : now + etaSeconds * 1000 };
}

/** The JSON form of a run: its facts plus the derived figures. */
export function runView(run: RunSnapshot, now = Date.now()) {
  return { ...run, ...runProgress(run, now) };
}
export type RunView = ReturnType<typeof runView>;
