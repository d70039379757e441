/**
 * A top-up after Redis lost its data (restarted without AOF, a lost disk): the landed records are gone, and with them
 * what earlier top-up batches put on the links. `topup` on the empty Redis refuses, naming what is missing and what to
 * do; the operator re-runs `run` with the first dump (every link found again at MoneyKit) and the top-up again: each
 * link found again is read back before anything is sent, so what an earlier top-up landed is never sent twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startApp, startPrivateRedis, type AppProcess, type PrivateRedis, TEST_PAYLOAD_KEYS, until } from '@mk/testkit';
import { EXIT, main, plan } from '../src';
import { writeCutoverDumps } from './support/cutover';

const PREFIX = '{tul}';
let redisServer: PrivateRedis;
let sandbox: RunningSandbox;
const workers: AppProcess[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-topup-loss-'));

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  sandbox = await startSandbox({ latency: 'none', importRatePerMinute: 1_000_000, seed: 33, logLevel: 'silent' });
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
function cli() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s) } };
}

function startWorker(): AppProcess {
  const w = startApp('apps/worker/src/main.ts', {
    ...env(),
    LOG_LEVEL: 'error',
    WORKER_ROLES: 'import',
    OPS_PORT: '0',
    WEBHOOK_PORT: '0',
    IMPORT_RATE_PER_MIN: '60000',
    IMPORT_BACKOFF_BASE_MS: '20',
    IMPORT_BACKOFF_MAX_MS: '200',
    IMPORT_CONCURRENCY: '8',
    IMPORT_SETTLE_MS: '500',
    IMPORT_LOCK_MS: '3000',
  });
  workers.push(w);
  return w;
}

describe('a top-up after Redis lost its data', () => {
  it('refuses on the empty Redis, then after `run` again sends only what no link holds: 0 duplicate transactions', async () => {
    const first = path.join(dir, 'v1.ndjson');
    const newer = path.join(dir, 'v2.ndjson');
    // one heavy top-up (several ≤ 1 MB batches) so that the wipe comes with part of the top-up landed
    const dumps = writeCutoverDumps(first, newer, { users: 30, newUsers: 2, seed: 43, heavy: [5], heavyAdded: 12_000 });
    const v1 = await plan(first, { ratePerMinute: 60 });
    const worker = startWorker();
    expect(await main(['run', first, '--run', 'tul', '--wait'], env(), cli().io)).toBe(EXIT.success);
    const afterRun = sandbox.state.counters();
    const planned = cli();
    expect(await main(['plan', newer, '--topup-of', 'tul', '--json'], env(), planned.io)).toBe(EXIT.success);
    const p = JSON.parse(planned.out.join('')) as Record<string, number>;

    // Part of the top-up lands; then the worker dies and Redis comes back empty.
    expect(await main(['topup', newer, '--run', 'tul'], env(), cli().io)).toBe(EXIT.success);
    await until(
      'a few top-up batches landed',
      async () => sandbox.state.counters().importTransactionsCalls - afterRun.importTransactionsCalls >= 8,
      { timeoutMs: 60_000 },
    );
    await worker.kill('SIGKILL');
    await redisServer.restartEmpty();
    const landedBeforeWipe = sandbox.state.counters().transactionsImported - afterRun.transactionsImported;
    expect(landedBeforeWipe).toBeGreaterThan(0);

    // On the empty Redis the top-up says what is missing and what to do.
    const refused = cli();
    expect(await main(['topup', newer, '--run', 'tul'], env(), refused.io)).toBe(EXIT.error);
    expect(refused.err.join('\n')).toMatch(/run tul does not exist.*lost its data.*`run <first dump> --run tul`/s);

    // The operator's way back: the first dump again (links found, none created), then the top-up again.
    startWorker();
    expect(await main(['run', first, '--run', 'tul', '--wait'], env(), cli().io)).toBe(EXIT.success);
    expect(sandbox.state.counters().duplicateLinks).toBe(0);
    const topped = cli();
    expect(await main(['topup', newer, '--run', 'tul', '--wait'], env(), topped.io)).toBe(EXIT.success);
    expect(topped.out.join('\n')).toMatch(/found again at MoneyKit \d+ of them \(adopted\)/);

    const c = sandbox.state.counters();
    expect(c.duplicateTransactions).toBe(0);
    expect(c.duplicateLinks).toBe(0);
    // none lost: every new row of the newer dump is on its link, once
    expect(c.transactionsImported - afterRun.transactionsImported).toBe(
      dumps.added + dumps.posted + p.newConnectionTransactions!,
    );
    expect(c.liveLinks).toBe(v1.connections + p.newConnections!);
    const verified = cli();
    expect(await main(['verify', 'tul'], env(), verified.io)).toBe(EXIT.success);
  }, 240_000);
});
