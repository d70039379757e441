/**
 * The refresh pipeline in one process against the sandbox over HTTP: parked imported links resumed by the
 * signed webhook, and each kind of refusal (403, 404, 410, 422, 429 per link and app-wide).
 */
import { measureSlowdown, startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { createLogger } from '@mk/shared';
import type { MoneyKitClient } from '@mk/moneykit-client';
import type { RunningSandbox } from '@mk/sandbox';
import { startRefresh, type RunningRefresh } from '../src/refresh';
import { jwksFromUrl, startWebhookReceiver, type RunningWebhookReceiver } from '../src/webhooks';
import { clientFor, control, counters, importLinks, startRefreshSandbox, waitFor } from './fixtures/refresh-helpers';

const SCALE = 3600; // an hour of quota = 1 s
const logger = createLogger('refresh-test', { level: 'silent' });

let redis: PrivateRedis;
let sb: RunningSandbox;
let client: MoneyKitClient;
let refresh: RunningRefresh;
let receiver: RunningWebhookReceiver;

beforeAll(async () => {
  redis = await startPrivateRedis();
  sb = await startRefreshSandbox({ timeScale: SCALE });
  client = clientFor(sb, 1500); // a call lasts at most 2.5 s (timeout + grace): inside the 3 s in-flight window
  refresh = await startRefresh({
    redisUrl: redis.url,
    prefix: '{rp}',
    client,
    logger,
    timeScale: SCALE,
    quotaGuardMs: 30,
    inFlightMs: 3000,
    firstDueSpreadMs: 0,
    jitterFraction: 0.01,
    dispatchIdleMs: 20,
    concurrency: 20,
    buckets: 64,
    appRateLimitLinks: 3,
  });
  receiver = await startWebhookReceiver({
    port: 0,
    registry: refresh.registry,
    fetchJwks: jwksFromUrl(sb.url),
    logger,
  });
  await control(sb, 'PUT', '/webhook', { url: receiver.url });
});

afterAll(async () => {
  await refresh.close();
  await receiver.close();
  client.close();
  await sb.close();
  await redis.stop();
});

const calls = async (linkId: string) => (await counters(sb)).refreshCalls[linkId] ?? {};

it('does not refresh imported links until the sandbox reconnects them, then refreshes them within seconds of the webhook', async () => {
  const ids = await importLinks(client, 20);
  await refresh.registry.register(
    ids.map((linkId) => ({ linkId, parked: { reason: 'auth_expired' }, runId: 'run-1' })),
  );
  await new Promise((r) => setTimeout(r, 1500));
  let c = await counters(sb);
  expect(ids.filter((id) => c.refreshCalls[id])).toEqual([]);
  expect(c.badStateRefreshes).toBe(0);

  const reconnected = ids.slice(0, 10);
  const reconnectedAt = Date.now();
  for (const id of reconnected) await control(sb, 'POST', `/links/${id}/reconnect`);
  await waitFor(
    'reconnected links refreshed',
    async () => {
      const now = await counters(sb);
      return reconnected.every((id) => now.refreshCalls[id]?.accounts && now.refreshCalls[id]?.transactions);
    },
    10_000,
  );
  // "within seconds": 5 s on a machine to ourselves, stretched by how much slower this one runs right now
  expect(Date.now() - reconnectedAt).toBeLessThan(5000 * measureSlowdown());
  c = await counters(sb);
  expect(ids.slice(10).filter((id) => c.refreshCalls[id])).toEqual([]);
  expect(c.badStateRefreshes).toBe(0);
  expect(c.quotaViolationsAttempted).toBe(0);
  // the product_refresh webhooks arrive too
  await waitFor(
    'completion recorded',
    async () => (await refresh.registry.get(reconnected[0]!))!.products.every((p) => p.status === 'completed'),
    5000,
  );
  expect((await refresh.registry.stats()).parked).toBe(10);
});

it('stops a forbidden product (403), removes unknown and deleted links (404, 410), parks a disconnected link (422)', async () => {
  const [forbidden, deleted, disconnected] = await importLinks(client, 3, 100);
  await control(sb, 'POST', `/links/${forbidden}/reconnect`);
  await control(sb, 'POST', `/links/${forbidden}/deny`, { products: ['identity'] });
  await control(sb, 'POST', `/links/${deleted}/reconnect`);
  await client.deleteLink(deleted!);
  await refresh.registry.register([
    { linkId: forbidden!, products: ['accounts', 'identity', 'transactions'] },
    { linkId: 'mk_ThisLinkDoesNotExist00' },
    { linkId: deleted! },
    { linkId: disconnected! },
  ]);

  await waitFor('all answered', async () => {
    const [f, n, d, x] = await Promise.all(
      [forbidden!, 'mk_ThisLinkDoesNotExist00', deleted!, disconnected!].map((id) => refresh.registry.get(id)),
    );
    return f!.products.some((p) => p.stopped) && n!.mode === 'removed' && d!.mode === 'removed' && x!.mode === 'parked';
  });
  const f = (await refresh.registry.get(forbidden!))!;
  expect(f.products.find((p) => p.product === 'identity')).toMatchObject({ status: 'forbidden', stopped: 'forbidden' });
  // the 403 of the three-product call did not cost the other two their refresh
  await waitFor('granted products refreshed', async () => {
    const c = await calls(forbidden!);
    return c.accounts! >= 1 && c.transactions! >= 1;
  });
  expect((await calls(forbidden!)).identity).toBeUndefined();
  expect(await refresh.registry.get('mk_ThisLinkDoesNotExist00')).toMatchObject({
    mode: 'removed',
    removed: { reason: 'not_found' },
  });
  expect(await refresh.registry.get(deleted!)).toMatchObject({ mode: 'removed', removed: { reason: 'deleted' } });
  expect(await refresh.registry.get(disconnected!)).toMatchObject({
    mode: 'parked',
    parked: { reason: 'auth_expired' },
  });
  // parked: no retry loop against the 422
  const badState = (await counters(sb)).badStateRefreshes;
  await new Promise((r) => setTimeout(r, 1500));
  expect((await counters(sb)).badStateRefreshes).toBe(badState);
  // reconnecting it (webhook) brings it back
  await control(sb, 'POST', `/links/${disconnected}/reconnect`);
  await waitFor('reconnected link refreshed', async () => ((await calls(disconnected!)).accounts ?? 0) >= 1);
});

it('a 429 for one link delays only that link; 429s across links pause the whole queue', async () => {
  const ids = await importLinks(client, 12, 200);
  for (const id of ids) await control(sb, 'POST', `/links/${id}/reconnect`);
  // someone else refreshed this link a moment ago: MoneyKit's quota refuses our first call
  const outsider = ids[0]!;
  await client.refreshProducts(outsider, ['accounts', 'transactions']);
  const before = await refresh.registry.stats();
  const violationsBefore = (await counters(sb)).quotaViolationsAttempted;
  await refresh.registry.register([{ linkId: outsider }]);
  await waitFor(
    'outsider refreshed by us after its Retry-After',
    async () => ((await calls(outsider)).accounts ?? 0) >= 2,
  );
  const after = await refresh.registry.stats();
  expect(after.rateLimitedLink - before.rateLimitedLink).toBe(1);
  expect(after.rateLimitedApp).toBe(before.rateLimitedApp);
  // exactly the one refusal the outside refresh provoked
  expect((await counters(sb)).quotaViolationsAttempted - violationsBefore).toBe(1);

  // app-wide: the next 8 refresh calls are refused whatever the link
  await control(sb, 'PUT', '/faults', {
    rateLimitBurst: 8,
    rateLimitBurstRetryAfterSeconds: 1,
    endpoints: ['refresh'],
  });
  const rest = ids.slice(1);
  await refresh.registry.register(rest.map((linkId) => ({ linkId })));
  await waitFor('every link refreshed after the pause', async () => {
    const c = await counters(sb);
    return rest.every((id) => (c.refreshCalls[id]?.accounts ?? 0) >= 1);
  });
  const end = await refresh.registry.stats();
  expect(end.rateLimitedApp).toBeGreaterThanOrEqual(1);
  expect((await counters(sb)).faultsInjected.rateLimitBurst).toBe(8);
  expect((await counters(sb)).quotaViolationsAttempted - violationsBefore).toBe(1);
  await control(sb, 'DELETE', '/faults');
});
