import IORedis from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import type { Redis } from '@mk/shared';
import { RefreshRegistry, registerLinks } from '../src/registry';
import { decodeLink, encodeLink } from '../src/state';
import { DEFAULT_BUCKETS, bucketsFor } from '../src/keys';
import { refreshOptionsFromEnv } from '../src/options';

// time scale 3600: an hour of quota is 1 s, a day 24 s
const SCALE = 3600;
const opts = {
  timeScale: SCALE,
  quotaGuardMs: 20,
  firstDueSpreadMs: 0,
  jitterFraction: 0,
  inFlightMs: 500,
  buckets: 64,
};

let server: PrivateRedis;
let redis: Redis;
let n = 0;
const prefix = () => `{t${++n}}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

describe('packed state', () => {
  it('round-trips and stays under the 64-byte listpack value limit with four products', () => {
    const t = Date.UTC(2027, 5, 1, 12, 0, 0, 123);
    const link = {
      mode: 'parked' as const,
      reason: 'auth_expired' as const,
      products: (['accounts', 'transactions', 'identity', 'account_numbers'] as const).map((product) => ({
        product,
        status: 'completed' as const,
        refAt: t,
      })),
    };
    const packed = encodeLink(link);
    expect(packed.length).toBeLessThanOrEqual(64);
    expect(decodeLink(packed)).toEqual(link);
  });
});

describe('RefreshRegistry', () => {
  it('registers idempotently, parked or active, and never revives a removed link', async () => {
    const p = prefix();
    const reg = await RefreshRegistry.open(redis, p, opts);
    expect(
      await reg.register([
        { linkId: 'l1' },
        { linkId: 'l2', parked: { reason: 'auth_expired' }, products: ['accounts', 'identity'] },
      ]),
    ).toEqual({
      added: 2,
      updated: 0,
      unchanged: 0,
      removed: 0,
    });
    // a retried import registers again: nothing changes, the parked link stays parked
    expect(
      await registerLinks(
        redis,
        p,
        [{ linkId: 'l1' }, { linkId: 'l2', parked: { reason: 'auth_expired' }, products: ['accounts', 'identity'] }],
        opts,
      ),
    ).toEqual({
      added: 0,
      updated: 0,
      unchanged: 2,
      removed: 0,
    });
    const l2 = await reg.get('l2');
    expect(l2).toMatchObject({ mode: 'parked', parked: { reason: 'auth_expired' } });
    expect(l2!.scheduledAt).toBeUndefined();
    expect(l2!.products.map((x) => x.product)).toEqual(['accounts', 'identity']);
    expect((await reg.get('l1'))!.products.map((x) => x.product)).toEqual(['accounts', 'transactions']);

    expect(await reg.register([{ linkId: 'l1', products: ['accounts'] }])).toMatchObject({ updated: 1 });
    expect((await reg.get('l1'))!.products.map((x) => x.product)).toEqual(['accounts']);

    await reg.remove('l1', 'deleted');
    expect(await reg.register([{ linkId: 'l1' }])).toMatchObject({ removed: 1, added: 0 });
    expect(await reg.get('l1')).toMatchObject({ mode: 'removed', removed: { reason: 'deleted' } });
    expect(await reg.stats()).toMatchObject({ registered: 1, parked: 1, active: 0, removed: 1 });
    expect(await reg.get('nope')).toBeNull();
  });

  it('a link taken for dispatch whose job never reached the queue is due again after the hand-over lease; a queued one waits the long lease', async () => {
    const p = prefix();
    const reg = await RefreshRegistry.open(redis, p, { ...opts, handOverMs: 300, leaseMs: 60_000 });
    await reg.register([{ linkId: 'lost' }, { linkId: 'queued' }]);
    const taken = await reg.takeDue();
    expect(taken.map((d) => d.linkId).sort()).toEqual(['lost', 'queued']);
    // the dispatcher died before adding 'lost's job; 'queued's job was added
    expect(await reg.confirmQueued(taken.filter((d) => d.linkId === 'queued'))).toBe(1);
    expect(await reg.takeDue()).toEqual([]);
    await sleep(400);
    expect((await reg.takeDue()).map((d) => d.linkId)).toEqual(['lost']);
    expect((await reg.get('queued'))!.scheduledAt).toBeGreaterThan(Date.now() + 50_000);
    // a confirmation that comes after the link changed (its job settled it) changes nothing
    const [again] = await reg.takeDue().then(async (x) => (x.length ? x : (await sleep(400), reg.takeDue())));
    const claim = await reg.claim(again!.linkId, again!.products);
    await reg.settle(claim as Extract<typeof claim, { kind: 'claimed' }>, { action: 'accepted' });
    const settled = (await reg.get('lost'))!.scheduledAt;
    expect(await reg.confirmQueued([again!])).toBe(0);
    expect((await reg.get('lost'))!.scheduledAt).toBe(settled);
  });

  it('keeps the bucket count a registry was created with and refuses a process sized otherwise', async () => {
    const p = prefix();
    await RefreshRegistry.open(redis, p, { buckets: 8 });
    // a reader that states no size takes the registry as it is
    expect((await RefreshRegistry.open(redis, p)).buckets).toBe(8);
    await expect(RefreshRegistry.open(redis, p, { buckets: 1024 })).rejects.toThrow(/created with 8/);
    const q = prefix();
    await RefreshRegistry.open(redis, q, { expectedLinks: 1_000_000 });
    await expect(RefreshRegistry.open(redis, q, { expectedLinks: 10_000_000 })).rejects.toThrow(
      /REFRESH_EXPECTED_LINKS asks for 262,144 buckets, .*created with 16,384 .*between 524,289 and 1,048,576/,
    );
    await expect(RefreshRegistry.open(redis, q, { expectedLinks: 600_000 })).resolves.toHaveProperty('buckets', 16_384);
  });

  it('sizes a new registry from REFRESH_EXPECTED_LINKS: at most 64 links a bucket on average', async () => {
    const fromEnv = refreshOptionsFromEnv({});
    expect(fromEnv.expectedLinks).toBe(1_000_000);
    expect(bucketsFor(fromEnv.expectedLinks!)).toBe(DEFAULT_BUCKETS);
    expect(DEFAULT_BUCKETS).toBe(16_384); // the count of every registry made before the setting
    expect(bucketsFor(10_000_000)).toBe(262_144);
    expect(bucketsFor(1_048_577)).toBe(32_768);
    const reg = await RefreshRegistry.open(
      redis,
      prefix(),
      refreshOptionsFromEnv({ REFRESH_EXPECTED_LINKS: '3000000' }),
    );
    expect(reg.buckets).toBe(65_536);
    // the default-sized registry an older process created is accepted by a process with the default setting
    const p = prefix();
    await RefreshRegistry.open(redis, p);
    expect((await RefreshRegistry.open(redis, p, refreshOptionsFromEnv({}))).buckets).toBe(16_384);
    expect(() => refreshOptionsFromEnv({ REFRESH_EXPECTED_LINKS: '0' })).toThrow(/REFRESH_EXPECTED_LINKS/);
  });

  it('reports the share of bucket keys grown out of listpack encoding', async () => {
    const sized = await RefreshRegistry.open(redis, prefix(), { ...opts, buckets: 64 });
    await sized.register(Array.from({ length: 640 }, (_, i) => ({ linkId: `ok-${i}` })));
    expect(await sized.encodingHealth()).toEqual({ sampled: 128, notListpack: 0, share: 0 });
    // 2,400 links in 4 buckets: 600 each, past the entries Redis keeps listpack-encoded (sorted sets 128, hashes 128
    // in the shipped redis.conf, 512 built in)
    const crowded = await RefreshRegistry.open(redis, prefix(), { ...opts, buckets: 4 });
    await crowded.register(Array.from({ length: 2400 }, (_, i) => ({ linkId: `crowded-${i}` })));
    const health = await crowded.encodingHealth();
    expect(health).toEqual({ sampled: 8, notListpack: 8, share: 1 });
    expect(await crowded.stats()).toMatchObject({ encodingSampled: 8, nonListpackShare: 1, buckets: 4 });
  });

  it('dispatches due links with their due products together, then the quota gate refuses an early claim', async () => {
    const p = prefix();
    const reg = await RefreshRegistry.open(redis, p, opts);
    await reg.register([
      { linkId: 'a', products: ['accounts', 'transactions', 'identity'] },
      { linkId: 'b', parked: { reason: 'auth_expired' } },
    ]);
    const due = await reg.takeDue();
    expect(due).toEqual([
      {
        linkId: 'a',
        bucket: reg.bucketOf('a'),
        products: ['accounts', 'identity', 'transactions'],
        dueAt: expect.any(Number),
        handOverUntil: expect.any(Number),
      },
    ]);
    // leased: not handed out twice
    expect(await reg.takeDue()).toEqual([]);

    const claim = await reg.claim('a', due[0]!.products);
    expect(claim).toMatchObject({ kind: 'claimed', products: ['accounts', 'identity', 'transactions'] });
    // a duplicate job (redelivery, second worker) gets nothing
    const dup = await reg.claim('a', due[0]!.products);
    expect(dup).toMatchObject({ kind: 'claimed', products: [] });
    expect((dup as { deferredUntil: number }).deferredUntil).toBeGreaterThan(Date.now());
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    await reg.settle(claim, { action: 'accepted', granted: ['accounts', 'transactions', 'identity'] });

    const state = await reg.get('a');
    const byProduct = Object.fromEntries(state!.products.map((x) => [x.product, x]));
    expect(byProduct.accounts!.status).toBe('accepted');
    // hourly products next due ~1 s later, identity ~24 s later
    expect(byProduct.accounts!.nextDueAt! - byProduct.accounts!.lastRefreshAt!).toBe(1000 + 20);
    expect(byProduct.identity!.nextDueAt! - byProduct.identity!.lastRefreshAt!).toBe(24_000 + 20);
    expect(state!.scheduledAt).toBe(byProduct.accounts!.nextDueAt);
    expect(await reg.claim('a', ['accounts'])).toMatchObject({ products: [] });
    expect((await reg.stats()).quotaDeferrals).toBeGreaterThanOrEqual(4);

    await sleep(1100);
    const next = await reg.takeDue();
    expect(next.map((d) => [d.linkId, d.products])).toEqual([['a', ['accounts', 'transactions']]]);
  });

  it('rolls a claim back when the call provably had no effect, and keeps it (to the in-flight end) when the outcome is unknown', async () => {
    const p = prefix();
    const reg = await RefreshRegistry.open(redis, p, opts);
    await reg.register([{ linkId: 'r', products: ['accounts'] }]);
    const c1 = await reg.claim('r', ['accounts']);
    if (c1.kind !== 'claimed') throw new Error('unreachable');
    await reg.settle(c1, { action: 'rollback' });
    expect((await reg.get('r'))!.products[0]).toEqual({ product: 'accounts', status: 'idle', nextDueAt: 0 });

    const c2 = await reg.claim('r', ['accounts']);
    if (c2.kind !== 'claimed') throw new Error('unreachable');
    await reg.settle(c2, { action: 'uncertain', answered: false });
    const st = (await reg.get('r'))!.products[0]!;
    expect(st.status).toBe('retry');
    // silent failure: MoneyKit may still act on it until the in-flight window ends
    expect(st.lastRefreshAt).toBe(c2.token);
    expect(st.nextDueAt).toBe(c2.token + 1020);
  });

  it('claims and settles many links with one script call per shard, each as a call of its own would', async () => {
    const reg = await RefreshRegistry.open(redis, prefix(), { ...opts, shards: 4 });
    const ids = Array.from({ length: 40 }, (_, i) => `m${i}`);
    await reg.register([...ids.map((linkId) => ({ linkId, products: ['accounts' as const] })), { linkId: 'gone' }]);
    await reg.remove('gone', 'deleted');
    const shards = new Set(ids.map((id) => reg.shardOfLink(id).shard)).size;
    expect(shards).toBe(4);
    const scripts = async () =>
      [...(await redis.info('commandstats')).matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce(
        (s, m) => s + Number(m[1]),
        0,
      );

    let before = await scripts();
    const claims = await reg.claimMany([...ids, 'gone', 'm0'].map((linkId) => ({ linkId, products: ['accounts'] })));
    expect((await scripts()) - before).toBe(shards);
    // in the order asked; a link asked twice is claimed once
    expect(claims.map((c) => c.linkId)).toEqual([...ids, 'gone', 'm0']);
    expect(claims.slice(0, 40).every((c) => c.kind === 'claimed' && c.products[0] === 'accounts')).toBe(true);
    expect(claims[40]).toMatchObject({ kind: 'gone', mode: 'removed', reason: 'deleted' });
    expect(claims[41]).toMatchObject({ kind: 'claimed', products: [] });

    const claimed = claims.slice(0, 40).filter((c) => c.kind === 'claimed');
    before = await scripts();
    const settled = await reg.settleMany(
      claimed.map((claim, i) => ({
        claim,
        settlement: i === 0 ? { action: 'park', reason: 'bad_state' } : { action: 'accepted' },
      })),
    );
    expect((await scripts()) - before).toBe(shards);
    expect(settled[0]).toEqual({ mode: 'parked' });
    expect(settled.slice(1).every((s) => s.mode === 'active' && s.nextDueAt! > Date.now())).toBe(true);
    const stats = await reg.stats();
    expect(stats).toMatchObject({ accepted: 39, parkedByRefresh: 1, parked: 1, quotaDeferrals: 1, dueNow: 0 });
    expect((await reg.get('m1'))!.products[0]).toMatchObject({ status: 'accepted' });
    expect((await reg.minutes.history(1)).accepted).toEqual([39]);
  });

  it('dispatcher rounds of one shard take turns over the shards across processes', async () => {
    const p = prefix();
    const a = await RefreshRegistry.open(redis, p, { ...opts, shards: 4 });
    const b = await RefreshRegistry.open(redis, p, { ...opts, shards: 4 });
    // one due link in each shard
    const shardOf = (id: string) => a.shardOfLink(id).shard;
    const ids: string[] = [];
    for (let i = 0; ids.length < 4; i++) if (!ids.some((id) => shardOf(id) === shardOf(`t${i}`))) ids.push(`t${i}`);
    await a.register(ids.map((linkId) => ({ linkId, products: ['accounts' as const] })));
    // two processes in step (each round right after the other's) still visit a new shard each round
    const rounds = [];
    for (const reg of [a, b, a, b]) rounds.push((await reg.takeDue(100, 1)).map((d) => d.linkId));
    expect(rounds.every((r) => r.length === 1)).toBe(true);
    expect(new Set(rounds.flat())).toEqual(new Set(ids));
  });

  it('parks, resumes at once, stops forbidden products and removes links', async () => {
    const p = prefix();
    const reg = await RefreshRegistry.open(redis, p, { ...opts, firstDueSpreadMs: 60_000 });
    await reg.register([{ linkId: 'x', products: ['accounts', 'identity'], parked: { reason: 'auth_expired' } }]);
    expect(await reg.takeDue()).toEqual([]);
    expect(await reg.resume('x')).toBe('due');
    const [due] = await reg.takeDue();
    expect(due!.products).toEqual(['accounts', 'identity']);
    const claim = await reg.claim('x', due!.products);
    if (claim.kind !== 'claimed') throw new Error('unreachable');
    await reg.settle(claim, { action: 'stop', products: ['identity'], why: 'forbidden' });
    const st = (await reg.get('x'))!;
    expect(st.products.find((x) => x.product === 'identity')).toMatchObject({
      status: 'forbidden',
      stopped: 'forbidden',
    });
    // accounts was rolled back (the 403 call refreshed nothing): due again at once
    expect(st.products.find((x) => x.product === 'accounts')).toMatchObject({ status: 'idle', nextDueAt: 0 });
    expect((await reg.takeDue())[0]!.products).toEqual(['accounts']);

    const c2 = await reg.claim('x', ['accounts']);
    if (c2.kind !== 'claimed') throw new Error('unreachable');
    await reg.settle(c2, { action: 'park', reason: 'auth_expired' });
    expect(await reg.get('x')).toMatchObject({ mode: 'parked', parked: { reason: 'auth_expired' } });
    expect((await reg.get('x'))!.products[0]!.status).toBe('idle');
    expect(await reg.claim('x', ['accounts'])).toMatchObject({ kind: 'gone', mode: 'parked' });

    // webhook ordering: an older event does not undo a newer one
    const t = Date.now();
    expect(await reg.linkAction('x', 'resume', 'none', t)).toBe('due');
    expect(await reg.linkAction('x', 'park', 'auth_expired', t - 1000)).toBe('stale');
    expect((await reg.get('x'))!.mode).toBe('active');

    expect(await reg.remove('x', 'not_found')).toBe('removed');
    expect(await reg.takeDue()).toEqual([]);
    const events = await reg.recentEvents();
    expect(events.map((e) => e.type)).toEqual(['removed', 'parked', 'stopped']);
  });

  it('groups a due product with one coming due soon instead of making two calls', async () => {
    const p = prefix();
    // accounts every 1 s, identity every 24 s; a product may wait 10% of its cadence
    const reg = await RefreshRegistry.open(redis, p, opts);
    await reg.register([{ linkId: 'g', products: ['accounts', 'identity'] }]);
    const [d] = await reg.takeDue();
    const c = await reg.claim('g', d!.products);
    if (c.kind !== 'claimed') throw new Error('unreachable');
    await reg.settle(c, { action: 'accepted' });
    // identity came due 10 ms ago and may wait up to 10% of a day (2.4 s); accounts comes due in 300 ms
    const b = reg.bucketOf('g');
    const st = decodeLink((await redis.hget(reg.keys.state(b), 'g'))!);
    const now = Date.now();
    st.products.find((x) => x.product === 'accounts')!.refAt = now - 1020 + 300;
    st.products.find((x) => x.product === 'identity')!.refAt = now - 24_020 - 10;
    await redis.hset(reg.keys.state(b), 'g', encodeLink(st));
    await reg.trigger('g');
    expect(await reg.takeDue()).toEqual([]);
    expect((await reg.stats()).groupDeferrals).toBe(1);
    await sleep(350);
    expect((await reg.takeDue()).map((x) => x.products)).toEqual([['accounts', 'identity']]);
  });
});

describe('state-change webhooks that arrive before the registration', () => {
  it('decide how the link starts: reconnected → active and due at once, deleted → removed', async () => {
    const p = prefix();
    const reg = await RefreshRegistry.open(redis, p, { ...opts, firstDueSpreadMs: 60_000 });
    const t = Date.now();
    expect(await reg.linkAction('early-r', 'resume', 'none', t)).toBe('unknown');
    expect(await reg.linkAction('early-x', 'remove', 'deleted', t)).toBe('unknown');
    expect(
      await reg.register([
        { linkId: 'early-r', parked: { reason: 'auth_expired' } },
        { linkId: 'early-x', parked: { reason: 'auth_expired' } },
        { linkId: 'plain', parked: { reason: 'auth_expired' } },
      ]),
    ).toEqual({ added: 2, updated: 0, unchanged: 0, removed: 1 });
    expect(await reg.get('early-r')).toMatchObject({ mode: 'active' });
    expect((await reg.takeDue()).map((d) => d.linkId)).toEqual(['early-r']);
    expect(await reg.get('early-x')).toMatchObject({ mode: 'removed', removed: { reason: 'deleted' }, products: [] });
    expect(await reg.get('plain')).toMatchObject({ mode: 'parked' });
    expect(await reg.stats()).toMatchObject({ registered: 2, parked: 1, removed: 1 });
  });
});
