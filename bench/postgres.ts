/**
 * The PostgreSQL source (`--from postgres://… --query …`): rows/s and peak RSS of the producer's read → convert →
 * 1 MB plan path over a table of users, next to a plain pg + pg-query-stream cursor read of the same table, each
 * pass in its own process, in the same run, against a private PostgreSQL the bench starts; then the enqueue of `run`
 * (the same read plus the ledger and the sealed jobs written to a private Redis) next to that read.
 *   node --import tsx bench/postgres.ts [--quick] [--users 1000000]
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'pg';
import { createPlaidUsersTable, startPrivatePostgres, startPrivateRedis } from '@mk/testkit';
import { positive, runAsScript, say, type BenchResult } from './lib/bench';
import type { PostgresPassMode, PostgresPassResult } from './lib/postgres-pass';
import type { Figure } from './lib/report';

const PASS_SCRIPT = path.join(__dirname, 'lib/postgres-pass.ts');
const MB = 1e6;
const QUERY = 'select record from users order by id';
/** The enqueue pass reads at most this many rows (~3,000 users/s into Redis on 2 cores: a million take minutes). */
const RUN_ROWS = { quick: 20_000, full: 200_000 };

function runPass(mode: PostgresPassMode, url: string, query = QUERY, redisUrl?: string): Promise<PostgresPassResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', PASS_SCRIPT, mode, url, query, ...(redisUrl ? [redisUrl] : [])],
      { maxBuffer: 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${mode} pass failed: ${stderr || err.message}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()!) as PostgresPassResult);
      },
    );
  });
}

export async function run(opts: { quick?: boolean; users?: number } = {}): Promise<BenchResult> {
  const users = opts.users ?? (opts.quick ? 100_000 : 1_000_000);
  const pg = await startPrivatePostgres();
  try {
    const client = new Client({ connectionString: pg.url });
    await client.connect();
    say('postgres', `filling a table of ${users.toLocaleString('en-US')} users`);
    await createPlaidUsersTable(client, 'users', users, { badRowEvery: 1000, notARecordEvery: 5000 });
    const { rows } = await client.query<{ mb: string }>(`select round(pg_total_relation_size('users') / 1e6) as mb`);
    await client.end();
    say('postgres', 'plain pg cursor pass');
    const plain = await runPass('pg-cursor', pg.url);
    say('postgres', 'producer pass');
    const ours = await runPass('producer', pg.url);
    if (ours.rows !== plain.rows)
      throw new Error(`the passes disagree on the number of rows: ${ours.rows} vs ${plain.rows}`);
    const runRows = Math.min(users, opts.quick ? RUN_ROWS.quick : RUN_ROWS.full);
    const runQuery = `select record from users where id <= ${runRows} order by id`;
    say('postgres', `run (enqueue) pass over ${runRows.toLocaleString('en-US')} rows, and the read alone of them`);
    const redis = await startPrivateRedis();
    let enqueue: PostgresPassResult;
    try {
      enqueue = await runPass('run', pg.url, runQuery, redis.url);
    } finally {
      await redis.stop();
    }
    const read = await runPass('producer', pg.url, runQuery);
    if (enqueue.rows !== read.rows)
      throw new Error(`run and read disagree on the number of rows: ${enqueue.rows} vs ${read.rows}`);
    const readName = 'the same read without Redis (plan path)';
    const baselineName = 'pg + pg-query-stream cursor, pg JSON parse';
    const figures: Figure[] = [
      {
        name: 'rows/s',
        unit: 'rows/s',
        value: ours.rows / ours.seconds,
        baseline: plain.rows / plain.seconds,
        baselineName,
        higherIsBetter: true,
      },
      {
        name: 'peak RSS',
        unit: 'MB',
        value: ours.maxRssBytes / MB,
        baseline: plain.maxRssBytes / MB,
        baselineName,
        higherIsBetter: false,
      },
      {
        name: `run enqueue rows/s (${runRows.toLocaleString('en-US')} rows)`,
        unit: 'rows/s',
        value: enqueue.rows / enqueue.seconds,
        baseline: read.rows / read.seconds,
        baselineName: readName,
        higherIsBetter: true,
      },
      {
        name: `run peak RSS (${runRows.toLocaleString('en-US')} rows)`,
        unit: 'MB',
        value: enqueue.maxRssBytes / MB,
        baseline: read.maxRssBytes / MB,
        baselineName: readName,
        higherIsBetter: false,
      },
    ];
    return {
      title: `PostgreSQL source: ${users.toLocaleString('en-US')} users from a query`,
      figures,
      notes: [
        `Table: ${users.toLocaleString('en-US')} rows, one Plaid user each (1 item, 1 account, 2 transactions) in a jsonb column, ${rows[0]?.mb} MB on disk; every 1,000th user has one unreadable row, every 5,000th row is not a record.`,
        'Both passes read `' +
          QUERY +
          '` through a server-side cursor (200 rows a fetch) from a private PostgreSQL on the same machine; ' +
          'the producer pass also parses each record exactly (json as text), converts, validates and plans it against the 1 MB rule, without the Redis writes of `run`.',
        `Peak RSS = process.resourceUsage().maxRSS of each pass's own process (node + tsx included); it does not grow with the table: the cursor is read only as fast as records are converted.`,
        `The run pass is \`enqueueRun\` over the first ${runRows.toLocaleString('en-US')} rows into a private Redis, without backpressure (no worker drains the queue): per user a ledger read, the ledger records and one sealed import job, 64 lines at a time (their reads and writes in flight together, the jobs in one addBulk).`,
      ],
    };
  } finally {
    await pg.stop();
  }
}

if (require.main === module) {
  runAsScript(() => {
    const { values } = parseArgs({ options: { quick: { type: 'boolean' }, users: { type: 'string' } } });
    return run({
      quick: values.quick,
      users: values.users === undefined ? undefined : Math.round(positive('users', values.users, 1_000_000)),
    });
  });
}
