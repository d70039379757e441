/**
 * No personal data of a running import in clear in Redis: a dump's emails and phone numbers are looked for in every
 * value of every key while the run is paused mid-way. Then `purge` (refused mid-run) and the failed-job sweep.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { createLogger, QUEUES } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { fixtures } from '@mk/converters';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startPrivateRedis, testSealer, TEST_PAYLOAD_KEYS, type PrivateRedis } from '@mk/testkit';
import { importApiFromClient, startImportWorker, type ImportWorker } from '@mk/worker';
import { startFailedJobSweep } from '../../worker/src/import/failed-job-sweep';
import { EXIT, main } from '../src';

const PREFIX = '{pii}';
const logger = createLogger('test', { level: 'silent' });
const quiet = { out: () => undefined, err: () => undefined };
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
let client: MoneyKitClient;
let worker: ImportWorker | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-pii-'));
const env = () => ({
  REDIS_URL: redisServer.url,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
});

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 3, logLevel: 'silent' });
  client = new MoneyKitClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret });
});
afterAll(async () => {
  await worker?.close();
  client.close();
  await sandbox.close();
  redis.disconnect();
  await redisServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every value Redis holds under every key, as text. */
async function everyValue(): Promise<{ keys: string[]; text: string }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const parts: string[] = [];
  for (const key of keys) {
    const type = await redis.type(key);
    if (type === 'string') parts.push((await redis.get(key)) ?? '');
    else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
    else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
    else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
    else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1)));
    else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    parts.push(key);
  }
  return { keys, text: parts.join('\n') };
}

describe('PII at rest', () => {
  it('keeps no email or phone number of a running import in clear anywhere in Redis, and purges a finished run', async () => {
    const dump = path.join(dir, 'pii.ndjson');
    await fixtures.writeDumpFile(dump, { users: 60, format: 'mixed', txPerAccount: 4, badShare: 0, seed: 21 });
    const dumpText = fs.readFileSync(dump, 'utf8');
    const seeded = [
      ...new Set([
        ...(dumpText.match(/user-\d+@example\.com/g) ?? []),
        ...(dumpText.match(/\+1 415 555 \d{4}/g) ?? []),
      ]),
    ];
    expect(seeded.length).toBeGreaterThan(60);

    // Enqueued with no worker yet, then a slow worker paused once a few users are in.
    expect(
      await main(['run', dump, '--run', 'pii', '--rejects', path.join(dir, 'pii.rejects.ndjson')], env(), quiet),
    ).toBe(EXIT.success);
    const ledger = new MigrationLedger(redis, PREFIX);
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    worker = startImportWorker({
      redis,
      prefix: PREFIX,
      api: importApiFromClient(client),
      ledger,
      logger,
      sealer: testSealer(),
      sink: { linkImported: async () => undefined },
      ratePerMinute: 600,
      concurrency: 2,
      backoffBaseMs: 20,
      backoffMaxMs: 300,
      lockDurationMs: 30_000,
      upstreamWaitMs: 3500,
    });
    for (let i = 0; i < 600 && (await ledger.counts('pii')).imported < 4; i++)
      await new Promise((r) => setTimeout(r, 50));
    await queue.pause();
    const counts = await ledger.counts('pii');
    expect(counts.imported).toBeGreaterThan(0);
    expect(counts.pending).toBeGreaterThan(0);

    const { keys, text } = await everyValue();
    expect(keys.some((k) => k.includes(`:${QUEUES.import}:`))).toBe(true);
    expect(text.includes('v1.test.')).toBe(true); // the waiting jobs were read: their payloads are sealed
    expect(seeded.filter((value) => text.includes(value))).toEqual([]);

    // purge refuses a run still in progress; once it is finished it removes its jobs and keeps the ledger.
    expect(await main(['purge', 'pii'], env(), quiet)).toBe(EXIT.inProgress);
    await queue.resume();
    for (let i = 0; i < 1200; i++) {
      const c = await ledger.counts('pii');
      if (c.pending + c.importing + c.linked === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const out: string[] = [];
    expect(await main(['purge', 'pii'], env(), { out: (s) => out.push(s), err: () => undefined })).toBe(EXIT.success);
    expect(out.join('\n')).toMatch(/import jobs and their payloads removed; the ledger is kept/);
    expect((await ledger.counts('pii')).imported).toBeGreaterThan(60);
    await queue.close();
  }, 120_000);

  it('sweeps failed import jobs, and their sealed payloads, past the retention age', async () => {
    const prefix = '{pii-sweep}';
    const queue = new Queue(QUEUES.import, { connection: redis, prefix });
    const failing = new Worker(
      QUEUES.import,
      async () => {
        throw new UnrecoverableError('no');
      },
      { connection: redis, prefix },
    );
    await queue.add('import', { runId: 'r', sealed: 'x' }, { jobId: 'r-u-L1', attempts: 1 });
    for (let i = 0; i < 200 && (await queue.getFailedCount()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await queue.getFailedCount()).toBe(1);
    const sweep = startFailedJobSweep({ queue, maxAgeMs: 60_000, logger });
    expect(await sweep.sweep()).toBe(0); // younger than the retention: kept
    sweep.stop();
    const now = startFailedJobSweep({ queue, maxAgeMs: 0, logger });
    expect(await now.sweep()).toBe(1);
    now.stop();
    expect(await queue.getJob('r-u-L1')).toBeUndefined();
    await failing.close();
    await queue.close();
  });
});
