/**
 * Dashboard users and their roles. Passwords are compared in constant time: both sides are hashed to a fixed
 * length first, so neither the length nor the first differing byte leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type Role = 'admin' | 'viewer';

export interface DashboardUser {
  username: string;
  password: string;
  role: Role;
}

export interface Principal {
  username: string;
  role: Role;
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The matching user, or undefined. Every configured user is checked, so timing does not tell which one matched. */
export function verifyCredentials(
  users: readonly DashboardUser[],
  username: string,
  password: string,
): Principal | undefined {
  let found: Principal | undefined;
  for (const user of users) {
    const nameOk = safeEqual(user.username, username);
    const passwordOk = safeEqual(user.password, password);
    if (nameOk && passwordOk && !found) found = { username: user.username, role: user.role };
  }
  return found;
}

/** Credentials from an `Authorization: Basic …` header (for curl and scripts), if present. */
export function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
