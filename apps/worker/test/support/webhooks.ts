/** Signed MoneyKit deliveries for the webhook tests: a test signing key, its JWK, and events in MoneyKit's shape. */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import type { Jwks } from '@mk/moneykit-client';

export interface TestKey {
  kid: string;
  privateKey: KeyLike;
  jwk: Jwks['keys'][number];
}

export async function newKey(): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kty: 'EC', kid, alg: 'ES256', use: 'sig' } };
}

export const sha256 = (body: string) => createHash('sha256').update(body, 'utf8').digest('hex');

/**
 * A fresh MoneyKit-Signature for `body` (each redelivery is signed anew; the body stays the same). `opts` forge one:
 * another kid, an old iat, a hash of other bytes.
 */
export function sign(
  body: string,
  key: TestKey,
  opts: { kid?: string; iat?: number; hash?: string } = {},
): Promise<string> {
  return new SignJWT({ request_body_sha256: opts.hash ?? sha256(body) })
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? key.kid })
    .setIssuer('moneykit')
    .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
    .sign(key.privateKey);
}

export const stateChanged = (linkId: string, state: string, extra: Record<string, unknown> = {}) => ({
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
  ...extra,
});

export const productRefresh = (linkId: string, product = 'accounts', state = 'completed') => ({
  webhook_idempotency_key: randomUUID(),
  webhook_timestamp: new Date().toISOString(),
  webhook_major_version: 1,
  webhook_minor_version: 0,
  link_id: linkId,
  link_tags: [],
  webhook_event: 'link.product_refresh',
  product,
  state,
  state_changed_at: new Date().toISOString(),
  error_message: null,
});

export interface Answer {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
}

/** Delivers `event` to `url` as MoneyKit does: the JSON body, freshly signed. */
export async function deliver(url: string, event: object, key: TestKey): Promise<Answer> {
  const body = JSON.stringify(event);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'moneykit-signature': await sign(body, key) },
    body,
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    retryAfter: res.headers.get('retry-after'),
  };
}
