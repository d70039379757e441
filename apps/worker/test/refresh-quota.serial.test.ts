/**
 * The quota under stress: 1,000 links × 4 products refreshed for a simulated day (time scale 1800: an hour
 * is 2 s, a day 48 s) by three worker processes, one of them SIGKILLed and restarted, with 5xx, dropped
 * connections, timeouts and a burst of app-wide 429s injected. The sandbox must count zero quota violations,
 * and every product must be refreshed within one cadence of when it became due.
 * Longer soak: REFRESH_SOAK_SECONDS=336 runs a simulated week. MK_TEST_CPU_LOAD=1 (the runner's second pass) runs it
 * with every core kept busy by other processes: the quota holds all the same; lateness may stretch with the measured
 * slowdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import IORedis from 'ioredis';
import {
  loadRequested,
  startCpuLoad,
  tracked,
  startPrivateRedis,
  trackSlowdown,
  type CpuLoad,
  type PrivateRedis,
} from '@mk/testkit';
import type { MoneyKitClient } from '@mk/moneykit-client';
import type { RunningSandbox } from '@mk/sandbox';
import type { Product, Redis } from '@mk/shared';
import { RefreshRegistry } from '@mk/refresh';
import { clientFor, control, counters, importLinks, startRefreshSandbox, waitFor } from './fixtures/refresh-helpers';

const SCALE = 1800;
const HOUR_MS = 3_600_000 / SCALE;
const DAY_MS = 24 * HOUR_MS;
const LINKS = 1000;
const PRODUCTS: Product[] = ['accounts', 'transactions', 'identity', 'account_numbers'];
const SOAK_MS = Number(process.env.REFRESH_SOAK_SECONDS ?? 52) * 1000;
const PREFIX = '{quota}';
const WORKER_OPTIONS = {
  timeScale: SCALE,
  quotaGuardMs: 25,
  // a call lasts at most MONEYKIT_TIMEOUT_MS + 1 s grace (2 s): the claim must outlive it, with a window to send in,
  // and cover the in-process sandbox reading a request late on a saturated machine (the quota design's one assumption)
  inFlightMs: 8000,
  leaseMs: 5000,
  firstDueSpreadMs: 2000,
  jitterFraction: 0.02,
  dispatchIdleMs: 20,
  concurrency: 30,
  buckets: 256,
  backoffMs: 100,
  // a killed worker's jobs go back to the others within ~1.5 s (an hour's cadence here is 2 s)
  lockDurationMs: 1000,
  stalledIntervalMs: 500,
};

jest.setTimeout(SOAK_MS + 180_000);

let redisServer: PrivateRedis;
let redis: Redis;
let sb: RunningSandbox;
let client: MoneyKitClient;
let registry: RefreshRegistry;
const children = new Map<number, ChildProcess>();
let load: CpuLoad | undefined;

function spawnWorker(slot: number): Promise<ChildProcess> {
  const entry = path.join(__dirname, 'fixtures', 'refresh-process.ts');
  const child = tracked(
    spawn(process.execPath, ['--import', 'tsx', entry], {
      cwd: path.join(__dirname, '..', '..', '..'),
      env: {
        ...process.env,
        REDIS_URL: redisServer.url,
        REDIS_PREFIX: PREFIX,
        MONEYKIT_BASE_URL: sb.url,
        MONEYKIT_CLIENT_ID: sb.clientId,
        MONEYKIT_CLIENT_SECRET: sb.clientSecret,
        MONEYKIT_TIMEOUT_MS: '1000',
        REFRESH_TEST_OPTIONS: JSON.stringify(WORKER_OPTIONS),
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  children.set(slot, child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker ${slot} exited with ${code} before it was ready`)));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
  });
}

async function kill(slot: number): Promise<void> {
  const child = children.get(slot)!;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/**
 * Lateness (now − due time, from our own state) is judged against one cadence, except in two windows where
 * something outside the scheduler holds refreshes back for a known time: after a SIGKILL the dead worker's
 * jobs wait for their BullMQ lock to expire (or their link for its lease), and after an app-wide 429 every refresh waits MoneyKit's
 * Retry-After. There the allowance is that hold on top of the cadence.
 */
interface Window {
  name: string;
  from: number;
  to: number;
  allowanceMs: number;
}
interface Lateness {
  worstMs: Record<Product, number>;
  worstInWindowMs: Record<string, number>;
  windows: Window[];
  samples: number;
  series: [number, number][];
}

async function sampleLateness(ids: string[], into: Lateness): Promise<void> {
  const [sec, usec] = await redis.time();
  const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
  const states = await Promise.all(ids.map((id) => registry.get(id)));
  const window = into.windows.find((w) => now >= w.from && now <= w.to);
  let worst = 0;
  for (const st of states) {
    if (!st || st.mode !== 'active') continue;
    for (const p of st.products) {
      if (p.nextDueAt === undefined || p.nextDueAt === 0) continue;
      const late = now - p.nextDueAt;
      worst = Math.max(worst, late);
      if (window) into.worstInWindowMs[window.name] = Math.max(into.worstInWindowMs[window.name] ?? 0, late);
      else into.worstMs[p.product] = Math.max(into.worstMs[p.product], late);
    }
  }
  into.samples += 1;
  into.series.push([now, worst]);
}

beforeAll(async () => {
  if (loadRequested()) load = startCpuLoad();
  redisServer = await startPrivateRedis({ aof: true });
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  sb = await startRefreshSandbox({ timeScale: SCALE });
  client = clientFor(sb);
  registry = await RefreshRegistry.open(redis, PREFIX, WORKER_OPTIONS);
});

afterAll(async () => {
  await load?.stop();
  for (const child of children.values())
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  redis.disconnect();
  client.close();
  await sb.close();
  await redisServer.stop();
});

it('several workers, a SIGKILL and injected faults: zero quota violations, every product refreshed within one cadence of due', async () => {
  const ids = await importLinks(client, LINKS);
  for (let i = 0; i < ids.length; i += 50)
    await Promise.all(ids.slice(i, i + 50).map((id) => control(sb, 'POST', `/links/${id}/reconnect`)));
  await registry.register(ids.map((linkId) => ({ linkId, products: PRODUCTS })));

  await Promise.all([spawnWorker(0), spawnWorker(1), spawnWorker(2)]);
  const slowdown = trackSlowdown();
  const started = Date.now();
  const lateness: Lateness = {
    worstMs: { accounts: 0, transactions: 0, identity: 0, account_numbers: 0 } as Record<Product, number>,
    worstInWindowMs: {},
    windows: [],
    samples: 0,
    series: [],
  };
  // A SIGKILLed worker's jobs come back when their BullMQ lock expires; a link whose job went with it is dispatched
  // again when its lease runs out (seen: a link due at the kill refreshed 5 s later, the lease). Either holds it back.
  const killHoldMs = Math.max(WORKER_OPTIONS.lockDurationMs + WORKER_OPTIONS.stalledIntervalMs, WORKER_OPTIONS.leaseMs);
  const at = (fraction: number) => started + SOAK_MS * fraction;
  const script: [number, () => Promise<unknown>][] = [
    [
      at(0.15),
      () =>
        control(sb, 'PUT', '/faults', {
          error5xxRate: 0.03,
          dropRate: 0.02,
          timeoutRate: 0.01,
          timeoutMs: 1500,
          endpoints: ['refresh'],
        }),
    ],
    [
      at(0.35),
      () => {
        lateness.windows.push({
          name: 'sigkill',
          from: Date.now(),
          to: Date.now() + killHoldMs + HOUR_MS,
          allowanceMs: killHoldMs,
        });
        return kill(1);
      },
    ],
    [at(0.45), () => spawnWorker(1)],
    [
      at(0.6),
      () => {
        // "nobody refreshes for Retry-After (1 s)"; the burst outlasts the first pause, so twice that
        lateness.windows.push({
          name: 'app-wide 429',
          from: Date.now(),
          to: Date.now() + 2000 + HOUR_MS,
          allowanceMs: 2000,
        });
        return control(sb, 'PUT', '/faults', {
          rateLimitBurst: 40,
          rateLimitBurstRetryAfterSeconds: 1,
          endpoints: ['refresh'],
        });
      },
    ],
    [at(0.75), () => control(sb, 'DELETE', '/faults')],
  ];
  // the first due times are spread over the first hour; lateness counts once the schedule is established
  const measureFrom = started + 2 * HOUR_MS;
  while (Date.now() - started < SOAK_MS) {
    while (script.length && Date.now() >= script[0]![0]) await script.shift()![1]();
    if (Date.now() >= measureFrom) await sampleLateness(ids, lateness);
    await new Promise((r) => setTimeout(r, 500));
  }

  slowdown.stop();
  // A deadline stretches with how much slower this machine runs than alone; a guarantee never does.
  const stretch = slowdown.worst;
  const c = await counters(sb);
  const stats = await registry.stats();
  // the run's figures, for whoever reads the test output (worst lateness over time: "<s since start>:<ms>")
  process.stdout.write(
    `${JSON.stringify({
      quotaViolationsAttempted: c.quotaViolationsAttempted,
      worstLateMs: lateness.worstMs,
      worstInWindowMs: lateness.worstInWindowMs,
      faults: c.faultsInjected,
      accepted: stats.accepted,
      rateLimitedApp: stats.rateLimitedApp,
      uncertain: stats.uncertain,
      uncertainUnsent: stats.uncertainUnsent,
      staleClaims: stats.staleClaims,
      slowdown: Number(stretch.toFixed(2)),
      series: lateness.series.map(([t, w]) => `${((t - started) / 1000).toFixed(1)}:${w}`).join(' '),
    })}\n`,
  );
  expect(c.quotaViolationsAttempted).toBe(0);
  expect(c.faultsInjected.error5xx + c.faultsInjected.drop + c.faultsInjected.timeout).toBeGreaterThan(0);
  expect(stats.rateLimitedApp).toBeGreaterThan(0);

  // within one cadence of due: an hour for the hourly products, a day for the daily ones
  expect(lateness.samples).toBeGreaterThan(10);
  expect(lateness.worstMs.accounts).toBeLessThanOrEqual(HOUR_MS * stretch);
  expect(lateness.worstMs.transactions).toBeLessThanOrEqual(HOUR_MS * stretch);
  expect(lateness.worstMs.identity).toBeLessThanOrEqual(DAY_MS * stretch);
  expect(lateness.worstMs.account_numbers).toBeLessThanOrEqual(DAY_MS * stretch);
  const overWindows = lateness.windows.filter(
    (w) => (lateness.worstInWindowMs[w.name] ?? 0) > (HOUR_MS + w.allowanceMs) * stretch,
  );
  expect(overWindows).toEqual([]);

  // the sandbox's side: every link refreshed all along (gaps of at most two cadences plus fault holds)
  const hours = SOAK_MS / HOUR_MS;
  const minHourly = Math.floor(hours / (2.5 * stretch));
  const minDaily = Math.floor(hours / 24 / (2 * stretch));
  const short = ids.filter((id) => {
    const r = c.refreshCalls[id] ?? {};
    return (
      (r.accounts ?? 0) < minHourly ||
      (r.transactions ?? 0) < minHourly ||
      (r.identity ?? 0) < Math.max(1, minDaily) ||
      (r.account_numbers ?? 0) < Math.max(1, minDaily)
    );
  });
  // with each short link's calls per product, so a failure says which product starved (minimum: minHourly / daily)
  expect({ minHourly, short: short.map((id) => ({ id, calls: c.refreshCalls[id] ?? {} })) }).toEqual({
    minHourly,
    short: [],
  });

  // the workers stop cleanly
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise((r) => {
          child.once('exit', r);
          child.kill('SIGTERM');
        }),
    ),
  );
  await waitFor('no job left active', async () => (await redis.llen(`${PREFIX}:mk-refresh:active`)) === 0, 10_000);
});
