import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { importJob, QUEUES, createLogger, jobId, keys, planImport, sealImportJob } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startPrivateRedis, type PrivateRedis, testSealer, until } from '@mk/testkit';
import {
  ImportRateLimiter,
  failOpenConnections,
  importApiFromClient,
  importConnection,
  processImportJob,
  startImportWorker,
  type ImportedLink,
} from '../src/import';
import { importJobs } from './support/users';

const PREFIX = '{t}';
let redisServer: PrivateRedis;
let sandbox: RunningSandbox;
let redis: IORedis;
let client: MoneyKitClient;
const logger = createLogger('test', { level: 'silent' });
/** The worker's configured defaults (apps/worker/src/config.ts), for the tests that do not shorten them. */
const IMPORT_TIMINGS = { backoffBaseMs: 2000, backoffMaxMs: 300_000, lockDurationMs: 30_000, upstreamWaitMs: 30_000 };

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
});
afterEach(async () => {
  client?.close();
  await sandbox?.close();
});

async function enqueue(runId: string, jobs: ReturnType<typeof importJobs>, ledger: MigrationLedger, queue: Queue) {
  for (const job of jobs) {
    await ledger.register(
      runId,
      job.sourceUserId,
      job.line,
      job.connections.map((c) => ({
        connectionId: c.connectionId,
        accounts: 1,
        transactions: c.request.transactions.length,
        batchesTotal: planImport(c.request).batches.length,
      })),
    );
  }
  await queue.addBulk(
    jobs.map((data) => ({
      name: importJob.name,
      data,
      opts: { ...importJob.options, jobId: jobId(runId, data.sourceUserId) },
    })),
  );
}

describe('import worker against the sandbox', () => {
  it('imports every connection exactly once while the sandbox injects 5xx, drops, timeouts and committed-then-failed imports', async () => {
    sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 7, logLevel: 'silent' });
    client = new MoneyKitClient({
      baseUrl: sandbox.url,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
      importTimeoutMs: 600,
      timeoutMs: 2000,
    });
    sandbox.state.faults.set({
      error5xxRate: 0.05,
      dropRate: 0.05,
      timeoutRate: 0.03,
      timeoutMs: 1200,
      commitThenFailRate: 0.1,
    });
    const runId = 'faults';
    const ledger = new MigrationLedger(redis, PREFIX);
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    const jobs = importJobs(runId, 400, { heavyEvery: 150 });
    const connections = jobs.reduce((n, j) => n + j.connections.length, 0);
    await enqueue(runId, jobs, ledger, queue);

    const handedOver: ImportedLink[] = [];
    const worker = startImportWorker({
      sealer: testSealer(),
      redis,
      prefix: PREFIX,
      api: importApiFromClient(client),
      ledger,
      logger,
      ratePerMinute: 1_000_000,
      concurrency: 16,
      backoffBaseMs: 20,
      backoffMaxMs: 300,
      lockDurationMs: 30_000,
      // a call we gave up on may still commit up to the injected 1.2 s hold later: look only well after that
      upstreamWaitMs: 3000,
      sink: { linkImported: async (l) => void handedOver.push(l) },
    });
    try {
      await until(
        'every connection settled',
        async () => {
          const c = await ledger.counts(runId);
          return c.imported + c.failed === connections;
        },
        { timeoutMs: 90_000, everyMs: 100 },
      );
    } finally {
      await worker.close();
      await queue.close();
    }

    const counts = await ledger.counts(runId);
    const sb = sandbox.state.counters();
    expect(sb.faultsInjected.commitThenFail).toBeGreaterThan(10);
    expect(sb.faultsInjected.error5xx + sb.faultsInjected.drop + sb.faultsInjected.timeout).toBeGreaterThan(10);
    expect(counts.failed).toBe(0);
    expect(counts.imported).toBe(connections);
    expect(sb.duplicateLinks).toBe(0);
    expect(sb.liveLinks).toBe(connections);
    expect(sb.duplicateTransactions).toBe(0);
    const totalTx = jobs.flatMap((j) => j.connections).reduce((n, c) => n + c.request.transactions.length, 0);
    expect(sb.transactionsImported).toBe(totalTx);

    const linkIds = new Set<string>();
    let adopted = 0;
    for await (const record of ledger.scan(runId)) {
      expect(record.linkId).toBeDefined();
      linkIds.add(record.linkId!);
      if (record.adopted) adopted++;
    }
    expect(linkIds.size).toBe(connections);
    expect(adopted).toBeGreaterThan(0); // the committed-then-failed imports were found again, not re-created
    expect(new Set(handedOver.map((l) => l.linkId))).toEqual(linkIds);
    expect(handedOver.every((l) => !l.connected && l.grantedProducts.includes('transactions'))).toBe(true);
  }, 120_000);

  it('a worker that lost its job and goes on working is fenced out: no second import call, nothing undone', async () => {
    sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, logLevel: 'silent' });
    client = new MoneyKitClient({
      baseUrl: sandbox.url,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
    });
    const runId = 'zombie';
    const ledger = new MigrationLedger(redis, PREFIX);
    const [job] = importJobs(runId, 1);
    const [stale] = await ledger.register(
      runId,
      job!.sourceUserId,
      job!.line,
      job!.connections.map((c) => ({ connectionId: c.connectionId, accounts: 1, transactions: 3, batchesTotal: 0 })),
    );
    const deps = {
      api: importApiFromClient(client),
      ledger,
      logger,
      limiter: new ImportRateLimiter(redis, PREFIX, 1_000_000),
      upstreamWaitMs: 0,
      sink: { linkImported: async () => undefined },
      sealer: testSealer(),
    };
    const attempt = {
      data: sealImportJob(testSealer(), job!),
      attemptsMade: 0,
      opts: { attempts: 8 },
      id: 'zombie-job',
    };
    // the job's new owner imports the connection while the first worker is stalled
    expect(await processImportJob(deps, attempt)).toEqual({ imported: 1, failed: 0 });
    // the stalled worker wakes up holding the record as it read it before
    await expect(importConnection(deps, stale!, job!.connections[0]!)).rejects.toThrow(/changed by another worker/);
    expect(sandbox.state.counters().importCalls).toBe(1);
    expect(await ledger.get(runId, job!.sourceUserId, job!.connections[0]!.connectionId)).toMatchObject({
      state: 'imported',
    });
  });

  it('a job BullMQ abandons (its workers kept dying) leaves none of its connections open: they fail with the reason, for retry', async () => {
    const runId = 'abandoned';
    const ledger = new MigrationLedger(redis, PREFIX);
    const [job] = importJobs(runId, 2).slice(1); // two connections
    const [first, second] = await ledger.register(
      runId,
      job!.sourceUserId,
      job!.line,
      job!.connections.map((c) => ({ connectionId: c.connectionId, accounts: 1, transactions: 3, batchesTotal: 0 })),
    );
    await ledger.transitionFrom(first!, { state: 'imported', linkId: 'mk_done' });
    await ledger.transitionFrom(second!, { state: 'importing', uncertain: true, sentAt: Date.now() });
    expect(
      await failOpenConnections(
        ledger,
        testSealer(),
        sealImportJob(testSealer(), job!),
        'import job abandoned: its worker died 6 times while holding it',
      ),
    ).toBe(1);
    const [a, b] = await ledger.getMany(
      runId,
      job!.sourceUserId,
      job!.connections.map((c) => c.connectionId),
    );
    expect(a).toMatchObject({ state: 'imported', linkId: 'mk_done' });
    // still uncertain: the retry that re-drives it looks for its link before importing
    expect(b).toMatchObject({
      state: 'failed',
      uncertain: true,
      lastError: { message: expect.stringMatching(/worker died 6 times/) },
    });
  });

  it('fails the connections of a job whose payload is invalid, with the reason, without retrying', async () => {
    sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, logLevel: 'silent' });
    client = new MoneyKitClient({
      baseUrl: sandbox.url,
      clientId: sandbox.clientId,
      clientSecret: sandbox.clientSecret,
    });
    const runId = 'invalid';
    const ledger = new MigrationLedger(redis, PREFIX);
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    const [job] = importJobs(runId, 2).slice(1); // a user with two connections
    (job!.connections[0]!.request as { institution_id: string }).institution_id = '';
    await queue.add(importJob.name, job, { ...importJob.options, jobId: jobId(runId, job!.sourceUserId) });
    const worker = startImportWorker({
      sealer: testSealer(),
      redis,
      prefix: PREFIX,
      api: importApiFromClient(client),
      ledger,
      logger,
      ratePerMinute: 600_000,
      concurrency: 2,
      ...IMPORT_TIMINGS,
      sink: { linkImported: async () => undefined },
    });
    try {
      await until('both connections failed', async () => (await ledger.counts(runId)).failed === 2, {
        timeoutMs: 10_000,
        everyMs: 100,
      });
    } finally {
      await worker.close();
    }
    const records = await ledger.getMany(
      runId,
      job!.sourceUserId,
      job!.connections.map((c) => c.connectionId),
    );
    for (const r of records)
      expect(r?.lastError?.message).toMatch(/invalid import job payload: connections\.0\.request\.institution_id/);
    const failedJob = await queue.getJob(jobId(runId, job!.sourceUserId));
    expect(failedJob?.attemptsMade).toBe(1);
    expect(sandbox.state.counters().importCalls).toBe(0);
    await queue.close();
  });

  it('pauses the import queue when MoneyKit refuses our credentials, instead of burning every attempt', async () => {
    sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, logLevel: 'silent' });
    client = new MoneyKitClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, clientSecret: 'wrong-secret' });
    const runId = 'auth';
    const ledger = new MigrationLedger(redis, PREFIX);
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    await enqueue(runId, importJobs(runId, 3), ledger, queue);
    const worker = startImportWorker({
      sealer: testSealer(),
      redis,
      prefix: PREFIX,
      api: importApiFromClient(client),
      ledger,
      logger,
      ratePerMinute: 600_000,
      concurrency: 1,
      ...IMPORT_TIMINGS,
      backoffBaseMs: 10,
      sink: { linkImported: async () => undefined },
    });
    try {
      await until('the queue paused', () => queue.isPaused(), { timeoutMs: 10_000, everyMs: 100 });
    } finally {
      await worker.close();
    }
    const counts = await ledger.counts(runId);
    expect(counts.failed).toBe(0); // nothing is given up: fix the credentials, resume the queue
    const [first] = await ledger.getMany(runId, 'u0', ['item-0-0']);
    expect(first?.lastError).toMatchObject({ errorClass: 'auth' });
    expect(await redis.hget(keys(PREFIX).queuePause(QUEUES.import), 'reason')).toBe('credentials_refused');
    await redis.del(keys(PREFIX).queuePause(QUEUES.import));
    await queue.resume();
    await queue.obliterate({ force: true });
    await queue.close();
  });
});
