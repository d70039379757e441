/**
 * Slows password guessing, for the login form and HTTP Basic alike. Failures are counted in Redis (every replica
 * sees the same counts) per client address and per username, both keyed by a hash so that neither an address nor
 * a password typed into the username field is kept in clear.
 *
 * - An address with `perAddress` failures in the window is refused outright until the window ends (right password
 *   included): that address is the guesser.
 * - A username with `perUser` failures in the window, from any number of addresses, is refused only to addresses
 *   that failed at least once in the window. An address with a clean record still gets its attempt checked, so an
 *   attacker guessing from elsewhere never locks the admin out, while each of the attacker's addresses gets one
 *   guess per window at that username.
 */
import { createHash } from 'node:crypto';
import { RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from '@mk/shared';

export interface ThrottleLimits {
  perAddress: number;
  perUser: number;
  windowSeconds: number;
}

export interface ThrottleVerdict {
  /** Seconds until this attempt may be made, or 0. */
  waitSeconds: number;
  /** Failures of this address in the window (a success resets them). */
  addressFailures: number;
}

const hashed = (value: string) => createHash('sha256').update(value, 'utf8').digest('base64url').slice(0, 22);
const consumed = (res: RateLimiterRes | null) => res?.consumedPoints ?? 0;
const seconds = (res: RateLimiterRes | null) => Math.max(1, Math.ceil((res?.msBeforeNext ?? 0) / 1000));

export class CredentialThrottle {
  private readonly byAddress: RateLimiterRedis;
  private readonly byUser: RateLimiterRedis;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly limits: ThrottleLimits,
  ) {
    const common = { storeClient: redis, duration: limits.windowSeconds };
    this.byAddress = new RateLimiterRedis({
      ...common,
      keyPrefix: `${prefix}:dash:fail:addr`,
      points: limits.perAddress,
    });
    this.byUser = new RateLimiterRedis({ ...common, keyPrefix: `${prefix}:dash:fail:user`, points: limits.perUser });
  }

  async check(username: string, address: string): Promise<ThrottleVerdict> {
    const [addr, user] = await Promise.all([this.byAddress.get(hashed(address)), this.byUser.get(hashed(username))]);
    const addressFailures = consumed(addr);
    if (addressFailures >= this.limits.perAddress) return { waitSeconds: seconds(addr), addressFailures };
    if (consumed(user) >= this.limits.perUser && addressFailures > 0)
      return { waitSeconds: seconds(user), addressFailures };
    return { waitSeconds: 0, addressFailures };
  }

  async failed(username: string, address: string): Promise<void> {
    await Promise.all([this.byAddress.penalty(hashed(address)), this.byUser.penalty(hashed(username))]);
  }

  async succeeded(address: string): Promise<void> {
    await this.byAddress.delete(hashed(address));
  }
}
