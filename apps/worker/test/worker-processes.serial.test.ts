/**
 * Several worker processes on one Redis: the shared rate limit holds across them, and a worker killed with
 * SIGKILL mid-run leaves nothing lost or doubled once another picks its jobs up.
 */
import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { importJob, QUEUES, jobId, planImport, type ImportJob } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startApp, startPrivateRedis, type AppProcess, type PrivateRedis } from '@mk/testkit';
import { importJobs } from './support/users';

const PREFIX = '{p}';
let redisServer: PrivateRedis;
let sandbox: RunningSandbox;
let redis: IORedis;
let workers: AppProcess[] = [];

// Each test gets its own Redis: a worker's `stalled-check` key outlives it (for its stalledInterval) and would
// hold back the next test's stalled-job recovery on a shared one.
beforeEach(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.kill('SIGKILL')));
  workers = [];
  await sandbox?.close();
  redis.disconnect();
  await redisServer.stop();
});

function startWorkerProcess(extra: Record<string, string> = {}): AppProcess {
  const w = startApp('apps/worker/src/main.ts', {
    LOG_LEVEL: process.env.WORKER_LOG_LEVEL ?? 'warn',
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: PREFIX,
    WORKER_ROLES: 'import',
    OPS_PORT: '0',
    WEBHOOK_PORT: '0',
    MONEYKIT_BASE_URL: sandbox.url,
    MONEYKIT_CLIENT_ID: sandbox.clientId,
    MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
    MONEYKIT_IMPORT_TIMEOUT_MS: '1000',
    IMPORT_SETTLE_MS: '300',
    IMPORT_BACKOFF_BASE_MS: '50',
    IMPORT_BACKOFF_MAX_MS: '500',
    IMPORT_CONCURRENCY: '8',
    ...extra,
  });
  workers.push(w);
  return w;
}

async function enqueue(runId: string, jobs: ImportJob[]): Promise<number> {
  const ledger = new MigrationLedger(redis, PREFIX);
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
  const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
  await queue.addBulk(
    jobs.map((data) => ({
      name: importJob.name,
      data,
      opts: { ...importJob.options, jobId: jobId(runId, data.sourceUserId) },
    })),
  );
  await queue.close();
  return jobs.reduce((n, j) => n + j.connections.length, 0);
}

async function settled(runId: string, total: number, timeoutMs: number) {
  const ledger = new MigrationLedger(redis, PREFIX);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await ledger.counts(runId);
    if (c.imported + c.failed === total) return c;
    if (Date.now() > deadline) {
      const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
      const jobs = await queue.getJobCounts();
      const failed = (await queue.getFailed()).map((j) => j.failedReason);
      await queue.close();
      const stuck = [];
      for await (const r of ledger.scan(runId)) if (r.state !== 'imported' && r.state !== 'failed') stuck.push(r);
      const qk = `${PREFIX}:${QUEUES.import}`;
      const active = await redis.lrange(`${qk}:active`, 0, -1);
      const locks = await Promise.all(
        active.map(
          async (id) =>
            `${id} lock=${await redis.get(`${qk}:${id}:lock`)} pttl=${await redis.pttl(`${qk}:${id}:lock`)} stc=${await redis.hget(`${qk}:${id}`, 'stc')} ats=${await redis.hget(`${qk}:${id}`, 'ats')}`,
        ),
      );
      const stalledSet = await redis.smembers(`${qk}:stalled`);
      const check = await redis.pttl(`${qk}:stalled-check`);
      const diag = `active ${locks.join(' | ')}\nstalled set ${stalledSet.join(',')} stalled-check pttl ${check}`;
      const clients = [diag, ...String(await redis.client('LIST')).split('\n')].map((l) =>
        l.replace(
          / (fd|laddr|qbuf|qbuf-free|argv-mem|multi-mem|obl|oll|omem|tot-mem|events|user|redir|resp|rbs|rbp|ssub|sub|psub|watch|lib-name|lib-ver)=\S*/g,
          '',
        ),
      );
      throw new Error(
        `not settled at ${Date.now()}: clients ${clients.join('\n')}\n${JSON.stringify(stuck.slice(0, 5))} ${JSON.stringify(c)} jobs ${JSON.stringify(jobs)} ${JSON.stringify(failed)}\n${workers.map((w) => w.output().split('\n').slice(-25).join('\n')).join('\n-----\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('worker processes', () => {
  it('keep one import rate across three processes, spaced evenly, and hold back together after a 429', async () => {
    sandbox = await startSandbox({
      latency: { baseMs: 30, perKbMs: 0, maxMs: 30 },
      importRatePerMinute: 100_000,
      logLevel: 'silent',
    });
    const runId = 'rate';
    const total = await enqueue(runId, importJobs(runId, 40)); // 60 connections
    const ratePerMinute = 600; // one call every 100 ms, whatever the number of processes
    sandbox.state.faults.set({ rateLimitBurst: 3, rateLimitBurstRetryAfterSeconds: 1, endpoints: ['import'] });
    const started = Date.now();
    for (let i = 0; i < 3; i++) startWorkerProcess({ IMPORT_RATE_PER_MIN: String(ratePerMinute) });
    await settled(runId, total, 60_000);
    const elapsedMs = Date.now() - started;
    const c = sandbox.state.counters();
    expect(c.duplicateLinks).toBe(0);
    expect(c.faultsInjected.rateLimitBurst).toBe(3);
    // 60 imports + 3 refused: at 100 ms apart plus at least one 1 s hold, it cannot be faster than this.
    expect(c.importCalls).toBe(total + 3);
    expect(elapsedMs).toBeGreaterThanOrEqual(((total + 3 - 1) * 60_000) / ratePerMinute + 1000 - 500);
    expect(c.maxImportCallsPerMinuteSeen).toBeLessThanOrEqual(total + 3);
  }, 90_000);

  it('lose and double nobody when a worker is SIGKILLed mid-run and another takes over', async () => {
    sandbox = await startSandbox({
      latency: { baseMs: 40, perKbMs: 0.05, maxMs: 200 },
      importRatePerMinute: 1_000_000,
      logLevel: 'silent',
      seed: 3,
    });
    sandbox.state.faults.set({ commitThenFailRate: 0.05, error5xxRate: 0.03, dropRate: 0.03 });
    const runId = 'sigkill';
    const total = await enqueue(runId, importJobs(runId, 150, { heavyEvery: 50 }));
    const env = { IMPORT_RATE_PER_MIN: '60000', IMPORT_LOCK_MS: '2000' };
    const victim = startWorkerProcess(env);
    startWorkerProcess(env);
    const ledger = new MigrationLedger(redis, PREFIX);
    // Kill once work is under way, so jobs and ledger records are caught mid-flight.
    for (let i = 0; i < 200 && (await ledger.counts(runId)).imported < total / 4; i++)
      await new Promise((r) => setTimeout(r, 50));
    await victim.kill('SIGKILL');
    startWorkerProcess(env);
    const counts = await settled(runId, total, 90_000);
    expect(counts.failed).toBe(0);
    const c = sandbox.state.counters();
    expect(c.duplicateLinks).toBe(0);
    expect(c.duplicateTransactions).toBe(0);
    expect(c.liveLinks).toBe(total);
  }, 120_000);

  it('finish their in-flight imports on SIGTERM and exit cleanly, leaving the rest queued for the next worker', async () => {
    sandbox = await startSandbox({
      latency: { baseMs: 400, perKbMs: 0, maxMs: 400 },
      importRatePerMinute: 1_000_000,
      logLevel: 'silent',
    });
    const runId = 'sigterm';
    const total = await enqueue(runId, importJobs(runId, 60));
    const worker = startWorkerProcess({ IMPORT_RATE_PER_MIN: '60000', IMPORT_CONCURRENCY: '4' });
    const ledger = new MigrationLedger(redis, PREFIX);
    // Caught with calls in flight: wait for that moment however slow the worker's start is (no fixed budget).
    const inFlight = async () => {
      const c = await ledger.counts(runId);
      return c.imported >= 4 && c.importing > 0;
    };
    while (!(await inFlight())) await new Promise((r) => setTimeout(r, 20));
    expect(await worker.kill('SIGTERM')).toBe(0);
    const after = await ledger.counts(runId);
    expect(after.importing).toBe(0); // every call it had started was finished and recorded
    expect(after.imported).toBeLessThan(total);
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    expect(await queue.getActiveCount()).toBe(0); // nothing left locked by the stopped worker
    await queue.close();
    startWorkerProcess({ IMPORT_RATE_PER_MIN: '60000' });
    expect(await settled(runId, total, 60_000)).toMatchObject({ imported: total, failed: 0 });
    expect(sandbox.state.counters().duplicateLinks).toBe(0);
  }, 90_000);
});
