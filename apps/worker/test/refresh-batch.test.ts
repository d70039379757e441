/**
 * Batch jobs: a dispatched batch costs one claim and one settle script call per group of calls in flight, and what a
 * link's answer asks for (a retry with backoff, the queue held) is handed to jobs of its own without holding the rest.
 */
import { until } from '@mk/testkit';
import { MoneyKitError } from '@mk/moneykit-client';
import { createLogger, refreshBatchJob, refreshJob, type Product, type RefreshBatchJob } from '@mk/shared';
import { Queue, type Job } from 'bullmq';
import { CongestionLimit } from '../src/refresh/congestion';
import { startDispatcher } from '../src/refresh/dispatcher';
import { createRefreshProcessor, type RefreshClient } from '../src/refresh/processor';
import { RefreshRegistry } from '@mk/refresh';
import { counters } from './fixtures/refresh-helpers';
import { useRefreshTestbed } from './fixtures/refresh-testbed';

const SCALE = 3600;
const logger = createLogger('test', { level: 'silent' });
const bed = useRefreshTestbed({ timeScale: SCALE });
const { connectedLinks } = bed;
let n = 0;

const PRODUCTS: Product[] = ['accounts'];

/** A registry of its own (4 shards) holding `links`, due at once. */
async function registryOf(links: string[]): Promise<RefreshRegistry> {
  const registry = await RefreshRegistry.open(bed.redis, `{bt${++n}}`, {
    timeScale: SCALE,
    firstDueSpreadMs: 0,
    buckets: 64,
    shards: 4,
    appRateLimitLinks: 1,
    backoffMs: 5000,
  });
  await registry.register(links.map((linkId) => ({ linkId, products: PRODUCTS })));
  return registry;
}

/** The batch processor over the sandbox, `inFlight` calls at once; calls of the links in `failures` fail so. */
function processorOf(registry: RefreshRegistry, inFlight: number, failures: Record<string, MoneyKitError> = {}) {
  const queue = new Queue(refreshJob.queue, { connection: bed.redis, prefix: `${registry.prefix}:bull` });
  const failing: RefreshClient = {
    maxExchangeMs: (e) => bed.client.maxExchangeMs(e),
    getLink: (id) => bed.client.getLink(id),
    refreshProducts: async (id, products, opts) => {
      const failure = failures[id];
      if (failure) throw failure;
      return bed.client.refreshProducts(id, products, opts);
    },
  };
  const { processBatch } = createRefreshProcessor({
    registry,
    client: failing,
    queue,
    logger,
    congestion: new CongestionLimit({ max: inFlight, cooldownMs: 1000 }),
    credentialsRefused: async () => undefined,
  });
  const batch = (linkIds: string[]) =>
    processBatch({
      name: refreshBatchJob.name,
      data: { links: linkIds.map((linkId) => ({ linkId, products: PRODUCTS, dueAt: Date.now() })) },
      attemptsMade: 0,
      opts: { attempts: 3 },
    } as unknown as Job);
  return { queue, batch };
}

/** Script calls Redis ran so far (EVALSHA and EVAL, from INFO commandstats). */
async function scriptCalls(): Promise<number> {
  const info = await bed.redis.info('commandstats');
  return [...info.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

/** The links of one shard of the registry, as the dispatcher batches them. */
const oneShard = (registry: RefreshRegistry, ids: string[]) => {
  const shard = registry.shardOfLink(ids[0]!).shard;
  return ids.filter((id) => registry.shardOfLink(id).shard === shard);
};

const sent = async (ids: string[]) => {
  const calls = (await counters(bed.sb)).refreshCalls;
  return ids.map((id) => calls[id]?.accounts ?? 0);
};

describe('refresh batch jobs', () => {
  it('claims and settles a group of calls with one script call each, every link sent once', async () => {
    const ids = await connectedLinks(80);
    const registry = await registryOf(ids);
    const links = oneShard(registry, ids);
    expect(links.length).toBeGreaterThan(10);
    const { queue, batch } = processorOf(registry, 10);
    const before = await scriptCalls();
    expect(await batch(links)).toEqual({ accepted: links.length, settled: 0, deferred: 0, skipped: 0, handedOff: 0 });
    expect((await scriptCalls()) - before).toBe(2 * Math.ceil(links.length / 10));
    expect(await sent(links)).toEqual(links.map(() => 1));
    expect((await registry.stats()).accepted).toBe(links.length);
    for (const id of links) expect((await registry.get(id))?.products[0]?.status).toBe('accepted');

    // dispatched again (its lease ran out while the job waited): the quota gate lets nothing through
    expect(await batch(links.slice(0, 3))).toMatchObject({ accepted: 0, deferred: 3 });
    expect(await sent(links.slice(0, 3))).toEqual([1, 1, 1]);
    await queue.close();
  });

  it('hands a retry to a job of its own and, once the queue is held, the links not sent to one batch job', async () => {
    const ids = await connectedLinks(40);
    const registry = await registryOf(ids);
    const links = oneShard(registry, ids).slice(0, 6);
    expect(links).toHaveLength(6);
    const notSent = new MoneyKitError({
      errorClass: 'retryable',
      endpoint: 'refresh_products',
      message: 'connection refused',
      mayHaveTakenEffect: false,
    });
    const appLimit = new MoneyKitError({
      errorClass: 'rate_limited',
      endpoint: 'refresh_products',
      message: 'rate limit',
      status: 429,
      retryAfterMs: 60_000,
      mayHaveTakenEffect: false,
    });
    // groups of two: [0 1] [2 3], then held; 1 fails unsent, 2 meets the app-wide limit
    const { queue, batch } = processorOf(registry, 2, { [links[1]!]: notSent, [links[2]!]: appLimit });
    expect(await batch(links)).toEqual({ accepted: 2, settled: 0, deferred: 0, skipped: 0, handedOff: 1 + 3 });
    expect(await sent(links)).toEqual([1, 0, 0, 1, 0, 0]);

    const retry = await queue.getJob(refreshJob.id({ linkId: links[1]!, products: PRODUCTS }));
    expect(retry?.data).toMatchObject({ linkId: links[1], products: PRODUCTS });
    expect(retry?.opts.delay).toBe(5000);
    const held = (await queue.getJobs(['waiting', 'prioritized', 'delayed'])).filter(
      (j) => j.name === refreshBatchJob.name,
    );
    expect(held.map((j) => (j.data as RefreshBatchJob).links.map((l) => l.linkId))).toEqual([
      [links[2], links[4], links[5]],
    ]);
    // the queue is held for the 429's Retry-After
    expect(await queue.getRateLimitTtl()).toBeGreaterThan(50_000);
    // the unsent and the refused calls were given back (claimable at once); a sent one was not
    for (const id of [links[1]!, links[2]!])
      expect(await registry.claim(id, PRODUCTS)).toMatchObject({ kind: 'claimed', products: PRODUCTS });
    expect(await registry.claim(links[0]!, PRODUCTS)).toMatchObject({ kind: 'claimed', products: [] });
    await queue.close();
  });

  it('extends the leases of links whose job still waits half a hand-over later, not of those already done', async () => {
    const registry = await RefreshRegistry.open(bed.redis, `{bt${++n}}`, {
      timeScale: SCALE,
      firstDueSpreadMs: 0,
      buckets: 64,
      // one shard: the dispatcher's first round (one shard a round) finds the link
      shards: 1,
      handOverMs: 1000,
      leaseMs: 60_000,
      // one round at start, then only the rounds the test asks for
      dispatchIdleMs: 600_000,
    });
    const [waits, done] = [`lease-${n}-a`, `lease-${n}-b`];
    await registry.register([{ linkId: waits, products: PRODUCTS }]);
    const queue = new Queue(refreshJob.queue, { connection: bed.redis, prefix: `${registry.prefix}:bull` });
    const dispatcher = startDispatcher(registry, queue, logger);
    try {
      // a round each: two jobs
      await until('the first link dispatched', () => dispatcher.dispatched === 1);
      await registry.register([{ linkId: done, products: PRODUCTS }]);
      expect(await dispatcher.tick()).toBe(1);
      const jobs = await queue.getJobs(['waiting']);
      expect(jobs).toHaveLength(2);
      await jobs.find((j) => (j.data as RefreshBatchJob).links[0]!.linkId === done)!.remove(); // as a finished job is
      await new Promise((r) => setTimeout(r, 600));
      await dispatcher.tick();
      const leasedFor = async (id: string) => (await registry.get(id))!.scheduledAt! - Date.now();
      expect(await leasedFor(waits)).toBeGreaterThan(30_000);
      // its hand-over lease only (or a new one, had it ended before this round)
      expect(await leasedFor(done)).toBeLessThanOrEqual(1000);
    } finally {
      await dispatcher.stop();
      await queue.close();
    }
  });
});
