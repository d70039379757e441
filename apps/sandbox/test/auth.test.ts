import type { RunningSandbox } from '../src';
import { call, sleep, startTestSandbox } from './helpers';

let sb: RunningSandbox;
beforeAll(async () => {
  sb = await startTestSandbox({ tokenTtlSeconds: 1 });
});
afterAll(() => sb.close());

const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

test('form-encoded client credentials get a bearer token', async () => {
  const res = await call(sb, 'POST', '/auth/token', {
    headers: formHeaders,
    raw: form({ grant_type: 'client_credentials', client_id: sb.clientId, client_secret: sb.clientSecret }),
  });
  expect(res.status).toBe(201);
  expect(res.body).toEqual({ access_token: expect.any(String), token_type: 'bearer', expires_in: 1 });
});

test('HTTP Basic credentials work too', async () => {
  const basic = Buffer.from(`${sb.clientId}:${sb.clientSecret}`).toString('base64');
  const res = await call(sb, 'POST', '/auth/token', {
    headers: { ...formHeaders, authorization: `Basic ${basic}` },
    raw: form({ grant_type: 'client_credentials' }),
  });
  expect(res.status).toBe(201);
  const bad = Buffer.from(`${sb.clientId}:nope`).toString('base64');
  const refused = await call(sb, 'POST', '/auth/token', {
    headers: { ...formHeaders, authorization: `Basic ${bad}` },
    raw: form({ grant_type: 'client_credentials' }),
  });
  expect(refused.status).toBe(401);
});

test('another grant type is a 400, wrong credentials a 401, and neither leaks the secret', async () => {
  const grant = await call(sb, 'POST', '/auth/token', {
    headers: formHeaders,
    raw: form({ grant_type: 'password', client_id: sb.clientId, client_secret: sb.clientSecret }),
  });
  expect(grant.status).toBe(400);
  const wrong = await call(sb, 'POST', '/auth/token', {
    headers: formHeaders,
    raw: form({ grant_type: 'client_credentials', client_id: sb.clientId, client_secret: 'guess' }),
  });
  expect(wrong.status).toBe(401);
  expect(wrong.body.error_code).toBe('api_error.auth.unauthorized');
  expect(JSON.stringify([grant.body, wrong.body])).not.toContain(sb.clientSecret);
});

test('API routes need a bearer token: missing or unknown → unauthorized, expired → expired_access_token', async () => {
  const missing = await call(sb, 'GET', '/users/someone/links');
  expect([missing.status, missing.body.error_code]).toEqual([401, 'api_error.auth.unauthorized']);
  const unknown = await call(sb, 'GET', '/users/someone/links', { token: 'made-up' });
  expect([unknown.status, unknown.body.error_code]).toEqual([401, 'api_error.auth.unauthorized']);

  const issued = await call(sb, 'POST', '/auth/token', {
    headers: formHeaders,
    raw: form({ grant_type: 'client_credentials', client_id: sb.clientId, client_secret: sb.clientSecret }),
  });
  const token = issued.body.access_token as string;
  expect((await call(sb, 'GET', '/users/someone/links', { token })).status).toBe(200);
  await sleep(1_100);
  const expired = await call(sb, 'GET', '/users/someone/links', { token });
  expect(expired.status).toBe(401);
  expect(expired.body).toEqual(
    expect.objectContaining({
      error_code: 'api_error.auth.expired_access_token',
      error_message: 'Access token expired',
    }),
  );
});

test('the control surface and the JWKS need no token', async () => {
  expect((await call(sb, 'GET', '/_sandbox/counters')).status).toBe(200);
  expect((await call(sb, 'GET', '/.well-known/jwks.json')).status).toBe(200);
});
