/**
 * Credentials against the sandbox: a MoneyKit that restarts (and forgets every token) costs one fresh token,
 * not a paused queue; credentials really refused pause the import queue, marked as the worker's, and it
 * resumes by itself once they are accepted again; an operator's own pause is never undone.
 */
import { Writable } from 'node:stream';
import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { importJob, QUEUES, createLogger, jobId, keys, planImport } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { startSandbox, type RunningSandbox, type SandboxOptions } from '@mk/sandbox';
import { startPrivateRedis, type PrivateRedis, testSealer, until as waitUntil } from '@mk/testkit';
import { CREDENTIALS_REFUSED } from '../src/credentials-pause';
import { importApiFromClient, startImportWorker, type ImportWorker } from '../src/import';
import { importJobs } from './support/users';

const SECRET = 'the-secret-of-this-app';
const MARK = (prefix: string) => keys(prefix).queuePause(QUEUES.import);
let redisServer: PrivateRedis;
let redis: IORedis;
let sandboxes: RunningSandbox[] = [];
let client: MoneyKitClient | undefined;
let worker: ImportWorker | undefined;
let queue: Queue | undefined;

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis.disconnect();
  await redisServer.stop();
});
afterEach(async () => {
  await worker?.close();
  await queue?.close();
  client?.close();
  await Promise.all(sandboxes.map((s) => s.close()));
  sandboxes = [];
  worker = undefined;
  queue = undefined;
  client = undefined;
});

async function sandbox(opts: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const sb = await startSandbox({
    latency: 'none',
    importRatePerMinute: 1_000_000,
    logLevel: 'silent',
    clientSecret: SECRET,
    ...opts,
  });
  sandboxes.push(sb);
  return sb;
}

async function restart(sb: RunningSandbox, opts: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  await sb.close();
  sandboxes = sandboxes.filter((s) => s !== sb);
  return sandbox({ port: sb.port, ...opts });
}

const until = (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) =>
  waitUntil(what, check, { timeoutMs, everyMs: 25 });

/** Log records of the worker, kept to look for what it said. */
function recordingLogger() {
  const records: { level: number; msg: string }[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger('test', { level: 'info', destination }), records };
}

async function run(prefix: string, runId: string, users: number, baseUrl: string, opts: { latencyMs?: number } = {}) {
  const ledger = new MigrationLedger(redis, prefix);
  queue = new Queue(QUEUES.import, { connection: redis, prefix });
  const jobs = importJobs(runId, users);
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
  const total = jobs.reduce((n, j) => n + j.connections.length, 0);
  const { logger, records } = recordingLogger();
  client = new MoneyKitClient({
    baseUrl,
    clientId: 'sandbox-client-id',
    clientSecret: SECRET,
    importTimeoutMs: 1000,
    timeoutMs: 1000,
    logger,
  });
  worker = startImportWorker({
    sealer: testSealer(),
    redis,
    prefix,
    api: importApiFromClient(client),
    ledger,
    logger,
    ratePerMinute: 60_000,
    concurrency: 4,
    backoffBaseMs: 50,
    backoffMaxMs: 1000,
    lockDurationMs: 30_000,
    upstreamWaitMs: 200 + (opts.latencyMs ?? 0),
    sink: { linkImported: async () => undefined },
    credentialsProbe: { probeBaseMs: 100, probeMaxMs: 400, pollMs: 25 },
  });
  const done = async () => {
    const c = await ledger.counts(runId);
    return c.imported + c.failed === total;
  };
  return { ledger, queue, total, records, done };
}

describe('credentials', () => {
  it('a MoneyKit restarted on the same port mid-run (every token forgotten): the import finishes, never paused', async () => {
    const first = await sandbox({ latency: { baseMs: 15, perKbMs: 0, maxMs: 15 } });
    const { ledger, queue, total, records, done } = await run('{restart}', 'restart', 90, first.url, { latencyMs: 15 });
    await until('a third imported', async () => (await ledger.counts('restart')).imported >= total / 3);
    const second = await restart(first, { latency: { baseMs: 15, perKbMs: 0, maxMs: 15 } });
    await until('the run to finish', done, 60_000);

    expect(await ledger.counts('restart')).toMatchObject({ imported: total, failed: 0 });
    expect(await queue.isPaused()).toBe(false);
    expect(await redis.exists(MARK('{restart}'))).toBe(0);
    expect(records.filter((r) => /refused our credentials/.test(r.msg))).toEqual([]);
    // The restarted sandbox saw our old token once per call in flight, then one fresh token served everything.
    expect(records.some((r) => /refused our access token/.test(r.msg))).toBe(true);
    expect(second.state.counters()).toMatchObject({ tokensIssued: 1, duplicateLinks: 0 });
  }, 90_000);

  it('credentials really refused: the queue pauses marked as ours, stays paused while they are, and resumes by itself once they are accepted', async () => {
    const revoked = await sandbox({ clientSecret: 'a-secret-we-do-not-have' });
    const { ledger, queue, total, done } = await run('{refused}', 'refused', 12, revoked.url);
    await until(
      'the queue to pause',
      async () => (await queue.isPaused()) && (await redis.exists(MARK('{refused}'))) === 1,
    );
    const mark = await redis.hgetall(MARK('{refused}'));
    expect(mark).toMatchObject({ by: expect.stringMatching(/^worker .+:\d+$/), reason: CREDENTIALS_REFUSED });
    expect(Math.abs(Number(mark.at) - Date.now())).toBeLessThan(30_000);

    // An operator resumes it in Bull Board while the credentials are still refused: the worker pauses it again.
    await queue.resume();
    await until(
      'the queue to pause again',
      async () => (await queue.isPaused()) && (await redis.hget(MARK('{refused}'), 'at')) !== mark.at,
    );
    // Probes keep failing (with backoff): still paused, nothing given up, nothing imported.
    await new Promise((r) => setTimeout(r, 600));
    expect(await queue.isPaused()).toBe(true);
    expect(await ledger.counts('refused')).toMatchObject({ imported: 0, failed: 0 });

    // Fixed upstream (the app's secret is accepted again): no restart of the worker, no operator.
    await restart(revoked, { clientSecret: SECRET });
    await until('the run to finish', done);
    expect(await ledger.counts('refused')).toMatchObject({ imported: total, failed: 0 });
    expect(await queue.isPaused()).toBe(false);
    expect(await redis.exists(MARK('{refused}'))).toBe(0);
  }, 90_000);

  it('a worker started while the mark stands (the one that paused died) probes and resumes it', async () => {
    const sb = await sandbox();
    const prefix = '{orphan}';
    const paused = new Queue(QUEUES.import, { connection: redis, prefix });
    await paused.pause();
    await redis.hset(MARK(prefix), { by: 'worker gone:1', reason: CREDENTIALS_REFUSED, at: Date.now() - 60_000 });
    await paused.close();
    const { ledger, total, done } = await run(prefix, 'orphan', 6, sb.url);
    await until('the run to finish', done);
    expect(await ledger.counts('orphan')).toMatchObject({ imported: total, failed: 0 });
    expect(await redis.exists(MARK(prefix))).toBe(0);
  }, 60_000);

  it("an operator's own pause (no mark) is never undone by the probe", async () => {
    const sb = await sandbox();
    const prefix = '{operator}';
    const operatorQueue = new Queue(QUEUES.import, { connection: redis, prefix });
    await operatorQueue.pause();
    const { ledger, queue, total, done } = await run(prefix, 'operator', 6, sb.url);
    // Many poll periods, credentials fine: the probe has every chance to resume it, and must not.
    await new Promise((r) => setTimeout(r, 800));
    expect(await queue.isPaused()).toBe(true);
    expect(await redis.exists(MARK(prefix))).toBe(0);
    expect(await ledger.counts('operator')).toMatchObject({ imported: 0 });
    await operatorQueue.resume();
    await operatorQueue.close();
    await until('the run to finish', done);
    expect(await ledger.counts('operator')).toMatchObject({ imported: total, failed: 0 });
  }, 60_000);
});
