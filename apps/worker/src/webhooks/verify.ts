/**
 * MoneyKit webhook signatures: `MoneyKit-Signature` is an ES256 JWT whose `kid` names a key of the JWKS at
 * `/.well-known/jwks.json`, with claims `iss`, `iat` and `request_body_sha256` (hex SHA-256 of the raw body).
 * A delivery is genuine when the JWT verifies with that key, `iat` is recent, and the hash matches the exact
 * bytes received.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, type JWK, type KeyLike } from 'jose';
import { jwksSchema, type Jwks } from '@mk/moneykit-client';

export type SignatureFailure = 'missing' | 'malformed' | 'unknown_kid' | 'bad_signature' | 'stale' | 'body_mismatch';

export class WebhookSignatureError extends Error {
  constructor(
    readonly reason: SignatureFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

export interface WebhookVerifierOptions {
  /** Where the keys come from: `jwksFromClient(client)`, `jwksFromUrl(baseUrl)` or your own. */
  fetchJwks: () => Promise<Jwks>;
  /** How far `iat` may be from our clock, either way (default 5 min). */
  leewayMs?: number;
  /** An unknown `kid` refetches the JWKS at most this often (default 30 s): forged kids cannot hammer MoneyKit. */
  minRefetchIntervalMs?: number;
  /** When set, `iss` must equal it. */
  issuer?: string;
  now?: () => number;
}

export interface VerifiedSignature {
  kid: string;
  issuedAt: number;
  issuer?: string;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/i;

export class WebhookVerifier {
  private keys = new Map<string, KeyLike | Uint8Array>();
  private lastFetchAt = -Infinity;
  private fetching: Promise<void> | undefined;
  private readonly leewayMs: number;
  private readonly minRefetchIntervalMs: number;
  private readonly now: () => number;
  /** JWKS fetches done (for tests and metrics). */
  fetches = 0;

  constructor(private readonly opts: WebhookVerifierOptions) {
    this.leewayMs = opts.leewayMs ?? 5 * 60_000;
    this.minRefetchIntervalMs = opts.minRefetchIntervalMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  async verify(rawBody: Buffer, signature: string | undefined): Promise<VerifiedSignature> {
    if (!signature) throw new WebhookSignatureError('missing', 'no MoneyKit-Signature header');
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(signature);
    } catch {
      throw new WebhookSignatureError('malformed', 'MoneyKit-Signature is not a JWT');
    }
    if (header.alg !== 'ES256')
      throw new WebhookSignatureError('malformed', `signature algorithm must be ES256, got ${String(header.alg)}`);
    if (!header.kid) throw new WebhookSignatureError('malformed', 'signature has no kid');

    const key = await this.keyFor(header.kid);
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(signature, key, {
        algorithms: ['ES256'],
        ...(this.opts.issuer && { issuer: this.opts.issuer }),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWSSignatureVerificationFailed)
        throw new WebhookSignatureError('bad_signature', 'signature does not verify with the key it names');
      if (err instanceof joseErrors.JWTClaimValidationFailed || err instanceof joseErrors.JWTExpired)
        throw new WebhookSignatureError('stale', `signature claims refused: ${err.message}`);
      throw new WebhookSignatureError('malformed', 'signature could not be verified');
    }

    const iat = payload.iat;
    if (typeof iat !== 'number') throw new WebhookSignatureError('malformed', 'signature has no iat');
    if (Math.abs(this.now() - iat * 1000) > this.leewayMs)
      throw new WebhookSignatureError(
        'stale',
        `signature issued ${Math.round((this.now() - iat * 1000) / 1000)} s from now, outside the ${this.leewayMs / 1000} s leeway`,
      );

    const claimed = payload.request_body_sha256;
    if (typeof claimed !== 'string' || !HEX_SHA256.test(claimed))
      throw new WebhookSignatureError('malformed', 'signature has no request_body_sha256');
    const actual = createHash('sha256').update(rawBody).digest();
    if (!timingSafeEqual(actual, Buffer.from(claimed, 'hex')))
      throw new WebhookSignatureError('body_mismatch', 'body does not match the signed hash');

    const out: VerifiedSignature = { kid: header.kid, issuedAt: iat * 1000 };
    if (typeof payload.iss === 'string') out.issuer = payload.iss;
    return out;
  }

  private async keyFor(kid: string): Promise<KeyLike | Uint8Array> {
    const cached = this.keys.get(kid);
    if (cached) return cached;
    // An unknown kid: MoneyKit may have rotated its key. Refetch, but not more often than allowed.
    if (this.fetching) await this.fetching;
    else if (this.now() - this.lastFetchAt >= this.minRefetchIntervalMs) await this.refetch();
    const key = this.keys.get(kid);
    if (!key) throw new WebhookSignatureError('unknown_kid', 'signature names a key that is not in the JWKS');
    return key;
  }

  private refetch(): Promise<void> {
    this.fetching ??= (async () => {
      try {
        this.lastFetchAt = this.now();
        this.fetches += 1;
        const jwks = await this.opts.fetchJwks();
        const next = new Map<string, KeyLike | Uint8Array>();
        for (const jwk of jwks.keys) {
          if (!jwk.kid || (jwk.alg && jwk.alg !== 'ES256') || jwk.kty !== 'EC') continue;
          next.set(jwk.kid, await importJWK(jwk, 'ES256'));
        }
        this.keys = next;
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }
}

/** The JWKS through the MoneyKit client (same base URL and transport as every other call). */
export function jwksFromClient(client: { getJwks(): Promise<Jwks> }): () => Promise<Jwks> {
  return () => client.getJwks();
}

/** The JWKS fetched directly from `<baseUrl>/.well-known/jwks.json`. */
export function jwksFromUrl(baseUrl: string, timeoutMs = 5000): () => Promise<Jwks> {
  const url = `${baseUrl.replace(/\/$/, '')}/.well-known/jwks.json`;
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`JWKS fetch from ${url} answered HTTP ${res.status}`);
    const body = jwksSchema.parse(await res.json());
    if (!Array.isArray(body?.keys)) throw new Error(`JWKS from ${url} has no keys array`);
    return body;
  };
}
