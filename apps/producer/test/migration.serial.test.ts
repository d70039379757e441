/**
 * The whole migration against a real Redis and the sandbox: dump → producer → queue → worker → ledger → report,
 * under injected faults, with the producer killed and re-run part-way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { createLogger } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { fixtures } from '@mk/converters';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import {
  startApp,
  startPrivateRedis,
  type AppProcess,
  type PrivateRedis,
  testSealer,
  TEST_PAYLOAD_KEYS,
} from '@mk/testkit';
import { importApiFromClient, startImportWorker, type ImportWorker } from '@mk/worker';
import { EXIT, main, plan } from '../src';
import { spreadDump } from './support/spread-dump';

const PREFIX = '{mig}';
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
let client: MoneyKitClient;
let worker: ImportWorker;
let workerProcess: AppProcess | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-mig-'));
const logger = createLogger('test', { level: 'silent' });

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await worker?.close();
  await workerProcess?.kill('SIGKILL');
  workerProcess = undefined;
  client?.close();
  await sandbox?.close();
});

async function startStack(faults: Parameters<RunningSandbox['state']['faults']['set']>[0]) {
  sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 11, logLevel: 'silent' });
  sandbox.state.faults.set(faults);
  client = new MoneyKitClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    clientSecret: sandbox.clientSecret,
    importTimeoutMs: 700,
  });
}

function startWorkerInProcess() {
  worker = startImportWorker({
    sealer: testSealer(),
    redis,
    prefix: PREFIX,
    api: importApiFromClient(client),
    ledger: new MigrationLedger(redis, PREFIX),
    logger,
    sink: { linkImported: async () => undefined },
    ratePerMinute: 1_000_000,
    concurrency: 32,
    backoffBaseMs: 20,
    backoffMaxMs: 300,
    lockDurationMs: 30_000,
    // a call we gave up on may still commit up to the injected 1.5 s hold later: look only well after that, loaded machine or not
    upstreamWaitMs: 3500,
  });
}

const env = () => ({
  REDIS_URL: redisServer.url,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
});
const quiet = { out: () => undefined, err: () => undefined };

describe('migration end to end', () => {
  it('imports every connection of a 1,000+ connection mixed dump exactly once under faults, reporting every reject and failure', async () => {
    const dump = path.join(dir, 'mixed.ndjson.gz');
    await fixtures.writeDumpFile(dump, {
      users: 700,
      format: 'mixed',
      txPerAccount: 8,
      heavyShare: 0.004,
      badShare: 0.01,
      seed: 5,
      gzip: true,
    });
    const expected = await plan(dump, { ratePerMinute: 60 });
    expect(expected.connections).toBeGreaterThanOrEqual(1000);
    expect(expected.oversizedConnections).toBeGreaterThan(0);
    expect(expected.rejects).toBeGreaterThan(0);

    await startStack({
      error5xxRate: 0.04,
      dropRate: 0.04,
      timeoutRate: 0.02,
      timeoutMs: 1500,
      commitThenFailRate: 0.08,
    });
    startWorkerInProcess();
    const rejects = path.join(dir, 'mixed.rejects.ndjson');
    const code = await main(['run', dump, '--run', 'mixed', '--rejects', rejects, '--wait'], env(), quiet);
    expect(code).toBe(EXIT.partial); // rejects were reported

    const ledger = new MigrationLedger(redis, PREFIX);
    const counts = await ledger.counts('mixed');
    expect(counts).toMatchObject({ imported: expected.connections, failed: 0, pending: 0, importing: 0, linked: 0 });
    const c = sandbox.state.counters();
    expect(c.duplicateLinks).toBe(0);
    expect(c.duplicateTransactions).toBe(0);
    expect(c.liveLinks).toBe(expected.connections);
    expect(c.transactionsImported).toBe(expected.transactions);
    expect(c.faultsInjected.commitThenFail).toBeGreaterThan(0);

    const rejectLines = fs
      .readFileSync(rejects, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rejectLines).toHaveLength(expected.rejects);
    for (const r of rejectLines) {
      expect(r.line).toBeGreaterThan(0);
      expect(r.reason).toEqual(expect.any(String));
    }

    const csv = path.join(dir, 'mixed.csv');
    expect(await main(['report', 'mixed', '--format', 'csv', '--out', csv], env(), quiet)).toBe(EXIT.success); // the report was written
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(/^source_user_id,source_connection_id,link_id,outcome/);
    expect(rows).toHaveLength(expected.connections + 1);
    expect(rows.slice(1).every((r) => /,mk_[A-Za-z0-9]+,imported,/.test(r))).toBe(true);
  }, 180_000);

  it('resumes after the producer is SIGKILLed mid-run: nobody skipped, nobody doubled', async () => {
    const dump = path.join(dir, 'resume.ndjson');
    await fixtures.writeDumpFile(dump, { users: 300, format: 'mixed', txPerAccount: 5, badShare: 0, seed: 9 });
    const expected = await plan(dump, { ratePerMinute: 60 });
    await startStack({ commitThenFailRate: 0.05 });

    // No worker yet, and room for 25 waiting jobs: the producer blocks part-way, and is killed there.
    const producer = startApp('apps/producer/src/main.ts', { ...env(), PRODUCER_MAX_WAITING: '25' }, [
      'run',
      dump,
      '--run',
      'resume',
      '--rejects',
      path.join(dir, 'r.ndjson'),
    ]);
    const ledger = new MigrationLedger(redis, PREFIX);
    while ((await ledger.counts('resume')).pending < 25) await new Promise((r) => setTimeout(r, 50)); // however slow the start
    await producer.kill('SIGKILL');
    const before = await ledger.counts('resume');
    expect(before.pending).toBeGreaterThanOrEqual(25);
    expect(before.pending).toBeLessThan(expected.connections);

    startWorkerInProcess();
    const code = await main(
      ['run', dump, '--run', 'resume', '--rejects', path.join(dir, 'r.ndjson'), '--wait'],
      env(),
      quiet,
    );
    expect(code).toBe(EXIT.success);
    expect(await ledger.counts('resume')).toMatchObject({ imported: expected.connections, failed: 0, pending: 0 });
    const c = sandbox.state.counters();
    expect(c.duplicateLinks).toBe(0);
    expect(c.liveLinks).toBe(expected.connections);

    // Running the finished run again changes nothing and says so.
    const again = await main(
      ['run', dump, '--run', 'resume', '--rejects', path.join(dir, 'r.ndjson'), '--wait'],
      env(),
      quiet,
    );
    expect(again).toBe(EXIT.success);
    expect(sandbox.state.counters().linksCreated).toBe(c.linksCreated);
    expect((await ledger.getRun('resume'))?.usersSkipped).toBe(expected.users);
  }, 120_000);

  it('imports a user spread over several lines exactly once per connection, with a worker process; retry re-drives what failed', async () => {
    const spread = spreadDump({ users: 60, seed: 8 });
    const dump = path.join(dir, 'spread.ndjson');
    fs.writeFileSync(dump, spread.lines.join('\n') + '\n');
    const expected = await plan(dump, { ratePerMinute: 60 });
    expect(expected).toMatchObject({
      connections: spread.connections,
      usersOnSeveralLines: spread.usersOnSeveralLines,
      duplicateConnections: 2,
    });

    // MoneyKit answers every call with a 500: each connection fails once its attempts are spent.
    await startStack({ error5xxRate: 1 });
    workerProcess = startApp('apps/worker/src/main.ts', {
      ...env(),
      LOG_LEVEL: 'error',
      WORKER_ROLES: 'import',
      OPS_PORT: '0',
      WEBHOOK_PORT: '0',
      MONEYKIT_BASE_URL: sandbox.url,
      MONEYKIT_CLIENT_ID: sandbox.clientId,
      MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
      MONEYKIT_IMPORT_TIMEOUT_MS: '1000',
      IMPORT_RATE_PER_MIN: '60000',
      IMPORT_SETTLE_MS: '50',
      IMPORT_BACKOFF_BASE_MS: '20',
      IMPORT_BACKOFF_MAX_MS: '100',
      IMPORT_CONCURRENCY: '16',
    });
    const rejects = path.join(dir, 'spread.rejects.ndjson');
    const err: string[] = [];
    const io = { out: () => undefined, err: (line: string) => err.push(line) };
    expect(await main(['run', dump, '--run', 'spread', '--rejects', rejects, '--wait'], env(), io)).toBe(EXIT.failure); // nothing imported
    const ledger = new MigrationLedger(redis, PREFIX);
    expect(await ledger.counts('spread')).toMatchObject({
      failed: spread.connections,
      imported: 0,
      pending: 0,
      importing: 0,
      linked: 0,
    });
    // Every failed attempt the worker recorded was counted by the ledger, for "MoneyKit unreachable: N errors".
    const errors = [...(await ledger.activity('spread')).errors.values()].reduce((a, b) => a + b, 0);
    expect(errors).toBeGreaterThanOrEqual(spread.connections * 8);
    expect(sandbox.state.counters().liveLinks).toBe(0);

    // MoneyKit is back: retry --wait brings every connection in, each once.
    sandbox.state.faults.set({ error5xxRate: 0 });
    const code = await main(
      ['retry', 'spread', '--rejects', path.join(dir, 'spread.retry.rejects.ndjson'), '--wait'],
      env(),
      io,
    );
    expect(code).toBe(EXIT.partial); // the two duplicate connections stay rejected
    expect(await ledger.counts('spread')).toMatchObject({
      imported: spread.connections,
      failed: 0,
      pending: 0,
      importing: 0,
      linked: 0,
    });
    const c = sandbox.state.counters();
    expect(c.duplicateLinks).toBe(0);
    expect(c.liveLinks).toBe(spread.connections);
    for (const r of spread.records) expect(c.linksByCustomerUser[r.customerUserId] ?? 0).toBe(r.items);

    const out: string[] = [];
    expect(await main(['status', 'spread'], env(), { out: (l) => out.push(l), err: () => undefined })).toBe(
      EXIT.partial,
    );
    expect(out.join('\n')).toContain('run spread: completed with failures: 2 records rejected');
  }, 180_000);

  it('plans a dump without Redis, and stops at start on a bad setting, naming it', async () => {
    const dump = path.join(dir, 'plan.ndjson');
    await fixtures.writeDumpFile(dump, { users: 20, format: 'plaid', txPerAccount: 3, seed: 2 });
    const out: string[] = [];
    expect(await main(['plan', dump, '--json'], {}, { out: (s) => out.push(s), err: () => undefined })).toBe(
      EXIT.success,
    );
    expect(JSON.parse(out.join(''))).toMatchObject({ users: 20, rejects: 0 });
    const err: string[] = [];
    expect(
      await main(['status'], { PRODUCER_MAX_WAITING: 'lots' }, { out: () => undefined, err: (s) => err.push(s) }),
    ).toBe(EXIT.error);
    expect(err.join('\n')).toMatch(/PRODUCER_MAX_WAITING/);
    expect(await main(['status'], {}, { out: () => undefined, err: (s) => err.push(s) })).toBe(EXIT.error);
    expect(err.join('\n')).toMatch(/REDIS_URL/);
  });
});
