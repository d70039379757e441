/**
 * Signing of the events we POST (docs/notify.md): `Migrator-Signature: t=<unix seconds>,v1=<hex>` where v1 is
 * HMAC-SHA256 with NOTIFY_SECRET over `<t>.<raw body>`. `verifyNotifySignature` is the snippet the docs give the team.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const NOTIFY_SIGNATURE_HEADER = 'migrator-signature';
export const NOTIFY_IDEMPOTENCY_HEADER = 'idempotency-key';

export function signNotifyBody(secret: string, body: string, nowSeconds = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${nowSeconds}.${body}`).digest('hex');
  return `t=${nowSeconds},v1=${v1}`;
}

/** True when `header` signs `body` with `secret` and its time is within `toleranceSeconds` of now. */
export function verifyNotifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  toleranceSeconds = 300,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts.v1) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  const given = Buffer.from(parts.v1);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
