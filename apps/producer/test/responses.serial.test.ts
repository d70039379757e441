/**
 * Saved API responses end to end: a folder of responses for a few users of each source → `run --layout responses
 * --wait` → links in the sandbox whose transactions, read back with GET /links/{id}/transactions, are the ones the
 * responses hold, signed and dated by each source's own rules (support/saved-responses.ts says them).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { createLogger } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { MoneyKitClient } from '@mk/moneykit-client';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startPrivateRedis, type PrivateRedis, testSealer, TEST_PAYLOAD_KEYS } from '@mk/testkit';
import { importApiFromClient, startImportWorker, type ImportWorker } from '@mk/worker';
import { EXIT, main } from '../src';
import { writeSavedResponses } from './support/saved-responses';

const PREFIX = '{resp}';
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
let client: MoneyKitClient;
let worker: ImportWorker;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-resp-'));

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 5, logLevel: 'silent' });
  client = new MoneyKitClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret });
  worker = startImportWorker({
    sealer: testSealer(),
    redis,
    prefix: PREFIX,
    api: importApiFromClient(client),
    ledger: new MigrationLedger(redis, PREFIX),
    logger: createLogger('test', { level: 'silent' }),
    sink: { linkImported: async () => undefined },
    ratePerMinute: 1_000_000,
    concurrency: 8,
    backoffBaseMs: 20,
    backoffMaxMs: 300,
    lockDurationMs: 30_000,
    upstreamWaitMs: 3500,
  });
});
afterAll(async () => {
  await worker?.close();
  client?.close();
  await sandbox?.close();
  redis?.disconnect();
  await redisServer?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('imports a folder of saved responses of every source; the links read back hold exactly their transactions', async () => {
  const root = path.join(dir, 'responses');
  const expected = writeSavedResponses(root, 3);
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: PREFIX,
    LOG_LEVEL: 'silent',
    PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  };
  const quiet = { out: () => undefined, err: () => undefined };
  expect(
    await main(
      ['run', root, '--layout', 'responses', '--run', 'saved', '--rejects', path.join(dir, 'rejects.ndjson'), '--wait'],
      env,
      quiet,
    ),
  ).toBe(EXIT.success);

  const ledger = new MigrationLedger(redis, PREFIX);
  for (const x of expected) {
    const [record] = await ledger.getMany('saved', x.sourceUserId, [x.connectionId]);
    expect(record).toMatchObject({ state: 'imported', linkId: expect.stringMatching(/^mk_/) });
    const page = await client.getLinkTransactions(record!.linkId!, { page: 1, size: 100 });
    const got = page.transactions
      .map((t) => ({
        id: t.original_id ?? t.transaction_id,
        amount: String(t.type === 'debit' ? -Number(t.amount) : Number(t.amount)),
        date: t.date,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const want = x.transactions
      .map((t) => ({ ...t, amount: String(Number(t.amount)) }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect({ connection: x.connectionId, transactions: got }).toEqual({
      connection: x.connectionId,
      transactions: want,
    });
  }
}, 120_000);
