/**
 * Status tells the truth about a steady run: a worker process imports at a known rate (its shared limiter at
 * 120/min, the sandbox admitting more), and the ETA `status` gives from 20 s in is checked against the time the run
 * really took. Then the same run, MoneyKit down: status says so, with the errors the worker recorded.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { QUEUES } from '@mk/shared';
import { MigrationLedger, readRunState } from '@mk/ledger';
import { fixtures } from '@mk/converters';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startApp, startPrivateRedis, type AppProcess, type PrivateRedis, TEST_PAYLOAD_KEYS } from '@mk/testkit';
import { EXIT, main, plan, runStatus } from '../src';

const PREFIX = '{eta}';
const RATE_PER_MINUTE = 120;
let redisServer: PrivateRedis;
let redis: IORedis;
let queue: Queue;
let sandbox: RunningSandbox;
let workerProcess: AppProcess | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-eta-'));
const env = () => ({
  REDIS_URL: redisServer.url,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
});

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
  sandbox = await startSandbox({
    latency: { baseMs: 40, perKbMs: 0, maxMs: 40 },
    importRatePerMinute: 1000,
    seed: 4,
    logLevel: 'silent',
  });
});
afterAll(async () => {
  await workerProcess?.kill('SIGKILL');
  await sandbox.close();
  await queue.close();
  redis.disconnect();
  await redisServer.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function workerRunning(): Promise<void> {
  workerProcess ??= startWorker();
  while ((await queue.getWorkersCount()) === 0) await new Promise((r) => setTimeout(r, 50)); // however slow the start
}

function startWorker(): AppProcess {
  return startApp('apps/worker/src/main.ts', {
    ...env(),
    LOG_LEVEL: 'error',
    WORKER_ROLES: 'import',
    OPS_PORT: '0',
    WEBHOOK_PORT: '0',
    MONEYKIT_BASE_URL: sandbox.url,
    MONEYKIT_CLIENT_ID: sandbox.clientId,
    MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
    IMPORT_RATE_PER_MIN: String(RATE_PER_MINUTE),
    IMPORT_CONCURRENCY: '6',
    IMPORT_SETTLE_MS: '100',
    IMPORT_BACKOFF_BASE_MS: '1000',
    IMPORT_BACKOFF_MAX_MS: '2000',
  });
}

describe('status of a steady run', () => {
  it('gives an ETA within 20 % of the time the run really took, from 20 s in', async () => {
    const dump = path.join(dir, 'steady.ndjson');
    // 85 users hold 137 connections: one call each at 120/min is 68 s, just past the one-minute window.
    await fixtures.writeDumpFile(dump, { users: 85, format: 'plaid', txPerAccount: 3, seed: 21 });
    const expected = await plan(dump, { ratePerMinute: RATE_PER_MINUTE });
    expect(expected.transactionBatches).toBe(0); // one call per connection: the rate is the import rate
    expect(expected.connections).toBe(137);
    await workerRunning();

    // Everything enqueued at once, so what is left is known exactly; the worker starts as jobs arrive.
    expect(
      await main(['run', dump, '--run', 'steady', '--rejects', path.join(dir, 'r.ndjson')], env(), {
        out: () => undefined,
        err: () => undefined,
      }),
    ).toBe(EXIT.success);
    const ledger = new MigrationLedger(redis, PREFIX);
    const samples: { at: number; etaSeconds: number | null; state: string; age: number }[] = [];
    let final;
    for (;;) {
      const s = await runStatus(ledger, 'steady', queue);
      if (s.state.state !== 'running') {
        final = s;
        break;
      }
      samples.push({ at: s.at, etaSeconds: s.state.etaSeconds, state: s.state.state, age: s.at - s.run.createdAt });
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(final.state.state).toBe('completed');
    const endedAt = (await ledger.activity('steady')).lastImportAt!;
    const tookSeconds = (endedAt - final.run.createdAt) / 1000;
    expect(tookSeconds).toBeGreaterThan(60); // long enough to cross the one-minute window

    // From 20 s in, while at least 15 s remain (closer to the end a one-second jitter is already 7 %).
    const judged = samples.filter((s) => s.age >= 20_000 && endedAt - s.at >= 15_000);
    expect(judged.length).toBeGreaterThanOrEqual(10);
    const misses = judged
      .map((s) => ({ age: Math.round(s.age / 1000), eta: s.etaSeconds, actual: Math.round((endedAt - s.at) / 1000) }))
      .filter((s) => s.eta === null || Math.abs(s.eta - s.actual) > 0.2 * s.actual);
    expect(misses).toEqual([]);
  }, 400_000);

  it('says MoneyKit is unreachable, with the errors the worker recorded, once nothing has been imported for minutes', async () => {
    const dump = path.join(dir, 'down.ndjson');
    await fixtures.writeDumpFile(dump, { users: 10, format: 'plaid', txPerAccount: 2, seed: 22 });
    await workerRunning();
    sandbox.state.faults.set({ error5xxRate: 1 });
    expect(
      await main(['run', dump, '--run', 'down', '--rejects', path.join(dir, 'd.ndjson')], env(), {
        out: () => undefined,
        err: () => undefined,
      }),
    ).toBe(EXIT.success);
    const ledger = new MigrationLedger(redis, PREFIX);
    while ([...(await ledger.activity('down')).errors.values()].reduce((a, b) => a + b, 0) < 5)
      await new Promise((r) => setTimeout(r, 50));
    // What status will say in three minutes if MoneyKit stays down (the errors just recorded are still in the window).
    const { state } = await readRunState(ledger, (await ledger.getRun('down'))!, {
      queue,
      now: Date.now() + 3 * 60_000,
    });
    expect(state.state).toBe('stalled');
    expect(state.stalled.map((r) => r.kind)).toEqual(['upstream_unreachable']);
    expect(state.summary).toMatch(
      /^stalled: MoneyKit unreachable: \d+ errors in the last 5 min, nothing imported yet \(last: MoneyKit (get_user_links|import_link) answered HTTP 500/,
    );
    // Now: errors, but the run is young and MoneyKit may come back: still running.
    expect((await runStatus(ledger, 'down', queue)).state.state).toBe('running');
    sandbox.state.faults.set({ error5xxRate: 0 });
  }, 120_000);
});
