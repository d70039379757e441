import IORedis from 'ioredis';
import type { Jwks } from '@mk/moneykit-client';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { createLogger, type Redis } from '@mk/shared';
import { RefreshRegistry } from '@mk/refresh';
import { startWebhookReceiver, webhookOptionsFromEnv, type RunningWebhookReceiver } from '../src/webhooks';
import { newKey, sign, stateChanged, type TestKey } from './support/webhooks';

let server: PrivateRedis;
let redis: Redis;
let registry: RefreshRegistry;
let receiver: RunningWebhookReceiver;
let served: Jwks['keys'];
let current: TestKey;

async function post(body: string, signature?: string, contentType = 'application/json') {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (signature) headers['moneykit-signature'] = signature;
  const res = await fetch(receiver.url, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
async function deliver(event: object, key = current) {
  const body = JSON.stringify(event);
  return post(body, await sign(body, key));
}

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  registry = await RefreshRegistry.open(redis, '{wh}', { timeScale: 3600, firstDueSpreadMs: 0, buckets: 16 });
  current = await newKey();
  served = [current.jwk];
  receiver = await startWebhookReceiver({
    port: 0,
    registry,
    fetchJwks: async () => ({ keys: served }),
    minJwksRefetchMs: 200,
    bodyLimit: 4096,
    logger: createLogger('webhooks-test', { level: 'silent' }),
  });
});
afterAll(async () => {
  await receiver.close();
  redis.disconnect();
  await server.stop();
});

describe('webhook receiver', () => {
  it('a valid state change to connected resumes a parked link at once', async () => {
    await registry.register([{ linkId: 'mk_valid', parked: { reason: 'auth_expired' } }]);
    const res = await deliver(stateChanged('mk_valid', 'connected'));
    expect(res).toEqual({ status: 200, body: { status: 'processed', effect: 'due' } });
    const st = await registry.get('mk_valid');
    expect(st!.mode).toBe('active');
    expect(st!.scheduledAt).toBeLessThanOrEqual(Date.now());
  });

  it('error parks and deleted removes the link; product refreshes are recorded', async () => {
    await registry.register([{ linkId: 'mk_err' }]);
    expect(
      (await deliver(stateChanged('mk_err', 'error', { error: 'invalid_credentials', error_message: 'x' }))).body,
    ).toMatchObject({ effect: 'parked' });
    expect(await registry.get('mk_err')).toMatchObject({ mode: 'parked', parked: { reason: 'invalid_credentials' } });
    const refreshed = {
      ...stateChanged('mk_err', 'x'),
      webhook_event: 'link.product_refresh',
      product: 'accounts',
      state: 'completed',
      state_changed_at: new Date().toISOString(),
    };
    expect((await deliver(refreshed)).body).toMatchObject({ effect: 'recorded' });
    expect((await registry.get('mk_err'))!.products[0]!.status).toBe('completed');
    expect((await deliver(stateChanged('mk_err', 'deleted'))).body).toMatchObject({ effect: 'removed' });
    expect(await registry.get('mk_err')).toMatchObject({ mode: 'removed', removed: { reason: 'deleted' } });
  });

  it('acknowledges a replayed idempotency key without processing it again', async () => {
    await registry.register([{ linkId: 'mk_replay', parked: { reason: 'auth_expired' } }]);
    const park = stateChanged('mk_replay', 'error', { error: 'auth_expired' });
    expect((await deliver(park)).body).toMatchObject({ status: 'processed' });
    await registry.resume('mk_replay');
    // MoneyKit retries the same event (new signature, same key): acknowledged, and the link is not parked again
    expect(await deliver(park)).toEqual({ status: 200, body: { status: 'duplicate' } });
    expect((await registry.get('mk_replay'))!.mode).toBe('active');
    // the byte-identical request too
    const body = JSON.stringify(park);
    const sig = await sign(body, current);
    expect((await post(body, sig)).body).toEqual({ status: 'duplicate' });
  });

  it('refuses a signature made with another key under a known kid', async () => {
    const other = await newKey();
    const body = JSON.stringify(stateChanged('mk_valid', 'connected'));
    const res = await post(body, await sign(body, other, { kid: current.kid }));
    expect(res).toMatchObject({ status: 401, body: { error: 'signature_bad_signature' } });
  });

  it('an unknown kid refetches the JWKS (rate-limited) and then accepts a rotated key', async () => {
    const rotated = await newKey();
    const unknown = await newKey();
    await new Promise((r) => setTimeout(r, 250));
    const fetchesBefore = receiver.verifier.fetches;
    // never served: refetched once, still unknown
    expect(await deliver(stateChanged('mk_valid', 'connected'), unknown)).toMatchObject({
      status: 401,
      body: { error: 'signature_unknown_kid' },
    });
    expect(receiver.verifier.fetches).toBe(fetchesBefore + 1);
    // a flood of forged kids within the refetch interval costs no more fetches
    for (let i = 0; i < 3; i++)
      expect((await deliver(stateChanged('mk_valid', 'connected'), await newKey())).status).toBe(401);
    expect(receiver.verifier.fetches).toBe(fetchesBefore + 1);
    // MoneyKit rotates: the new kid is found on the next allowed refetch
    served = [rotated.jwk, current.jwk];
    await new Promise((r) => setTimeout(r, 250));
    await registry.register([{ linkId: 'mk_rot', parked: { reason: 'auth_expired' } }]);
    expect(await deliver(stateChanged('mk_rot', 'connected'), rotated)).toMatchObject({
      status: 200,
      body: { status: 'processed' },
    });
    expect(receiver.verifier.fetches).toBe(fetchesBefore + 2);
    current = rotated;
  });

  it('refuses a tampered body, a stale or future iat, and a missing signature', async () => {
    const event = stateChanged('mk_valid', 'connected');
    const body = JSON.stringify(event);
    const sig = await sign(body, current);
    const tampered = body.replace('mk_valid', 'mk_evil');
    expect(await post(tampered, sig)).toMatchObject({ status: 401, body: { error: 'signature_body_mismatch' } });
    const old = await sign(body, current, { iat: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(await post(body, old)).toMatchObject({ status: 401, body: { error: 'signature_stale' } });
    const future = await sign(body, current, { iat: Math.floor(Date.now() / 1000) + 6 * 60 });
    expect(await post(body, future)).toMatchObject({ status: 401, body: { error: 'signature_stale' } });
    expect(await post(body)).toMatchObject({ status: 401, body: { error: 'signature_missing' } });
    expect(await post(body, 'not-a-jwt')).toMatchObject({ status: 401, body: { error: 'signature_malformed' } });
  });

  it('answers clear 4xx to malformed JSON, wrong content type, oversized and invalid bodies', async () => {
    const bad = '{"webhook_event": "link.state_changed",';
    expect(await post(bad, await sign(bad, current))).toMatchObject({ status: 400, body: { error: 'malformed_json' } });
    const body = JSON.stringify(stateChanged('mk_valid', 'connected'));
    expect(await post(body, await sign(body, current), 'text/plain')).toMatchObject({
      status: 415,
      body: { error: 'unsupported_media_type' },
    });
    const big = JSON.stringify({ ...stateChanged('mk_valid', 'connected'), padding: 'x'.repeat(5000) });
    expect(await post(big, await sign(big, current))).toMatchObject({ status: 413, body: { error: 'body_too_large' } });
    const invalid = JSON.stringify({ ...stateChanged('mk_valid', 'connected'), state: 'sideways' });
    expect(await post(invalid, await sign(invalid, current))).toMatchObject({
      status: 400,
      body: { error: 'invalid_event' },
    });
    const unknownEvent = JSON.stringify({
      ...stateChanged('mk_valid', 'connected'),
      webhook_event: 'link.something_new',
    });
    expect(await post(unknownEvent, await sign(unknownEvent, current))).toEqual({
      status: 200,
      body: { status: 'ignored', event: 'link.something_new' },
    });
  });
});

describe('webhook settings', () => {
  it('come from the environment with documented defaults, and a bad one is named', () => {
    expect(webhookOptionsFromEnv({})).toEqual({
      port: 8788,
      host: '0.0.0.0',
      path: '/webhooks/moneykit',
      leewayMs: 300_000,
      bodyLimit: 65_536,
      minJwksRefetchMs: 30_000,
      dedupeTtlMs: 10_800_000,
      processingLeaseMs: 5_000,
    });
    expect(webhookOptionsFromEnv({ WEBHOOK_IAT_LEEWAY_SECONDS: '120', WEBHOOK_ISSUER: 'moneykit' })).toMatchObject({
      leewayMs: 120_000,
      issuer: 'moneykit',
    });
    expect(() => webhookOptionsFromEnv({ WEBHOOK_DEDUPE_TTL_SECONDS: '60' })).toThrow(/WEBHOOK_DEDUPE_TTL_SECONDS/);
    expect(webhookOptionsFromEnv({ WEBHOOK_PROCESSING_LEASE_SECONDS: '2' })).toMatchObject({ processingLeaseMs: 2000 });
    expect(() => webhookOptionsFromEnv({ WEBHOOK_PROCESSING_LEASE_SECONDS: '0' })).toThrow(
      /WEBHOOK_PROCESSING_LEASE_SECONDS/,
    );
  });
});
