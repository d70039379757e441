/**
 * Every endpoint, every status it can answer: the body must validate against the OpenAPI contract
 * (statuses the contract does not declare, such as 413, must still be MoneyKit's error envelope).
 */
import { validateRequest } from '@mk/testkit';
import type { RunningSandbox } from '../src';
import { apiFor, call, contractOf, importRequest, startTestSandbox, type Api } from './helpers';

let sb: RunningSandbox;
let api: Api;

beforeAll(async () => {
  sb = await startTestSandbox({ timeScale: 3600 });
  api = await apiFor(sb);
});
afterAll(() => sb.close());

function expectContract(
  method: string,
  template: string,
  res: { status: number; body: unknown; headers: Headers },
  status: number,
) {
  expect(res.status).toBe(status);
  expect(contractOf(method, template, res as never).errors).toEqual([]);
}

async function connectedLink(): Promise<string> {
  const { body } = await api.post('/links/import', importRequest());
  await api.control('POST', `/links/${body.link_id}/reconnect`);
  return body.link_id;
}

test('the test fixture itself is a valid ImportLinkRequest', () => {
  expect(validateRequest('POST', '/links/import', importRequest()).errors).toEqual([]);
  expect(validateRequest('POST', '/links/{id}/products', { products: ['accounts'] }).errors).toEqual([]);
});

test('POST /auth/token: 201, 400, 401', async () => {
  const form = (fields: Record<string, string>) => ({
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    raw: new URLSearchParams(fields).toString(),
  });
  expectContract(
    'POST',
    '/auth/token',
    await call(
      sb,
      'POST',
      '/auth/token',
      form({ grant_type: 'client_credentials', client_id: sb.clientId, client_secret: sb.clientSecret }),
    ),
    201,
  );
  expectContract(
    'POST',
    '/auth/token',
    await call(
      sb,
      'POST',
      '/auth/token',
      form({ grant_type: 'password', client_id: sb.clientId, client_secret: sb.clientSecret }),
    ),
    400,
  );
  expectContract(
    'POST',
    '/auth/token',
    await call(
      sb,
      'POST',
      '/auth/token',
      form({ grant_type: 'client_credentials', client_id: sb.clientId, client_secret: 'wrong' }),
    ),
    401,
  );
});

test('POST /links/import: 200, 401, 413, 422, 429', async () => {
  expectContract('POST', '/links/import', await api.post('/links/import', importRequest()), 200);
  expectContract('POST', '/links/import', await call(sb, 'POST', '/links/import', { body: importRequest() }), 401);
  expectContract('POST', '/links/import', await api.postRaw('/links/import', ' '.repeat(1_000_001)), 413);
  expectContract('POST', '/links/import', await api.post('/links/import', { ...importRequest(), accounts: [] }), 422);
  await api.control('PUT', '/faults', { rateLimitBurst: 1, endpoints: ['import'] });
  expectContract('POST', '/links/import', await api.post('/links/import', importRequest()), 429);
});

test('POST /links/{id}/import/transactions: 200, 401, 404, 410, 413, 422, 429', async () => {
  const T = '/links/{id}/import/transactions';
  const { body: link } = await api.post('/links/import', importRequest());
  const txns = {
    transactions: [{ account_id: 'acct-1', transaction_id: 'late-1', amount: '-1.00', date: '2022-03-01' }],
  };
  expectContract('POST', T, await api.post(`/links/${link.link_id}/import/transactions`, txns), 200);
  expectContract('POST', T, await call(sb, 'POST', `/links/${link.link_id}/import/transactions`, { body: txns }), 401);
  expectContract('POST', T, await api.post('/links/mk_doesnotexist0000000000/import/transactions', txns), 404);
  expectContract(
    'POST',
    T,
    await api.postRaw(`/links/${link.link_id}/import/transactions`, ' '.repeat(1_000_001)),
    413,
  );
  expectContract(
    'POST',
    T,
    await api.post(`/links/${link.link_id}/import/transactions`, {
      transactions: [{ account_id: 'nope', amount: '1', date: '2022-01-01' }],
    }),
    422,
  );
  await api.control('PUT', '/faults', { rateLimitBurst: 1, endpoints: ['import_transactions'] });
  expectContract('POST', T, await api.post(`/links/${link.link_id}/import/transactions`, txns), 429);
  await api.del(`/links/${link.link_id}`);
  expectContract('POST', T, await api.post(`/links/${link.link_id}/import/transactions`, txns), 410);
});

test('POST /links/{id}/products: 202, 401, 403, 404, 410, 422 (bad_state and validation), 429', async () => {
  const T = '/links/{id}/products';
  const { body: imported } = await api.post('/links/import', importRequest());
  expectContract('POST', T, await api.post(`/links/${imported.link_id}/products`, { products: ['accounts'] }), 422);
  const id = await connectedLink();
  expectContract('POST', T, await api.post(`/links/${id}/products`, { products: ['accounts', 'transactions'] }), 202);
  expectContract('POST', T, await api.post(`/links/${id}/products`, { products: ['accounts'] }), 429);
  expectContract('POST', T, await api.post(`/links/${id}/products`, { products: ['investments'] }), 403);
  expectContract('POST', T, await api.post(`/links/${id}/products`, { products: [] }), 422);
  expectContract('POST', T, await call(sb, 'POST', `/links/${id}/products`, { body: { products: ['accounts'] } }), 401);
  expectContract(
    'POST',
    T,
    await api.post('/links/mk_doesnotexist0000000000/products', { products: ['accounts'] }),
    404,
  );
  await api.del(`/links/${id}`);
  expectContract('POST', T, await api.post(`/links/${id}/products`, { products: ['accounts'] }), 410);
});

test('GET/PATCH/DELETE /links/{id}: 200, 2XX, 401, 404, 410, 422, 429', async () => {
  const T = '/links/{id}';
  const id = await connectedLink();
  expectContract('GET', T, await api.get(`/links/${id}`), 200);
  expectContract(
    'PATCH',
    T,
    await api.patch(`/links/${id}`, { link_tags: ['migrated'], webhook: 'https://example.com/hook' }),
    200,
  );
  expectContract('PATCH', T, await api.patch(`/links/${id}`, { webhook: 'not a url' }), 422);
  expectContract('GET', T, await call(sb, 'GET', `/links/${id}`), 401);
  expectContract('GET', T, await api.get('/links/mk_doesnotexist0000000000'), 404);
  await api.control('PUT', '/faults', { rateLimitBurst: 1, endpoints: ['get_link'] });
  expectContract('GET', T, await api.get(`/links/${id}`), 429);
  const deleted = await api.del(`/links/${id}`);
  expectContract('DELETE', T, deleted, 204);
  expect(deleted.body).toBeUndefined();
  expectContract('GET', T, await api.get(`/links/${id}`), 410);
  expectContract('DELETE', T, await api.del(`/links/${id}`), 410);
  expectContract('DELETE', T, await api.del('/links/mk_doesnotexist0000000000'), 404);
});

test('GET /users/{id}/links: 200, 401', async () => {
  const req = importRequest();
  await api.post('/links/import', req);
  expectContract('GET', '/users/{id}/links', await api.get(`/users/${req.customer_user.id}/links`), 200);
  expectContract('GET', '/users/{id}/links', await api.get('/users/nobody-at-all/links'), 200);
  expectContract('GET', '/users/{id}/links', await call(sb, 'GET', `/users/${req.customer_user.id}/links`), 401);
});

test('GET /links/{id}/accounts and /transactions: 200, 401, 404, 410', async () => {
  for (const T of ['/links/{id}/accounts', '/links/{id}/transactions']) {
    const { body: link } = await api.post('/links/import', importRequest({}, 5));
    const path = T.replace('{id}', link.link_id);
    expectContract('GET', T, await api.get(path), 200);
    expectContract('GET', T, await call(sb, 'GET', path), 401);
    expectContract('GET', T, await api.get(T.replace('{id}', 'mk_doesnotexist0000000000')), 404);
    await api.del(`/links/${link.link_id}`);
    expectContract('GET', T, await api.get(path), 410);
  }
});

test('an expired token answers the documented expired_access_token 401', async () => {
  await api.control('POST', '/tokens/expire');
  const res = await api.get('/users/someone/links');
  expectContract('GET', '/users/{id}/links', res, 401);
  expect(res.body.error_code).toBe('api_error.auth.expired_access_token');
  api = await apiFor(sb);
});

test('GET /.well-known/jwks.json serves ES256 public keys', async () => {
  const res = await call(sb, 'GET', '/.well-known/jwks.json');
  expectContract('GET', '/.well-known/jwks.json', res, 200);
  expect(res.body.keys[0]).toEqual(
    expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: expect.any(String) }),
  );
  expect(res.body.keys[0].d).toBeUndefined();
});
