/**
 * One timed read of a PostgreSQL table, alone in its process so its peak RSS is its own:
 *   node --import tsx bench/lib/postgres-pass.ts <producer|pg-cursor|run> <postgres-url> <query> [<redis-url>]
 * Prints one JSON line: PostgresPassResult.
 *   producer:  the producer's path — `--from … --query …`: server-side cursor, parse preserving numbers, detect,
 *              convert, validate, plan each connection against the 1 MB rule (usersOf, as `plan` and `run` read).
 *   pg-cursor: a plain pg + pg-query-stream cursor over the same query, records parsed by pg's own jsonb parser.
 *   run:       `run --from … --query …` (enqueueRun): the producer's read, plus the ledger records and one sealed
 *              import job per user written to Redis (no backpressure: no worker drains the queue).
 */
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { Client } from 'pg';
import QueryStream from 'pg-query-stream';
import { MigrationLedger } from '@mk/ledger';
import { createLogger, importJob } from '@mk/shared';
import { testSealer } from '@mk/testkit';
import { usersOf } from '../../apps/producer/src/dump-source';
import { enqueueRun } from '@mk/producer';

export type PostgresPassMode = 'producer' | 'pg-cursor' | 'run';
const MODES: readonly string[] = ['producer', 'pg-cursor', 'run'];

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

async function runPass(url: string, query: string, redisUrl: string): Promise<{ rows: number; rejected: number }> {
  const redis = new IORedis(redisUrl, { maxRetriesPerRequest: null });
  const prefix = '{bench-pg}';
  const queue = new Queue(importJob.queue, { connection: redis, prefix });
  try {
    const progress = await enqueueRun(queue, new MigrationLedger(redis, prefix), {
      runId: 'pg',
      dump: url,
      query,
      rejectsPath: path.join(os.tmpdir(), `mk-bench-pg-${process.pid}.rejects.ndjson`),
      maxWaiting: Number.MAX_SAFE_INTEGER,
      logger: createLogger('bench', { level: 'silent' }),
      sealer: testSealer(),
    });
    // rows: users enqueued plus rows that are not records (a record with an unreadable row is still enqueued)
    return { rows: progress.enqueued + (progress.rejects - progress.rowsSkipped), rejected: progress.rejects };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const [mode, url, query, redisUrl] = process.argv.slice(2);
  if (!mode || !MODES.includes(mode) || !url || !query || (mode === 'run' && !redisUrl))
    throw new Error('usage: postgres-pass.ts <producer|pg-cursor|run> <url> <query> [<redis-url>]');
  const started = process.hrtime.bigint();
  const counts =
    mode === 'producer'
      ? await producerPass(url, query)
      : mode === 'run'
        ? await runPass(url, query, redisUrl!)
        : await cursorPass(url, query);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result: PostgresPassResult = {
    mode: mode as PostgresPassMode,
    ...counts,
    seconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`postgres-pass: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
