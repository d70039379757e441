import type { RunningSandbox } from '../src';
import { apiFor, call, importRequest, startTestSandbox, type Api } from './helpers';

let sb: RunningSandbox;
let api: Api;
beforeAll(async () => {
  sb = await startTestSandbox({ importRatePerMinute: 10_000, timeScale: 3600 });
  api = await apiFor(sb);
});
afterAll(() => sb.close());
beforeEach(() => sb.state.reset());

/** fetch without the helper's parsing: a dropped connection must reject. */
function rawImport(body: unknown, signal?: AbortSignal) {
  return fetch(`${sb.url}/links/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}
const linksOf = async (userId: string) => Object.keys((await api.get(`/users/${userId}/links`)).body.links);

test('error5xxRate: a 500 in the envelope, and nothing happened', async () => {
  await api.control('PUT', '/faults', { error5xxRate: 1, endpoints: ['import'] });
  const req = importRequest();
  const res = await api.post('/links/import', req);
  expect(res.status).toBe(500);
  expect(res.body).toEqual(
    expect.objectContaining({ error_code: 'api_error.internal_server_error', error_message: expect.any(String) }),
  );
  expect(await linksOf(req.customer_user.id)).toEqual([]);
  expect(sb.state.counters().faultsInjected.error5xx).toBe(1);
});

test('dropRate: the socket is destroyed without an answer, and nothing happened', async () => {
  await api.control('PUT', '/faults', { dropRate: 1, endpoints: ['import'] });
  const req = importRequest();
  await expect(rawImport(req)).rejects.toThrow();
  expect(await linksOf(req.customer_user.id)).toEqual([]);
});

test('timeoutRate: the answer comes only after timeoutMs, and the call still commits', async () => {
  await api.control('PUT', '/faults', { timeoutRate: 1, timeoutMs: 400, endpoints: ['import'] });
  const req = importRequest();
  // The caller gives up first...
  await expect(rawImport(req, AbortSignal.timeout(100))).rejects.toThrow();
  expect(await linksOf(req.customer_user.id)).toEqual([]);
  // ...but the slow call goes through: the link appears once the delay is over.
  await new Promise((r) => setTimeout(r, 450));
  expect(await linksOf(req.customer_user.id)).toHaveLength(1);
  // A patient caller gets the answer after the delay.
  const t0 = Date.now();
  expect((await rawImport(importRequest())).status).toBe(200);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
});

test('commitThenFailRate as 5xx: the link exists although the caller got a 500', async () => {
  await api.control('PUT', '/faults', { commitThenFailRate: 1, commitThenFailAs: '5xx' });
  const req = importRequest();
  expect((await api.post('/links/import', req)).status).toBe(500);
  const [linkId] = await linksOf(req.customer_user.id);
  expect(linkId).toEqual(expect.stringMatching(/^mk_/));
  // Same for a transaction batch: stored, then a 500.
  const batch = { transactions: [{ account_id: 'acct-1', transaction_id: 'late', amount: '1', date: '2022-01-01' }] };
  expect((await api.post(`/links/${linkId}/import/transactions`, batch)).status).toBe(500);
  await api.control('DELETE', '/faults');
  expect((await api.get(`/links/${linkId}/transactions`)).body.total).toBe(3);
});

test('commitThenFailRate as drop: the link exists although the connection was dropped', async () => {
  await api.control('PUT', '/faults', { commitThenFailRate: 1, commitThenFailAs: 'drop', endpoints: ['import'] });
  const req = importRequest();
  await expect(rawImport(req)).rejects.toThrow();
  expect(await linksOf(req.customer_user.id)).toHaveLength(1);
  // A blind retry now makes the duplicate the counters report.
  await api.control('DELETE', '/faults');
  expect((await api.post('/links/import', req)).status).toBe(200);
  expect(sb.state.counters().duplicateLinks).toBe(1);
});

test('rateLimitBurst: the next N matching calls get 429 with Retry-After, then calls pass', async () => {
  await api.control('PUT', '/faults', {
    rateLimitBurst: 2,
    rateLimitBurstRetryAfterSeconds: 3,
    endpoints: ['refresh', 'get_link'],
  });
  const { link_id } = (await api.post('/links/import', importRequest())).body;
  const first = await api.get(`/links/${link_id}`);
  expect([first.status, first.headers.get('retry-after')]).toEqual([429, '3']);
  expect((await api.post(`/links/${link_id}/products`, { products: ['accounts'] })).status).toBe(429);
  expect((await api.get(`/links/${link_id}`)).status).toBe(200);
  expect((await api.control('GET', '/faults')).body.rateLimitBurst).toBe(0);
  // Injected 429s are faults, not the app rate limit.
  expect(sb.state.counters()).toEqual(
    expect.objectContaining({ rateLimited429s: 0, faultsInjected: expect.objectContaining({ rateLimitBurst: 2 }) }),
  );
});

test('the endpoints filter aims faults; /auth/token, JWKS and /_sandbox are never hit', async () => {
  await api.control('PUT', '/faults', { error5xxRate: 1, endpoints: ['refresh'] });
  const { link_id } = (await api.post('/links/import', importRequest())).body;
  expect((await api.get(`/links/${link_id}`)).status).toBe(200);
  expect((await api.post(`/links/${link_id}/products`, { products: ['accounts'] })).status).toBe(500);

  await api.control('PUT', '/faults', { error5xxRate: 1, dropRate: 1 });
  expect((await apiFor(sb)).token).toEqual(expect.any(String));
  expect((await call(sb, 'GET', '/.well-known/jwks.json')).status).toBe(200);
  expect((await api.control('GET', '/counters')).status).toBe(200);
  expect((await api.get(`/links/${link_id}`)).status).toBe(500);
});

test('invalid fault settings are refused with 422', async () => {
  const res = await api.control('PUT', '/faults', { error5xxRate: 2, endpoints: ['everything'] });
  expect(res.status).toBe(422);
  expect(res.body.validation_errors.map((e: any) => e.location)).toEqual([
    ['body', 'error5xxRate'],
    ['body', 'endpoints', 0],
  ]);
});

test('the same seed gives the same faults for the same calls', async () => {
  const outcomes = async () => {
    const seeded = await startTestSandbox({ seed: 7, faults: { error5xxRate: 0.5, endpoints: ['get_link'] } });
    try {
      const sapi = await apiFor(seeded);
      const out: number[] = [];
      for (let i = 0; i < 20; i += 1) out.push((await sapi.get('/links/mk_x')).status);
      return out;
    } finally {
      await seeded.close();
    }
  };
  const first = await outcomes();
  expect(first).toEqual(await outcomes());
  expect(new Set(first)).toEqual(new Set([404, 500]));
});

test('reset forgets links, counters and faults', async () => {
  await api.post('/links/import', importRequest());
  await api.control('PUT', '/faults', { error5xxRate: 1 });
  expect((await api.control('POST', '/reset')).status).toBe(200);
  expect((await api.control('GET', '/faults')).body.error5xxRate).toBe(0);
  expect(sb.state.counters()).toEqual(expect.objectContaining({ linksCreated: 0, liveLinks: 0, importCalls: 0 }));
  // Tokens survive a reset.
  expect((await api.get('/users/anyone/links')).status).toBe(200);
});
