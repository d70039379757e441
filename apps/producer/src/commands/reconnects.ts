/**
 * `reconnects`: the links of a run still waiting for their user to reconnect them (MoneyKit's imported links start
 * disconnected), for the team's messaging tools. Streamed from the ledger: flat memory for a million rows.
 */
import { InvalidArgumentError } from 'commander';
import { fmtDuration, type ConnectionRecord, type MigrationLedger } from '@mk/ledger';

export const RECONNECT_COLUMNS = [
  'source_user_id',
  'source_connection_id',
  'link_id',
  'imported_at',
  'waiting_for',
  'waiting_seconds',
] as const;
type ReconnectRow = Record<(typeof RECONNECT_COLUMNS)[number], string | number>;

const BATCH = 500;
const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `12h`, `7d`, `2w` → ms (commander argument parser). */
export function parseAge(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a number and a unit: s, m, h, d or w (e.g. 7d)');
  return Number(m[1]) * UNITS_MS[m[2]!]!;
}

export interface ReconnectSummary {
  /** Rows written: links still waiting (and for longer than asked, when asked). */
  rows: number;
  waiting: number;
  reconnected: number;
  /** Links deleted meanwhile: nobody will reconnect them. */
  deleted: number;
}

/** A link is waiting from its import until its user reconnects it; a link deleted meanwhile waits for nobody. */
export async function writeReconnects(
  ledger: MigrationLedger,
  runId: string,
  format: 'csv' | 'json',
  out: NodeJS.WritableStream,
  opts: { longerThanMs?: number; now?: number } = {},
): Promise<ReconnectSummary> {
  if (!(await ledger.getRun(runId))) throw new Error(`run ${runId} does not exist (see \`runs\`)`);
  const now = opts.now ?? Date.now();
  const write = (s: string) => new Promise<void>((resolve) => (out.write(s) ? resolve() : out.once('drain', resolve)));
  const summary: ReconnectSummary = { rows: 0, waiting: 0, reconnected: 0, deleted: 0 };
  const flush = async (batch: ConnectionRecord[]) => {
    const [reconnected, attention] = await Promise.all([
      ledger.reconnectedAtMany(runId, batch),
      ledger.attentionMany(runId, batch),
    ]);
    for (const [i, r] of batch.entries()) {
      if (reconnected[i] !== undefined) {
        summary.reconnected++;
        continue;
      }
      if (attention[i] === 'deleted' || attention[i] === 'not_found') {
        summary.deleted++;
        continue;
      }
      summary.waiting++;
      const waitedMs = Math.max(0, now - r.updatedAt);
      if (opts.longerThanMs !== undefined && waitedMs <= opts.longerThanMs) continue;
      const row: ReconnectRow = {
        source_user_id: r.sourceUserId,
        source_connection_id: r.connectionId,
        link_id: r.linkId!,
        imported_at: new Date(r.updatedAt).toISOString(),
        waiting_for: fmtDuration(waitedMs / 1000),
        waiting_seconds: Math.round(waitedMs / 1000),
      };
      if (format === 'csv') await write(`${RECONNECT_COLUMNS.map((c) => csvCell(row[c])).join(',')}\n`);
      else await write(`${summary.rows ? ',' : ''}\n${JSON.stringify(row)}`);
      summary.rows++;
    }
  };
  await write(format === 'csv' ? `${RECONNECT_COLUMNS.join(',')}\n` : '[');
  let batch: ConnectionRecord[] = [];
  for await (const record of ledger.scan(runId)) {
    // imported: the link is MoneyKit's and waits for its user (a linked one still has transaction batches to go)
    if (record.state !== 'imported' || !record.linkId) continue;
    batch.push(record);
    if (batch.length >= BATCH) {
      await flush(batch);
      batch = [];
    }
  }
  await flush(batch);
  if (format === 'json') await write('\n]\n');
  return summary;
}

export const formatReconnectSummary = (runId: string, s: ReconnectSummary, longerThanMs?: number) =>
  `run ${runId}: ${s.waiting} links waiting for their user, ${s.reconnected} reconnected${s.deleted ? `, ${s.deleted} deleted` : ''}${longerThanMs !== undefined ? `; ${s.rows} waiting longer than ${fmtDuration(longerThanMs / 1000)} listed` : ''}`;

const csvCell = (v: string | number) => {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
