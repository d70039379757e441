/**
 * The cutover end to end, against a real Redis and the sandbox over HTTP (its read limits on, as MoneyKit's):
 * run → a newer dump with new rows, rows posted since pending, changed rows and new users → topup → verify exits 0
 * with the expected counts; then a duplicate link created behind the service's back (the sandbox's /links/import,
 * directly) is found by verify and removed by --delete-duplicates --yes (a dry run first).
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
import { EXIT, main, plan } from '../src';
import { writeCutoverDumps } from './support/cutover';

const PREFIX = '{cut}';
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
let client: MoneyKitClient;
let worker: ImportWorker;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-cutover-'));
const logger = createLogger('test', { level: 'silent' });

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 12, logLevel: 'silent' });
  client = new MoneyKitClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, clientSecret: sandbox.clientSecret });
  worker = startImportWorker({
    sealer: testSealer(),
    redis,
    prefix: PREFIX,
    api: importApiFromClient(client),
    ledger: new MigrationLedger(redis, PREFIX),
    logger,
    sink: { linkImported: async () => undefined },
    ratePerMinute: 1_000_000,
    concurrency: 8,
    backoffBaseMs: 20,
    backoffMaxMs: 300,
    lockDurationMs: 30_000,
    upstreamWaitMs: 200,
  });
});
afterAll(async () => {
  await worker?.close();
  client?.close();
  await sandbox?.close();
  redis.disconnect();
  await redisServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const env = () => ({
  REDIS_URL: redisServer.url,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
  PRODUCER_OUT_DIR: dir,
  VERIFY_READS_PER_MIN: '60000',
  MONEYKIT_BASE_URL: sandbox.url,
  MONEYKIT_CLIENT_ID: sandbox.clientId,
  MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
});
function cli() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}
const verifyRows = () =>
  JSON.parse(fs.readFileSync(path.join(dir, 'cut.verify.json'), 'utf8')) as Record<string, string | number>[];

describe('the cutover: run → topup → verify', () => {
  it('tops up exactly what is new, proves every link landed, and finds and removes a duplicate made behind its back', async () => {
    const first = path.join(dir, 'v1.ndjson');
    const newer = path.join(dir, 'v2.ndjson');
    const dumps = writeCutoverDumps(first, newer, { users: 24, newUsers: 4, seed: 21 });
    expect(dumps.posted).toBeGreaterThan(0); // the generator leaves some recent rows pending
    const v1 = await plan(first, { ratePerMinute: 60 });

    expect(await main(['run', first, '--run', 'cut', '--wait'], env(), cli().io)).toBe(EXIT.success);
    const afterRun = sandbox.state.counters();
    expect(afterRun.transactionsImported).toBe(v1.transactions);

    // The plan of the top-up: what will be sent, what is reported, what is new, and the calls.
    const planned = cli();
    expect(await main(['plan', newer, '--topup-of', 'cut', '--json'], env(), planned.io)).toBe(EXIT.success);
    const p = JSON.parse(planned.out.join('')) as Record<string, number>;
    expect(p).toMatchObject({
      transactionsNew: dumps.added + dumps.posted,
      transactionsChanged: dumps.changed,
      skippedReconnected: 0,
      notImported: 0,
    });
    expect(p.newConnections).toBeGreaterThanOrEqual(dumps.newUsers);
    expect(p.topupCalls).toBe(p.connectionsToTopUp); // small top-ups: one batch each
    expect(sandbox.state.counters().importTransactionsCalls).toBe(afterRun.importTransactionsCalls); // a plan sends nothing

    const topped = cli();
    expect(await main(['topup', newer, '--run', 'cut', '--wait'], env(), topped.io)).toBe(EXIT.success);
    expect(topped.out.join('\n')).toMatch(
      new RegExp(`topped up with ${dumps.added + dumps.posted} transactions, 0 could not be`),
    );
    const changedCsv = fs.readdirSync(dir).find((f) => f.endsWith('.changed.csv'))!;
    expect(fs.readFileSync(path.join(dir, changedCsv), 'utf8').trim().split('\n')).toHaveLength(dumps.changed + 1);
    const c = sandbox.state.counters();
    expect(c.duplicateTransactions).toBe(0);
    expect(c.duplicateLinks).toBe(0);
    expect(c.transactionsImported - afterRun.transactionsImported).toBe(
      p.transactionsNew! + p.newConnectionTransactions!,
    );
    expect(c.liveLinks).toBe(v1.connections + p.newConnections!);

    // The same top-up again: nothing left to send.
    const again = cli();
    expect(await main(['topup', newer, '--run', 'cut', '--wait'], env(), again.io)).toBe(EXIT.success);
    expect(again.out.join('\n')).toMatch(/0 linked connections to top up with 0 transactions/);
    expect(sandbox.state.counters().transactionsImported).toBe(c.transactionsImported);

    const verified = cli();
    expect(await main(['verify', 'cut'], env(), verified.io)).toBe(EXIT.success);
    const rows = verifyRows();
    expect(rows).toHaveLength(v1.connections + p.newConnections!);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    expect(rows.reduce((n, r) => n + Number(r.transactions_found), 0)).toBe(c.transactionsImported);
    expect(fs.readFileSync(path.join(dir, 'cut.verify.csv'), 'utf8').split('\n')[0]).toMatch(
      /^source_user_id,source_connection_id,link_id,status,/,
    );
    expect(sandbox.state.counters().readRateLimited429s).toBe(0);

    // A duplicate made behind the service's back: the same user, institution and accounts, imported directly.
    const victim = rows[0]!;
    const links = await client.getUserLinks(String(victim.source_user_id));
    const original = links[String(victim.link_id)]!;
    // read from the sandbox's own state: a read of MoneyKit here would spend one of the link's 4 account reads a minute
    const accounts = sandbox.state.links.get(original.link_id)!.accounts.map((a) => ({ original_id: a.originalId }));
    const duplicate = await client.importLink({
      customer_user: { id: String(victim.source_user_id) },
      institution_id: original.institution_id,
      accounts: accounts.map((a) => ({
        account_id: a.original_id!,
        name: 'dup',
        type: 'depository.checking',
        balances: { currency: 'USD' },
      })),
      transactions: [],
    });

    expect(await main(['verify', 'cut'], env(), cli().io)).toBe(EXIT.partial);
    const found = verifyRows();
    expect(found[0]).toMatchObject({ status: 'mismatch', duplicate_links: duplicate.link_id }); // mismatches first

    const dry = cli();
    expect(await main(['verify', 'cut', '--delete-duplicates'], env(), dry.io)).toBe(EXIT.partial);
    expect(dry.out.join('\n')).toMatch(/extra links 1 \(dry run/);
    expect((await client.getUserLinks(String(victim.source_user_id)))[duplicate.link_id]).toBeDefined();

    const removed = cli();
    expect(await main(['verify', 'cut', '--delete-duplicates', '--yes'], env(), removed.io)).toBe(EXIT.success);
    expect(removed.out.join('\n')).toMatch(/extra links 1, deleted 1/);
    expect((await client.getUserLinks(String(victim.source_user_id)))[duplicate.link_id]).toBeUndefined();
    expect(sandbox.state.counters().liveLinks).toBe(v1.connections + p.newConnections!);
    expect(sandbox.state.counters().readRateLimited429s).toBe(0);
  }, 240_000);
});
