/**
 * Fuzzing the sandbox's HTTP surface: malformed JSON, wrong content types, oversized bodies, garbage auth,
 * random paths and methods, type-swapped import bodies, broken request framing. Always a 4xx in MoneyKit's
 * error envelope, never a 5xx unless a fault was injected, never a crash. Seeded: FUZZ_SEED=<n> replays.
 */
import type { ImportLinkRequest } from '@mk/shared';
import {
  FUZZ_CONTENT_TYPES,
  FUZZ_METHODS,
  alienValues,
  createFuzzRng,
  fuzzSeed,
  garbageAuthHeaders,
  getAt,
  jsonPaths,
  malformedBodies,
  randomPath,
  sendRaw,
  sendRawSocket,
  setAt,
  trackUnhandledRejections,
  type RawRequest,
  type RawResponse,
} from '@mk/testkit';
import type { RunningSandbox } from '../src';
import { getToken, startTestSandbox } from './helpers';

const SEED = fuzzSeed(60_602);
const unhandled = trackUnhandledRejections();
let sb: RunningSandbox;
let token: string;
let linkId: string;

const IMPORT_BODY: ImportLinkRequest = {
  customer_user: { id: 'fuzz-user-1', email: { address: 'fuzz@example.com' } },
  provider: 'plaid',
  institution_id: 'plaid.ins_3',
  accounts: [
    {
      account_id: 'a1',
      name: 'Checking',
      type: 'depository.checking',
      mask: '1234',
      balances: { currency: 'USD', current: 10.5 },
    },
  ],
  transactions: [
    {
      account_id: 'a1',
      transaction_id: 't1',
      amount: '-4.20',
      date: '2025-06-01',
      description: 'Coffee',
      type: 'food_and_drink',
    },
  ],
};

const API_ROUTES = (id: string): [string, string][] => [
  ['POST', '/links/import'],
  ['POST', `/links/${id}/import/transactions`],
  ['POST', `/links/${id}/products`],
  ['GET', `/links/${id}`],
  ['PATCH', `/links/${id}`],
  ['GET', '/users/fuzz-user-1/links'],
  ['GET', `/links/${id}/accounts`],
  ['GET', `/links/${id}/transactions`],
];
const KNOWN_PATHS = [
  '/auth/token',
  '/links/import',
  '/links/x/products',
  '/links/x',
  '/users/x/links',
  '/.well-known/jwks.json',
  '/_sandbox/faults',
  '/_sandbox/counters',
  '/_sandbox/links/x/reconnect',
];

beforeAll(async () => {
  sb = await startTestSandbox({ importRatePerMinute: 1_000_000, logLevel: 'silent' });
  token = await getToken(sb);
  process.stderr.write(`sandbox fuzz-http seed ${SEED} (FUZZ_SEED=${SEED} to replay)\n`);
});
// A fresh link per test: a fuzzed DELETE may have removed the last one.
beforeEach(async () => {
  const res = await sendRaw(sb.url, {
    method: 'POST',
    path: '/links/import',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(IMPORT_BODY),
  });
  expect(res.status).toBe(200);
  linkId = (res.json as { link_id: string }).link_id;
});
afterAll(async () => {
  unhandled.stop();
  await sb?.close();
});
afterEach(() => expect(unhandled.reasons).toEqual([]));

/** Why a response breaks the promise (a 5xx, or an error that is not MoneyKit's JSON envelope), or undefined. */
function problemWith(req: RawRequest, res: RawResponse): string | undefined {
  const what = `${req.method} ${req.path.slice(0, 60)} → ${res.status}`;
  if (res.status >= 500) return `${what}: server error ${res.body.toString('utf8').slice(0, 200)}`;
  if (res.status < 400 || req.method === 'HEAD') return undefined;
  const body = res.json as { error_code?: unknown; error_message?: unknown; code?: unknown } | undefined;
  // Refused before any handler, in fastify's own JSON shape: a path with a broken %-escape (the router), and
  // headers over Node's 16 KB limit (the HTTP parser).
  if (res.status === 400 && body?.code === 'FST_ERR_BAD_URL') return undefined;
  if (res.status === 431) return undefined;
  if (typeof body?.error_code !== 'string' || typeof body.error_message !== 'string')
    return `${what}: not an error envelope: ${res.body.toString('utf8').slice(0, 200)}`;
  if (!String(res.headers['content-type']).startsWith('application/json'))
    return `${what}: content-type ${res.headers['content-type']}`;
  return undefined;
}

async function check(
  reqs: RawRequest[],
  expectStatus?: (req: RawRequest, res: RawResponse) => string | undefined,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const problems: string[] = [];
  for (const req of reqs) {
    let res: RawResponse;
    try {
      res = await sendRaw(sb.url, req);
    } catch (e) {
      // Node's parser answers over-size headers with a 431 that has a body even for HEAD; the client then misreads it.
      if (req.method === 'HEAD' && /Parse Error/.test((e as Error).message)) continue;
      throw new Error(
        `${req.method} ${req.path.slice(0, 80)} ${JSON.stringify(req.headers).slice(0, 200)}: ${(e as Error).message}`,
      );
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const p = problemWith(req, res) ?? expectStatus?.(req, res);
    if (p) problems.push(p);
  }
  expect(problems.slice(0, 15)).toEqual([]);
  // Still serving.
  expect((await sendRaw(sb.url, { method: 'GET', path: '/.well-known/jwks.json' })).status).toBe(200);
  return statuses;
}

const withType = (contentType: string | undefined, extra: Record<string, string> = {}): Record<string, string> =>
  contentType === undefined ? extra : { ...extra, 'content-type': contentType };

describe(`sandbox HTTP fuzzing (seed ${SEED})`, () => {
  it('answers random methods, paths, content types, bodies and auth with a 4xx envelope (or a success), never a 5xx', async () => {
    const rng = createFuzzRng(SEED + 1);
    const auths = garbageAuthHeaders(rng);
    const bodies = malformedBodies(rng, IMPORT_BODY);
    const reqs: RawRequest[] = [];
    for (let i = 0; i < 700; i++) {
      const method = rng.pick(FUZZ_METHODS);
      const auth = rng.chance(0.5) ? `Bearer ${token}` : rng.pick(auths);
      const [routeMethod, routePath] = rng.pick(API_ROUTES(rng.chance(0.5) ? linkId : 'no-such-link'));
      const path = rng.chance(0.4) ? routePath : randomPath(rng, KNOWN_PATHS);
      const headers = withType(rng.pick(FUZZ_CONTENT_TYPES), auth === undefined ? {} : { authorization: auth });
      const body = method === 'GET' || method === 'HEAD' ? undefined : rng.pick(bodies);
      reqs.push({ method: rng.chance(0.4) ? routeMethod : method, path, headers, ...(body && { body }) });
    }
    const statuses = await check(reqs.filter((r) => !r.path.startsWith('/_sandbox/reset')));
    // The mix reached past auth into validation, not only 401/404.
    expect(statuses.get(401)).toBeGreaterThan(20);
    expect(statuses.get(404)).toBeGreaterThan(20);
    expect((statuses.get(422) ?? 0) + (statuses.get(415) ?? 0)).toBeGreaterThan(20);
  });

  it('refuses every malformed body on every JSON endpoint with 400/413/415/422', async () => {
    const rng = createFuzzRng(SEED + 2);
    const bearer = { authorization: `Bearer ${token}` };
    const endpoints: [string, string][] = [
      ['POST', '/links/import'],
      ['POST', `/links/${linkId}/import/transactions`],
      ['POST', `/links/${linkId}/products`],
      ['PATCH', `/links/${linkId}`],
      ['PUT', '/_sandbox/faults'],
      ['POST', `/_sandbox/links/${linkId}/disconnect`],
      ['POST', `/_sandbox/links/${linkId}/deny`],
      ['PUT', '/_sandbox/webhook'],
    ];
    const reqs: RawRequest[] = [];
    for (const [method, path] of endpoints) {
      for (const body of malformedBodies(rng, IMPORT_BODY)) {
        // Bodies that happen to be acceptable to a lenient control route ('{}' resets faults) are fine: checked below.
        reqs.push({
          method,
          path,
          headers: withType(
            rng.pick(['application/json', 'application/json; charset=utf-8', undefined, 'text/plain']),
            bearer,
          ),
          body,
        });
      }
    }
    const acceptable = new Set([200, 202, 400, 404, 413, 415, 422]);
    await check(reqs, (req, res) =>
      acceptable.has(res.status) ? undefined : `${req.method} ${req.path} → unexpected ${res.status}`,
    );
    await sendRaw(sb.url, { method: 'DELETE', path: '/_sandbox/faults' });
    await sendRaw(sb.url, { method: 'POST', path: `/_sandbox/links/${linkId}/reconnect` });
  });

  it('refuses oversized bodies with 413 without reading them all, whatever the framing', async () => {
    const bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const over = Buffer.alloc(1_000_001, 0x20);
    const reqs: RawRequest[] = [
      { method: 'POST', path: '/links/import', headers: bearer, body: over },
      { method: 'POST', path: '/links/import', headers: bearer, body: Buffer.alloc(5 * 1024 * 1024, 0x7b) },
      { method: 'POST', path: `/links/${linkId}/import/transactions`, headers: bearer, body: over },
      { method: 'POST', path: `/links/${linkId}/products`, headers: bearer, body: over },
      { method: 'PUT', path: '/_sandbox/faults', headers: { 'content-type': 'application/json' }, body: over },
      {
        method: 'POST',
        path: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.alloc(2_000_000, 0x61),
      },
      // Chunked: no length announced, the limit still holds.
      { method: 'POST', path: '/links/import', headers: { ...bearer, 'transfer-encoding': 'chunked' }, body: over },
    ];
    await check(reqs, (req, res) =>
      res.status === 413 ? undefined : `${req.method} ${req.path} → ${res.status}, expected 413`,
    );
    const big = await sendRaw(sb.url, { method: 'POST', path: '/links/import', headers: bearer, body: over });
    expect(big.json).toMatchObject({ error_code: 'api_error.request.payload_too_large' });
  });

  it('refuses missing, malformed and forged credentials with 401 (400 for a wrong grant), on every route', async () => {
    const rng = createFuzzRng(SEED + 3);
    const reqs: RawRequest[] = [];
    for (const auth of garbageAuthHeaders(rng)) {
      for (const [method, path] of API_ROUTES(linkId)) {
        reqs.push({
          method,
          path,
          headers: withType(
            method === 'GET' ? undefined : 'application/json',
            auth === undefined ? {} : { authorization: auth },
          ),
          ...(method !== 'GET' && { body: JSON.stringify(IMPORT_BODY) }),
        });
      }
      // The token endpoint: credentials as Basic, in the form, both, garbled.
      const forms = [
        'grant_type=client_credentials',
        `grant_type=client_credentials&client_id=${sb.clientId}&client_secret=wrong`,
        'grant_type=password',
        '',
        '%',
        'grant_type=client_credentials&client_id=%E0%A4%A&client_secret=%zz',
        '&&&==',
      ];
      for (const form of forms)
        reqs.push({
          method: 'POST',
          path: '/auth/token',
          headers: withType('application/x-www-form-urlencoded', auth === undefined ? {} : { authorization: auth }),
          body: form,
        });
    }
    await check(reqs, (req, res) =>
      [400, 401].includes(res.status)
        ? undefined
        : `${req.method} ${req.path} with ${JSON.stringify(req.headers?.authorization)?.slice(0, 60)} → ${res.status}`,
    );
  });

  it('answers a malformed %-escape in Basic credentials on /auth/token with 401', async () => {
    const res = await sendRaw(sb.url, {
      method: 'POST',
      path: '/auth/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('%E0%A4%A:%zz').toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(401);
  });

  it('answers type-swapped import bodies with 200 or a 422 that lists validation errors', async () => {
    const bearer = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const reqs: RawRequest[] = [];
    for (const p of jsonPaths(IMPORT_BODY)) {
      for (const v of alienValues(getAt(IMPORT_BODY, p)))
        reqs.push({
          method: 'POST',
          path: '/links/import',
          headers: bearer,
          body: JSON.stringify(setAt(IMPORT_BODY, p, v)),
        });
    }
    expect(reqs.length).toBeGreaterThan(200);
    await check(reqs, (req, res) => {
      if (res.status === 200) return undefined;
      const body = res.json as { validation_errors?: unknown[] } | undefined;
      if (res.status !== 422 || !Array.isArray(body?.validation_errors) || body!.validation_errors.length === 0)
        return `${req.body} → ${res.status} ${res.body.toString().slice(0, 120)}`;
      return undefined;
    });
  });

  it('survives broken request framing on the socket and keeps serving', async () => {
    const rng = createFuzzRng(SEED + 4);
    const garbage = [
      'GARBAGE\r\n\r\n',
      'GET\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /links/import HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'POST /links/import HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'POST /links/import HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":', // body cut short, then closed
      'GET / HTTP/1.1\r\n' + 'X-Long: ' + 'a'.repeat(20_000) + '\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      '\u0000\u0001\u0002\r\n\r\n',
      rng.bytes(512).toString('latin1'),
    ];
    for (const g of garbage) {
      const answer = await sendRawSocket(sb.url, Buffer.from(g, 'latin1'));
      expect(answer).not.toMatch(/^HTTP\/1\.[01] 5\d\d/);
    }
    expect(
      (
        await sendRaw(sb.url, {
          method: 'GET',
          path: `/links/${linkId}`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
    ).toBe(200);
  });

  it('answers 5xx only when a fault is injected, and then in the envelope', async () => {
    const rng = createFuzzRng(SEED + 5);
    sb.state.faults.set({ error5xxRate: 0.5 });
    const before = sb.state.faults.counts.error5xx;
    let fives = 0;
    const problems: string[] = [];
    try {
      for (let i = 0; i < 120; i++) {
        const [method, path] = rng.pick(API_ROUTES(linkId).filter(([m]) => m === 'GET'));
        const res = await sendRaw(sb.url, {
          method,
          path,
          headers: { authorization: rng.chance(0.8) ? `Bearer ${token}` : 'Bearer forged' },
        });
        if (res.status >= 500) {
          fives++;
          if (
            res.status !== 500 ||
            (res.json as { error_code?: string } | undefined)?.error_code !== 'api_error.internal_server_error'
          )
            problems.push(`${path} → ${res.status} ${res.body.toString().slice(0, 100)}`);
        }
      }
    } finally {
      sb.state.faults.set({});
    }
    expect(problems).toEqual([]);
    expect(fives).toBeGreaterThan(10);
    expect(fives).toBe(sb.state.faults.counts.error5xx - before);
  });
});
