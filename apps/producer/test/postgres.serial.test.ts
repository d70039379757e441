/**
 * Straight from the team's PostgreSQL, against a real server the test starts (packages/testkit postgres-server):
 * 100,000 users in a table → `plan` from the query with flat memory and rejects carrying row numbers; a slice of
 * it → `run --wait` against the sandbox → `report --to postgres://… --table migration_links` and a SQL count that
 * matches. (`run` takes a 400-row slice: at 100,000 users the import alone would take minutes on a loaded machine;
 * the plan reads all 100,000 through the same reader.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { Client } from 'pg';
import { createLogger } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import {
  createPlaidUsersTable,
  postgresAvailable,
  startPrivatePostgres,
  startPrivateRedis,
  type PrivatePostgres,
  type PrivateRedis,
  testSealer,
  TEST_PAYLOAD_KEYS,
} from '@mk/testkit';
import { importApiFromClient, startImportWorker, type ImportWorker } from '@mk/worker';
import { EXIT, main } from '../src';

const USERS = 100_000;
const RUN_SLICE = 400;
/** Every BAD_ROW_EVERY-th user has one unreadable transaction (skipped, reported); every NOT_A_RECORD_EVERY-th row is not a record. */
const BAD_ROW_EVERY = 1000;
const NOT_A_RECORD_EVERY = 5000;
const PREFIX = '{pg}';
const describePg = postgresAvailable() ? describe : describe.skip;

let pg: PrivatePostgres;
let sql: Client;
let redisServer: PrivateRedis;
let redis: IORedis;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-pg-test-'));
const quiet = { out: () => undefined, err: () => undefined };

describePg('PostgreSQL source', () => {
  beforeAll(async () => {
    [pg, redisServer] = await Promise.all([startPrivatePostgres(), startPrivateRedis()]);
    redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
    sql = new Client({ connectionString: pg.url });
    await sql.connect();
    // One Plaid user per row, built on the server so the test does not hold the table in memory either.
    await createPlaidUsersTable(sql, 'users', USERS, {
      badRowEvery: BAD_ROW_EVERY,
      notARecordEvery: NOT_A_RECORD_EVERY,
    });
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    redis?.disconnect();
    await Promise.all([pg?.stop(), redisServer?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`plans ${USERS.toLocaleString('en-US')} users from a query with flat memory; rejects carry row numbers`, async () => {
    const started = Date.now();
    const rejects = path.join(dir, 'plan.rejects.ndjson');
    const out: string[] = [];
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const code = await main(
      ['plan', '--from', pg.url, '--query', 'select record from users order by id', '--rejects', rejects, '--json'],
      { LOG_LEVEL: 'silent' },
      { out: (s) => out.push(s), err: () => undefined },
    );
    clearInterval(sampler);
    expect(code).toBe(EXIT.partial);
    const notRecords = USERS / NOT_A_RECORD_EVERY;
    const badRows = USERS / BAD_ROW_EVERY - notRecords; // the rows that are not records have no transaction to skip
    expect(JSON.parse(out.join(''))).toMatchObject({
      users: USERS - notRecords,
      connections: USERS - notRecords,
      transactions: 2 * (USERS - notRecords) - badRows,
      rejects: notRecords + badRows,
      rowsSkipped: badRows,
    });
    const rows = fs
      .readFileSync(rejects, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { row: number; line?: number; reason: string; field?: string });
    expect(rows).toHaveLength(notRecords + badRows);
    expect(rows.every((r) => r.line === undefined && r.row % BAD_ROW_EVERY === 0)).toBe(true);
    expect(rows.find((r) => r.row === NOT_A_RECORD_EVERY)!.reason).toBe('a record must be a JSON object, got string');
    expect(rows.find((r) => r.row === BAD_ROW_EVERY)).toMatchObject({
      field: 'items[0].transactions[1].amount',
      reason: 'items[0].transactions[1].amount: a string of 1 characters is not a decimal',
    });
    // plan keeps ~100 B per user and connection id (documented in plan.ts); a reader that buffered the result would hold the whole table
    expect(peak - before).toBeLessThan(250 * 1024 * 1024);
    process.stderr.write(
      `plan of ${USERS} rows: ${((Date.now() - started) / 1000).toFixed(1)} s, RSS growth ${((peak - before) / 1e6).toFixed(0)} MB\n`,
    );
  }, 180_000);

  it('runs a slice from the query, then upserts the mapping with report --to postgres (twice, idempotently)', async () => {
    const sandbox: RunningSandbox = await startSandbox({
      latency: 'none',
      importRatePerMinute: 1_000_000,
      seed: 3,
      logLevel: 'silent',
    });
    const client = new MoneyKitClient({
      baseUrl: sandbox.url,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
    });
    const worker: ImportWorker = startImportWorker({
      sealer: testSealer(),
      redis,
      prefix: PREFIX,
      api: importApiFromClient(client),
      ledger: new MigrationLedger(redis, PREFIX),
      logger: createLogger('test', { level: 'silent' }),
      sink: { linkImported: async () => undefined },
      ratePerMinute: 1_000_000,
      concurrency: 16,
      backoffBaseMs: 20,
      backoffMaxMs: 300,
      lockDurationMs: 30_000,
      upstreamWaitMs: 3500,
    });
    try {
      const env = {
        REDIS_URL: redisServer.url,
        REDIS_PREFIX: PREFIX,
        LOG_LEVEL: 'silent',
        PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
      };
      // The slice ends with two users holding a bad row: row numbers are positions in the result, not ids.
      const query = `select record from users where id <= ${RUN_SLICE} or id in (${BAD_ROW_EVERY}, ${2 * BAD_ROW_EVERY}) order by id`;
      const rejects = path.join(dir, 'run.rejects.ndjson');
      expect(
        await main(
          ['run', '--from', pg.url, '--query', query, '--run', 'pg', '--rejects', rejects, '--wait'],
          env,
          quiet,
        ),
      ).toBe(EXIT.partial);
      const expected = RUN_SLICE + 2; // no row of the slice is a non-record; the bad rows cost one transaction each
      expect(await new MigrationLedger(redis, PREFIX).counts('pg')).toMatchObject({ imported: expected, failed: 0 });
      expect(
        fs
          .readFileSync(rejects, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).row),
      ).toEqual([RUN_SLICE + 1, RUN_SLICE + 2]);

      for (let pass = 0; pass < 2; pass++) {
        expect(await main(['report', 'pg', '--to', pg.url, '--table', 'migration_links'], env, quiet)).toBe(
          EXIT.success,
        ); // written, whatever the run's outcome
        const { rows } = await sql.query(
          `select count(*)::int as n, count(link_id)::int as linked, count(imported_at)::int as dated from migration_links where outcome = 'imported'`,
        );
        expect(rows[0]).toEqual({ n: expected, linked: expected, dated: expected });
      }
      const { rows: one } = await sql.query(
        `select source_user_id, source_connection_id, link_id from migration_links where source_user_id = 'user-0000007'`,
      );
      expect(one).toEqual([
        {
          source_user_id: 'user-0000007',
          source_connection_id: 'plaid:item-7',
          link_id: expect.stringMatching(/^mk_/),
        },
      ]);
      expect(await main(['report', 'pg', '--to', pg.url, '--table', 'bad name; drop table users'], env, quiet)).toBe(
        EXIT.error,
      );
    } finally {
      await worker.close();
      client.close();
      await sandbox.close();
    }
  }, 180_000);
});
