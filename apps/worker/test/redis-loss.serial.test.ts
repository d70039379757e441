/**
 * Exactly once even when Redis loses everything: a real worker process against the sandbox and a private
 * Redis WITHOUT AOF, restarted mid-run (queue, ledger and locks gone), then the producer re-run as an operator
 * would. MoneyKit still has the links the lost ledger knew: every one is adopted, none created twice, every
 * transaction once, and each link handed over to refresh.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { fixtures } from '@mk/converters';
import { MigrationLedger } from '@mk/ledger';
import { EXIT, plan } from '@mk/producer';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { freePort, startApp, startPrivateRedis, until, type AppProcess, type PrivateRedis } from '@mk/testkit';
import { RefreshRegistry } from '@mk/refresh';

const PREFIX = '{loss}';
const RUN = 'loss';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-loss-'));
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
const processes: AppProcess[] = [];

beforeAll(async () => {
  redisServer = await startPrivateRedis({ aof: false });
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  redis.disconnect();
  await sandbox?.close();
  await redisServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function producerRun(dump: string): Promise<void> {
  const producer = startApp(
    'apps/producer/src/main.ts',
    { REDIS_URL: redisServer.url, REDIS_PREFIX: PREFIX, LOG_LEVEL: 'error' },
    ['run', dump, '--run', RUN, '--rejects', path.join(dir, 'rejects.ndjson')],
  );
  processes.push(producer);
  const code = await producer.exited;
  // Without --wait it exits once everything is enqueued: in progress, or done.
  if (code !== EXIT.inProgress && code !== EXIT.success)
    throw new Error(`producer exited ${code}:\n${producer.output()}`);
}

/** One sample of the worker's /metrics. */
async function metric(opsPort: number, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('Redis without AOF restarted mid-run', () => {
  it('creates no second link: the re-run adopts what MoneyKit already has, and hands it over to refresh', async () => {
    const dump = path.join(dir, 'users.ndjson');
    await fixtures.writeDumpFile(dump, { users: 300, format: 'mixed', txPerAccount: 6, heavyShare: 0.02, seed: 41 });
    const expected = await plan(dump, { ratePerMinute: 60 });
    expect(expected.oversizedConnections).toBeGreaterThan(0); // heavy users: batches after the import, checked on adoption

    sandbox = await startSandbox({
      latency: { baseMs: 20, perKbMs: 0.02, maxMs: 200 },
      importRatePerMinute: 1_000_000,
      logLevel: 'silent',
    });
    const opsPort = await freePort();
    const worker = startApp('apps/worker/src/main.ts', {
      LOG_LEVEL: 'warn',
      REDIS_URL: redisServer.url,
      REDIS_PREFIX: PREFIX,
      WORKER_ROLES: 'import',
      OPS_PORT: String(opsPort),
      OPS_HOST: '127.0.0.1',
      MONEYKIT_BASE_URL: sandbox.url,
      MONEYKIT_CLIENT_ID: sandbox.clientId,
      MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
      // Slow enough to be caught mid-run; the settle wait covers a call still in flight when Redis went away.
      IMPORT_RATE_PER_MIN: '6000',
      IMPORT_CONCURRENCY: '8',
      IMPORT_SETTLE_MS: '1000',
      IMPORT_LOCK_MS: '5000',
      IMPORT_BACKOFF_BASE_MS: '50',
      IMPORT_BACKOFF_MAX_MS: '1000',
      MONEYKIT_IMPORT_TIMEOUT_MS: '5000',
    });
    processes.push(worker);
    const tail = () => worker.output().split('\n').slice(-30).join('\n');
    await producerRun(dump);

    const before = new MigrationLedger(redis, PREFIX);
    await until(
      'a third of the run imported',
      async () => (await before.counts(RUN)).imported >= expected.connections / 3,
      { timeoutMs: 120_000, diagnose: tail },
    );
    const importedBeforeLoss = (await before.counts(RUN)).imported;
    await redisServer.restart(); // SIGKILL, no AOF: every key is gone
    expect(await before.getRun(RUN)).toBeUndefined();

    // What an operator does after such a loss: run the same command again.
    await producerRun(dump);
    const ledger = new MigrationLedger(redis, PREFIX);
    await until(
      'the re-run to settle',
      async () => {
        const c = await ledger.counts(RUN);
        return c.imported + c.failed === expected.connections;
      },
      { timeoutMs: 180_000, diagnose: tail },
    );

    const c = sandbox.state.counters();
    expect(c.duplicateLinks).toBe(0);
    expect(c.duplicateTransactions).toBe(0);
    expect(c.liveLinks).toBe(expected.connections);
    expect(c.transactionsImported).toBe(expected.transactions);
    expect(await ledger.counts(RUN)).toMatchObject({ imported: expected.connections, failed: 0 });

    // Every link the lost ledger knew was found again and recorded as adopted (the report's `adopted` column).
    const registry = await RefreshRegistry.open(redis, PREFIX);
    const linkIds = new Set<string>();
    let adopted = 0;
    for await (const record of ledger.scan(RUN)) {
      linkIds.add(record.linkId!);
      if (record.adopted) adopted++;
      expect(record.transactionsImported).toBe(record.transactions);
      // Handed over to refresh like an imported one: parked until its user reconnects it.
      expect(await registry.get(record.linkId!)).not.toBeNull();
    }
    expect(linkIds.size).toBe(expected.connections);
    expect(adopted).toBeGreaterThanOrEqual(importedBeforeLoss);

    // The look-up before each import: at least one read per connection, and imports no more than one per link.
    expect(
      await metric(opsPort, 'mk_api_calls_total', 'endpoint="get_user_links",outcome="ok"'),
    ).toBeGreaterThanOrEqual(expected.connections);
    expect(c.importCalls).toBe(expected.connections);
  }, 300_000);
});
