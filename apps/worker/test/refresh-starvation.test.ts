/**
 * The interleavings a starved process opens, closed by design: a claim that grew too old before its call went out
 * is given back unsent, a call is never sent after its claim's send window, and calls back off when the upstream
 * stops answering in time (a timed-out refresh counts as one, so sending into a jam "refreshes" nothing).
 */
import { CLIENT_CODES } from '@mk/moneykit-client';
import { createLogger, type Product } from '@mk/shared';
import type { Job, Queue } from 'bullmq';
import { CongestionLimit } from '../src/refresh/congestion';
import { createRefreshProcessor, sendWindowMs, type RefreshClient } from '../src/refresh/processor';
import { RefreshRegistry } from '@mk/refresh';
import { counters } from './fixtures/refresh-helpers';
import { useRefreshTestbed } from './fixtures/refresh-testbed';

const SCALE = 3600;
const logger = createLogger('test', { level: 'silent' });
const bed = useRefreshTestbed({ timeScale: SCALE, clientTimeoutMs: 500 }); // a call lasts at most 1.5 s (timeout + 1 s grace)
const { connectedLinks } = bed;
let n = 0;

const job = (linkId: string, products: Product[]) =>
  ({ data: { linkId, products, dueAt: Date.now() }, attemptsMade: 0, opts: { attempts: 3 } }) as unknown as Job;
const noQueue = { rateLimit: async () => undefined } as unknown as Queue;

describe('a starved refresh worker', () => {
  it('gives a claim back unsent when the process stalled past its send window, and claims afresh', async () => {
    const reg = await RefreshRegistry.open(bed.redis, `{st${++n}}`, {
      timeScale: SCALE,
      inFlightMs: 2000,
      quotaGuardMs: 20,
      firstDueSpreadMs: 0,
      buckets: 8,
    });
    const window = sendWindowMs(2000, bed.client.maxExchangeMs('refresh_products'), 20);
    expect(window).toBe(480);
    const [linkId] = await connectedLinks(1);
    await reg.register([{ linkId: linkId!, products: ['accounts'] }]);
    // the first claim is taken, then this process "stalls" (the registry answers it late) past the window
    let stalls = 1;
    const slowClaims = new Proxy(reg, {
      get(target, prop, receiver) {
        if (prop !== 'claim') return Reflect.get(target, prop, receiver);
        return async (...args: Parameters<RefreshRegistry['claim']>) => {
          const claim = await target.claim(...args);
          if (stalls-- > 0) await new Promise((r) => setTimeout(r, window + 100));
          return claim;
        };
      },
    });
    const { processRefresh: process } = createRefreshProcessor({
      registry: slowClaims,
      client: bed.client,
      queue: noQueue,
      logger,
      credentialsRefused: async () => undefined,
    });
    expect(await process(job(linkId!, ['accounts']))).toEqual({ outcome: 'accepted', products: ['accounts'] });
    const stats = await reg.stats();
    expect(stats.staleClaims).toBe(1);
    expect(stats.accepted).toBe(1);
    expect((await counters(bed.sb)).refreshCalls[linkId!]).toEqual({ accounts: 1 });
  });

  it("never sends a call after its claim's send window, even when the stall comes after the claim was checked", async () => {
    const [linkId] = await connectedLinks(1);
    await expect(bed.client.refreshProducts(linkId!, ['accounts'], { sendBy: Date.now() - 1 })).rejects.toMatchObject({
      code: CLIENT_CODES.sendWindowPassed,
      errorClass: 'retryable',
      mayHaveTakenEffect: false,
    });
    expect((await counters(bed.sb)).refreshCalls[linkId!]).toBeUndefined();

    // through the processor: the stall falls between the claim check and the send; the products are given back
    const reg = await RefreshRegistry.open(bed.redis, `{st${++n}}`, {
      timeScale: SCALE,
      inFlightMs: 2000,
      quotaGuardMs: 20,
      firstDueSpreadMs: 0,
      buckets: 8,
    });
    await reg.register([{ linkId: linkId!, products: ['accounts'] }]);
    const stalled: RefreshClient = {
      maxExchangeMs: (e) => bed.client.maxExchangeMs(e),
      getLink: (id) => bed.client.getLink(id),
      refreshProducts: async (id, products, opts) => {
        await new Promise((r) => setTimeout(r, 600));
        return bed.client.refreshProducts(id, products, opts);
      },
    };
    const { processRefresh: process } = createRefreshProcessor({
      registry: reg,
      client: stalled,
      queue: noQueue,
      logger,
      credentialsRefused: async () => undefined,
    });
    await expect(process(job(linkId!, ['accounts']))).rejects.toMatchObject({ code: CLIENT_CODES.sendWindowPassed });
    expect((await counters(bed.sb)).refreshCalls[linkId!]).toBeUndefined();
    // given back, not counted as a refresh: claimable again at once
    const again = await reg.claim(linkId!, ['accounts']);
    expect(again).toMatchObject({ kind: 'claimed', products: ['accounts'] });
  });
});

describe('congestion limit', () => {
  it('halves on a timeout at most once per cooldown, grows back by one per window of answers, and wakes waiters', async () => {
    let now = 0;
    const limit = new CongestionLimit({ max: 16, cooldownMs: 1000, now: () => now });
    const held = await Promise.all(Array.from({ length: 16 }, () => limit.acquire()));
    expect(held).toHaveLength(16);
    let seventeenth = false;
    const waiting = limit.acquire().then(() => (seventeenth = true));
    // a burst of timeouts from one slow spell: one halving
    for (let i = 0; i < 6; i++) limit.release('timedOut');
    expect(limit.limit).toBe(8);
    await Promise.resolve();
    expect(seventeenth).toBe(false); // 10 still in flight, the limit is 8
    for (let i = 0; i < 3; i++) limit.release('other');
    await waiting;
    expect(limit.active).toBe(8);
    now += 1000;
    limit.release('timedOut');
    expect(limit.limit).toBe(4);
    // answers bring it back: about one more per `limit` answers
    for (let i = 0; i < 7; i++) limit.release('answered');
    for (let i = 0; i < 20; i++) {
      await limit.acquire();
      limit.release('answered');
    }
    expect(limit.limit).toBeGreaterThanOrEqual(6);
    expect(limit.limit).toBeLessThanOrEqual(16);
    // never below one
    for (let i = 0; i < 10; i++) {
      now += 1000;
      await limit.acquire();
      limit.release('timedOut');
    }
    expect(limit.limit).toBe(1);
  });
});
