/**
 * One timed read of a PostgreSQL table, alone in its process so its peak RSS is its own:
 *   node --import tsx bench/lib/postgres-pass.ts <producer|pg-cursor> <postgres-url> <query>
 * Prints one JSON line: PostgresPassResult.
 *   producer:  the producer's path — `--from … --query …`: server-side cursor, parse preserving numbers, detect,
 *              convert, validate, plan each connection against the 1 MB rule (usersOf, as `plan` and `run` read).
 *   pg-cursor: a plain pg + pg-query-stream cursor over the same query, records parsed by pg's own jsonb parser.
 */
import { Client } from 'pg';
import QueryStream from 'pg-query-stream';
import { usersOf } from '../../apps/producer/src/dump-source';

export type PostgresPassMode = 'producer' | 'pg-cursor';

export interface PostgresPassResult {
  mode: PostgresPassMode;
  rows: number;
  rejected: number;
  seconds: number;
  maxRssBytes: number;
}

async function producerPass(url: string, query: string): Promise<{ rows: number; rejected: number }> {
  let rows = 0;
  let rejected = 0;
  for await (const item of usersOf(url, { query })) {
    rows++;
    if (!item.ok) rejected++;
  }
  return { rows, rejected };
}

async function cursorPass(url: string, query: string): Promise<{ rows: number; rejected: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  let rows = 0;
  let rejected = 0;
  try {
    for await (const r of client.query(new QueryStream(query, [], { batchSize: 200 })) as AsyncIterable<{
      record: unknown;
    }>) {
      rows++;
      if (typeof r.record !== 'object' || r.record === null) rejected++;
    }
  } finally {
    await client.end();
  }
  return { rows, rejected };
}

async function main(): Promise<void> {
  const [mode, url, query] = process.argv.slice(2);
  if ((mode !== 'producer' && mode !== 'pg-cursor') || !url || !query)
    throw new Error('usage: postgres-pass.ts <producer|pg-cursor> <url> <query>');
  const started = process.hrtime.bigint();
  const counts = mode === 'producer' ? await producerPass(url, query) : await cursorPass(url, query);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result: PostgresPassResult = { mode, ...counts, seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`postgres-pass: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
