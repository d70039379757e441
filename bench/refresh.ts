/**
 * The refresh scheduler's two costs, each next to the naive design (one BullMQ delayed job per link × product)
 * measured in the same run:
 *  - Redis memory per scheduled link × product, at 100,000 and 1,000,000 links × 4 products;
 *  - refreshes dispatched per second and how late they go out, against a zero-latency sandbox, with two worker
 *    processes per design at the same concurrency.
 *   node --import tsx bench/refresh.ts [--quick] [--links 100000,1000000] [--dispatch-links 25000] [--seconds 20]
 * (--links '' skips the memory part)
 * Writes bench/out/refresh.json ({ title, figures, notes }).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { jobId, type ImportLinkRequest, type Product, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { RefreshRegistry } from '@mk/refresh';
import { encodeLink, encodeTime } from '@mk/refresh';
import { markdownTable, type Figure } from './lib/report';

const ROOT = path.join(__dirname, '..');
const OUT = path.join(__dirname, 'out', 'refresh.json');
const PRODUCTS4: Product[] = ['accounts', 'transactions', 'identity', 'account_numbers'];
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface BenchResult {
  title: string;
  figures: Figure[];
  notes: string[];
}

export interface RefreshBenchOptions {
  quick?: boolean;
  /** Link counts for the memory figures (default 100,000 and 1,000,000; --quick 100,000). */
  links?: number[];
  /** Links in the dispatch run (default 20,000 = 2,000 calls/s at a 10 s "hour"; --quick 5,000). */
  dispatchLinks?: number;
  /** Measured seconds of the dispatch run, after one cadence of warm-up (default 20; --quick 8). */
  seconds?: number;
}

const say = (msg: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)} refresh] ${msg}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** MoneyKit-shaped link ids (`mk_` + 22 base62): id length is most of what an entry costs. */
function linkIds(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = randomBytes(22);
    let s = 'mk_';
    for (const b of bytes) s += BASE62[b % 62];
    out.push(s);
  }
  return out;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
}

// ---- memory ---------------------------------------------------------------------------------------------

interface MemoryFigure {
  links: number;
  bytesPerLinkProduct: number;
  totalMb: number;
  nonListpackBuckets: number;
  buckets: number;
}

/** Ours: every link registered through the registry, then given the state it has once refreshed (times set). */
async function measureOurs(n: number): Promise<MemoryFigure> {
  const server = await startPrivateRedis();
  const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  try {
    const before = await usedMemory(redis);
    const registry = await RefreshRegistry.open(redis, '{mk}', { firstDueSpreadMs: 3_600_000 });
    const ids = linkIds(n);
    const t0 = Date.now();
    for (let i = 0; i < n; i += 10_000)
      await registry.register(ids.slice(i, i + 10_000).map((linkId) => ({ linkId, products: PRODUCTS4 })));
    say(`ours: ${n.toLocaleString('en-US')} links registered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // steady state: each product refreshed some time in the last hour/day (7-8 base-36 digits of time each)
    const now = Date.now();
    for (let i = 0; i < n; i += 10_000) {
      const pipe = redis.pipeline();
      for (const id of ids.slice(i, i + 10_000)) {
        const products = PRODUCTS4.map((product) => ({
          product,
          status: 'completed' as const,
          refAt: now - Math.floor(Math.random() * 3_600_000),
        }));
        const b = registry.bucketOf(id);
        pipe.hset(registry.keys.state(b), id, encodeLink({ mode: 'active', reason: 'none', products }));
        // each imported link was resumed by a link.state_changed webhook: its order mark stays
        pipe.hset(registry.keys.webhookOrder(b), id, `r0${encodeTime(now - Math.floor(Math.random() * 86_400_000))}`);
      }
      await pipe.exec();
    }
    const after = await usedMemory(redis);
    let nonListpack = 0;
    for (let b = 0; b < registry.buckets; b += 64) {
      const pipe = redis.pipeline();
      for (let k = b; k < Math.min(registry.buckets, b + 64); k++) {
        pipe
          .object('ENCODING', registry.keys.state(k))
          .object('ENCODING', registry.keys.index(k))
          .object('ENCODING', registry.keys.webhookOrder(k));
      }
      for (const [, enc] of (await pipe.exec()) ?? []) if (enc !== null && enc !== 'listpack') nonListpack += 1;
    }
    return {
      links: n,
      bytesPerLinkProduct: (after - before) / (n * PRODUCTS4.length),
      totalMb: (after - before) / 1e6,
      nonListpackBuckets: nonListpack,
      buckets: registry.buckets,
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** Naive: one delayed job per link × product (BullMQ's own job hash + delayed zset entry). */
async function measureNaivePerJob(jobs: number): Promise<number> {
  const server = await startPrivateRedis();
  const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  const queue = new Queue('naive-refresh', { connection: redis, prefix: '{naive}' });
  try {
    await queue.waitUntilReady();
    const before = await usedMemory(redis);
    const ids = linkIds(Math.ceil(jobs / PRODUCTS4.length));
    const all = ids.flatMap((linkId) => PRODUCTS4.map((product) => ({ linkId, product }))).slice(0, jobs);
    for (let i = 0; i < all.length; i += 1000) {
      await queue.addBulk(
        all.slice(i, i + 1000).map(({ linkId, product }) => ({
          name: 'refresh',
          data: { linkId, products: [product], dueAt: Date.now() },
          opts: {
            jobId: jobId(linkId, product),
            delay: Math.floor(Math.random() * 3_600_000),
            removeOnComplete: true,
            removeOnFail: true,
          },
        })),
      );
    }
    return ((await usedMemory(redis)) - before) / jobs;
  } finally {
    await queue.close();
    redis.disconnect();
    await server.stop();
  }
}

// ---- dispatch -------------------------------------------------------------------------------------------

interface Lag {
  /** CPU of the worker processes over the measured window, ms. */
  cpuMs: number;
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}
interface DispatchFigure {
  productRefreshes: number;
  productRefreshesPerSec: number;
  callsPerSec: number;
  lag: Lag;
  offeredProductRefreshesPerSec: number;
}

function spawnProcess(
  entry: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes('ready')) {
        clearInterval(timer);
        resolve({ child, output: () => out });
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`${entry} exited with ${child.exitCode}`));
      }
    }, 20);
  });
}

async function stopAndCollectLag(procs: { child: ChildProcess; output: () => string }[]): Promise<Lag> {
  await Promise.all(procs.map((p) => new Promise((r) => (p.child.once('exit', r), p.child.kill('SIGTERM')))));
  const lags = procs.map((p) => JSON.parse(/lag (\{.*\})/.exec(p.output())![1]!) as Lag);
  const count = lags.reduce((s, l) => s + l.count, 0);
  const weighted = (k: 'meanMs' | 'p50Ms') => (count ? lags.reduce((s, l) => s + l[k] * l.count, 0) / count : 0);
  return {
    cpuMs: lags.reduce((s, l) => s + l.cpuMs, 0),
    count,
    meanMs: weighted('meanMs'),
    p50Ms: weighted('p50Ms'),
    p99Ms: Math.max(...lags.map((l) => l.p99Ms)),
    maxMs: Math.max(...lags.map((l) => l.maxMs)),
  };
}

function createLinks(sb: RunningSandbox, n: number, from: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const req: ImportLinkRequest = {
      customer_user: { id: `bench-user-${from + i}` },
      institution_id: 'mx.chase',
      accounts: [
        {
          account_id: 'a1',
          name: 'Checking',
          type: 'checking',
          mask: '0001',
          balances: { currency: 'USD', current: 1 },
        },
      ],
      transactions: [],
    };
    const link = sb.state.importLink(req);
    sb.state.reconnect(link.id);
    ids.push(link.id);
  }
  return ids;
}

const productRefreshes = (sb: RunningSandbox) =>
  Object.values(sb.state.counters().refreshCalls).reduce(
    (s, per) => s + Object.values(per).reduce((a, b) => a + (b ?? 0), 0),
    0,
  );

const WORKERS = 2;
const CONCURRENCY = 50;

async function dispatchRun(
  kind: 'ours' | 'naive',
  sb: RunningSandbox,
  timeScale: number,
  links: number,
  seconds: number,
): Promise<DispatchFigure> {
  const cadenceMs = 3_600_000 / timeScale;
  const server: PrivateRedis = await startPrivateRedis();
  const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  const products: Product[] = ['accounts', 'transactions'];
  const ids = createLinks(sb, links, kind === 'ours' ? 0 : 10_000_000);
  const env = {
    REDIS_URL: server.url,
    MONEYKIT_BASE_URL: sb.url,
    MONEYKIT_CLIENT_ID: sb.clientId,
    MONEYKIT_CLIENT_SECRET: sb.clientSecret,
  };
  let registry: RefreshRegistry | undefined;
  const procs: { child: ChildProcess; output: () => string }[] = [];
  try {
    if (kind === 'ours') {
      const options = {
        timeScale,
        quotaGuardMs: 25,
        inFlightMs: 5000,
        leaseMs: 30_000,
        firstDueSpreadMs: cadenceMs,
        jitterFraction: 0.02,
        dispatchBatch: 500,
        dispatchIdleMs: 20,
        concurrency: CONCURRENCY,
      };
      registry = await RefreshRegistry.open(redis, '{mk}', options);
      for (let i = 0; i < WORKERS; i++)
        procs.push(
          await spawnProcess('apps/worker/test/fixtures/refresh-process.ts', {
            ...env,
            REDIS_PREFIX: '{mk}',
            MONEYKIT_TIMEOUT_MS: '2000',
            REFRESH_TEST_OPTIONS: JSON.stringify(options),
          }),
        );
      await registry.register(ids.map((linkId) => ({ linkId, products })));
    } else {
      for (let i = 0; i < WORKERS; i++)
        procs.push(
          await spawnProcess('apps/worker/test/fixtures/naive-refresh-process.ts', {
            ...env,
            REDIS_PREFIX: '{naive}',
            NAIVE_CADENCE_MS: String(cadenceMs),
            NAIVE_CONCURRENCY: String(CONCURRENCY),
          }),
        );
      // the same schedule: each link × product first due somewhere in the first cadence, then every cadence
      const queue = new Queue('naive-refresh', { connection: redis, prefix: '{naive}' });
      const jobs = ids.flatMap((linkId) => products.map((product) => ({ linkId, product, cycle: 0 })));
      for (let i = 0; i < jobs.length; i += 1000) {
        await queue.addBulk(
          jobs.slice(i, i + 1000).map((data) => ({
            name: 'refresh',
            data,
            opts: {
              jobId: jobId(data.linkId, data.product, '0'),
              delay: Math.floor(Math.random() * cadenceMs),
              removeOnComplete: true,
              removeOnFail: true,
            },
          })),
        );
      }
      await queue.close();
    }
    // warm up for one cadence (the first due times are spread over it), then measure
    await sleep(cadenceMs);
    for (const p of procs) p.child.kill('SIGUSR2');
    const accepted0 = registry ? (await registry.stats()).accepted : 0;
    const refreshed0 = productRefreshes(sb);
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const elapsed = (Date.now() - t0) / 1000;
    const refreshed = productRefreshes(sb) - refreshed0;
    const calls = registry ? (await registry.stats()).accepted - accepted0 : refreshed;
    const lag = await stopAndCollectLag(procs.splice(0));
    return {
      productRefreshes: refreshed,
      productRefreshesPerSec: refreshed / elapsed,
      callsPerSec: calls / elapsed,
      lag,
      offeredProductRefreshesPerSec: (links * products.length) / (cadenceMs / 1000),
    };
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    redis.disconnect();
    await server.stop();
  }
}

// ---- report ---------------------------------------------------------------------------------------------

export async function run(opts: RefreshBenchOptions = {}): Promise<BenchResult> {
  const quick = opts.quick ?? false;
  const sizes = opts.links ?? (quick ? [100_000] : [100_000, 1_000_000]);
  const dispatchLinks = opts.dispatchLinks ?? (quick ? 5_000 : 20_000);
  const seconds = opts.seconds ?? (quick ? 8 : 20);
  const baselineJobs = quick ? 20_000 : 100_000;
  const figures: Figure[] = [];
  const notes: string[] = [];

  say(`naive memory: ${baselineJobs.toLocaleString('en-US')} delayed jobs`);
  const naivePerJob = await measureNaivePerJob(baselineJobs);
  for (const n of sizes) {
    say(`ours memory: ${n.toLocaleString('en-US')} links × 4 products`);
    const m = await measureOurs(n);
    const baselineName = `one delayed job per link × product (${baselineJobs.toLocaleString('en-US')} jobs measured, scaled linearly)`;
    figures.push({
      name: `Redis bytes per link × product, ${n.toLocaleString('en-US')} links × 4`,
      unit: 'B',
      value: m.bytesPerLinkProduct,
      baseline: naivePerJob,
      baselineName,
      higherIsBetter: false,
    });
    figures.push({
      name: `Redis total, ${n.toLocaleString('en-US')} links × 4`,
      unit: 'MB',
      value: m.totalMb,
      baseline: (naivePerJob * n * 4) / 1e6,
      baselineName,
      higherIsBetter: false,
    });
    notes.push(
      `${n.toLocaleString('en-US')} links: ${m.buckets.toLocaleString('en-US')} buckets, ${m.nonListpackBuckets} of ${(3 * m.buckets).toLocaleString('en-US')} bucket keys not listpack-encoded; state as after the first refresh (every product has a time, every link has its reconnect webhook's order mark).`,
    );
  }

  // a 10 s "hour": dispatchLinks × 2 hourly products are due every 10 s
  const timeScale = 360;
  const sb = await startSandbox({
    latency: 'none',
    logLevel: 'silent',
    timeScale,
    refreshCompletionDelayMs: 0,
    importRatePerMinute: 1_000_000_000,
  });
  try {
    say(
      `dispatch: ours, ${dispatchLinks.toLocaleString('en-US')} links × 2 products every 10 s, ${WORKERS} processes × ${CONCURRENCY}`,
    );
    const ours = await dispatchRun('ours', sb, timeScale, dispatchLinks, seconds);
    say(`dispatch: naive, same schedule`);
    const naive = await dispatchRun('naive', sb, timeScale, dispatchLinks, seconds);
    const baselineName = 'one delayed job per link × product, same processes and concurrency';
    figures.push({
      name:
        'product refreshes/s (offered ' +
        Math.round(ours.offeredProductRefreshesPerSec).toLocaleString('en-US') +
        '/s)',
      unit: '/s',
      value: ours.productRefreshesPerSec,
      baseline: naive.productRefreshesPerSec,
      baselineName,
      higherIsBetter: true,
    });
    figures.push({
      name: 'refresh calls/s (ours: products due together in one call)',
      unit: '/s',
      value: ours.callsPerSec,
      baseline: naive.callsPerSec,
      baselineName,
      higherIsBetter: true,
    });
    figures.push({
      name: 'worker CPU per product refresh (all worker processes)',
      unit: 'ms',
      value: ours.lag.cpuMs / ours.productRefreshes,
      baseline: naive.lag.cpuMs / naive.productRefreshes,
      baselineName,
      higherIsBetter: false,
    });
    figures.push({
      name: 'lag behind due time, p50',
      unit: 'ms',
      value: ours.lag.p50Ms,
      baseline: naive.lag.p50Ms,
      baselineName,
      higherIsBetter: false,
    });
    figures.push({
      name: 'lag behind due time, p99',
      unit: 'ms',
      value: ours.lag.p99Ms,
      baseline: naive.lag.p99Ms,
      baselineName,
      higherIsBetter: false,
    });
    figures.push({
      name: 'lag behind due time, max',
      unit: 'ms',
      value: ours.lag.maxMs,
      baseline: naive.lag.maxMs,
      baselineName,
      higherIsBetter: false,
    });
    const violations = sb.state.counters().quotaViolationsAttempted;
    notes.push(
      `Dispatch: ${dispatchLinks.toLocaleString('en-US')} links × accounts+transactions, time scale ${timeScale} (an hour = 10 s), zero-latency sandbox in the bench process, ${WORKERS} worker processes × concurrency ${CONCURRENCY} per design; ${seconds} s measured after 10 s of warm-up. Lag = claim time − due time (ours), processing start − delay end (naive).`,
      `Sandbox quota violations over both runs: ${violations} (the naive design has no ledger: any it caused would show here too).`,
    );
  } finally {
    await sb.close();
  }
  const result = { title: 'Refresh scheduler: Redis memory and dispatch', figures, notes };
  mkdirSync(path.dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

if (require.main === module) {
  const { values: v } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      links: { type: 'string' },
      'dispatch-links': { type: 'string' },
      seconds: { type: 'string' },
    },
  });
  const opts: RefreshBenchOptions = { quick: v.quick! };
  if (v.links !== undefined)
    opts.links = v.links
      .split(',')
      .filter(Boolean)
      .map((s) => Number(s.replace(/_/g, '')));
  if (v['dispatch-links']) opts.dispatchLinks = Number(v['dispatch-links']);
  if (v.seconds) opts.seconds = Number(v.seconds);
  run(opts)
    .then((result) => {
      process.stdout.write(
        `${markdownTable(result.title, result.figures)}\n${result.notes.map((n) => `- ${n}`).join('\n')}\n`,
      );
      process.exit(0);
    })
    .catch((err: unknown) => {
      process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
