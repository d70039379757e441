/**
 * Fuzzing the webhook receiver: malformed JSON, oversized bodies, wrong content types, random paths and methods,
 * missing/forged/stale signatures, and genuinely signed but mangled events. Always a clear 4xx (or 200 for a
 * genuine event), never a 5xx unless the JWKS cannot be fetched (MoneyKit retries then), never a crash; and
 * nothing forged ever changes a link. Seeded: FUZZ_SEED=<n> replays.
 */
import { createHash, randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import type { Jwks } from '@mk/moneykit-client';
import { createLogger, type Redis } from '@mk/shared';
import {
  FUZZ_CONTENT_TYPES,
  FUZZ_METHODS,
  NASTY_STRINGS,
  alienValues,
  createFuzzRng,
  fuzzSeed,
  getAt,
  jsonPaths,
  malformedBodies,
  mutateBytes,
  randomPath,
  sendRaw,
  sendRawSocket,
  setAt,
  startPrivateRedis,
  trackUnhandledRejections,
  type PrivateRedis,
  type RawRequest,
  type RawResponse,
} from '@mk/testkit';
import { RefreshRegistry } from '@mk/refresh';
import {
  DEFAULT_WEBHOOK_BODY_LIMIT,
  DEFAULT_WEBHOOK_PATH,
  startWebhookReceiver,
  type RunningWebhookReceiver,
} from '../src/webhooks';

const SEED = fuzzSeed(60_603);
const unhandled = trackUnhandledRejections();
const PARKED = 'mk_fuzz_parked';

interface TestKey {
  kid: string;
  privateKey: KeyLike;
  jwk: Jwks['keys'][number];
}
async function newKey(): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kty: 'EC', kid, alg: 'ES256', use: 'sig' } };
}
const sha256 = (body: Buffer | string) => createHash('sha256').update(body).digest('hex');
const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

async function sign(
  body: Buffer | string,
  key: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const jwt = new SignJWT({ request_body_sha256: sha256(body), ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, ...header } as { alg: string })
    .setIssuer('moneykit');
  if (!('iat' in claims)) jwt.setIssuedAt();
  return jwt.sign(key.privateKey);
}

let server: PrivateRedis;
let redis: Redis;
let registry: RefreshRegistry;
let receiver: RunningWebhookReceiver;
let key: TestKey;
let jwksDown = false;
let base: string;

const stateChanged = (linkId: string, state: string) => ({
  webhook_idempotency_key: randomUUID(),
  webhook_timestamp: new Date().toISOString(),
  webhook_major_version: 1,
  webhook_minor_version: 0,
  link_id: linkId,
  link_tags: [],
  webhook_event: 'link.state_changed',
  state,
  error: null,
  error_message: null,
});
const productRefresh = (linkId: string) => ({
  webhook_idempotency_key: randomUUID(),
  webhook_timestamp: new Date().toISOString(),
  link_id: linkId,
  link_tags: ['a'],
  webhook_event: 'link.product_refresh',
  product: 'transactions',
  state: 'completed',
  state_changed_at: new Date().toISOString(),
  error_message: null,
});

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  registry = await RefreshRegistry.open(redis, '{whfuzz}', { timeScale: 3600, firstDueSpreadMs: 0, buckets: 16 });
  key = await newKey();
  receiver = await startWebhookReceiver({
    port: 0,
    registry,
    fetchJwks: async () => {
      if (jwksDown) throw new Error('MoneyKit JWKS unreachable');
      return { keys: [key.jwk] };
    },
    minJwksRefetchMs: 0,
    logger: createLogger('webhooks-fuzz', { level: 'silent' }),
  });
  base = receiver.url.slice(0, -DEFAULT_WEBHOOK_PATH.length);
  await registry.register([{ linkId: PARKED, parked: { reason: 'auth_expired' } }]);
  process.stderr.write(`webhook fuzz seed ${SEED} (FUZZ_SEED=${SEED} to replay)\n`);
});
afterAll(async () => {
  unhandled.stop();
  await receiver?.close();
  redis?.disconnect();
  await server?.stop();
});
afterEach(() => expect(unhandled.reasons).toEqual([]));

/** Why a response breaks the promise, or undefined. Errors are `{ error, message }` JSON. */
function problemWith(req: RawRequest, res: RawResponse, allowed?: number[]): string | undefined {
  const what = `${req.method} ${req.path.slice(0, 50)} [${String(req.headers?.['content-type'])}] → ${res.status} ${res.body.toString('utf8').slice(0, 160)}`;
  if (res.status >= 500) return `server error: ${what}`;
  if (allowed && !allowed.includes(res.status)) return `unexpected status: ${what}`;
  if (res.status < 400 || req.method === 'HEAD' || res.status === 431) return undefined;
  const body = res.json as { error?: unknown; message?: unknown; error_code?: unknown } | undefined;
  if (typeof body?.message !== 'string' || (typeof body.error !== 'string' && typeof body.error_code !== 'string'))
    return `no JSON error: ${what}`;
  return undefined;
}

async function check(reqs: RawRequest[], allowed?: number[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  const problems: string[] = [];
  for (const req of reqs) {
    let res: RawResponse;
    try {
      res = await sendRaw(base, req);
    } catch (e) {
      if (req.method === 'HEAD' && /Parse Error/.test((e as Error).message)) continue; // a 431 with a body to a HEAD
      throw e;
    }
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    const p = problemWith(req, res, allowed);
    if (p) problems.push(p);
  }
  expect(problems.slice(0, 15)).toEqual([]);
  // Nothing refused here may have touched the parked link.
  expect(await registry.get(PARKED)).toMatchObject({ mode: 'parked' });
  return statuses;
}

const post = (body: Buffer | string, headers: Record<string, string>): RawRequest => ({
  method: 'POST',
  path: DEFAULT_WEBHOOK_PATH,
  headers,
  body,
});

describe(`webhook receiver fuzzing (seed ${SEED})`, () => {
  it('answers random methods, paths, content types, bodies and signature headers with a 4xx, never a 5xx', async () => {
    const rng = createFuzzRng(SEED + 1);
    const bodies = malformedBodies(rng, stateChanged(PARKED, 'connected'));
    const reqs: RawRequest[] = [];
    for (let i = 0; i < 500; i++) {
      const method = rng.chance(0.6) ? 'POST' : rng.pick(FUZZ_METHODS);
      const path = rng.chance(0.6) ? DEFAULT_WEBHOOK_PATH : randomPath(rng, [DEFAULT_WEBHOOK_PATH, '/webhooks', '/']);
      const headers: Record<string, string> = {};
      const ct = rng.pick(FUZZ_CONTENT_TYPES);
      if (ct !== undefined) headers['content-type'] = ct;
      if (rng.chance(0.7))
        headers['moneykit-signature'] = rng.pick([
          '',
          'x',
          'a.b.c',
          'eyJ.eyJ.sig',
          `${b64url({ alg: 'ES256', kid: key.kid })}.${b64url({})}.AAAA`,
          'x'.repeat(8000),
          NASTY_STRINGS[0]!.replace(/[^\x20-\x7e]/g, '?'),
        ]);
      const body = method === 'GET' || method === 'HEAD' ? undefined : rng.pick(bodies);
      reqs.push({ method, path, headers, ...(body && { body }) });
    }
    const statuses = await check(reqs);
    expect(statuses.get(401)).toBeGreaterThan(20);
    expect(statuses.get(404)).toBeGreaterThan(20);
    expect(statuses.get(415)).toBeGreaterThan(5);
  });

  it('refuses missing, malformed, forged, stale and mismatched signatures with 401', async () => {
    const rng = createFuzzRng(SEED + 2);
    const other = await newKey();
    const body = JSON.stringify(stateChanged(PARKED, 'connected'));
    const now = Math.floor(Date.now() / 1000);
    const forged: (string | undefined)[] = [
      undefined,
      '',
      ' ',
      'null',
      'Bearer x',
      'a.b',
      'a.b.c',
      '...',
      b64url({ alg: 'none' }) + '.' + b64url({ request_body_sha256: sha256(body) }) + '.',
      b64url({ alg: 'ES256', kid: key.kid }) +
        '.' +
        b64url({ request_body_sha256: sha256(body), iat: now }) +
        '.' +
        Buffer.alloc(64).toString('base64url'),
      b64url({ alg: 'HS256', kid: key.kid }) +
        '.' +
        b64url({ request_body_sha256: sha256(body), iat: now }) +
        '.' +
        'c2ln',
      b64url({ alg: 'ES256' }) + '.' + b64url({ iat: now }) + '.sig',
      b64url('not json') + '.' + b64url('x') + '.sig',
      b64url([1, 2]) + '.e30.sig',
      await sign(body, other), // an unknown key (kid not in the JWKS)
      await sign(body, other, {}, { kid: key.kid }), // another key claiming our kid
      await sign('a different body', key),
      await sign(body, key, { request_body_sha256: sha256(body).toUpperCase().slice(0, 60) }),
      await sign(body, key, { request_body_sha256: 42 }),
      await sign(body, key, { request_body_sha256: null }),
      await sign(body, key, { iat: now - 3600 }),
      await sign(body, key, { iat: now + 3600 }),
      await sign(body, key, { iat: 'yesterday' }),
      await sign(body, key, { iat: 1e30 }),
      await sign(body, key, { exp: now - 10 }),
      await sign(body, key, { nbf: now + 3600 }),
    ];
    const genuine = await sign(body, key);
    for (let i = 0; i < 40; i++)
      forged.push(
        mutateBytes(rng, Buffer.from(genuine), rng.int(1, 3), [0x0a, 0x0d, 0x00])
          .toString('latin1')
          .replace(/[^\x20-\x7e]/g, 'A'),
      );
    const reqs = forged
      .filter((s) => s !== genuine)
      .map((sig) =>
        post(body, { 'content-type': 'application/json', ...(sig !== undefined && { 'moneykit-signature': sig }) }),
      );
    // Two signature headers: the first one counts, a forged first cannot borrow a genuine second.
    reqs.push({
      ...post(body, { 'content-type': 'application/json' }),
      headers: { 'content-type': 'application/json', 'moneykit-signature': ['forged', genuine] },
    });
    await check(reqs, [401]);
  });

  it('refuses oversized bodies with 413 and non-JSON content types with 415, signed or not', async () => {
    const over = Buffer.alloc(DEFAULT_WEBHOOK_BODY_LIMIT + 1, 0x20);
    const huge = Buffer.alloc(5 * 1024 * 1024, 0x7b);
    const reqs: RawRequest[] = [
      post(over, { 'content-type': 'application/json', 'moneykit-signature': await sign(over, key) }),
      post(huge, { 'content-type': 'application/json', 'moneykit-signature': await sign(huge, key) }),
      post(over, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }),
    ];
    await check(reqs, [413]);
    const body = JSON.stringify(stateChanged(PARKED, 'connected'));
    const signed = await sign(body, key);
    const types = [
      'text/plain',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'text/html',
    ];
    await check(
      types.map((t) => post(body, { 'content-type': t, 'moneykit-signature': signed })),
      [415],
    );
    await check([post(body, { 'moneykit-signature': signed })], [400, 415]);
  });

  it('answers genuinely signed but malformed bodies with 400 (or 200 for an event it may ignore), never 5xx', async () => {
    const rng = createFuzzRng(SEED + 3);
    const reqs: RawRequest[] = [];
    // Signed genuinely: a byte edit that still parses is a real event, so these bodies name another link.
    for (const body of malformedBodies(rng, stateChanged('mk_fuzz_other', 'connected'))) {
      reqs.push(
        post(body, {
          'content-type': 'application/json',
          ...(body.length > 0 && { 'moneykit-signature': await sign(body, key) }),
        }),
      );
    }
    // Every field of both event kinds, type-swapped (on links other than the parked one) and signed.
    for (const event of [stateChanged('mk_fuzz_other', 'error'), productRefresh('mk_fuzz_other')]) {
      for (const p of jsonPaths(event)) {
        for (const v of [...alienValues(getAt(event, p)), ...NASTY_STRINGS.slice(0, 5)]) {
          const mutated = setAt(event, p, v) as Record<string, unknown>;
          if (mutated.link_id === PARKED) continue;
          mutated.webhook_idempotency_key =
            typeof mutated.webhook_idempotency_key === 'string' ? randomUUID() : mutated.webhook_idempotency_key;
          const body = JSON.stringify(mutated);
          reqs.push(post(body, { 'content-type': 'application/json', 'moneykit-signature': await sign(body, key) }));
        }
      }
    }
    const statuses = await check(reqs, [200, 400]);
    expect(statuses.get(400)).toBeGreaterThan(50);
    expect(statuses.get(200)).toBeGreaterThan(20);
  });

  it('survives broken request framing on the socket and still applies a genuine event afterwards', async () => {
    const rng = createFuzzRng(SEED + 4);
    const garbage = [
      'GARBAGE\r\n\r\n',
      `POST ${DEFAULT_WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":`,
      `POST ${DEFAULT_WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{"a":1}`,
      `POST ${DEFAULT_WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n`,
      rng.bytes(700).toString('latin1'),
    ];
    for (const g of garbage)
      expect(await sendRawSocket(base, Buffer.from(g, 'latin1'))).not.toMatch(/^HTTP\/1\.[01] 5\d\d/);
    const body = JSON.stringify(stateChanged('mk_fuzz_after', 'connected'));
    await registry.register([{ linkId: 'mk_fuzz_after', parked: { reason: 'auth_expired' } }]);
    const res = await sendRaw(
      base,
      post(body, { 'content-type': 'application/json', 'moneykit-signature': await sign(body, key) }),
    );
    expect({ status: res.status, json: res.json }).toEqual({
      status: 200,
      json: { status: 'processed', effect: 'due' },
    });
  });

  it('answers 503 (retry later) only when the JWKS cannot be fetched, and 401 again once it can', async () => {
    const rotated = await newKey();
    const body = JSON.stringify(stateChanged(PARKED, 'connected'));
    jwksDown = true;
    try {
      const res = await sendRaw(
        base,
        post(body, { 'content-type': 'application/json', 'moneykit-signature': await sign(body, rotated) }),
      );
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ error: 'unavailable', message: expect.any(String) });
    } finally {
      jwksDown = false;
    }
    await check(
      [post(body, { 'content-type': 'application/json', 'moneykit-signature': await sign(body, rotated) })],
      [401],
    );
  });
});
