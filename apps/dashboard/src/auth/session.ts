/**
 * A stateless session: the cookie holds {user, role, expiry} signed with HMAC-SHA256. Nothing is stored
 * server side, so any dashboard replica sharing DASHBOARD_SESSION_SECRET accepts it.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Principal, Role } from './credentials';
import { safeEqual } from './credentials';

export const SESSION_COOKIE = 'mk_session';

interface SessionPayload {
  u: string;
  r: Role;
  /** Expiry, epoch ms. */
  e: number;
}

export class SessionSigner {
  private readonly secret: Buffer;

  constructor(secret: string | undefined, private readonly ttlMs: number) {
    // Without a configured secret, sessions last as long as this process (a restart signs everyone out).
    this.secret = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  get maxAgeSeconds(): number {
    return Math.floor(this.ttlMs / 1000);
  }

  sign(principal: Principal, now = Date.now()): string {
    const payload: SessionPayload = { u: principal.username, r: principal.role, e: now + this.ttlMs };
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  verify(token: string | undefined, now = Date.now()): Principal | undefined {
    if (!token) return undefined;
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const body = token.slice(0, dot);
    if (!safeEqual(token.slice(dot + 1), this.mac(body))) return undefined;
    try {
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as SessionPayload;
      if (typeof payload.e !== 'number' || payload.e < now) return undefined;
      if (payload.r !== 'admin' && payload.r !== 'viewer') return undefined;
      return { username: String(payload.u), role: payload.r };
    } catch {
      return undefined;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      // A malformed escape is simply not our cookie (no session), never a 500.
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export function sessionCookie(value: string, opts: { maxAgeSeconds: number; secure: boolean }): string {
  const attrs = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${opts.maxAgeSeconds}`];
  if (opts.secure) attrs.push('Secure');
  return attrs.join('; ');
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie('', { maxAgeSeconds: 0, secure });
}
