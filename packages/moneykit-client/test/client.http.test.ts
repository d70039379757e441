/**
 * The client against a scripted HTTP server: every error class, token expiry, Retry-After forms, dropped
 * sockets and timeouts, under exact control.
 */
import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import { createLogger, ERROR_CODES, MAX_REQUEST_BYTES, MONEYKIT_API_VERSION, ConfigError } from '@mk/shared';
import {
  createClientFromEnv,
  isMoneyKitError,
  MoneyKitClient,
  serializeBody,
  type MoneyKitClientOptions,
  type MoneyKitError,
  type ResponseInfo,
} from '../src';
import {
  aLink,
  apiError,
  CLIENT_ID,
  CLIENT_SECRET,
  sendJson,
  startScriptedServer,
  type ScriptedServer,
} from './support/scripted-server';
import { anImportRequest, anImportRequestOfSize } from './support/fixtures';

let server: ScriptedServer;
const clients: MoneyKitClient[] = [];

function client(opts: Partial<MoneyKitClientOptions> = {}): MoneyKitClient {
  const c = new MoneyKitClient({ baseUrl: server.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...opts });
  clients.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<MoneyKitError> {
  try {
    await p;
  } catch (err) {
    if (isMoneyKitError(err)) return err;
    throw new Error(`expected a MoneyKitError, got ${inspect(err)}`);
  }
  throw new Error('expected the call to fail');
}

beforeEach(async () => {
  server = await startScriptedServer();
});
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await server.close();
});

describe('requests on the wire', () => {
  it('fetches a form-encoded client-credentials token, then sends the exact measured body with version and bearer', async () => {
    const req = anImportRequest();
    const link = await client().importLink(req);
    expect(link.link_id).toBe('mk_link_1');

    const [tokenReq] = server.tokenRequests;
    expect(tokenReq!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(tokenReq!.body))).toEqual({
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });

    const [sent] = server.requests;
    expect(sent).toMatchObject({ method: 'POST', url: '/links/import' });
    expect(sent!.headers['moneykit-version']).toBe(MONEYKIT_API_VERSION);
    expect(sent!.headers.authorization).toBe('Bearer token-1-SECRET');
    expect(sent!.headers['content-type']).toBe('application/json');
    const measured = serializeBody(req);
    expect(sent!.body).toBe(measured.json);
    expect(sent!.bytes).toBe(measured.bytes);
    expect(Number(sent!.headers['content-length'])).toBe(measured.bytes);
  });

  it('calls every endpoint at its path and validates what comes back', async () => {
    server.handle((req, res) => {
      if (req.url === '/users/user%2F1/links') return sendJson(res, 200, { links: { a: aLink('a'), b: aLink('b') } });
      if (req.method === 'DELETE') return void res.writeHead(204).end();
      if (req.url === '/.well-known/jwks.json')
        return sendJson(res, 200, { keys: [{ kty: 'EC', kid: 'k1', crv: 'P-256', x: 'x', y: 'y' }] });
      if (req.url === '/links/l1/products') return sendJson(res, 202, aLink('l1'));
      return sendJson(res, 200, aLink('l1'));
    });
    const c = client();
    expect(Object.keys(await c.getUserLinks('user/1'))).toEqual(['a', 'b']);
    expect((await c.getLink('l1')).link_id).toBe('l1');
    expect((await c.refreshProducts('l1', ['accounts', 'transactions'])).link_id).toBe('l1');
    expect((await c.importTransactions('l1', { transactions: [] })).link_id).toBe('l1');
    await expect(c.deleteLink('l1')).resolves.toBeUndefined();
    expect((await c.getJwks()).keys[0]).toMatchObject({ kid: 'k1', crv: 'P-256' });

    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /users/user%2F1/links',
      'GET /links/l1',
      'POST /links/l1/products',
      'POST /links/l1/import/transactions',
      'DELETE /links/l1',
      'GET /.well-known/jwks.json',
    ]);
    expect(JSON.parse(server.requests[2]!.body)).toEqual({ products: ['accounts', 'transactions'] });
    expect(server.requests[5]!.headers.authorization).toBeUndefined();
    expect(server.tokenRequests).toHaveLength(1);
  });

  it('reuses keep-alive connections', async () => {
    const c = client();
    for (let i = 0; i < 10; i += 1) await c.getLink('l1');
    expect(server.connections).toBe(1);
  });
});

describe('access tokens', () => {
  it('fetches one token for 20 concurrent calls (single-flight)', async () => {
    server.tokenDelayMs = 50;
    const c = client();
    const links = await Promise.all(Array.from({ length: 20 }, (_, i) => c.getLink(`l${i}`)));
    expect(links).toHaveLength(20);
    expect(server.tokenRequests).toHaveLength(1);
    expect(new Set(server.requests.map((r) => r.headers.authorization))).toEqual(new Set(['Bearer token-1-SECRET']));
  });

  it('renews an expired token mid-run and retries the call once, transparently', async () => {
    const c = client();
    await c.getLink('l1');
    server.expireIssuedTokens();
    const results = await Promise.all(Array.from({ length: 10 }, () => c.importLink(anImportRequest())));
    expect(results).toHaveLength(10);
    // One renewal for all ten callers that hit the expired token.
    expect(server.tokenRequests).toHaveLength(2);
    const imports = server.requests.filter((r) => r.url === '/links/import');
    expect(imports.filter((r) => r.headers.authorization === 'Bearer token-1-SECRET')).toHaveLength(10);
    expect(imports.filter((r) => r.headers.authorization === 'Bearer token-2-SECRET')).toHaveLength(10);
  });

  it('retries only once: a token expired again is a retryable failure', async () => {
    server.handle((_req, res) => sendJson(res, 401, apiError(ERROR_CODES.expiredToken)));
    const err = await failure(client().refreshProducts('l1', ['accounts']));
    expect(err).toMatchObject({
      errorClass: 'retryable',
      status: 401,
      code: ERROR_CODES.expiredToken,
      mayHaveTakenEffect: false,
    });
    expect(server.requests).toHaveLength(2);
    expect(server.tokenRequests).toHaveLength(2);
  });

  it('renews ahead of expiry without any 401', async () => {
    server.tokenExpiresIn = 1; // renewed after 0.8 s
    const c = client();
    await c.getLink('l1');
    await new Promise((r) => setTimeout(r, 850));
    await c.getLink('l1');
    expect(server.tokenRequests).toHaveLength(2);
    expect(server.requests).toHaveLength(2);
  });

  it('wrong credentials are an auth failure of the token endpoint, with no secret in it', async () => {
    const c = client({ clientSecret: 'wrong-secret-DO-NOT-LEAK' });
    const err = await failure(c.getLink('l1'));
    expect(err).toMatchObject({
      errorClass: 'auth',
      status: 401,
      endpoint: 'auth_token',
      code: ERROR_CODES.unauthorized,
    });
    const dumped = `${JSON.stringify(err)} ${inspect(err, { showHidden: true, depth: 10 })} ${err.stack}`;
    expect(dumped).not.toMatch(/DO-NOT-LEAK|client_secret=/);
  });

  it('a 401 unauthorized that a fresh token does not cure is auth, after exactly one retry', async () => {
    server.handle((_req, res) => sendJson(res, 401, apiError(ERROR_CODES.unauthorized)));
    expect(await failure(client().getLink('l1'))).toMatchObject({
      errorClass: 'auth',
      status: 401,
      endpoint: 'get_link',
    });
    expect(server.requests).toHaveLength(2);
    expect(server.tokenRequests).toHaveLength(2);
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer token-1-SECRET',
      'Bearer token-2-SECRET',
    ]);
  });

  it('a server that forgot our token (restarted) gets one fresh token for all concurrent callers, and every call passes', async () => {
    const c = client();
    await c.getLink('l1');
    server.forgetIssuedTokens();
    server.tokenDelayMs = 30;
    const results = await Promise.all([
      ...Array.from({ length: 8 }, (_, i) => c.getLink(`l${i}`)),
      ...Array.from({ length: 4 }, () => c.importLink(anImportRequest())),
    ]);
    expect(results).toHaveLength(12);
    expect(server.tokenRequests).toHaveLength(2);
    const retried = server.requests.slice(1).filter((r) => r.headers.authorization === 'Bearer token-2-SECRET');
    expect(retried).toHaveLength(12);
  });

  it('a 401 of the token endpoint is never retried', async () => {
    const c = client({ clientSecret: 'wrong-secret' });
    expect(await failure(c.importLink(anImportRequest()))).toMatchObject({
      errorClass: 'auth',
      endpoint: 'auth_token',
    });
    expect(server.tokenRequests).toHaveLength(1);
    expect(server.requests).toHaveLength(0);
  });

  it("a 401 link_error.unauthorized_access (another app's link) is retried once, then terminal", async () => {
    server.handle((_req, res) => sendJson(res, 401, apiError(ERROR_CODES.unauthorizedLinkAccess)));
    expect(await failure(client().getLink('l1'))).toMatchObject({
      errorClass: 'terminal',
      status: 401,
      code: ERROR_CODES.unauthorizedLinkAccess,
    });
    expect(server.requests).toHaveLength(2);
  });

  it('verifyCredentials asks the token endpoint even with a token cached, and keeps the fresh token', async () => {
    const c = client();
    await c.getLink('l1');
    await c.verifyCredentials();
    expect(server.tokenRequests).toHaveLength(2);
    await c.getLink('l2');
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer token-2-SECRET');
    server.credentials = { id: CLIENT_ID, secret: 'rotated' };
    expect(await failure(c.verifyCredentials())).toMatchObject({
      errorClass: 'auth',
      endpoint: 'auth_token',
      status: 401,
    });
    server.credentials = { id: CLIENT_ID, secret: CLIENT_SECRET };
    await expect(c.verifyCredentials()).resolves.toBeUndefined();
    await c.getLink('l3');
    expect(server.requests.at(-1)!.headers.authorization).toBe('Bearer token-3-SECRET');
  });
});

describe('classification of responses', () => {
  it.each([
    [413, ERROR_CODES.payloadTooLarge, 'terminal'],
    [422, ERROR_CODES.validationFailed, 'terminal'],
    [400, 'api_error.request.bad_request', 'terminal'],
    [403, ERROR_CODES.forbidden, 'terminal'],
    [404, ERROR_CODES.notFound, 'terminal'],
    [410, ERROR_CODES.deleted, 'terminal'],
  ] as const)('%i %s is %s', async (status, code, errorClass) => {
    server.handle((_req, res) => sendJson(res, status, apiError(code)));
    const err = await failure(client().refreshProducts('l1', ['transactions']));
    expect(err).toMatchObject({ errorClass, status, code, endpoint: 'refresh_products', mayHaveTakenEffect: false });
    expect(server.requests).toHaveLength(1);
  });

  it('422 bad_state needs a reconnect and names the link error', async () => {
    server.handle((_req, res) =>
      sendJson(res, 422, apiError(ERROR_CODES.badState, { link_error_code: 'auth_expired' })),
    );
    const err = await failure(client().refreshProducts('l1', ['transactions']));
    expect(err).toMatchObject({ errorClass: 'needs_reconnect', status: 422, linkErrorCode: 'auth_expired' });
  });

  it('429 Retry-After in seconds, as an HTTP-date, and the precise sandbox header', async () => {
    const c = client();
    server.handle((_req, res) => sendJson(res, 429, apiError(ERROR_CODES.rateLimited), { 'retry-after': '3' }));
    expect(await failure(c.importLink(anImportRequest()))).toMatchObject({
      errorClass: 'rate_limited',
      status: 429,
      retryAfterMs: 3000,
      mayHaveTakenEffect: false,
    });

    server.handle((_req, res) =>
      sendJson(res, 429, apiError(ERROR_CODES.rateLimited), {
        'retry-after': new Date(Date.now() + 10_000).toUTCString(),
      }),
    );
    const dated = await failure(c.importLink(anImportRequest()));
    expect(dated.errorClass).toBe('rate_limited');
    expect(dated.retryAfterMs).toBeGreaterThanOrEqual(8_000);
    expect(dated.retryAfterMs).toBeLessThanOrEqual(10_000);

    server.handle((_req, res) =>
      sendJson(res, 429, apiError(ERROR_CODES.rateLimited), { 'retry-after': '1', 'x-sandbox-retry-after-ms': '437' }),
    );
    expect((await failure(c.importLink(anImportRequest()))).retryAfterMs).toBe(437);
  });

  it('5xx is retryable: may have taken effect on a POST, not on a GET', async () => {
    server.handle((_req, res) => sendJson(res, 503, apiError(ERROR_CODES.serverError)));
    const c = client();
    expect(await failure(c.importLink(anImportRequest()))).toMatchObject({
      errorClass: 'retryable',
      status: 503,
      mayHaveTakenEffect: true,
    });
    expect(await failure(c.getUserLinks('user-0001'))).toMatchObject({
      errorClass: 'retryable',
      status: 503,
      mayHaveTakenEffect: false,
    });
  });

  it('a 5xx without a JSON body is still classified', async () => {
    server.handle(
      (_req, res) => void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'),
    );
    const err = await failure(client().importLink(anImportRequest()));
    expect(err).toMatchObject({ errorClass: 'retryable', status: 502, mayHaveTakenEffect: true });
    expect(err.code).toBeUndefined();
  });

  it('a 2xx that breaks the contract is retryable and may have taken effect', async () => {
    server.handle((_req, res) => sendJson(res, 200, { link_id: 'half a link' }));
    const err = await failure(client().importLink(anImportRequest()));
    expect(err).toMatchObject({
      errorClass: 'retryable',
      status: 200,
      mayHaveTakenEffect: true,
      code: 'client.invalid_response',
    });
    expect(err.message).toMatch(/does not match the API contract/);
  });
});

describe('transport failures', () => {
  it('a dropped socket is retryable and may have taken effect', async () => {
    // The request arrived and was read: the server may have committed it before the connection died.
    server.handle((_req, res) => void res.socket?.destroy());
    const err = await failure(client().importLink(anImportRequest()));
    expect(err).toMatchObject({ errorClass: 'retryable', mayHaveTakenEffect: true, code: 'ECONNRESET' });
    expect(err.status).toBeUndefined();
  });

  it('a slow import times out at importTimeoutMs; other calls use timeoutMs', async () => {
    server.handle(async (req, res) => {
      await new Promise((r) => setTimeout(r, 400));
      if (!res.destroyed) sendJson(res, 200, req.url === '/users/u1/links' ? { links: {} } : aLink());
    });
    const c = client({ importTimeoutMs: 150, timeoutMs: 2_000 });
    const err = await failure(c.importLink(anImportRequest()));
    expect(err).toMatchObject({ errorClass: 'retryable', mayHaveTakenEffect: true, code: 'ETIMEDOUT' });
    await expect(c.getUserLinks('u1')).resolves.toEqual({});

    const d = client({ importTimeoutMs: 2_000, timeoutMs: 150 });
    await expect(d.importLink(anImportRequest())).resolves.toMatchObject({ link_id: 'mk_link_1' });
    expect(await failure(d.getLink('l1'))).toMatchObject({
      errorClass: 'retryable',
      code: 'ETIMEDOUT',
      mayHaveTakenEffect: false,
    });
  });

  it('a refused connection is retryable and provably had no effect', async () => {
    const url = server.url;
    await server.close();
    const c = new MoneyKitClient({ baseUrl: url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    clients.push(c);
    const err = await failure(c.importLink(anImportRequest()));
    expect(err).toMatchObject({
      errorClass: 'retryable',
      endpoint: 'auth_token',
      code: 'ECONNREFUSED',
      mayHaveTakenEffect: false,
    });
    server = await startScriptedServer(); // for afterEach
  });
});

describe('request size', () => {
  it('sends a body of exactly MAX_REQUEST_BYTES and refuses one byte more without sending it', async () => {
    const atLimit = anImportRequestOfSize(MAX_REQUEST_BYTES);
    const over = anImportRequestOfSize(MAX_REQUEST_BYTES + 1);
    expect(serializeBody(atLimit).bytes).toBe(1_000_000);
    expect(serializeBody(over).bytes).toBe(1_000_001);

    const c = client();
    await c.importLink(atLimit);
    expect(server.requests[0]!.bytes).toBe(1_000_000);

    const err = await failure(c.importLink(over));
    expect(err).toMatchObject({
      errorClass: 'terminal',
      code: ERROR_CODES.payloadTooLarge,
      mayHaveTakenEffect: false,
      endpoint: 'import_link',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('refuses an over-size transaction batch before even fetching a token', async () => {
    const big = {
      transactions: [
        { account_id: 'a', amount: '1.00', date: '2024-01-01', description: 'x'.repeat(MAX_REQUEST_BYTES) },
      ],
    };
    const err = await failure(client().importTransactions('l1', big));
    expect(err).toMatchObject({
      errorClass: 'terminal',
      code: ERROR_CODES.payloadTooLarge,
      endpoint: 'import_transactions',
    });
    expect(server.tokenRequests).toHaveLength(0);
    expect(server.requests).toHaveLength(0);
  });
});

describe('observability without leaks', () => {
  it('reports every exchange to onResponse', async () => {
    const seen: ResponseInfo[] = [];
    server.handle((req, res) =>
      req.url === '/links/l2' ? sendJson(res, 404, apiError(ERROR_CODES.notFound)) : sendJson(res, 200, aLink()),
    );
    const c = client({ onResponse: (info) => seen.push(info) });
    await c.getLink('l1');
    await failure(c.getLink('l2'));
    expect(seen.map(({ endpoint, status, errorClass }) => ({ endpoint, status, errorClass }))).toEqual([
      { endpoint: 'auth_token', status: 201, errorClass: undefined },
      { endpoint: 'get_link', status: 200, errorClass: undefined },
      { endpoint: 'get_link', status: 404, errorClass: 'terminal' },
    ]);
    expect(seen.every((i) => i.durationMs >= 0)).toBe(true);
  });

  it('a throwing onResponse hook does not fail the call', async () => {
    const c = client({
      onResponse: () => {
        throw new Error('metrics down');
      },
    });
    await expect(c.getLink('l1')).resolves.toMatchObject({ link_id: 'mk_link_1' });
  });

  it('neither errors nor logs carry tokens, secrets or request bodies', async () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const logger = createLogger('moneykit-client-test', { level: 'trace', destination });
    const c = client({ logger });
    await c.getLink('l1');
    server.expireIssuedTokens();
    await c.getLink('l1');
    const errors: MoneyKitError[] = [];
    const responders: Array<(res: ServerResponse) => void> = [
      (res) => sendJson(res, 500, apiError(ERROR_CODES.serverError, { error_message: 'jane.doe@example.com failed' })),
      (res) => res.socket?.destroy(),
      (res) =>
        sendJson(
          res,
          422,
          apiError(ERROR_CODES.validationFailed, {
            validation_errors: [
              { location: ['body', 'customer_user', 'email'], message: 'jane.doe@example.com', type: 'value_error' },
            ],
          }),
        ),
    ];
    for (const respond of responders) {
      server.handle((_req, res) => respond(res));
      errors.push(await failure(c.importLink(anImportRequest())));
    }
    const dumped = [
      ...lines,
      ...errors.flatMap((e) => [
        JSON.stringify(e),
        inspect(e, { showHidden: true, depth: 10 }),
        String(e.stack),
        JSON.stringify(e.toFailure()),
      ]),
    ].join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(dumped).not.toMatch(/token-\d-SECRET|DO-NOT-LEAK|jane\.doe|Coffee shop|\+14155550100|Bearer [A-Za-z]/);
  });
});

describe('createClientFromEnv', () => {
  const env = { MONEYKIT_IMPORT_TIMEOUT_MS: 90_000, MONEYKIT_TIMEOUT_MS: 30_000 };

  it('uses MONEYKIT_* over the caller fallbacks', async () => {
    const c = createClientFromEnv(
      { ...env, MONEYKIT_BASE_URL: server.url, MONEYKIT_CLIENT_ID: CLIENT_ID, MONEYKIT_CLIENT_SECRET: CLIENT_SECRET },
      { baseUrl: 'http://127.0.0.1:1', clientId: 'other', clientSecret: 'other' },
    );
    clients.push(c);
    await expect(c.getLink('l1')).resolves.toMatchObject({ link_id: 'mk_link_1' });
  });

  it('falls back to what the caller gives (e.g. the sandbox)', async () => {
    const c = createClientFromEnv(env, { baseUrl: server.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    clients.push(c);
    await expect(c.getLink('l1')).resolves.toMatchObject({ link_id: 'mk_link_1' });
  });

  it('names the missing setting', () => {
    expect(() => createClientFromEnv(env)).toThrow(ConfigError);
    expect(() => createClientFromEnv(env)).toThrow(/MONEYKIT_BASE_URL/);
    expect(() => createClientFromEnv({ ...env, MONEYKIT_BASE_URL: 'http://x', MONEYKIT_CLIENT_ID: 'id' })).toThrow(
      /MONEYKIT_CLIENT_SECRET/,
    );
  });

  it('never sends the fallback credentials to a MONEYKIT_BASE_URL of its own', () => {
    const fallbacks = { baseUrl: 'http://127.0.0.1:8787', clientId: 'sandbox-id', clientSecret: 'sandbox-secret' };
    expect(() => createClientFromEnv({ ...env, MONEYKIT_BASE_URL: 'https://api.example.com' }, fallbacks)).toThrow(
      /MONEYKIT_CLIENT_ID is missing \(MONEYKIT_BASE_URL is set\)/,
    );
    expect(() =>
      createClientFromEnv(
        { ...env, MONEYKIT_BASE_URL: 'https://api.example.com', MONEYKIT_CLIENT_ID: 'mine' },
        fallbacks,
      ),
    ).toThrow(/MONEYKIT_CLIENT_SECRET/);
  });
});
