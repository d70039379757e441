/**
 * OAuth2 client-credentials tokens. An expired token is remembered (so it can be told apart from a made-up
 * one: `expired_access_token` vs `unauthorized`) until it is a full TTL past expiry.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { problems, type ApiProblem } from './problems';

export class TokenStore {
  private expiries = new Map<string, number>();
  issued = 0;

  constructor(
    private readonly clientId: string,
    private clientSecret: string,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Control surface: the app's secret is rotated (as in MoneyKit's dashboard). Tokens issued before stay valid until
   * they expire; a client holding the old secret can no longer get a new one.
   */
  rotateSecret(secret: string): void {
    this.clientSecret = secret;
  }

  credentialsValid(clientId: string | undefined, clientSecret: string | undefined): boolean {
    return safeEqual(clientId ?? '', this.clientId) && safeEqual(clientSecret ?? '', this.clientSecret);
  }

  issue(now = Date.now()): { access_token: string; token_type: 'bearer'; expires_in: number } {
    this.prune(now);
    const token = randomBytes(32).toString('base64url');
    this.expiries.set(token, now + this.ttlSeconds * 1000);
    this.issued += 1;
    return { access_token: token, token_type: 'bearer', expires_in: this.ttlSeconds };
  }

  /** The problem with this Authorization header, or undefined when it carries a live token. */
  check(authorization: string | undefined, now = Date.now()): ApiProblem | undefined {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return problems.unauthorized('Missing or malformed bearer token');
    const expiresAt = this.expiries.get(match[1]!);
    if (expiresAt === undefined) return problems.unauthorized('Invalid access token');
    if (expiresAt <= now) return problems.expiredToken();
    return undefined;
  }

  /** Control surface: make every issued token expired now (client token-refresh tests). */
  expireAll(now = Date.now()): number {
    for (const token of this.expiries.keys()) this.expiries.set(token, now);
    return this.expiries.size;
  }

  private prune(now: number): void {
    if (this.expiries.size < 10_000) return;
    const ttlMs = this.ttlSeconds * 1000;
    for (const [token, expiresAt] of this.expiries) if (expiresAt + ttlMs < now) this.expiries.delete(token);
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
