/** `status` and `report`: the ledger as a table, CSV or JSON, and the exit code that sums the run up. */
import fs from 'node:fs';
import {
  connectionsOf,
  fmtDuration,
  readRunState,
  THROUGHPUT_WINDOW_MS,
  type ConnectionRecord,
  type ConnectionState,
  type ImportQueueProbe,
  type MigrationLedger,
  type RunMeta,
  type RunState,
} from '@mk/ledger';
import type { RefreshRegistry } from '@mk/refresh';
import { EXIT, type ExitCode } from '../exit-codes';
import { refreshColumns } from './refresh';

export interface RunStatus {
  run: RunMeta;
  counts: Record<ConnectionState, number>;
  total: number;
  /** running, stalled (and why), completed, completed with failures; throughput, remaining, ETA: decided in @mk/ledger. */
  state: RunState;
  /** Epoch ms the status was read. */
  at: number;
}

/** With the import queue, the queue's side is known too (paused, workers, jobs); without it only the ledger's. */
export async function runStatus(ledger: MigrationLedger, runId: string, queue?: ImportQueueProbe): Promise<RunStatus> {
  const run = await ledger.getRun(runId);
  if (!run) throw new Error(`run ${runId} does not exist (see \`status\` without a run id)`);
  const at = Date.now();
  const { signals, state } = await readRunState(ledger, run, { ...(queue && { queue }), now: at });
  const counts = signals.counts as Record<ConnectionState, number>;
  const total = connectionsOf(counts);
  return { run, counts, total, state, at };
}

/** 0 all imported, 2 finished with failures or rejects, 3 nothing imported, 4 still running, 5 stalled. */
export function exitCodeOf(status: RunStatus): ExitCode {
  switch (status.state.state) {
    case 'running':
      return EXIT.inProgress;
    case 'stalled':
      return EXIT.stalled;
    case 'completed':
    case 'completed_with_failures':
      if (status.counts.imported === 0) return EXIT.failure;
      return status.state.state === 'completed' ? EXIT.success : EXIT.partial;
  }
}

export function formatStatus(s: RunStatus): string {
  const c = s.counts;
  const { state } = s;
  const window = s.at - s.run.createdAt < THROUGHPUT_WINDOW_MS ? 'since start' : 'last 60 s';
  const eta =
    state.etaSeconds !== null
      ? `, ETA ${fmtDuration(state.etaSeconds)}`
      : state.state === 'stalled'
        ? ', no ETA while stalled'
        : '';
  const lines = [
    `run ${s.run.runId}: ${state.summary}`,
    `  producer ${s.run.status}${s.run.dump ? ` from ${s.run.dump}` : ''}: records read ${s.run.usersSeen}, enqueued ${s.run.usersEnqueued}, already done ${s.run.usersSkipped}, rejected ${s.run.rejects}${s.run.rowsSkipped ? ` (of which ${s.run.rowsSkipped} unreadable rows left out of imported users)` : ''}`,
    `  connections ${s.total}: imported ${c.imported}, failed ${c.failed}, pending ${c.pending}, importing ${c.importing}, transactions left ${c.linked}`,
    `  throughput ${state.throughputPerMin.toFixed(1)}/min (${window}), remaining ${state.remainingEstimated && state.remaining > 0 ? '~' : ''}${state.remaining}${eta}`,
  ];
  if (s.run.rejectsFile && s.run.rejects > 0) lines.push(`  rejects: ${s.run.rejectsFile}`);
  return lines.join('\n');
}

export const REPORT_COLUMNS = [
  'source_user_id',
  'source_connection_id',
  'link_id',
  'outcome',
  'adopted',
  'accounts',
  'transactions',
  'transactions_imported',
  'attempts',
  'error_class',
  'error_code',
  'error',
  'dump_line',
  'rows_skipped',
  'refresh',
  'refresh_reason',
  'next_refresh_at',
  'reconnected_at',
] as const;
type ReportRow = Record<(typeof REPORT_COLUMNS)[number], string | number | boolean>;
const REFRESH_BATCH = 500;

/** `reconnectedAt`: when the link's user first reconnected it (ledger.reconnectedAtMany), if they have. */
export function reportRow(
  r: ConnectionRecord,
  refresh = { refresh: '', refresh_reason: '', next_refresh_at: '' },
  reconnectedAt?: number,
): ReportRow {
  return {
    source_user_id: r.sourceUserId,
    source_connection_id: r.connectionId,
    link_id: r.linkId ?? '',
    outcome: r.state,
    adopted: Boolean(r.adopted),
    accounts: r.accounts,
    transactions: r.transactions,
    transactions_imported: r.transactionsImported,
    attempts: r.attempts,
    error_class: r.lastError?.errorClass ?? '',
    error_code: r.lastError?.code ?? '',
    error: r.state === 'imported' ? '' : (r.lastError?.message ?? ''),
    dump_line: r.line ?? '',
    rows_skipped: r.rowsSkipped ?? 0,
    ...refresh,
    reconnected_at: reconnectedAt === undefined ? '' : new Date(reconnectedAt).toISOString(),
  };
}

export const csvCell = (v: string | number | boolean) => {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * Streams the report (CSV, or a JSON array) to a file or stdout: flat memory for a million rows. With the refresh
 * registry, each imported link's refresh state (active / parked and why / removed, next refresh) is added.
 */
export async function writeReport(
  ledger: MigrationLedger,
  runId: string,
  format: 'csv' | 'json',
  out: NodeJS.WritableStream,
  registry?: RefreshRegistry,
): Promise<number> {
  const write = (s: string) => new Promise<void>((resolve) => (out.write(s) ? resolve() : out.once('drain', resolve)));
  let rows = 0;
  const flush = async (batch: ConnectionRecord[]) => {
    const refresh = registry
      ? await refreshColumns(
          registry,
          batch.map((r) => r.linkId),
        )
      : [];
    const reconnected = await ledger.reconnectedAtMany(runId, batch);
    for (const [i, record] of batch.entries()) {
      const row = reportRow(record, refresh[i], reconnected[i]);
      if (format === 'csv') await write(`${REPORT_COLUMNS.map((c) => csvCell(row[c])).join(',')}\n`);
      else await write(`${rows ? ',' : ''}\n${JSON.stringify(row)}`);
      rows++;
    }
  };
  if (format === 'csv') await write(`${REPORT_COLUMNS.join(',')}\n`);
  else await write('[');
  let batch: ConnectionRecord[] = [];
  for await (const record of ledger.scan(runId)) {
    batch.push(record);
    if (batch.length >= REFRESH_BATCH) {
      await flush(batch);
      batch = [];
    }
  }
  await flush(batch);
  if (format === 'json') await write('\n]\n');
  return rows;
}

export function openOutput(file: string | undefined): NodeJS.WritableStream & { done(): Promise<void> } {
  if (!file || file === '-') return Object.assign(process.stdout, { done: async () => undefined });
  const stream = fs.createWriteStream(file);
  return Object.assign(stream, { done: () => new Promise<void>((r) => stream.end(r)) });
}
