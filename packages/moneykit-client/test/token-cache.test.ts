import type { AccessTokenResponse } from '@mk/shared';
import { renewalMarginMs } from '../src';
import { TokenCache } from '../src/token-cache';

function setup(expiresIn = 3600) {
  let now = 1_000_000;
  let n = 0;
  const releases: Array<() => void> = [];
  let gated = false;
  const fetchToken = jest.fn(async (): Promise<AccessTokenResponse> => {
    n += 1;
    const token = { access_token: `t${n}`, token_type: 'bearer', expires_in: expiresIn };
    if (gated) await new Promise<void>((r) => releases.push(r));
    return token;
  });
  const cache = new TokenCache(fetchToken, () => now);
  return {
    cache,
    fetchToken,
    advance: (ms: number) => (now += ms),
    gate: () => (gated = true),
    release: () => releases.splice(0).forEach((r) => r()),
  };
}

describe('TokenCache', () => {
  it('renews 60 s before expiry for long tokens and at 80% for short ones', () => {
    expect(renewalMarginMs(3600)).toBe(60_000);
    expect(renewalMarginMs(1)).toBe(200);
    expect(renewalMarginMs(100)).toBe(20_000);
  });

  it('caches until the renewal point, then fetches a new one', async () => {
    const { cache, fetchToken, advance } = setup(3600);
    expect(await cache.get()).toBe('t1');
    advance(3_539_000);
    expect(await cache.get()).toBe('t1');
    advance(1_000);
    expect(await cache.get()).toBe('t2');
    expect(fetchToken).toHaveBeenCalledTimes(2);
  });

  it('single-flight: 20 concurrent callers share one fetch', async () => {
    const { cache, fetchToken, gate, release } = setup();
    gate();
    const all = Promise.all(Array.from({ length: 20 }, () => cache.get()));
    await new Promise((r) => setImmediate(r));
    release();
    expect(new Set(await all)).toEqual(new Set(['t1']));
    expect(fetchToken).toHaveBeenCalledTimes(1);
  });

  it('renew() of a token already replaced returns the replacement without a fetch', async () => {
    const { cache, fetchToken } = setup();
    const first = await cache.get();
    const [a, b] = await Promise.all([cache.renew(first), cache.renew(first)]);
    expect(a).toBe('t2');
    expect(b).toBe('t2');
    expect(await cache.renew('t1')).toBe('t2');
    expect(fetchToken).toHaveBeenCalledTimes(2);
  });

  it('refresh() fetches even with a good token cached, joins a fetch in flight, and keeps what it got', async () => {
    const { cache, fetchToken, gate, release } = setup();
    expect(await cache.get()).toBe('t1');
    expect(await cache.refresh()).toBe('t2');
    expect(await cache.get()).toBe('t2');
    gate();
    const both = Promise.all([cache.refresh(), cache.refresh(), cache.get()]);
    await new Promise((r) => setImmediate(r));
    release();
    expect(await both).toEqual(['t3', 't3', 't3']);
    expect(fetchToken).toHaveBeenCalledTimes(3);
  });

  it('a failed fetch is shared by its waiters and not cached', async () => {
    let fail = true;
    const cache = new TokenCache(async () => {
      if (fail) throw new Error('down');
      return { access_token: 'ok', token_type: 'bearer', expires_in: 60 };
    });
    await expect(Promise.all([cache.get(), cache.get()])).rejects.toThrow('down');
    fail = false;
    expect(await cache.get()).toBe('ok');
  });
});
