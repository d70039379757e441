/**
 * `report RUN --to postgres://… --table migration_links`: the mapping, upserted where the team's backend reads its
 * data. One row per source connection, keyed on (source_user_id, source_connection_id): running it again updates
 * the rows in place. The table is created when missing. Rows go in batches, streamed from the ledger (flat memory).
 */
import { Client, escapeIdentifier } from 'pg';
import type { ConnectionRecord, MigrationLedger } from '@mk/ledger';
import { redactUrl } from '../dump';

const BATCH = 500;
/** schema.table or table, plain identifiers only: the name goes into SQL, quoted. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/;

export function quotedTable(name: string): string {
  if (!TABLE_NAME.test(name))
    throw new Error(`--table must be a table name (letters, digits, _; optionally schema.table), got something else`);
  return name.split('.').map(escapeIdentifier).join('.');
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

export async function writeReportToPostgres(
  ledger: MigrationLedger,
  runId: string,
  url: string,
  table: string,
): Promise<number> {
  const target = quotedTable(table);
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${(e as Error).message}`);
  }
  try {
    await client.query(`create table if not exists ${target} (
      source_user_id text not null, source_connection_id text not null, link_id text, outcome text not null,
      imported_at timestamptz, reconnected_at timestamptz, primary key (source_user_id, source_connection_id))`);
    let rows = 0;
    let batch: ConnectionRecord[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const reconnected = await ledger.reconnectedAtMany(runId, batch);
      const cols = [[], [], [], [], [], []] as (string | null)[][];
      for (const [i, r] of batch.entries()) {
        cols[0]!.push(r.sourceUserId);
        cols[1]!.push(r.connectionId);
        cols[2]!.push(r.linkId ?? null);
        cols[3]!.push(r.state);
        cols[4]!.push(r.state === 'imported' ? new Date(r.updatedAt).toISOString() : null);
        cols[5]!.push(isoOrNull(reconnected[i]));
      }
      // reconnected_at: the ledger's (the first reconnect the webhook told of); while it knows of none, the value
      // already there (e.g. set by the team's backend) is kept, never overwritten with NULL.
      await client.query(
        `insert into ${target} (source_user_id, source_connection_id, link_id, outcome, imported_at, reconnected_at)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
         on conflict (source_user_id, source_connection_id) do update
           set link_id = excluded.link_id, outcome = excluded.outcome, imported_at = excluded.imported_at,
             reconnected_at = coalesce(excluded.reconnected_at, ${target}.reconnected_at)`,
        cols,
      );
      rows += batch.length;
      batch = [];
    };
    for await (const record of ledger.scan(runId)) {
      batch.push(record);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}
