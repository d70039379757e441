/** `status` and `report`: the ledger as a table, CSV or JSON, and the exit code that sums the run up. */
import fs from 'node:fs';
import type { ConnectionRecord, ConnectionState, MigrationLedger, RunMeta } from '@mk/ledger';
import type { RefreshRegistry } from '@mk/worker';
import { EXIT, type ExitCode } from '../exit-codes';
import { refreshColumns } from './refresh';

export interface RunStatus {
  run: RunMeta;
  counts: Record<ConnectionState, number>;
  total: number;
  importedPerMinute: number;
  /** Hours left at the recent rate; undefined when nothing moved lately. */
  etaHours?: number;
}

export async function runStatus(ledger: MigrationLedger, runId: string): Promise<RunStatus> {
  const run = await ledger.getRun(runId);
  if (!run) throw new Error(`run ${runId} does not exist (see \`runs\`)`);
  const counts = await ledger.counts(runId);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const importedPerMinute = await ledger.importedPerMinute(runId);
  const left = counts.pending + counts.importing + counts.linked;
  return { run, counts, total, importedPerMinute, ...(importedPerMinute > 0 && { etaHours: left / importedPerMinute / 60 }) };
}

export function exitCodeOf(status: RunStatus): ExitCode {
  const { counts, run } = status;
  if (run.status !== 'enqueued' || counts.pending + counts.importing + counts.linked > 0) return EXIT.inProgress;
  if (counts.imported === 0) return EXIT.failure;
  if (counts.failed > 0 || run.rejects > 0) return EXIT.partial;
  return EXIT.success;
}

export function formatStatus(s: RunStatus): string {
  const c = s.counts;
  const lines = [
    `run ${s.run.runId} (${s.run.status})${s.run.dump ? ` from ${s.run.dump}` : ''}`,
    `  users read ${s.run.usersSeen}, enqueued ${s.run.usersEnqueued}, already done ${s.run.usersSkipped}, rejected records ${s.run.rejects}`,
    `  connections ${s.total}: imported ${c.imported}, failed ${c.failed}, pending ${c.pending}, importing ${c.importing}, transactions left ${c.linked}`,
    `  throughput ${s.importedPerMinute.toFixed(1)}/min${s.etaHours !== undefined ? `, ETA ${s.etaHours.toFixed(2)} h` : ''}`,
  ];
  if (s.run.rejectsFile && s.run.rejects > 0) lines.push(`  rejects: ${s.run.rejectsFile}`);
  return lines.join('\n');
}

export const REPORT_COLUMNS = [
  'source_user_id', 'source_connection_id', 'link_id', 'outcome', 'adopted', 'accounts', 'transactions',
  'transactions_imported', 'attempts', 'error_class', 'error_code', 'error', 'dump_line',
  'refresh', 'refresh_reason', 'next_refresh_at',
] as const;
type ReportRow = Record<(typeof REPORT_COLUMNS)[number], string | number | boolean>;
const REFRESH_BATCH = 500;

export function reportRow(r: ConnectionRecord, refresh = { refresh: '', refresh_reason: '', next_refresh_at: '' }): ReportRow {
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
    ...refresh,
  };
}

const csvCell = (v: string | number | boolean) => {
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
    const refresh = registry ? await refreshColumns(registry, batch.map((r) => r.linkId)) : [];
    for (const [i, record] of batch.entries()) {
      const row = reportRow(record, refresh[i]);
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
