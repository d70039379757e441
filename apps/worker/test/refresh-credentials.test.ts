/**
 * One policy for refused credentials in both pipelines: refreshes refused for our credentials pause the refresh queue,
 * marked as the worker's, spend nothing, and the queue resumes by itself once the token endpoint accepts them again.
 */
import { QUEUES, createLogger, keys } from '@mk/shared';
import { MoneyKitClient } from '@mk/moneykit-client';
import type { RunningSandbox } from '@mk/sandbox';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { CREDENTIALS_REFUSED } from '../src/credentials-pause';
import { startRefresh, type RunningRefresh } from '../src/refresh';
import { clientFor, control, counters, importLinks, startRefreshSandbox, waitFor } from './fixtures/refresh-helpers';

const PREFIX = '{rcred}';
const SECRET = 'the-secret-of-this-app';
const logger = createLogger('test', { level: 'silent' });
let redis: PrivateRedis;
let sb: RunningSandbox;
let refresh: RunningRefresh | undefined;
let client: MoneyKitClient | undefined;

beforeAll(async () => {
  redis = await startPrivateRedis();
  sb = await startRefreshSandbox({ timeScale: 3600, clientSecret: SECRET });
});
afterAll(async () => {
  await refresh?.close();
  client?.close();
  await sb.close();
  await redis.stop();
});

it('credentials refused: the refresh queue pauses marked as ours, nothing is spent, and it resumes by itself once they are accepted', async () => {
  const importer = clientFor(sb);
  const ids = await importLinks(importer, 10);
  importer.close();
  for (const id of ids) await control(sb, 'POST', `/links/${id}/reconnect`);
  await control(sb, 'PUT', '/credentials', { client_secret: 'rotated-without-telling-us' });

  client = new MoneyKitClient({ baseUrl: sb.url, clientId: sb.clientId, clientSecret: SECRET, timeoutMs: 1000 });
  refresh = await startRefresh({
    redisUrl: redis.url,
    prefix: PREFIX,
    client,
    logger,
    timeScale: 3600,
    quotaGuardMs: 20,
    inFlightMs: 5000,
    firstDueSpreadMs: 0,
    dispatchIdleMs: 20,
    concurrency: 4,
    buckets: 16,
    credentialsProbe: { probeBaseMs: 100, probeMaxMs: 400, pollMs: 25 },
  });
  await refresh.registry.register(ids.map((linkId) => ({ linkId, products: ['accounts'] })));
  const mark = keys(PREFIX).queuePause(QUEUES.refresh);
  const conn = refresh.registry.redis;
  await waitFor(
    'the refresh queue to pause',
    async () => (await refresh!.queue.isPaused()) && (await conn.exists(mark)) === 1,
    20_000,
  );
  expect(await conn.hget(mark, 'reason')).toBe(CREDENTIALS_REFUSED);
  await new Promise((r) => setTimeout(r, 500));
  expect(await refresh.queue.isPaused()).toBe(true);
  expect(Object.keys((await counters(sb)).refreshCalls)).toEqual([]);
  // nothing spent: no product counts as refreshed, each is claimable as soon as the queue runs again
  const stats = await refresh.registry.stats();
  expect(stats.authFailures).toBeGreaterThan(0);
  expect(stats.accepted + stats.uncertain).toBe(0);

  await control(sb, 'PUT', '/credentials', { client_secret: SECRET });
  await waitFor(
    'every link refreshed',
    async () => {
      const c = await counters(sb);
      return ids.every((id) => c.refreshCalls[id]?.accounts === 1);
    },
    20_000,
  );
  expect(await refresh.queue.isPaused()).toBe(false);
  expect(await conn.exists(mark)).toBe(0);
  expect((await counters(sb)).quotaViolationsAttempted).toBe(0);
});
