/**
 * Fuzzing the dashboard: random methods and paths, malformed and oversized bodies, wrong content types, garbage
 * Basic credentials, forged and mangled session cookies, a hostile login form, and an admin poking Bull Board's
 * API with nonsense. Always a clear 4xx (or a redirect to the login page), never a 5xx, never a crash, and no
 * forged credential ever gets in. Seeded: FUZZ_SEED=<n> replays.
 */
import { createHmac } from 'node:crypto';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { createRedis, importJob, QUEUES, type Redis } from '@mk/shared';
import {
  FUZZ_CONTENT_TYPES,
  FUZZ_METHODS,
  NASTY_STRINGS,
  createFuzzRng,
  fuzzSeed,
  garbageAuthHeaders,
  malformedBodies,
  mutateBytes,
  percentEncodeBytes,
  randomPath,
  randomText,
  sendRaw,
  sendRawSocket,
  startPrivateRedis,
  trackUnhandledRejections,
  type PrivateRedis,
  type RawRequest,
  type RawResponse,
} from '@mk/testkit';
import { createDashboard, type AuthOptions } from '@mk/dashboard';
import { InMemoryRefreshSource, InMemoryRunSource, sampleRefresh, sampleRun } from './fakes';

const SEED = fuzzSeed(60_604);
const unhandled = trackUnhandledRejections();
const PREFIX = '{mk-dash-fuzz}';
const SECRET = 'f'.repeat(32);
const ADMIN = { username: 'ops-admin', password: 'admin-password-123', role: 'admin' as const };
const VIEWER = { username: 'ops-viewer', password: 'viewer-password-123', role: 'viewer' as const };
const AUTH: AuthOptions = {
  mode: 'credentials',
  users: [ADMIN, VIEWER],
  // Thousands of wrong credentials from one address: the throttle (security.test.ts) would rightly refuse them all.
  throttle: { perAddress: 1_000_000, perUser: 1_000_000, windowSeconds: 60 },
};
const basic = (u: { username: string; password: string }) =>
  `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

const KNOWN_PATHS = [
  '/',
  '/runs',
  '/runs/plaid-2026-11-20',
  '/runs/nope',
  '/api/runs',
  '/api/runs/plaid-2026-11-20',
  '/api/runs/nope',
  '/api/refresh',
  '/login',
  '/logout',
  '/board',
  '/board/admin/',
  '/board/viewer/',
  '/board/admin/api/queues',
  '/board/viewer/api/queues',
  `/board/admin/api/queues/${QUEUES.import}/fuzz-1`,
  '/metrics',
  '/healthz',
  '/readyz',
  '/favicon.ico',
  '/board/admin/static/x.js',
];
const PROTECTED_JSON = [
  '/api/runs',
  '/api/runs/plaid-2026-11-20',
  '/api/refresh',
  '/board/admin/api/queues',
  '/board/viewer/api/queues',
];

let server: PrivateRedis;
let redis: Redis;
let queue: Queue;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = createRedis(server.url, 'worker');
  queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
  await queue.add(importJob.name, { n: 1 }, { jobId: 'fuzz-1' });
  app = await createDashboard({
    redis,
    prefix: PREFIX,
    auth: AUTH,
    runs: new InMemoryRunSource([sampleRun()]),
    refresh: new InMemoryRefreshSource(sampleRefresh),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  process.stderr.write(`dashboard fuzz-http seed ${SEED} (FUZZ_SEED=${SEED} to replay)\n`);
});
afterAll(async () => {
  unhandled.stop();
  await app?.close();
  await queue?.close();
  redis?.disconnect();
  await server?.stop();
});
afterEach(() => expect(unhandled.reasons).toEqual([]));

/** Why a response breaks the promise, or undefined. */
function problemWith(req: RawRequest, res: RawResponse, allowed?: number[]): string | undefined {
  const what = `${req.method} ${req.path.slice(0, 60)} [auth ${String(req.headers?.authorization).slice(0, 30)}, cookie ${String(req.headers?.cookie).slice(0, 40)}] → ${res.status} ${res.body.toString('utf8').slice(0, 160)}`;
  if (res.status >= 500 && !isBullBoardWrongStateAction(req, res)) return `server error: ${what}`;
  if (allowed && !allowed.includes(res.status)) return `unexpected status: ${what}`;
  if (res.status < 400 || req.method === 'HEAD' || res.status === 431) return undefined;
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/html')) return res.body.length > 0 ? undefined : `empty HTML error: ${what}`;
  const body = res.json as { message?: unknown; error?: { key?: unknown } } | undefined;
  // Bull Board's API answers in its own shape: { error: { key: 'ERRORS.JOB_NOT_FOUND' } }.
  if (req.path.includes('/api/') && typeof body?.error?.key === 'string') return undefined;
  if (typeof body?.message !== 'string') return `no JSON error with a message: ${what}`;
  return undefined;
}

/**
 * Upstream (Bull Board), reported: a job action on a job in another state ("promote" a waiting job) is answered
 * 500 with BullMQ's message, where a 409 would be right. Admin-only, and the message is clear.
 */
function isBullBoardWrongStateAction(req: RawRequest, res: RawResponse): boolean {
  return (
    res.status === 500 &&
    /^\/board\/admin\/api\/queues\/[^/]+\/[^/]+\/(promote|retry\/\w+)$/.test(req.path) &&
    /is not in the \w+ state/.test(String((res.json as { message?: unknown } | undefined)?.message))
  );
}

async function check(
  reqs: RawRequest[],
  allowed?: number[] | ((req: RawRequest, res: RawResponse) => string | undefined),
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const problems: string[] = [];
  for (const req of reqs) {
    let res: RawResponse;
    try {
      res = await sendRaw(base, req);
    } catch (e) {
      if (req.method === 'HEAD' && /Parse Error/.test((e as Error).message)) continue; // a 431 with a body to a HEAD
      throw new Error(`${req.method} ${req.path.slice(0, 60)}: ${(e as Error).message}`);
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const p =
      problemWith(req, res, Array.isArray(allowed) ? allowed : undefined) ??
      (typeof allowed === 'function' ? allowed(req, res) : undefined);
    if (p) problems.push(p);
  }
  expect(problems.slice(0, 15)).toEqual([]);
  expect((await sendRaw(base, { method: 'GET', path: '/healthz' })).status).toBe(200);
  return statuses;
}

/** Session cookie values an attacker or a broken browser sends. */
function forgedCookies(rng: ReturnType<typeof createFuzzRng>): string[] {
  const payload = (p: unknown) => Buffer.from(JSON.stringify(p)).toString('base64url');
  const mac = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('base64url');
  const viewer = payload({ u: VIEWER.username, r: 'viewer', e: Date.now() + 3_600_000 });
  const asAdmin = payload({ u: VIEWER.username, r: 'admin', e: Date.now() + 3_600_000 });
  const genuineViewer = `${viewer}.${mac(viewer)}`;
  const values = [
    '',
    '.',
    '..',
    'x',
    'a.b',
    `${asAdmin}.${mac(viewer)}`,
    `${asAdmin}.${mac(asAdmin, 'wrong-secret')}`,
    `${asAdmin}.`,
    `.${mac(asAdmin)}`,
    `${payload({ u: ADMIN.username, r: 'admin', e: Date.now() - 1 })}.${mac(payload({ u: ADMIN.username, r: 'admin', e: Date.now() - 1 }))}`, // expired, genuinely signed
    `${payload({ u: 'x', r: 'root', e: 9e15 })}.${mac(payload({ u: 'x', r: 'root', e: 9e15 }))}`, // unknown role, genuinely signed
    `${payload('just a string')}.${mac(payload('just a string'))}`,
    `${payload(null)}.${mac(payload(null))}`,
    `${payload([])}.${mac(payload([]))}`,
    `${Buffer.from('not json').toString('base64url')}.${mac(Buffer.from('not json').toString('base64url'))}`,
    '%',
    '%zz',
    '%E0%A4%A',
    '%00',
    'a'.repeat(8000),
    percentEncodeBytes(NASTY_STRINGS[3]!),
  ];
  for (let i = 0; i < 20; i++)
    values.push(
      mutateBytes(rng, Buffer.from(genuineViewer), rng.int(1, 3), [0x0a, 0x0d, 0x3b, 0x00])
        .toString('latin1')
        .replace(/[^\x21-\x7e]/g, 'A'),
    );
  return values.filter((v) => v !== genuineViewer);
}

describe(`dashboard HTTP fuzzing (seed ${SEED})`, () => {
  it('answers random anonymous requests with a 4xx or a redirect to the login page, never a 5xx', async () => {
    const rng = createFuzzRng(SEED + 1);
    const bodies = malformedBodies(rng, { username: 'a', password: 'b' });
    const auths = garbageAuthHeaders(rng);
    const cookies = forgedCookies(rng);
    const reqs: RawRequest[] = [];
    for (let i = 0; i < 500; i++) {
      const method = rng.pick(FUZZ_METHODS);
      const path = rng.chance(0.5) ? rng.pick(KNOWN_PATHS) : randomPath(rng, KNOWN_PATHS);
      const headers: Record<string, string> = {};
      const ct = rng.pick(FUZZ_CONTENT_TYPES);
      if (ct !== undefined) headers['content-type'] = ct;
      const auth = rng.pick(auths);
      if (auth !== undefined) headers.authorization = auth;
      if (rng.chance(0.3)) headers.accept = rng.pick(['text/html', 'application/json', '*/*', 'text/html;q=0.1']);
      if (rng.chance(0.3)) headers.cookie = `mk_session=${rng.pick(cookies)}`;
      const body = method === 'GET' || method === 'HEAD' ? undefined : rng.pick(bodies);
      reqs.push({ method, path, headers, ...(body && { body }) });
    }
    const statuses = await check(reqs, (req, res) => {
      // Only public pages may answer 2xx to garbage credentials.
      const path = req.path.split('?')[0]!;
      if (res.status < 300 && !['/login', '/healthz', '/readyz', '/metrics', '/favicon.ico'].includes(path))
        return `got in: ${req.method} ${req.path} → ${res.status}`;
      return undefined;
    });
    expect(statuses.get(401)).toBeGreaterThan(20);
  });

  it('never lets a forged, mangled, expired or malformed session cookie in, and never fails on one', async () => {
    const rng = createFuzzRng(SEED + 2);
    const reqs: RawRequest[] = [];
    for (const value of forgedCookies(rng)) {
      for (const path of PROTECTED_JSON) {
        reqs.push({ method: 'GET', path, headers: { cookie: `mk_session=${value}` } });
        reqs.push({ method: 'GET', path, headers: { cookie: `other=1; mk_session=${value}; mk_session=${value}x` } });
      }
      reqs.push({
        method: 'POST',
        path: '/board/admin/api/queues/mk-import/clean/completed',
        headers: { cookie: `mk_session=${value}`, 'content-type': 'application/json' },
        body: '{}',
      });
    }
    await check(reqs, [401]);
  });

  it('answers a session cookie with a malformed %-escape with 401', async () => {
    const res = await sendRaw(base, { method: 'GET', path: '/api/runs', headers: { cookie: 'mk_session=%zz' } });
    expect(res.status).toBe(401);
  });

  it('answers every garbage Authorization header with 401 on protected routes', async () => {
    const rng = createFuzzRng(SEED + 3);
    const near = [
      `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}x`).toString('base64')}`,
      `Basic ${Buffer.from(`${ADMIN.username}x:${ADMIN.password}`).toString('base64')}`,
      `Basic ${Buffer.from(`${ADMIN.username}:`).toString('base64')}`,
      `Bearer ${ADMIN.password}`,
      basic(ADMIN).toLowerCase(),
      `${basic(ADMIN)} extra`,
    ];
    const reqs: RawRequest[] = [];
    for (const auth of [...garbageAuthHeaders(rng), ...near]) {
      for (const path of PROTECTED_JSON)
        reqs.push({ method: 'GET', path, headers: auth === undefined ? {} : { authorization: auth } });
    }
    await check(reqs, [401]);
  });

  it('answers a hostile login form with 4xx and never a session', async () => {
    const rng = createFuzzRng(SEED + 4);
    const forms = [
      '',
      '=',
      '&&&',
      'username=&password=',
      `username=${ADMIN.username}`,
      `password=${ADMIN.password}`,
      `username=${ADMIN.username}&password=wrong`,
      `username[]=${ADMIN.username}&password[]=${ADMIN.password}`,
      `username=${ADMIN.username}&username=x&password=${ADMIN.password}x`,
      'username=%zz&password=%',
      '%00=%00',
      `username=${percentEncodeBytes(NASTY_STRINGS[3]!)}&password=${percentEncodeBytes(NASTY_STRINGS[2]!)}`,
      `next=//evil.example&username=a&password=b`,
      randomText(rng, 200),
    ];
    const reqs: RawRequest[] = forms.map((f) => ({
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: f,
    }));
    for (const body of malformedBodies(rng))
      reqs.push({
        method: 'POST',
        path: '/login',
        headers: { 'content-type': rng.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded']) },
        body,
      });
    reqs.push({
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=${'a'.repeat(5000)}&password=b`,
    });
    reqs.push({
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024, 0x20),
    });
    await check(reqs, (req, res) => {
      if (
        res.headers['set-cookie'] &&
        String(res.headers['set-cookie']).includes('mk_session=') &&
        !/Max-Age=0/.test(String(res.headers['set-cookie']))
      )
        return `session issued for ${String(req.body).slice(0, 80)}`;
      if (res.status < 400) return `login accepted: ${String(req.body).slice(0, 80)} → ${res.status}`;
      return undefined;
    });
  });

  it('answers an admin sending nonsense to Bull Board and the status API with a 4xx, never a 5xx', async () => {
    const rng = createFuzzRng(SEED + 5);
    const q = QUEUES.import;
    const paths = [
      '/board/admin/api/queues',
      `/board/admin/api/queues/${q}/fuzz-1`,
      `/board/admin/api/queues/${q}/fuzz-1/logs`,
      `/board/admin/api/queues/${q}/fuzz-1/retry/failed`,
      `/board/admin/api/queues/${q}/fuzz-1/promote`,
      `/board/admin/api/queues/${q}/retry/failed`,
      `/board/admin/api/queues/${q}/clean/bogus`,
      `/board/admin/api/queues/${q}/pause`,
      `/board/admin/api/queues/${q}/resume`,
      `/board/admin/api/queues/${q}/add`,
      `/board/admin/api/queues/no-such-queue/fuzz-1`,
      `/board/admin/api/queues/${q}/no-such-job`,
      `/board/admin/api/queues/${q}/no-such-job/logs`,
      `/board/admin/api/queues/${q}/no-such-job/retry/failed`,
      `/board/admin/api/redis/stats`,
      '/board/admin/api/queues?activeQueue=%zz&status=bogus&page=-1',
      `/board/admin/api/queues?activeQueue=${q}&status=latest&page=NaN&jobsPerPage=1e9`,
      '/api/runs/%00',
      `/api/runs/${'x'.repeat(5000)}`,
      '/runs/%F0%9F%98%80',
      '/api/runs?x=%zz',
    ];
    const reqs: RawRequest[] = [];
    for (let i = 0; i < 250; i++) {
      const path = rng.chance(0.8) ? rng.pick(paths) : randomPath(rng, paths);
      const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);
      const headers: Record<string, string> = { authorization: basic(ADMIN) };
      const ct = rng.pick(FUZZ_CONTENT_TYPES);
      if (ct !== undefined) headers['content-type'] = ct;
      const body =
        method === 'GET'
          ? undefined
          : rng.pick([
              ...malformedBodies(rng, { name: 'x', data: {}, options: {} }),
              Buffer.from('{"name":"x","data":{"a":1},"options":{"delay":-1,"attempts":"lots"}}'),
            ]);
      reqs.push({ method, path, headers, ...(body && { body }) });
    }
    // Destructive admin actions are allowed to succeed; what matters is how nonsense is answered.
    await check(reqs.filter((r) => !/\/(empty|obliterate)\b/.test(r.path)));
  });

  it('keeps viewers read-only whatever they send', async () => {
    const rng = createFuzzRng(SEED + 6);
    const reqs: RawRequest[] = [];
    for (let i = 0; i < 60; i++) {
      const path = rng.pick([
        '/board/admin/',
        '/board/admin/api/queues',
        `/board/viewer/api/queues/${QUEUES.import}/retry/failed`,
        `/board/viewer/api/queues/${QUEUES.import}/pause`,
        '/api/runs',
      ]);
      const method = rng.pick(['POST', 'PUT', 'DELETE', 'PATCH']);
      reqs.push({
        method,
        path,
        headers: { authorization: basic(VIEWER), 'content-type': 'application/json' },
        body: rng.pick(malformedBodies(rng)),
      });
    }
    await check(reqs, (req, res) =>
      res.status === 403 || res.status === 405 || res.status === 400 || res.status === 415 || res.status === 413
        ? undefined
        : `viewer ${req.method} ${req.path} → ${res.status}`,
    );
  });

  it('survives broken request framing on the socket', async () => {
    const rng = createFuzzRng(SEED + 7);
    const garbage = [
      'GARBAGE\r\n\r\n',
      'POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=',
      'GET /api/runs HTTP/1.1\r\nHost: x\r\nCookie: ' + 'mk_session=' + 'a'.repeat(20_000) + '\r\n\r\n',
      rng.bytes(600).toString('latin1'),
    ];
    for (const g of garbage)
      expect(await sendRawSocket(base, Buffer.from(g, 'latin1'))).not.toMatch(/^HTTP\/1\.[01] 5\d\d/);
    expect(
      (await sendRaw(base, { method: 'GET', path: '/api/runs', headers: { authorization: basic(ADMIN) } })).status,
    ).toBe(200);
  });
});
