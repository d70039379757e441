/**
 * The refresh scheduler's costs, each next to the naive design (one BullMQ delayed job per link × product)
 * measured in the same run:
 *  - Redis memory per scheduled link × product, at 1,000,000 and 3,000,000 links × 4 products (--quick: 100,000;
 *    10,000,000 with --links 1000000,10000000), the registry sized for each (REFRESH_EXPECTED_LINKS);
 *  - refreshes dispatched per second, how late they go out, and the Redis CPU per refreshed link (INFO cpu of every
 *    redis-server), against a zero-latency sandbox, with two worker processes per design at the same concurrency: on
 *    one Redis, on a 3-master Redis Cluster, and the naive design on one Redis.
 *   node --import tsx bench/refresh.ts [--quick] [--links 1000000,10000000] [--fill register|bulk]
 *     [--dispatch-links 20000] [--seconds 20] [--only memory|dispatch]
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
import { createRedis, jobId, parseClusterSeeds, type ImportLinkRequest, type Product, type Redis } from '@mk/shared';
import { startPrivateRedis, startRedisCluster, type PrivateRedis, type PrivateRedisCluster } from '@mk/testkit';
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
  /** How the memory runs are filled (--fill register | bulk); default: register up to 1 M links, bulk above. */
  fill?: 'register' | 'bulk';
  /** One part only (--only memory | dispatch). */
  only?: 'memory' | 'dispatch';
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

/**
 * Memory sizes of the full run. 10 M links took ~12 min to fill on the 2 shared cores measured on (load average ~13;
 * the ids are made and bucketed in the bench process, 1 M in 41 s on a quieter machine): the long form is
 * `--links 1000000,10000000`.
 */
const DEFAULT_SIZES = [1_000_000, 3_000_000];

/** Links at most filled through `registry.register` (the real path); above, the bulk fill below. */
const REGISTER_FILL_MAX = 1_000_000;

/**
 * Ours: a registry sized for `n` links (REFRESH_EXPECTED_LINKS = n), holding `n` links × 4 products in the state they
 * have once refreshed (every product has a time, every link its reconnect webhook's order mark). Up to
 * REGISTER_FILL_MAX links they go through `register` and then get their times; above, each bucket's keys are written
 * whole with pipelined HSET/ZADD of the same entries (register.lua one link at a time would take tens of minutes at
 * 10 M; the keys end up the same, only their history differs).
 */
async function measureOurs(
  n: number,
  fillAs?: 'register' | 'bulk',
): Promise<MemoryFigure & { fill: 'register' | 'bulk'; fillSeconds: number }> {
  const server = await startPrivateRedis();
  const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  try {
    // redis.conf as shipped (and as managed Redis runs) keeps hashes listpack-encoded up to 128 entries; the built-in
    // default a bare redis-server has is 512: measure against the stricter one
    await redis.config('SET', 'hash-max-listpack-entries', '128');
    const before = await usedMemory(redis);
    const registry = await RefreshRegistry.open(redis, '{mk}', { firstDueSpreadMs: 3_600_000, expectedLinks: n });
    const t0 = Date.now();
    const now = Date.now();
    const packed = () =>
      encodeLink({
        mode: 'active',
        reason: 'none',
        products: PRODUCTS4.map((product) => ({
          product,
          status: 'completed' as const,
          refAt: now - Math.floor(Math.random() * 3_600_000),
        })),
      });
    // each imported link was resumed by a link.state_changed webhook: its order mark stays
    const orderMark = () => `r0${encodeTime(now - Math.floor(Math.random() * 86_400_000))}`;
    const fill = fillAs ?? (n <= REGISTER_FILL_MAX ? 'register' : 'bulk');
    if (fill === 'register') {
      const ids = linkIds(n);
      for (let i = 0; i < n; i += 10_000)
        await registry.register(ids.slice(i, i + 10_000).map((linkId) => ({ linkId, products: PRODUCTS4 })));
      for (let i = 0; i < n; i += 10_000) {
        const pipe = redis.pipeline();
        for (const id of ids.slice(i, i + 10_000)) {
          const b = registry.bucketOf(id);
          pipe.hset(registry.keys.state(b), id, packed());
          pipe.hset(registry.keys.webhookOrder(b), id, orderMark());
        }
        await pipe.exec();
      }
    } else {
      await bulkFill(redis, registry, n, packed, orderMark, now);
    }
    const fillSeconds = (Date.now() - t0) / 1000;
    say(`ours: ${n.toLocaleString('en-US')} links filled (${fill}) in ${fillSeconds.toFixed(1)} s`);
    const after = await usedMemory(redis);
    let nonListpack = 0;
    for (let b = 0; b < registry.buckets; b += 1024) {
      const pipe = redis.pipeline();
      for (let k = b; k < Math.min(registry.buckets, b + 1024); k++) {
        pipe
          .object('ENCODING', registry.keys.state(k))
          .object('ENCODING', registry.keys.index(k))
          .object('ENCODING', registry.keys.webhookOrder(k));
      }
      for (const [, enc] of (await pipe.exec()) ?? []) if (enc !== null && enc !== 'listpack') nonListpack += 1;
    }
    const health = await registry.encodingHealth();
    if (health.notListpack !== 0 && nonListpack === 0) throw new Error('encoding sample disagrees with the full scan');
    return {
      links: n,
      bytesPerLinkProduct: (after - before) / (n * PRODUCTS4.length),
      totalMb: (after - before) / 1e6,
      nonListpackBuckets: nonListpack,
      buckets: registry.buckets,
      fill,
      fillSeconds,
    };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** Writes `n` links bucket by bucket: state hash, due index, order marks, the bucket's top entry, the counter. */
async function bulkFill(
  redis: Redis,
  registry: RefreshRegistry,
  n: number,
  packed: () => string,
  orderMark: () => string,
  now: number,
): Promise<void> {
  // each bucket's links, so that each key is written whole by one command
  const byBucket: string[][] = Array.from({ length: registry.buckets }, () => []);
  for (let made = 0; made < n; made += 100_000)
    for (const id of linkIds(Math.min(100_000, n - made))) byBucket[registry.bucketOf(id)]!.push(id);
  const top = registry.keys.shard(0).top;
  for (let b0 = 0; b0 < registry.buckets; b0 += 1000) {
    const pipe = redis.pipeline();
    for (let b = b0; b < Math.min(registry.buckets, b0 + 1000); b++) {
      const links = byBucket[b]!;
      if (links.length === 0) continue;
      const due = links.map(() => now + Math.floor(Math.random() * 3_600_000));
      pipe.hset(registry.keys.state(b), ...links.flatMap((id) => [id, packed()]));
      pipe.zadd(registry.keys.index(b), ...links.flatMap((id, i) => [due[i]!, id]));
      pipe.hset(registry.keys.webhookOrder(b), ...links.flatMap((id) => [id, orderMark()]));
      pipe.zadd(top, Math.min(...due), b);
      byBucket[b] = [];
    }
    await pipe.exec();
  }
  await redis.hset(registry.keys.meta, 'links', n);
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
  /** CPU (user + system) of the redis-server processes (every master) over the measured window, µs. */
  redisCpuUs: number;
  /** Refresh calls made in the measured window (ours: one per link, its due products together). */
  calls: number;
  productRefreshes: number;
  productRefreshesPerSec: number;
  callsPerSec: number;
  lag: Lag;
  offeredProductRefreshesPerSec: number;
  /** INFO commandstats over the measured window, summed over the masters: where the Redis time went. */
  commands: { name: string; calls: number; usec: number }[];
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

/** used_cpu_user + used_cpu_sys (INFO cpu) summed over the given redis-server processes, µs. */
async function redisCpuUs(nodes: Redis[]): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    const info = await node.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
    total += (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
  }
  return total;
}

/** INFO commandstats summed over the nodes (since their last CONFIG RESETSTAT), most time first. */
async function commandStats(nodes: Redis[]): Promise<{ name: string; calls: number; usec: number }[]> {
  const byName = new Map<string, { name: string; calls: number; usec: number }>();
  for (const node of nodes)
    for (const m of (await node.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      const entry = byName.get(m[1]!) ?? { name: m[1]!, calls: 0, usec: 0 };
      entry.calls += Number(m[2]);
      entry.usec += Number(m[3]);
      byName.set(m[1]!, entry);
    }
  return [...byName.values()].sort((a, b) => b.usec - a.usec);
}

/** One Redis, or a 3-master cluster (no replicas: their replication CPU would blur the figure). */
async function startTarget(target: 'node' | 'cluster'): Promise<{
  redis: Redis;
  env: Record<string, string>;
  nodes: Redis[];
  stop(): Promise<void>;
}> {
  if (target === 'node') {
    const server: PrivateRedis = await startPrivateRedis();
    const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
    return {
      redis,
      env: { REDIS_URL: server.url },
      nodes: [redis],
      stop: async () => {
        redis.disconnect();
        await server.stop();
      },
    };
  }
  const cluster: PrivateRedisCluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
  const redis = createRedis(parseClusterSeeds(cluster.nodes), 'worker');
  const nodes = cluster.ports.map((port) => new IORedis(port, '127.0.0.1', { maxRetriesPerRequest: null }) as Redis);
  return {
    redis,
    env: { REDIS_CLUSTER_NODES: cluster.nodes },
    nodes,
    stop: async () => {
      for (const n of nodes) n.disconnect();
      redis.disconnect();
      await cluster.stop();
    },
  };
}

async function dispatchRun(
  kind: 'ours' | 'naive',
  sb: RunningSandbox,
  timeScale: number,
  links: number,
  seconds: number,
  target: 'node' | 'cluster' = 'node',
): Promise<DispatchFigure> {
  const cadenceMs = 3_600_000 / timeScale;
  const redisTarget = await startTarget(target);
  const { redis } = redisTarget;
  const products: Product[] = ['accounts', 'transactions'];
  const ids = createLinks(sb, links, kind === 'naive' ? 10_000_000 : target === 'cluster' ? 20_000_000 : 0);
  const env = {
    ...redisTarget.env,
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
        dispatchIdleMs: 100,
        concurrency: CONCURRENCY,
        // sized for the links it holds, as REFRESH_EXPECTED_LINKS would be
        expectedLinks: links,
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
    for (const node of redisTarget.nodes) await node.config('RESETSTAT');
    const cpu0 = await redisCpuUs(redisTarget.nodes);
    const t0 = Date.now();
    await sleep(seconds * 1000);
    const elapsed = (Date.now() - t0) / 1000;
    const refreshed = productRefreshes(sb) - refreshed0;
    const cpu = (await redisCpuUs(redisTarget.nodes)) - cpu0;
    const commands = await commandStats(redisTarget.nodes);
    const calls = registry ? (await registry.stats()).accepted - accepted0 : refreshed;
    const lag = await stopAndCollectLag(procs.splice(0));
    return {
      redisCpuUs: cpu,
      calls,
      productRefreshes: refreshed,
      productRefreshesPerSec: refreshed / elapsed,
      callsPerSec: calls / elapsed,
      lag,
      offeredProductRefreshesPerSec: (links * products.length) / (cadenceMs / 1000),
      commands,
    };
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    await redisTarget.stop();
  }
}

// ---- report ---------------------------------------------------------------------------------------------

export async function run(opts: RefreshBenchOptions = {}): Promise<BenchResult> {
  const quick = opts.quick ?? false;
  const sizes = opts.links ?? (quick ? [100_000] : DEFAULT_SIZES);
  const dispatchLinks = opts.dispatchLinks ?? (quick ? 5_000 : 20_000);
  const seconds = opts.seconds ?? (quick ? 8 : 20);
  const baselineJobs = quick ? 20_000 : 100_000;
  const figures: Figure[] = [];
  const notes: string[] = [];

  const memory = opts.only !== 'dispatch' && sizes.length > 0;
  if (memory) say(`naive memory: ${baselineJobs.toLocaleString('en-US')} delayed jobs`);
  const naivePerJob = memory ? await measureNaivePerJob(baselineJobs) : 0;
  for (const n of memory ? sizes : []) {
    say(`ours memory: ${n.toLocaleString('en-US')} links × 4 products`);
    const m = await measureOurs(n, opts.fill);
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
      `${n.toLocaleString('en-US')} links: REFRESH_EXPECTED_LINKS=${n}, ${m.buckets.toLocaleString('en-US')} buckets, ${m.nonListpackBuckets} of ${(3 * m.buckets).toLocaleString('en-US')} bucket keys not listpack-encoded (hash-max-listpack-entries 128 as in the shipped redis.conf); state as after the first refresh (every product has a time, every link has its reconnect webhook's order mark); filled ${m.fill === 'register' ? 'through registry.register' : 'bucket by bucket with pipelined HSET/ZADD of the same entries'} in ${m.fillSeconds.toFixed(0)} s.`,
    );
  }
  if (opts.only === 'memory') return write({ title: TITLE, figures, notes });

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
    say(`dispatch: ours on a 3-master Redis Cluster, same schedule`);
    const cluster = await dispatchRun('ours', sb, timeScale, dispatchLinks, seconds, 'cluster');
    say(`dispatch: naive, same schedule`);
    const naive = await dispatchRun('naive', sb, timeScale, dispatchLinks, seconds);
    const baselineName = 'one delayed job per link × product, same processes and concurrency';
    const keptUp = (f: DispatchFigure) => f.productRefreshesPerSec >= 0.95 * f.offeredProductRefreshesPerSec;
    const pct = (f: DispatchFigure) =>
      `${Math.round((100 * f.productRefreshesPerSec) / f.offeredProductRefreshesPerSec)}%`;
    const perProduct = (f: DispatchFigure) => f.redisCpuUs / Math.max(1, f.productRefreshes);
    const perLink = (f: DispatchFigure) => f.redisCpuUs / Math.max(1, f.calls);
    const naiveLinks = (f: DispatchFigure) => f.productRefreshes / 2; // a link's two products, one job each
    figures.push({
      name: 'Redis CPU per refreshed link, one Redis (registry scripts + BullMQ, all due products of the link)',
      unit: 'µs',
      value: perLink(ours),
      baseline: naive.redisCpuUs / Math.max(1, naiveLinks(naive)),
      baselineName: `${baselineName} (its 2 jobs per link)`,
      higherIsBetter: false,
    });
    figures.push({
      name: 'Redis CPU per refreshed link, 3-master cluster (sum of the masters)',
      unit: 'µs',
      value: perLink(cluster),
      baseline: naive.redisCpuUs / Math.max(1, naiveLinks(naive)),
      baselineName: `${baselineName}, one Redis (its queue is one slot: one master on a cluster)`,
      higherIsBetter: false,
    });
    figures.push({
      name: 'Redis CPU per product refresh, one Redis',
      unit: 'µs',
      value: perProduct(ours),
      baseline: perProduct(naive),
      baselineName,
      higherIsBetter: false,
    });
    figures.push({
      name: 'refresh calls/s, 3-master cluster (12 registry shards)',
      unit: '/s',
      value: cluster.callsPerSec,
      baseline: ours.callsPerSec,
      baselineName: 'ours on one Redis, same run',
      higherIsBetter: true,
    });
    figures.push({
      name: 'product refreshes/s, 3-master cluster',
      unit: '/s',
      value: cluster.productRefreshesPerSec,
      baseline: ours.productRefreshesPerSec,
      baselineName: 'ours on one Redis, same run',
      higherIsBetter: true,
    });
    figures.push({
      name: 'lag behind due time p99, 3-master cluster',
      unit: 'ms',
      value: cluster.lag.p99Ms,
      baseline: ours.lag.p99Ms,
      baselineName: 'ours on one Redis, same run',
      higherIsBetter: false,
    });
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
      `Sandbox quota violations over the three runs: ${violations} (the naive design has no ledger: any it caused would show here too).`,
      `Redis CPU = used_cpu_user + used_cpu_sys (INFO cpu) of every redis-server over the measured window: the whole path (dispatch.lua, confirm.lua, BullMQ addBulk and job moves, claim.lua, settle.lua, minute counters), connections and event loop included. One Redis: ${((ours.redisCpuUs / 1e6 / seconds) * 100).toFixed(0)}% of a core; cluster: ${((cluster.redisCpuUs / 1e6 / seconds) * 100).toFixed(0)}% over 3 masters; naive: ${((naive.redisCpuUs / 1e6 / seconds) * 100).toFixed(0)}%. Registry sized for the links it holds (REFRESH_EXPECTED_LINKS=${dispatchLinks}).`,
      `The cluster's 3 masters run on the same cores as the workers, the sandbox and the bench: ${keptUp(cluster) && keptUp(ours) ? 'both kept up with the offered rate (the load is set by the schedule, not pushed to saturation), so calls/s shows that, not how it scales on separate machines' : `at least one run fell behind the offered rate (one Redis ${pct(ours)}, cluster ${pct(cluster)} of it): the machine was short of CPU, and calls/s compares how each fared under that, not how a cluster scales on separate machines`}.`,
      ...(['one Redis', 'cluster'] as const).map((where, i) => {
        const f = i === 0 ? ours : cluster;
        const top = f.commands
          .slice(0, 8)
          .map(
            (c) =>
              `${c.name} ${(c.usec / Math.max(1, f.calls)).toFixed(1)} µs (${(c.calls / Math.max(1, f.calls)).toFixed(2)} calls)`,
          );
        return `Where the Redis time went per refreshed link, ${where} (INFO commandstats; a script's own commands count in it too, and the rest of the CPU is connections and the event loop): ${top.join(', ')}.`;
      }),
    );
  } finally {
    await sb.close();
  }
  return write({ title: TITLE, figures, notes });
}

const TITLE = 'Refresh scheduler: Redis memory and dispatch';

function write(result: BenchResult): BenchResult {
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
      only: { type: 'string' },
      fill: { type: 'string' },
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
  if (v.fill === 'register' || v.fill === 'bulk') opts.fill = v.fill;
  if (v.only === 'memory' || v.only === 'dispatch') opts.only = v.only;
  else if (v.only !== undefined) throw new Error('--only takes memory or dispatch');
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
