/**
 * A top-up under the first import's faults: the sandbox loses responses (5xx, dropped connections, timeouts,
 * committed-then-failed batches), the worker process is SIGKILLed mid-top-up and Redis (AOF on) is restarted. The
 * sandbox counts 0 duplicate transactions and every new one landed: none lost, none twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MigrationLedger } from '@mk/ledger';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { createRedis } from '@mk/shared';
import { startApp, startPrivateRedis, type AppProcess, type PrivateRedis, TEST_PAYLOAD_KEYS } from '@mk/testkit';
import { EXIT, main, plan } from '../src';
import { writeCutoverDumps } from './support/cutover';

const PREFIX = '{tuf}';
let redisServer: PrivateRedis;
let sandbox: RunningSandbox;
let workers: AppProcess[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-topup-faults-'));

beforeAll(async () => {
  redisServer = await startPrivateRedis({ aof: true });
  sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 31, logLevel: 'silent' });
});
afterAll(async () => {
  for (const w of workers) await w.kill('SIGKILL');
  await sandbox?.close();
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
const quiet = { out: () => undefined, err: () => undefined };

function startWorker(): AppProcess {
  const w = startApp('apps/worker/src/main.ts', {
    ...env(),
    LOG_LEVEL: 'error',
    WORKER_ROLES: 'import',
    OPS_PORT: '0',
    WEBHOOK_PORT: '0',
    MONEYKIT_IMPORT_TIMEOUT_MS: '1000',
    IMPORT_RATE_PER_MIN: '60000',
    IMPORT_BACKOFF_BASE_MS: '20',
    IMPORT_BACKOFF_MAX_MS: '200',
    IMPORT_CONCURRENCY: '8',
    // a call given up on may still commit up to the injected 1.5 s hold later: look for its effect only after that
    IMPORT_SETTLE_MS: '2500',
    IMPORT_LOCK_MS: '3000',
  });
  workers.push(w);
  return w;
}

async function until(what: () => Promise<boolean>): Promise<void> {
  while (!(await what())) await new Promise((r) => setTimeout(r, 100));
}

describe('a top-up under faults', () => {
  it('imports every new transaction exactly once through lost responses, a worker SIGKILL and a Redis restart', async () => {
    const first = path.join(dir, 'v1.ndjson');
    const newer = path.join(dir, 'v2.ndjson');
    // two heavy top-ups (6,000 new rows each: several ≤ 1 MB batches) beside many small ones
    const dumps = writeCutoverDumps(first, newer, {
      users: 40,
      newUsers: 3,
      seed: 41,
      heavy: [3, 17],
      heavyAdded: 6000,
    });
    const v1 = await plan(first, { ratePerMinute: 60 });
    let worker = startWorker();
    expect(await main(['run', first, '--run', 'tuf', '--wait'], env(), quiet)).toBe(EXIT.success);
    const before = sandbox.state.counters();
    const planned: string[] = [];
    expect(
      await main(['plan', newer, '--topup-of', 'tuf', '--json'], env(), {
        out: (l) => planned.push(l),
        err: () => undefined,
      }),
    ).toBe(EXIT.success);
    const p = JSON.parse(planned.join('')) as {
      transactionsNew: number;
      newConnectionTransactions: number;
      topupCalls: number;
      connectionsToTopUp: number;
    };
    expect(p.transactionsNew).toBe(dumps.added + dumps.posted);
    expect(p.topupCalls).toBeGreaterThan(p.connectionsToTopUp); // the heavy ones take several batches

    sandbox.state.faults.set({
      error5xxRate: 0.05,
      dropRate: 0.05,
      timeoutRate: 0.03,
      timeoutMs: 1500,
      commitThenFailRate: 0.15,
    });
    expect(await main(['topup', newer, '--run', 'tuf'], env(), quiet)).toBe(EXIT.success);

    // mid-top-up: the worker dies with batches in flight, and Redis restarts from its AOF
    await until(async () => sandbox.state.counters().importTransactionsCalls - before.importTransactionsCalls >= 6);
    await worker.kill('SIGKILL');
    await redisServer.restart();
    worker = startWorker();

    // Running the same top-up again waits for the jobs it finds, sends nothing twice.
    expect(await main(['topup', newer, '--run', 'tuf', '--wait'], env(), quiet)).toBe(EXIT.success);
    sandbox.state.faults.set({});
    const c = sandbox.state.counters();
    expect(c.faultsInjected.commitThenFail + c.faultsInjected.drop + c.faultsInjected.error5xx).toBeGreaterThan(0);
    expect(c.duplicateTransactions).toBe(0);
    expect(c.duplicateLinks).toBe(0);

    const redis = createRedis(redisServer.url, 'worker');
    try {
      const newConnections = (await new MigrationLedger(redis, PREFIX).counts('tuf')).imported - v1.connections;
      expect(newConnections).toBeGreaterThanOrEqual(dumps.newUsers);
    } finally {
      redis.disconnect();
    }
    // none lost: verify reads every link back and finds exactly what was recorded as landed
    const verified = await main(['verify', 'tuf'], env(), quiet);
    const rows = JSON.parse(fs.readFileSync(path.join(dir, 'tuf.verify.json'), 'utf8')) as {
      transactions_found: number;
      status: string;
    }[];
    expect(rows.filter((r) => r.status !== 'ok')).toEqual([]);
    expect(verified).toBe(EXIT.success);
    expect(rows.reduce((n, r) => n + r.transactions_found, 0)).toBe(c.transactionsImported);
    expect(c.transactionsImported - before.transactionsImported).toBe(p.transactionsNew + p.newConnectionTransactions);
  }, 300_000);

  it("run again before its new connections are imported, a top-up waits for their import instead of calling them 'not imported'", async () => {
    const first = path.join(dir, 'g1.ndjson');
    const newer = path.join(dir, 'g2.ndjson');
    writeCutoverDumps(first, newer, { users: 8, newUsers: 2, seed: 43, heavy: [], heavyAdded: 0 });
    for (const w of workers.splice(0)) await w.kill('SIGKILL'); // the first test's
    const worker = startWorker();
    expect(await main(['run', first, '--run', 'tug', '--wait'], env(), quiet)).toBe(EXIT.success);
    await worker.kill('SIGKILL');
    // no worker: the top-up's jobs wait in the queue, its new connections registered and not imported yet
    const summary = async () => {
      const out: string[] = [];
      expect(
        await main(['topup', newer, '--run', 'tug'], env(), { out: (l) => out.push(l), err: () => undefined }),
      ).toBe(EXIT.success);
      return out.join('\n');
    };
    const once = await summary();
    const newConnections = Number(/new connections (\d+)/.exec(once)?.[1]);
    expect(newConnections).toBeGreaterThanOrEqual(2);
    const again = await summary();
    expect(again).toMatch(/not imported by the run 0\b/);
    expect(again).toContain(`new connections ${newConnections} `);
    expect(again).toMatch(/enqueued 0 jobs/);
    startWorker();
    expect(await main(['topup', newer, '--run', 'tug', '--wait'], env(), quiet)).toBe(EXIT.success);
    const redis = createRedis(redisServer.url, 'worker');
    try {
      const counts = await new MigrationLedger(redis, PREFIX).counts('tug');
      expect(counts).toMatchObject({ pending: 0, importing: 0, linked: 0, failed: 0 });
    } finally {
      redis.disconnect();
    }
  }, 120_000);
});
