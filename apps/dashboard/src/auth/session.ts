/**
 * Server-side sessions in Redis. The cookie holds a random token only; Redis holds, under the token's hash (a Redis
 * reader cannot sign in with what it sees), the user and a scrypt mark of the password the session was opened
 * with. Logout deletes the session; a password change (new config, restart) makes every older mark stale, so the
 * sessions opened with the old password end at their next request. Replicas share sessions through Redis.
 */
import { createHash, randomBytes, scryptSync } from 'node:crypto';
import { z } from 'zod';
import type { Redis } from '@mk/shared';
import { safeEqual, type DashboardUser, type Principal } from './credentials';

export const SESSION_COOKIE = 'mk_session';

const storedSessionSchema = z.object({ u: z.string(), m: z.string() });

/** A slow, salted fingerprint of a password: compares sessions to the current password without keeping it. */
const passwordMark = (user: DashboardUser) =>
  scryptSync(user.password, `mk-dashboard-session:${user.username}`, 16).toString('base64url');

export class SessionStore {
  private readonly marks: Map<string, string>;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly users: readonly DashboardUser[],
    private readonly ttlMs: number,
  ) {
    this.marks = new Map(users.map((u) => [u.username, passwordMark(u)]));
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }

  async open(principal: Principal): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const stored = { u: principal.username, m: this.marks.get(principal.username) ?? '' };
    await this.redis.set(this.key(token), JSON.stringify(stored), 'PX', this.ttlMs);
    return token;
  }

  /** The session's user with their current role, or undefined (unknown, expired, revoked, or opened with an old password). */
  async read(token: string | undefined): Promise<Principal | undefined> {
    if (!token || token.length > 128) return undefined;
    const raw = await this.redis.get(this.key(token));
    if (!raw) return undefined;
    const stored = storedSessionSchema.safeParse(safeJson(raw));
    const user = stored.success ? this.users.find((u) => u.username === stored.data.u) : undefined;
    const mark = user && this.marks.get(user.username);
    if (!stored.success || !user || !mark || !safeEqual(mark, stored.data.m)) {
      await this.revoke(token);
      return undefined;
    }
    return { username: user.username, role: user.role };
  }

  async revoke(token: string | undefined): Promise<void> {
    if (token && token.length <= 128) await this.redis.del(this.key(token));
  }

  private key(token: string): string {
    return `${this.prefix}:dash:session:${createHash('sha256').update(token).digest('base64url')}`;
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
