import { DEFAULT_REFRESH_QUOTAS } from '@mk/shared';
import type { RunningSandbox } from '../src';
import { apiFor, importRequest, sleep, startTestSandbox, type Api } from './helpers';

// 3600× faster: the hourly quotas last 1 s, the daily ones 24 s.
const TIME_SCALE = 3600;
let sb: RunningSandbox;
let api: Api;
beforeAll(async () => {
  sb = await startTestSandbox({ timeScale: TIME_SCALE, refreshCompletionDelayMs: 30 });
  api = await apiFor(sb);
});
afterAll(() => sb.close());

async function importedLink(): Promise<string> {
  return (await api.post('/links/import', importRequest())).body.link_id;
}
async function connectedLink(): Promise<string> {
  const id = await importedLink();
  expect((await api.control('POST', `/links/${id}/reconnect`)).body.state).toBe('connected');
  return id;
}

test('an imported link that was never reconnected answers 422 bad_state with its link error', async () => {
  const id = await importedLink();
  const res = await api.post(`/links/${id}/products`, { products: ['transactions'] });
  expect(res.status).toBe(422);
  expect(res.body).toEqual(
    expect.objectContaining({ error_code: 'link_error.bad_state', link_error_code: 'auth_expired' }),
  );
  // A link that breaks later answers the same way with its new error.
  const connected = await connectedLink();
  await api.control('POST', `/links/${connected}/disconnect`, { error_code: 'invalid_credentials' });
  expect((await api.post(`/links/${connected}/products`, { products: ['accounts'] })).body.link_error_code).toBe(
    'invalid_credentials',
  );
});

test('a reconnected link refreshes: 202 at once, last_attempted_at now, refreshed_at when it completes', async () => {
  const id = await connectedLink();
  const before = Date.now();
  const res = await api.post(`/links/${id}/products`, { products: ['identity', 'account_numbers'] });
  expect(res.status).toBe(202);
  expect(Date.parse(res.body.products.identity.last_attempted_at)).toBeGreaterThanOrEqual(before - 5);
  expect(res.body.products.identity.refreshed_at).toBeUndefined();
  await sleep(80);
  const link = (await api.get(`/links/${id}`)).body;
  expect(Date.parse(link.products.identity.refreshed_at)).toBeGreaterThan(
    Date.parse(link.products.identity.last_attempted_at),
  );
  expect(sb.state.counters().refreshCalls[id]).toEqual({ identity: 1, account_numbers: 1 });
});

test('per-link quotas: any product inside its window → 429 with Retry-After and the exact wait; free again after it', async () => {
  const id = await connectedLink();
  const other = await connectedLink();
  expect((await api.post(`/links/${id}/products`, { products: ['accounts', 'account_numbers'] })).status).toBe(202);
  // Quotas are per link: another link is not affected.
  expect((await api.post(`/links/${other}/products`, { products: ['accounts'] })).status).toBe(202);

  const tooSoon = await api.post(`/links/${id}/products`, { products: ['transactions', 'accounts'] });
  expect(tooSoon.status).toBe(429);
  expect(tooSoon.body.error_code).toBe('api_error.rate_limit_exceeded');
  expect(tooSoon.headers.get('retry-after')).toBe('1');
  const exactMs = Number(tooSoon.headers.get('x-sandbox-retry-after-ms'));
  expect(exactMs).toBeGreaterThan(0);
  expect(exactMs).toBeLessThanOrEqual((DEFAULT_REFRESH_QUOTAS.accounts * 1000) / TIME_SCALE);
  // Nothing of a refused call happened: transactions was not refreshed either.
  expect(sb.state.counters().refreshCalls[id]).toEqual({ accounts: 1, account_numbers: 1 });

  await sleep(exactMs + 20);
  expect((await api.post(`/links/${id}/products`, { products: ['transactions', 'accounts'] })).status).toBe(202);
  // account_numbers is daily: 24 s at this scale, still closed.
  const daily = await api.post(`/links/${id}/products`, { products: ['account_numbers'] });
  expect(daily.status).toBe(429);
  expect(Number(daily.headers.get('retry-after'))).toBeGreaterThanOrEqual(22);

  const c = sb.state.counters();
  expect(c.quotaViolationsAttempted).toBe(2);
  expect(c.quotaViolations[id]).toEqual({ accounts: 1, account_numbers: 1 });
  expect(c.refreshCalls[id]).toEqual({ accounts: 2, account_numbers: 1, transactions: 1 });
});

test('quota windows come from the options table', async () => {
  const custom = await startTestSandbox({ timeScale: 1, quotas: { ...DEFAULT_REFRESH_QUOTAS, accounts: 0.2 } });
  try {
    const capi = await apiFor(custom);
    const { body } = await capi.post('/links/import', importRequest());
    await capi.control('POST', `/links/${body.link_id}/reconnect`);
    expect((await capi.post(`/links/${body.link_id}/products`, { products: ['accounts'] })).status).toBe(202);
    const refused = await capi.post(`/links/${body.link_id}/products`, { products: ['accounts'] });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    await sleep(Number(refused.headers.get('x-sandbox-retry-after-ms')) + 10);
    expect((await capi.post(`/links/${body.link_id}/products`, { products: ['accounts'] })).status).toBe(202);
  } finally {
    await custom.close();
  }
});

test('403 for a product the user did not grant, or that the control surface denied for one link', async () => {
  const id = await connectedLink();
  const notGranted = await api.post(`/links/${id}/products`, { products: ['accounts', 'investments'] });
  expect(notGranted.status).toBe(403);
  expect(notGranted.body.error_code).toBe('link_error.forbidden_action');

  const denied = await api.control('POST', `/links/${id}/deny`, { products: ['identity'] });
  expect(denied.body.available_products).not.toContain('identity');
  expect(denied.body.products.identity.error_code).toBe('no_permission');
  expect((await api.post(`/links/${id}/products`, { products: ['identity'] })).status).toBe(403);
  // Only that link: another link still may refresh identity.
  const other = await connectedLink();
  expect((await api.post(`/links/${other}/products`, { products: ['identity'] })).status).toBe(202);
  // A refused call spends no quota.
  expect((await api.post(`/links/${id}/products`, { products: ['accounts'] })).status).toBe(202);
});

test('404 for an unknown link, 410 after deletion, 422 for an invalid body', async () => {
  expect((await api.post('/links/mk_unknown00000000000000/products', { products: ['accounts'] })).body.error_code).toBe(
    'link_error.not_found',
  );
  const id = await connectedLink();
  expect((await api.del(`/links/${id}`)).status).toBe(204);
  const gone = await api.post(`/links/${id}/products`, { products: ['accounts'] });
  expect([gone.status, gone.body.error_code]).toEqual([410, 'link_error.deleted']);
  for (const body of [{ products: [] }, { products: ['balances'] }, {}]) {
    const res = await api.post(`/links/${id}/products`, body);
    expect([res.status, res.body.error_code]).toEqual([422, 'api_error.request.validation_failed']);
  }
});
