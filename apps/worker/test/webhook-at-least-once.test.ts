/**
 * Webhooks at least once: a delivery becomes a duplicate only once its event was applied. A receiver SIGKILLed
 * between claiming a delivery and applying it holds the key for a short lease only; MoneyKit's retry after it is
 * applied (the parked link resumes). Identical deliveries at once are applied once. Real Redis, real HTTP, signed.
 */
import IORedis from 'ioredis';
import { startApp, startPrivateRedis, type AppProcess, type PrivateRedis } from '@mk/testkit';
import { createLogger, type Redis } from '@mk/shared';
import { RefreshRegistry } from '@mk/refresh';
import { applyWebhook, startWebhookReceiver, WebhookDedupe, type RunningWebhookReceiver } from '../src/webhooks';
import { deliver, newKey, productRefresh, stateChanged, type Answer, type TestKey } from './support/webhooks';

const PREFIX = '{whonce}';
/** Short, so a dead holder's lease runs out quickly; nothing below depends on how fast the machine is. */
const LEASE_MS = 1000;
const DEADLINE_MS = 45_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: PrivateRedis;
let redis: Redis;
let registry: RefreshRegistry;
let key: TestKey;
const receivers: RunningWebhookReceiver[] = [];
const children: AppProcess[] = [];
const quiet = createLogger('webhooks-once-test', { level: 'silent' });

async function receiver(opts: { registry?: RefreshRegistry; leaseMs?: number } = {}): Promise<RunningWebhookReceiver> {
  const r = await startWebhookReceiver({
    port: 0,
    registry: opts.registry ?? registry,
    fetchJwks: async () => ({ keys: [key.jwk] }),
    processingLeaseMs: opts.leaseMs ?? LEASE_MS,
    logger: quiet,
  });
  receivers.push(r);
  return r;
}

/** A registry whose applies wait at a gate the test opens: a delivery claimed and not yet applied. */
async function gatedRegistry() {
  const gated = await RefreshRegistry.open(redis, PREFIX);
  let entered!: () => void;
  let open!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (open = r));
  const linkAction = gated.linkAction.bind(gated);
  gated.linkAction = async (...args) => {
    entered();
    await gate;
    return linkAction(...args);
  };
  return { registry: gated, inside, open };
}

/** MoneyKit's retries of one delivery until one is acknowledged; every answer is kept. */
async function redeliverUntilAcknowledged(url: string, event: object): Promise<Answer[]> {
  const answers: Answer[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const a = await deliver(url, event, key);
    answers.push(a);
    if (a.status === 200 || Date.now() > deadline) return answers;
    await sleep(100);
  }
}

const meta = async (field: string) => Number((await redis.hget(registry.keys.meta, field)) ?? 0);

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  registry = await RefreshRegistry.open(redis, PREFIX, { timeScale: 3600, firstDueSpreadMs: 0, buckets: 16 });
  key = await newKey();
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.kill('SIGKILL')));
  await Promise.all(receivers.map((r) => r.close()));
  redis?.disconnect();
  await server?.stop();
});

describe('webhooks at least once', () => {
  it('a receiver SIGKILLed between claim and apply: the redelivery to a new receiver is applied and the link resumes', async () => {
    await registry.register([{ linkId: 'mk_crash', parked: { reason: 'auth_expired' } }]);
    const resumedBefore = await meta('resumed');
    const child = startApp('apps/worker/test/fixtures/webhook-process.ts', {
      REDIS_URL: server.url,
      REDIS_PREFIX: PREFIX,
      WEBHOOK_TEST_JWKS: JSON.stringify({ keys: [key.jwk] }),
      WEBHOOK_TEST_LEASE_MS: String(LEASE_MS),
      WEBHOOK_TEST_BLOCK_APPLY: '1',
    });
    children.push(child);
    const deadline = Date.now() + DEADLINE_MS;
    while (!/ready (\S+)/.test(child.output()) && Date.now() < deadline) await sleep(50);
    const url = /ready (\S+)/.exec(child.output())?.[1];
    expect(url).toBeDefined();

    const connected = stateChanged('mk_crash', 'connected');
    const first = deliver(url!, connected, key).then(
      (a) => `answered ${a.status}`,
      (err: Error) => `failed: ${err.message}`,
    );
    while (!child.output().includes('applying mk_crash') && Date.now() < deadline) await sleep(20);
    expect(child.output()).toContain('applying mk_crash');
    // claimed, under the lease only (the old receiver held it for the whole 3 h dedupe TTL)
    const seen = registry.keys.webhookSeen(connected.webhook_idempotency_key);
    expect(await redis.get(seen)).toMatch(/^processing:/);
    expect(await redis.pttl(seen)).toBeLessThanOrEqual(LEASE_MS);
    await child.kill('SIGKILL');
    expect(await first).toMatch(/^failed/); // MoneyKit saw the connection drop: it will retry
    expect((await registry.get('mk_crash'))!.mode).toBe('parked');

    const fresh = await receiver();
    const answers = await redeliverUntilAcknowledged(fresh.url, connected);
    // while the dead receiver's lease lasts: 503 in_progress (retry later), never a 200 duplicate
    for (const a of answers.slice(0, -1)) expect(a).toMatchObject({ status: 503, body: { error: 'in_progress' } });
    expect(answers.at(-1)).toMatchObject({ status: 200, body: { status: 'processed', effect: 'due' } });
    expect(await registry.get('mk_crash')).toMatchObject({ mode: 'active' });
    expect(await meta('resumed')).toBe(resumedBefore + 1);
    expect(await fresh.dedupe.state(connected.webhook_idempotency_key)).toBe('done');

    // once applied, a duplicate for the dedupe TTL
    expect(await deliver(fresh.url, connected, key)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await redis.pttl(seen)).toBeGreaterThan(3_600_000);
  });

  it('a retry while a delivery is being applied is answered 503 with Retry-After, then duplicate once applied', async () => {
    await registry.register([{ linkId: 'mk_busy', parked: { reason: 'auth_expired' } }]);
    const gated = await gatedRegistry();
    const r = await receiver({ registry: gated.registry, leaseMs: 60_000 });
    const connected = stateChanged('mk_busy', 'connected');
    const first = deliver(r.url, connected, key);
    await gated.inside;
    const retry = await deliver(r.url, connected, key);
    expect(retry).toMatchObject({ status: 503, body: { error: 'in_progress', message: expect.any(String) } });
    expect(Number(retry.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retry.retryAfter)).toBeLessThanOrEqual(60);
    gated.open();
    expect(await first).toMatchObject({ status: 200, body: { status: 'processed', effect: 'due' } });
    expect(await deliver(r.url, connected, key)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect((await registry.get('mk_busy'))!.mode).toBe('active');
  });

  it('identical deliveries at once, to two receivers, are applied once', async () => {
    const [a, b] = [await receiver(), await receiver()];
    await registry.register([{ linkId: 'mk_twice', parked: { reason: 'auth_expired' } }]);
    const resumedBefore = await meta('resumed');
    const completedBefore = await meta('productRefreshCompleted');
    const connected = stateChanged('mk_twice', 'connected');
    const refreshed = productRefresh('mk_twice');
    const burst = (event: object) =>
      Promise.all(Array.from({ length: 8 }, (_, i) => deliver((i % 2 ? a : b).url, event, key)));
    for (const [event, answers] of [
      [connected, await burst(connected)],
      [refreshed, await burst(refreshed)],
    ] as const) {
      const kinds = answers.map((x) =>
        x.status === 200 ? String(x.body.status) : `${x.status} ${String(x.body.error)}`,
      );
      expect(kinds.filter((k) => k === 'processed')).toHaveLength(1);
      for (const k of kinds) expect(['processed', 'duplicate', '503 in_progress']).toContain(k);
      // MoneyKit retries the busy ones: duplicates now
      for (const x of answers.filter((y) => y.status === 503)) {
        expect((await redeliverUntilAcknowledged(a.url, event)).at(-1)).toMatchObject({
          status: 200,
          body: { status: 'duplicate' },
        });
      }
    }
    expect(await meta('resumed')).toBe(resumedBefore + 1);
    expect(await meta('productRefreshCompleted')).toBe(completedBefore + 1);
    expect((await registry.get('mk_twice'))!.products.find((p) => p.product === 'accounts')!.status).toBe('completed');
  });

  it('a claim left by a receiver from before leases (processing, 3 h) is cut down to the lease, then applied', async () => {
    await registry.register([{ linkId: 'mk_legacy', parked: { reason: 'auth_expired' } }]);
    const connected = stateChanged('mk_legacy', 'connected');
    const seen = registry.keys.webhookSeen(connected.webhook_idempotency_key);
    await redis.set(seen, 'processing', 'PX', 3 * 3_600_000);
    const r = await receiver();
    const busy = await deliver(r.url, connected, key);
    expect(busy).toMatchObject({ status: 503, body: { error: 'in_progress' }, retryAfter: '1' });
    expect(await redis.pttl(seen)).toBeLessThanOrEqual(LEASE_MS);
    expect((await redeliverUntilAcknowledged(r.url, connected)).at(-1)).toMatchObject({
      status: 200,
      body: { status: 'processed' },
    });
    expect((await registry.get('mk_legacy'))!.mode).toBe('active');
  });

  it('an apply that fails releases its key: the next retry is applied at once', async () => {
    await registry.register([{ linkId: 'mk_fail', parked: { reason: 'auth_expired' } }]);
    const failing = await RefreshRegistry.open(redis, PREFIX);
    const linkAction = failing.linkAction.bind(failing);
    let failures = 1;
    failing.linkAction = async (...args) => {
      if (failures-- > 0) throw new Error('Redis went away');
      return linkAction(...args);
    };
    const r = await receiver({ registry: failing, leaseMs: 60_000 });
    const connected = stateChanged('mk_fail', 'connected');
    expect(await deliver(r.url, connected, key)).toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(await r.dedupe.state(connected.webhook_idempotency_key)).toBe('unseen');
    expect(await deliver(r.url, connected, key)).toMatchObject({
      status: 200,
      body: { status: 'processed', effect: 'due' },
    });
  });

  it("a late release never erases another delivery's lease or its done mark", async () => {
    const dedupe = new WebhookDedupe(redis, registry.keys.webhookSeen, 60_000, LEASE_MS);
    const mine = await dedupe.claim('k-late');
    expect(mine.kind).toBe('claimed');
    expect(await dedupe.claim('k-late')).toMatchObject({ kind: 'busy' });
    // my lease ran out and another receiver claimed the key
    await redis.del(registry.keys.webhookSeen('k-late'));
    const theirs = await dedupe.claim('k-late');
    await dedupe.release('k-late', mine as Extract<typeof mine, { kind: 'claimed' }>);
    expect(await dedupe.state('k-late')).toBe('processing');
    await dedupe.done('k-late');
    await dedupe.release('k-late', theirs as Extract<typeof theirs, { kind: 'claimed' }>);
    expect(await dedupe.state('k-late')).toBe('done');
    expect(await dedupe.claim('k-late')).toEqual({ kind: 'done' });
    expect(() => new WebhookDedupe(redis, registry.keys.webhookSeen, 60_000, 60_000)).toThrow(/lease/);
  });

  it('applying the same event twice (killed after applying, before done) leaves the link as it was', async () => {
    // What a second apply still changes is bounded and listed in dedupe.ts; the link's state is not among it.
    await registry.register([
      { linkId: 'mk_again_c', parked: { reason: 'auth_expired' } },
      { linkId: 'mk_again_e' },
      { linkId: 'mk_again_p' },
    ]);
    const events = [
      stateChanged('mk_again_c', 'connected'),
      stateChanged('mk_again_e', 'error', { error: 'auth_expired' }),
      productRefresh('mk_again_p'),
    ];
    const resumedBefore = await meta('resumed');
    for (const event of events) {
      const once = await applyWebhook(event as never, registry);
      const state = await registry.get(event.link_id);
      const b = registry.bucketOf(event.link_id);
      const mark = await redis.hget(registry.keys.webhookOrder(b), event.link_id);
      expect(await applyWebhook(event as never, registry)).toBe(once);
      const again = await registry.get(event.link_id);
      expect({ mode: again!.mode, parked: again!.parked, products: again!.products }).toEqual({
        mode: state!.mode,
        parked: state!.parked,
        products: state!.products,
      });
      expect(await redis.hget(registry.keys.webhookOrder(b), event.link_id)).toBe(mark);
    }
    expect(await meta('resumed')).toBe(resumedBefore + 1);
  });
});
