/**
 * `--from postgres://… --query "select … as record from …"`: the team's own PostgreSQL as the dump. Rows stream
 * through a server-side cursor (pg-query-stream), pulled only as fast as the run consumes them, so memory stays
 * flat at any table size. Each row's `record` column (json, jsonb or text) is one record in any supported envelope;
 * its 1-based row number stands where a dump has its line number (rejects, the report, resuming: a resumed run
 * skips the rows before it on the server with OFFSET, so the query needs a stable ORDER BY).
 */
import { Client, types } from 'pg';
import QueryStream from 'pg-query-stream';
import { DumpReadError } from './open-input';
import { convertLine, type DumpEntry, type ReadDumpOptions } from './read-dump';

const BATCH_ROWS = 200;
const JSON_OIDS = [114, 3802]; // json, jsonb: handed over as text, so amounts are read exactly (never through a double)

/** The URL without its password: it is shown in messages and stored as the run's input. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '';
    return u.toString().replace(/:@/, '@');
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

export async function* readPostgres(url: string, query: string, opts: ReadDumpOptions = {}): AsyncGenerator<DumpEntry> {
  if (!isPostgresUrl(url)) throw new DumpReadError(`--from must be a postgres:// URL, got something else`);
  const where = redactUrl(url);
  const client = new Client({
    connectionString: url,
    types: {
      getTypeParser: (oid: number, format?: string) =>
        JSON_OIDS.includes(oid) ? (v: string) => v : types.getTypeParser(oid, format as 'text'),
    },
  });
  try {
    await client.connect();
  } catch (e) {
    throw new DumpReadError(`cannot connect to ${where}: ${(e as Error).message}`);
  }
  const skip = opts.startAfterLine ?? 0;
  const sql = skip > 0 ? `select * from (${query}) as rows_to_read offset ${Math.floor(skip)}` : query;
  let row = skip;
  let inputBytes = 0;
  try {
    const stream = client.query(new QueryStream(sql, [], { batchSize: BATCH_ROWS }));
    for await (const r of stream as AsyncIterable<Record<string, unknown>>) {
      row++;
      if (!('record' in r))
        throw new DumpReadError(
          `the query must return a column named record (select … as record from …); it returned ${Object.keys(r).length} other columns`,
        );
      const v = r.record;
      const text = typeof v === 'string' ? v : v === null ? 'null' : JSON.stringify(v);
      const bytes = Buffer.byteLength(text);
      inputBytes += bytes;
      yield { line: row, bytes, inputBytes, result: convertLine(text, opts) };
    }
    if (row === 0 && skip === 0)
      throw new DumpReadError(`the query on ${where} returned no rows, expected one record per row`);
  } catch (e) {
    if (e instanceof DumpReadError) throw e;
    throw new DumpReadError(`reading ${where} failed after row ${row}: ${(e as Error).message}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
