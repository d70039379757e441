import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { validateWebhook } from '@mk/testkit';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { RunningSandbox } from '../src';
import { apiFor, importRequest, sleep, startTestSandbox, type Api } from './helpers';

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: any;
}

/** A webhook receiver that records raw requests; `failNext` makes it answer 500 that many times. */
async function startReceiver() {
  const received: Received[] = [];
  let failNext = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
      res.statusCode = failNext > 0 ? 500 : 200;
      if (failNext > 0) failNext -= 1;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/moneykit`,
    received,
    failTimes: (n: number) => (failNext = n),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
type Receiver = Awaited<ReturnType<typeof startReceiver>>;

let receiver: Receiver;
let sb: RunningSandbox;
let api: Api;
beforeAll(async () => {
  receiver = await startReceiver();
  sb = await startTestSandbox({
    webhookUrl: receiver.url,
    webhookRetryDelaysMs: [30, 30, 30],
    refreshCompletionDelayMs: 10,
    timeScale: 3600,
  });
  api = await apiFor(sb);
});
afterAll(async () => {
  await sb.close();
  await receiver.close();
});
beforeEach(() => {
  receiver.received.length = 0;
  receiver.failTimes(0);
});

async function verify(
  r: Received,
  jwks = createRemoteJWKSet(new URL(`${sb.url}/.well-known/jwks.json`), { cooldownDuration: 0 }),
) {
  const { payload } = await jwtVerify(r.headers['moneykit-signature'] as string, jwks, {
    issuer: 'moneykit',
    algorithms: ['ES256'],
    clockTolerance: 300,
  });
  expect(payload.request_body_sha256).toBe(createHash('sha256').update(r.raw).digest('hex'));
  expect(typeof payload.iat).toBe('number');
  return payload;
}

async function connectedLink(): Promise<string> {
  const { link_id } = (await api.post('/links/import', importRequest())).body;
  await api.control('POST', `/links/${link_id}/reconnect`);
  return link_id;
}

test('reconnecting sends link.state_changed, signed with a key from the served JWKS', async () => {
  const id = await connectedLink();
  await sb.state.webhooks.idle();
  expect(receiver.received).toHaveLength(1);
  const [hook] = receiver.received;
  expect(hook!.body).toEqual(
    expect.objectContaining({
      webhook_event: 'link.state_changed',
      link_id: id,
      state: 'connected',
      link_tags: [],
      webhook_idempotency_key: expect.stringMatching(/^[0-9a-f-]{36}$/),
    }),
  );
  expect(hook!.body.error).toBeUndefined();
  expect(validateWebhook(hook!.body).errors).toEqual([]);
  expect(hook!.headers['moneykit-delivery-attempt']).toBe('1');
  expect(hook!.headers['moneykit-delivery-token']).toEqual(expect.any(String));
  await verify(hook!);
  // A body altered in transit no longer matches the signed hash.
  const tampered = { ...hook!, raw: hook!.raw.replace('connected', 'error') };
  await expect(verify(tampered)).rejects.toThrow();
});

test('a refresh sends link.product_refresh in_progress then completed for each product', async () => {
  const id = await connectedLink();
  await sb.state.webhooks.idle();
  receiver.received.length = 0;
  await api.patch(`/links/${id}`, { link_tags: ['wave-2'] });
  expect((await api.post(`/links/${id}/products`, { products: ['accounts', 'transactions'] })).status).toBe(202);
  await sleep(30);
  await sb.state.webhooks.idle();
  const events = receiver.received.map((r) => [r.body.webhook_event, r.body.product, r.body.state]);
  expect(events).toEqual(
    expect.arrayContaining([
      ['link.product_refresh', 'accounts', 'in_progress'],
      ['link.product_refresh', 'transactions', 'in_progress'],
      ['link.product_refresh', 'accounts', 'completed'],
      ['link.product_refresh', 'transactions', 'completed'],
    ]),
  );
  expect(events).toHaveLength(4);
  for (const r of receiver.received) {
    expect(r.body.link_tags).toEqual(['wave-2']);
    expect(validateWebhook(r.body).errors).toEqual([]);
    await verify(r);
  }
});

test('after a key rotation, webhooks carry the new kid and the JWKS serves both keys', async () => {
  const jwks = createRemoteJWKSet(new URL(`${sb.url}/.well-known/jwks.json`), { cooldownDuration: 0 });
  await connectedLink();
  await sb.state.webhooks.idle();
  const oldKid = decodeProtectedHeader(receiver.received[0]!.headers['moneykit-signature'] as string).kid;
  await verify(receiver.received[0]!, jwks);

  const { kid: newKid } = (await api.control('POST', '/webhooks/rotate-key')).body;
  expect(newKid).not.toBe(oldKid);
  await connectedLink();
  await sb.state.webhooks.idle();
  const rotated = receiver.received[1]!;
  expect(decodeProtectedHeader(rotated.headers['moneykit-signature'] as string).kid).toBe(newKid);
  // A verifier that cached the old JWKS finds the unknown kid by fetching again.
  await verify(rotated, jwks);
  const served = (await fetch(`${sb.url}/.well-known/jwks.json`).then((r) => r.json())) as {
    keys: Array<{ kid: string }>;
  };
  expect(served.keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
});

test('replay-last re-sends the last delivery verbatim: same bytes, same signature, same headers', async () => {
  await connectedLink();
  await sb.state.webhooks.idle();
  const replay = await api.control('POST', '/webhooks/replay-last');
  expect(replay.body).toEqual(expect.objectContaining({ status: 200, replay: true }));
  expect(receiver.received).toHaveLength(2);
  const [original, replayed] = receiver.received;
  expect(replayed!.raw).toBe(original!.raw);
  for (const h of ['moneykit-signature', 'moneykit-delivery-token', 'moneykit-delivery-attempt'])
    expect(replayed!.headers[h]).toBe(original!.headers[h]);
});

test('failed deliveries are retried with the same body and idempotency key, then abandoned', async () => {
  receiver.failTimes(2);
  await connectedLink();
  await sb.state.webhooks.idle();
  expect(receiver.received.map((r) => r.headers['moneykit-delivery-attempt'])).toEqual(['1', '2', '3']);
  expect(new Set(receiver.received.map((r) => r.raw)).size).toBe(1);
  expect(new Set(receiver.received.map((r) => r.headers['moneykit-delivery-token'])).size).toBe(1);

  receiver.received.length = 0;
  const before = sb.state.counters().webhooks;
  receiver.failTimes(100);
  await connectedLink();
  await sb.state.webhooks.idle();
  expect(receiver.received).toHaveLength(4); // first attempt + 3 retries
  expect(sb.state.counters().webhooks.abandoned).toBe(before.abandoned + 1);
  const log = (await api.control('GET', '/webhooks')).body.deliveries;
  expect(log.at(-1)).toEqual(expect.objectContaining({ event: 'link.state_changed', attempt: 4, status: 500 }));
});

test('the webhook URL can be set at run time; with none, nothing is sent', async () => {
  await api.control('PUT', '/webhook', { url: null });
  await connectedLink();
  await sb.state.webhooks.idle();
  expect(receiver.received).toHaveLength(0);
  await api.control('PUT', '/webhook', { url: receiver.url });
  await connectedLink();
  await sb.state.webhooks.idle();
  expect(receiver.received).toHaveLength(1);
});
