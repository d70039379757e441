/**
 * Access tokens of the client-credentials grant: fetched once, shared by every call, renewed ahead of expiry,
 * and never fetched twice at once — concurrent callers await the same request (MoneyKit allows 300 token
 * calls a minute per client; a burst of workers must not spend them).
 */
import type { AccessTokenResponse } from '@mk/shared';

/** Renew this long before expiry: 60 s, or a fifth of the lifetime for short-lived tokens. */
export function renewalMarginMs(expiresInSeconds: number): number {
  return Math.min(60_000, expiresInSeconds * 200);
}

interface CachedToken {
  value: string;
  renewAt: number;
}

export class TokenCache {
  private current?: CachedToken;
  private inFlight?: Promise<CachedToken>;

  constructor(
    private readonly fetchToken: () => Promise<AccessTokenResponse>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A token good for a while: the cached one, or a fresh one when it is due for renewal. */
  async get(): Promise<string> {
    if (this.current && this.now() < this.current.renewAt) return this.current.value;
    return (await this.fetchOnce()).value;
  }

  /**
   * The server refused `rejected` (expired, or unknown to it): forget it and get another. When a concurrent caller already
   * replaced it, that newer token is returned without a new fetch.
   */
  async renew(rejected: string): Promise<string> {
    if (this.current?.value === rejected) this.current = undefined;
    return this.get();
  }

  /** A fresh token from the server now, whatever is cached (joins a fetch already in flight). */
  async refresh(): Promise<string> {
    if (!this.inFlight) this.current = undefined;
    return (await this.fetchOnce()).value;
  }

  private fetchOnce(): Promise<CachedToken> {
    if (this.inFlight) return this.inFlight;
    // Lifetime counts from before the request: the server's clock started no later than that.
    const requestedAt = this.now();
    const pending = this.fetchToken()
      .then((res) => {
        const token = {
          value: res.access_token,
          renewAt: requestedAt + res.expires_in * 1000 - renewalMarginMs(res.expires_in),
        };
        this.current = token;
        return token;
      })
      .finally(() => {
        if (this.inFlight === pending) this.inFlight = undefined;
      });
    this.inFlight = pending;
    return pending;
  }
}
