/**
 * What `run --wait` and `retry --wait` show while they wait: on a terminal, one line rewritten in place (state,
 * done/total, rate, ETA, errors); elsewhere (CI, containers, log files) a timestamped line when the state changes
 * and otherwise every 30 s, so an 11-day run logs a few thousand lines, not a million.
 */
import { fmtDuration } from '@mk/ledger';
import type { RunStatus } from './commands/report';

/** Between two lines of the same state when not on a terminal. */
export const WAIT_LOG_INTERVAL_MS = 30_000;

export interface WaitReporter {
  update(status: RunStatus): void;
  /** Ends the in-place line (a terminal) so what follows starts on a line of its own. */
  stop(): void;
}

/** `running 1,204/934,000 (0.1 %), 59.8/min, ETA 10 d 19 h, 3 failed` — or the stall and why. */
export function waitLine(s: RunStatus): string {
  const { state } = s;
  const settled = (s.counts.imported ?? 0) + (s.counts.failed ?? 0);
  const total = settled + state.remaining;
  const pct = total === 0 ? 0 : (settled / total) * 100;
  const eta =
    state.etaSeconds !== null
      ? `ETA ${fmtDuration(state.etaSeconds)}`
      : state.state === 'stalled'
        ? 'no ETA while stalled'
        : 'ETA —';
  const head = state.state === 'stalled' ? state.summary : state.state.replace(/_/g, ' ');
  return `${head} | ${settled}/${state.remainingEstimated && state.remaining > 0 ? '~' : ''}${total} (${pct.toFixed(1)} %) | ${state.throughputPerMin.toFixed(1)}/min | ${eta} | ${s.counts.failed ?? 0} failed`;
}

export function waitReporter(opts: {
  tty: boolean;
  write: (s: string) => void;
  now?: () => number;
  intervalMs?: number;
}): WaitReporter {
  const now = opts.now ?? Date.now;
  if (opts.tty) {
    let shown = false;
    return {
      update(status) {
        // \r and "erase line": the new text replaces the old whatever their lengths.
        opts.write(`\r\x1b[2K${waitLine(status)}`);
        shown = true;
      },
      stop() {
        if (shown) opts.write('\n');
        shown = false;
      },
    };
  }
  const interval = opts.intervalMs ?? WAIT_LOG_INTERVAL_MS;
  let lastState = '';
  let lastAt = -Infinity;
  return {
    update(status) {
      const state = status.state.summary;
      const at = now();
      if (state === lastState && at - lastAt < interval) return;
      lastState = state;
      lastAt = at;
      opts.write(`${new Date(at).toISOString()} ${waitLine(status)}\n`);
    },
    stop() {},
  };
}
