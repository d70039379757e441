/**
 * Figures derived from a run's facts: totals, remaining work, ETA and the run's state (running, stalled and why,
 * completed, completed with failures), decided by @mk/ledger's decideRunState, as `mk-migrate status` decides them.
 */
import { connectionsOf, decideRunState, runStateLabel, type RunStateName, type StallReason } from '@mk/ledger';
import type { RunSnapshot } from './types';

export interface RunProgress {
  total: number;
  imported: number;
  failed: number;
  /** Connections still to settle (projected from the share of the dump read while the producer reads it). */
  remaining: number;
  remainingEstimated: boolean;
  /** 0–100, share of connections settled (imported or failed). */
  percentDone: number;
  /** Seconds at the current throughput; null when nothing moves, nothing is left, or the run is stalled. */
  etaSeconds: number | null;
  /** Epoch ms of the expected end, null like etaSeconds. */
  etaAt: number | null;
  state: RunStateName;
  /** 'completed with failures': the state's name for people. */
  stateLabel: string;
  stalled: StallReason[];
  /** The state and why, in the words the CLI prints. */
  summary: string;
}

export function runProgress(run: RunSnapshot, now = Date.now()): RunProgress {
  const total = connectionsOf(run.counts);
  const imported = run.counts.imported ?? 0;
  const failed = run.counts.failed ?? 0;
  const percentDone = total === 0 ? 0 : ((imported + failed) / total) * 100;
  const s = decideRunState(run, now);
  return {
    total,
    imported,
    failed,
    remaining: s.remaining,
    remainingEstimated: s.remainingEstimated,
    percentDone,
    etaSeconds: s.etaSeconds,
    etaAt: s.etaSeconds === null ? null : now + s.etaSeconds * 1000,
    state: s.state,
    stateLabel: runStateLabel(s.state),
    stalled: s.stalled,
    summary: s.summary,
  };
}

/** The JSON form of a run: its facts plus the derived figures. */
export function runView(run: RunSnapshot, now = Date.now()) {
  return { ...run, ...runProgress(run, now) };
}
export type RunView = ReturnType<typeof runView>;
