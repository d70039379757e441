import type { RunningSandbox } from '../src';
import { apiFor, importRequest, startTestSandbox, type Api } from './helpers';

let sb: RunningSandbox;
let api: Api;
beforeAll(async () => {
  sb = await startTestSandbox();
  api = await apiFor(sb);
});
afterAll(() => sb.close());

test('GET /users/{id}/links maps link_id → link for live links of that user only', async () => {
  const req = importRequest();
  const a = (await api.post('/links/import', req)).body;
  const b = (await api.post('/links/import', { ...req, institution_id: 'yodlee.30188', provider: undefined })).body;
  await api.post('/links/import', importRequest()); // someone else
  const res = await api.get(`/users/${req.customer_user.id}/links`);
  expect(Object.keys(res.body.links).sort()).toEqual([a.link_id, b.link_id].sort());
  expect(res.body.links[b.link_id]).toEqual(
    expect.objectContaining({ institution_name: 'Institution 30188', provider: 'yodlee' }),
  );

  await api.del(`/links/${a.link_id}`);
  expect(Object.keys((await api.get(`/users/${req.customer_user.id}/links`)).body.links)).toEqual([b.link_id]);
  expect((await api.get('/users/nobody/links')).body).toEqual({ links: {} });
});

test('a deleted link answers 410 link_error.deleted on every link route', async () => {
  const { link_id } = (await api.post('/links/import', importRequest())).body;
  expect((await api.del(`/links/${link_id}`)).status).toBe(204);
  const calls = [
    api.get(`/links/${link_id}`),
    api.patch(`/links/${link_id}`, { link_tags: ['x'] }),
    api.del(`/links/${link_id}`),
    api.get(`/links/${link_id}/accounts`),
    api.get(`/links/${link_id}/transactions`),
    api.post(`/links/${link_id}/products`, { products: ['accounts'] }),
    api.post(`/links/${link_id}/import/transactions`, { transactions: [] }),
  ];
  for (const res of await Promise.all(calls))
    expect([res.status, res.body.error_code]).toEqual([410, 'link_error.deleted']);
  expect(sb.state.links.get(link_id)?.state).toBe('deleted');
});

test('PATCH /links/{id} sets tags and webhook; null removes the webhook', async () => {
  const { link_id } = (await api.post('/links/import', importRequest())).body;
  const patched = await api.patch(`/links/${link_id}`, {
    link_tags: ['migration-1'],
    webhook: 'https://example.com/hooks',
  });
  expect(patched.body).toEqual(
    expect.objectContaining({ link_tags: ['migration-1'], webhook: 'https://example.com/hooks' }),
  );
  const cleared = await api.patch(`/links/${link_id}`, { webhook: null });
  expect(cleared.body.webhook).toBeUndefined();
  expect(cleared.body.link_tags).toEqual(['migration-1']);
});

test('unknown routes answer in the error envelope', async () => {
  const res = await api.get('/nothing/here');
  expect(res.status).toBe(404);
  expect(res.body).toEqual({
    error_code: 'api_error.not_found',
    error_message: expect.any(String),
    documentation_url: expect.any(String),
  });
});
