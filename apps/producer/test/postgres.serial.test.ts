/**
 * Straight from the team's PostgreSQL, against a real server the test starts (packages/testkit postgres-server):
 * 100,000 users in a table → `plan` from the query with flat memory and rejects carrying row numbers; `run` over all
 * 100,000 in a producer process of its own (flat memory, beside a run of a tenth of it) → a worker imports what it
 * does in a bounded while against the sandbox (all 100,000 would take minutes) → `report --to postgres://… --table
 * migration_links` has every record with its outcome of the moment, SQL counts matching the ledger's; a link whose
 * user reconnects (the sandbox's webhook) gets its reconnected_at.
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
  startApp,
  startPrivateRedis,
  until,
  type PrivatePostgres,
  type PrivateRedis,
  testSealer,
  TEST_PAYLOAD_KEYS,
} from '@mk/testkit';
import {
  importApiFromClient,
  jwksFromUrl,
  ledgerLinkEvents,
  startImportWorker,
  startWebhookReceiver,
  type ImportWorker,
} from '@mk/worker';
import { EXIT, main } from '../src';

/** MK_PG_TEST_USERS: a smaller table to debug with (a multiple of 20,000 keeps every count exact). */
const USERS = Number(process.env.MK_PG_TEST_USERS ?? 100_000);
/** MK_PG_RUN_USERS: how many of the table's rows `run` enqueues (default all of them). */
const RUN_USERS = Number(process.env.MK_PG_RUN_USERS ?? USERS);
/** The import after the run is bounded: this many, then the worker stops (a whole run would take minutes). */
const IMPORTED_AT_LEAST = Math.min(1000, RUN_USERS / 20);
/** Every BAD_ROW_EVERY-th user has one unreadable transaction (skipped, reported); every NOT_A_RECORD_EVERY-th row is not a record. */
const BAD_ROW_EVERY = 1000;
const NOT_A_RECORD_EVERY = 5000;
const PREFIX = '{pg}';
const describePg = postgresAvailable() ? describe : describe.skip;

let pg: PrivatePostgres;
let sql: Client;
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
let client: MoneyKitClient;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-pg-test-'));
const quiet = { out: () => undefined, err: () => undefined };
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);

const env = (prefix: string) => ({
  REDIS_URL: redisServer.url,
  REDIS_PREFIX: prefix,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
});

/** The producer CLI in a child process of its own: its exit code, output, peak RSS and heap after a full GC at its end. */
async function producerProcess(
  vars: Record<string, string>,
  args: string[],
): Promise<{ code: number | null; output: string; maxRssBytes: number; heapUsedBytes: number; cpuSeconds: number }> {
  const app = startApp('apps/producer/test/support/producer-rss.ts', { ...vars, NODE_OPTIONS: '--expose-gc' }, args);
  const code = await app.exited;
  const rss = /^max-rss (\d+)$/m.exec(app.output());
  const heap = /^heap-used (\d+)$/m.exec(app.output());
  if (!rss || !heap)
    throw new Error(`the producer exited ${code} without its memory lines:\n${app.output().slice(-2000)}`);
  const cpu = /^cpu-ms (\d+)$/m.exec(app.output());
  return {
    code,
    output: app.output(),
    maxRssBytes: Number(rss[1]),
    heapUsedBytes: Number(heap[1]),
    cpuSeconds: Number(cpu?.[1] ?? 0) / 1000,
  };
}

async function sandboxControl(method: string, route: string, body?: unknown): Promise<void> {
  const res = await fetch(`${sandbox.url}/_sandbox${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox ${method} ${route}: HTTP ${res.status} ${await res.text()}`);
}

function importWorker(): ImportWorker {
  return startImportWorker({
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
}

describePg('PostgreSQL source', () => {
  beforeAll(async () => {
    [pg, redisServer, sandbox] = await Promise.all([
      startPrivatePostgres(),
      startPrivateRedis(),
      startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 3, logLevel: 'silent' }),
    ]);
    client = new MoneyKitClient({
      baseUrl: sandbox.url,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
    });
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
    client?.close();
    await Promise.all([pg?.stop(), redisServer?.stop(), sandbox?.close()]);
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

  it(`runs ${RUN_USERS.toLocaleString('en-US')} of its users from the query with flat memory, then reports every record to PostgreSQL`, async () => {
    const started = Date.now();
    const notRecords = RUN_USERS / NOT_A_RECORD_EVERY;
    const badRows = RUN_USERS / BAD_ROW_EVERY - notRecords;
    const users = RUN_USERS - notRecords;
    // No worker drains the queue while `run` reads: the queue holds the whole run (backpressure would wait for one).
    const runArgs = (runId: string, query: string) => [
      'run',
      '--from',
      pg.url,
      '--query',
      query,
      '--run',
      runId,
      '--rejects',
      path.join(dir, `${runId}.rejects.ndjson`),
      '--max-waiting',
      String(RUN_USERS + 1),
    ];
    // The same run over a tenth of the table, in a prefix of its own: the producer's RSS at a tenth of the rows.
    const tenth = await producerProcess(
      env('{pg10k}'),
      runArgs('pg10k', `select record from users where id <= ${RUN_USERS / 10} order by id`),
    );
    expect(tenth.code).toBe(EXIT.success);
    const full = await producerProcess(
      env(PREFIX),
      runArgs('pg', `select record from users where id <= ${RUN_USERS} order by id`),
    );
    expect(full.code).toBe(EXIT.success);
    const enqueued = `read ${users} users, enqueued ${users}, already done 0, rejected ${notRecords + badRows}`;
    expect(full.output).toContain(`run pg: ${enqueued}`);
    const enqueueSeconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `run of ${RUN_USERS} rows (and one of ${RUN_USERS / 10}) enqueued in ${enqueueSeconds.toFixed(1)} s; producer CPU ${full.cpuSeconds.toFixed(1)} s / ${tenth.cpuSeconds.toFixed(1)} s\n`,
    );

    const ledger = new MigrationLedger(redis, PREFIX);
    expect(await ledger.counts('pg')).toMatchObject({ pending: users, imported: 0, failed: 0 });
    expect(await ledger.getRun('pg')).toMatchObject({
      usersSeen: users,
      usersEnqueued: users,
      rejects: notRecords + badRows,
    });
    const rejectRows = fs
      .readFileSync(path.join(dir, 'pg.rejects.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { row: number }).row);
    expect(rejectRows).toEqual(Array.from({ length: notRecords + badRows }, (_, i) => (i + 1) * BAD_ROW_EVERY));
    // Flat: what the producer still holds after a full GC does not grow with the rows (measured: 31 MB at 10,000 rows,
    // 30 MB at 100,000). A producer that kept its rows, jobs or ids would hold ≥ 90,000 × 500 B = 45 MB more.
    expect(Math.abs(full.heapUsedBytes - tenth.heapUsedBytes)).toBeLessThan(4 * 1024 * 1024);
    // Peak RSS grows a little with the run's length (V8 lets garbage pile up before a full GC: 79 MB more at 100,000
    // rows than at 10,000 on a quiet machine); the run held as objects would be 90,000 × ≥ 2 KB = 180 MB more.
    expect(full.maxRssBytes - tenth.maxRssBytes).toBeLessThan(150 * 1024 * 1024);

    // Import what a worker does in a bounded while (all 100,000 would take minutes): the rest stays pending.
    const importStarted = Date.now();
    const worker = importWorker();
    try {
      await until(
        'the worker imports some of the run',
        async () => (await ledger.counts('pg')).imported >= IMPORTED_AT_LEAST,
        {
          timeoutMs: 60_000,
          diagnose: async () => JSON.stringify(await ledger.counts('pg')),
        },
      );
    } finally {
      await worker.close();
    }
    const importSeconds = (Date.now() - importStarted) / 1000;
    process.stderr.write(`imported ${IMPORTED_AT_LEAST}+ in ${importSeconds.toFixed(1)} s; reporting\n`);
    const counts = await ledger.counts('pg');
    expect(counts.imported).toBeGreaterThanOrEqual(IMPORTED_AT_LEAST);
    expect(counts.pending).toBeGreaterThan(0);
    const byOutcome = Object.fromEntries(
      (['pending', 'importing', 'imported', 'failed'] as const).filter((s) => counts[s] > 0).map((s) => [s, counts[s]]),
    );
    expect(Object.values(byOutcome).reduce((a, b) => a + b, 0)).toBe(users);

    const reportStarted = Date.now();
    for (let pass = 0; pass < 2; pass++) {
      expect(await main(['report', 'pg', '--to', pg.url, '--table', 'migration_links'], env(PREFIX), quiet)).toBe(
        EXIT.success,
      ); // written, whatever the run's outcome; a second pass updates the same rows
      const { rows } = await sql.query<{ outcome: string; n: number; linked: number; dated: number }>(
        `select outcome, count(*)::int as n, count(link_id)::int as linked, count(imported_at)::int as dated
           from migration_links group by outcome`,
      );
      expect(Object.fromEntries(rows.map((r) => [r.outcome, r.n]))).toEqual(byOutcome);
      const imported = rows.find((r) => r.outcome === 'imported')!;
      expect(imported).toMatchObject({ linked: counts.imported, dated: counts.imported });
      expect(rows.find((r) => r.outcome === 'pending')).toMatchObject({ linked: 0, dated: 0 });
    }
    const reportSeconds = (Date.now() - reportStarted) / 1000;
    process.stderr.write(`report --to postgres ×2 of ${users} records: ${reportSeconds.toFixed(1)} s\n`);
    // The CSV report says the same of every record.
    const csv = path.join(dir, 'pg.report.csv');
    expect(await main(['report', 'pg', '--out', csv], env(PREFIX), quiet)).toBe(EXIT.success);
    const csvOutcomes: Record<string, number> = {};
    for (const line of fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1)) {
      const outcome = line.split(',')[3]!;
      csvOutcomes[outcome] = (csvOutcomes[outcome] ?? 0) + 1;
    }
    expect(csvOutcomes).toEqual(byOutcome);
    const { rows: one } = await sql.query(
      `select source_user_id, source_connection_id from migration_links where source_user_id = 'user-0000007'`,
    );
    expect(one).toEqual([{ source_user_id: 'user-0000007', source_connection_id: 'plaid:item-7' }]);
    expect(
      await main(['report', 'pg', '--to', pg.url, '--table', 'bad name; drop table users'], env(PREFIX), quiet),
    ).toBe(EXIT.error);
    process.stderr.write(
      `run of ${RUN_USERS} rows: enqueued in ${enqueueSeconds.toFixed(1)} s (both runs), producer maxRSS ${mb(tenth.maxRssBytes)} MB at ${RUN_USERS / 10} rows, ${mb(full.maxRssBytes)} MB at ${RUN_USERS}, heap after GC ${mb(tenth.heapUsedBytes)} / ${mb(full.heapUsedBytes)} MB; ` +
        `${counts.imported} imported in ${importSeconds.toFixed(1)} s; report --to postgres ×2 in ${reportSeconds.toFixed(1)} s\n`,
    );
  }, 600_000); // ~60 s on a quiet machine (35 s of it the enqueue of 110,000 rows), a few minutes on a loaded one

  it('fills reconnected_at once the sandbox reconnects a link, and never writes NULL over a value', async () => {
    const ledger = new MigrationLedger(redis, PREFIX);
    // Three links the previous test's worker imported.
    const { rows: links } = await sql.query<{ source_user_id: string; source_connection_id: string; link_id: string }>(
      `select source_user_id, source_connection_id, link_id from migration_links
         where outcome = 'imported' order by source_user_id limit 3`,
    );
    expect(links).toHaveLength(3);
    const records = links.map((l) => ({ sourceUserId: l.source_user_id, connectionId: l.source_connection_id }));
    const receiver = await startWebhookReceiver({
      port: 0,
      redis,
      prefix: PREFIX,
      fetchJwks: jwksFromUrl(sandbox.url),
      links: ledgerLinkEvents(ledger),
      logger: createLogger('test', { level: 'silent' }),
    });
    try {
      await sandboxControl('PUT', '/webhook', { url: receiver.url });
      // The end users of the first two reconnect (the sandbox's link.state_changed → connected webhook).
      for (const l of links.slice(0, 2)) await sandboxControl('POST', `/links/${l.link_id}/reconnect`);
      await until(
        'the webhook records both reconnects in the ledger',
        async () => (await ledger.reconnectedAtMany('pg', records)).filter((at) => at !== undefined).length === 2,
        { timeoutMs: 10_000, diagnose: async () => JSON.stringify(await ledger.reconnectedAtMany('pg', records)) },
      );
    } finally {
      await receiver.close();
    }
    const [first, second, third] = await ledger.reconnectedAtMany('pg', records);
    expect(third).toBeUndefined();
    // The team's backend knows of the third link's reconnect by itself: the report must not erase it.
    const theirs = new Date('2027-01-02T03:04:05Z');
    await sql.query(`update migration_links set reconnected_at = $1 where source_user_id = $2`, [
      theirs,
      links[2]!.source_user_id,
    ]);
    for (let pass = 0; pass < 2; pass++) {
      expect(await main(['report', 'pg', '--to', pg.url, '--table', 'migration_links'], env(PREFIX), quiet)).toBe(
        EXIT.success,
      );
      const { rows } = await sql.query<{ reconnected_at: Date | null }>(
        `select reconnected_at from migration_links where source_user_id = any($1) order by source_user_id`,
        [links.map((l) => l.source_user_id)],
      );
      expect(rows.map((r) => r.reconnected_at)).toEqual([new Date(first!), new Date(second!), theirs]);
      const { rows: count } = await sql.query(`select count(reconnected_at)::int as n from migration_links`);
      expect(count[0]).toEqual({ n: 3 });
    }
    // The CSV report has the ledger's (and only the ledger's) in its reconnected_at column.
    const csv = path.join(dir, 'pg.reconnected.csv');
    await main(['report', 'pg', '--out', csv], env(PREFIX), quiet);
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    const column = lines[0]!.split(',').indexOf('reconnected_at');
    const reconnectedAt = (user: string) => lines.find((l) => l.startsWith(`${user},`))!.split(',')[column];
    expect(links.map((l) => reconnectedAt(l.source_user_id))).toEqual([
      new Date(first!).toISOString(),
      new Date(second!).toISOString(),
      '',
    ]);
  }, 60_000);
});
