/** `runs`: every run in the ledger on one line each: its state, counts, total, age and last activity. */
import {
  connectionsOf,
  fmtDuration,
  openConnectionsOf,
  readRunState,
  type ImportQueueProbe,
  type MigrationLedger,
  type RunStateName,
} from '@mk/ledger';

export interface RunListEntry {
  runId: string;
  /** Decided in @mk/ledger (run-state.ts), as `status` and the dashboard show it. */
  state: RunStateName;
  summary: string;
  counts: { imported: number; failed: number; pending: number; rejected: number };
  /** Connections in the ledger (rejected records are not connections). */
  total: number;
  /** Epoch ms the run was opened, and the latest of: a producer write, a producer beat, an import. */
  createdAt: number;
  lastActivityAt: number;
}

export async function listRuns(
  ledger: MigrationLedger,
  queue?: ImportQueueProbe,
  now = Date.now(),
): Promise<RunListEntry[]> {
  const runs = await ledger.listRuns();
  const entries = await Promise.all(
    runs.map(async (run): Promise<RunListEntry> => {
      const { signals, state } = await readRunState(ledger, run, { ...(queue && { queue }), now });
      const { counts } = signals;
      return {
        runId: run.runId,
        state: state.state,
        summary: state.summary,
        counts: {
          imported: counts.imported ?? 0,
          failed: counts.failed ?? 0,
          pending: openConnectionsOf(counts),
          rejected: run.rejects,
        },
        total: connectionsOf(counts),
        createdAt: run.createdAt,
        lastActivityAt: Math.max(run.updatedAt, signals.producer?.at ?? 0, signals.lastImportAt ?? 0),
      };
    }),
  );
  return entries.sort((a, b) => b.createdAt - a.createdAt);
}

const COLUMNS = ['RUN', 'STATE', 'IMPORTED', 'FAILED', 'PENDING', 'REJECTED', 'TOTAL', 'AGE', 'LAST ACTIVITY'] as const;

/** A table, newest run first; "no runs yet" when there is none. */
export function formatRuns(entries: RunListEntry[], now = Date.now()): string {
  if (entries.length === 0) return 'no runs yet';
  const ago = (at: number) => `${fmtDuration((now - at) / 1000)} ago`;
  const rows = entries.map((e) =>
    [
      e.runId,
      e.state.replace(/_/g, ' '),
      e.counts.imported,
      e.counts.failed,
      e.counts.pending,
      e.counts.rejected,
      e.total,
      fmtDuration((now - e.createdAt) / 1000),
      ago(e.lastActivityAt),
    ].map(String),
  );
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)].join('\n');
}
