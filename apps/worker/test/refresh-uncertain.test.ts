/**
 * A refresh call with an unknown outcome counts as a refresh (never twice inside a quota window). Once it can no longer
 * arrive, one GET /links/{id} tells whether it did: a dropped call gives its quota back and the product is refreshed
 * again within seconds instead of a day later; a call that arrived late stays counted.
 */
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { createLogger } from '@mk/shared';
import type { MoneyKitClient } from '@mk/moneykit-client';
import type { RunningSandbox } from '@mk/sandbox';
import { startRefresh, type RunningRefresh } from '../src/refresh';
import { callArrived } from '../src/refresh/processor';
import { clientFor, control, counters, importLinks, startRefreshSandbox, waitFor } from './fixtures/refresh-helpers';

const SCALE = 360; // an hour of quota = 10 s, a day = 4 min: far longer than this test
const DAY_MS = (24 * 3_600_000) / SCALE;
const logger = createLogger('refresh-test', { level: 'silent' });

let redis: PrivateRedis;
let sb: RunningSandbox;
let client: MoneyKitClient;
let refresh: RunningRefresh;

beforeAll(async () => {
  redis = await startPrivateRedis();
  sb = await startRefreshSandbox({ timeScale: SCALE });
  client = clientFor(sb, 1000); // a call lasts at most 2 s (timeout + grace): inside the 3 s in-flight window
  refresh = await startRefresh({
    redisUrl: redis.url,
    prefix: '{ru}',
    client,
    logger,
    timeScale: SCALE,
    quotaGuardMs: 30,
    inFlightMs: 3000,
    firstDueSpreadMs: 0,
    jitterFraction: 0,
    dispatchIdleMs: 20,
    concurrency: 4,
    buckets: 8,
    // a dropped call is retried by nobody but the check: one attempt per job
    attempts: 1,
  });
});

afterAll(async () => {
  await refresh.close();
  client.close();
  await sb.close();
  await redis.stop();
});

async function connectedLink(i: number): Promise<string> {
  const [linkId] = await importLinks(client, 1, i);
  await control(sb, 'POST', `/links/${linkId}/reconnect`);
  return linkId!;
}

const identityCalls = async (linkId: string) => (await counters(sb)).refreshCalls[linkId]?.identity ?? 0;

it('a dropped daily refresh gives its quota back once MoneyKit says it never arrived, and is sent again the same hour', async () => {
  const linkId = await connectedLink(0);
  await control(sb, 'PUT', '/faults', { dropRate: 1, endpoints: ['refresh'] });
  await refresh.registry.register([{ linkId, products: ['identity'] }]);
  await waitFor('the first call dropped', async () => (await refresh.registry.stats()).uncertain >= 1, 60_000);
  const droppedAt = Date.now();
  await control(sb, 'DELETE', '/faults');
  expect(await identityCalls(linkId)).toBe(0);

  await waitFor('identity refreshed after the check', async () => (await identityCalls(linkId)) === 1, DAY_MS / 2);
  // not a day later: the quota it never spent was given back
  expect(Date.now() - droppedAt).toBeLessThan(DAY_MS / 2);
  const stats = await refresh.registry.stats();
  expect(stats.uncertainChecked).toBeGreaterThanOrEqual(1);
  expect(stats.uncertainUnsent).toBeGreaterThanOrEqual(1);
  expect((await counters(sb)).quotaViolationsAttempted).toBe(0);
  // and now it waits its day
  const state = await refresh.registry.get(linkId);
  expect(state!.products[0]!.nextDueAt! - Date.now()).toBeGreaterThan(DAY_MS / 2);
});

it('a daily refresh answered too late (it arrived) stays counted: no second call inside the day', async () => {
  const linkId = await connectedLink(1);
  const before = (await refresh.registry.stats()).uncertainChecked;
  // MoneyKit takes the call, answers after our timeout
  await control(sb, 'PUT', '/faults', { timeoutRate: 1, timeoutMs: 1500, endpoints: ['refresh'] });
  await refresh.registry.register([{ linkId, products: ['identity'] }]);
  await waitFor('its outcome checked', async () => (await refresh.registry.stats()).uncertainChecked > before, 60_000);
  await control(sb, 'DELETE', '/faults');
  expect(await identityCalls(linkId)).toBe(1);
  const state = await refresh.registry.get(linkId);
  expect(state!.products[0]!.nextDueAt! - Date.now()).toBeGreaterThan(DAY_MS / 2);
  expect((await counters(sb)).quotaViolationsAttempted).toBe(0);
});

describe('callArrived', () => {
  const claimedAt = Date.parse('2026-12-02T10:00:00Z');
  it('reads an attempt recorded since the claim, within the clock skew, as the call', () => {
    expect(callArrived({ last_attempted_at: '2026-12-02T10:00:01Z' }, claimedAt, 1000)).toBe(true);
    expect(callArrived({ last_attempted_at: '2026-12-02T09:59:59.500Z' }, claimedAt, 1000)).toBe(true);
    expect(callArrived({ last_attempted_at: '2026-12-01T10:00:00Z' }, claimedAt, 1000)).toBe(false);
    expect(callArrived({ last_attempted_at: null }, claimedAt, 1000)).toBe(false);
  });
  it('keeps a product the link does not list counted', () => {
    expect(callArrived(undefined, claimedAt, 1000)).toBe(true);
  });
});
