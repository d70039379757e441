/**
 * How long a 429 asks us to wait. `Retry-After` is delta-seconds or an HTTP-date (RFC 9110 §10.2.3);
 * the sandbox may add `X-Sandbox-Retry-After-Ms`, a more precise value that wins when present.
 */
export const DEFAULT_RETRY_AFTER_MS = 1_000;
export const SANDBOX_RETRY_AFTER_MS_HEADER = 'x-sandbox-retry-after-ms';

type HeaderValue = string | string[] | number | undefined | null;
export type HeaderBag = Record<string, HeaderValue>;

function first(value: HeaderValue): string | undefined {
  if (value === undefined || value === null) return undefined;
  const v = Array.isArray(value) ? value[0] : String(value);
  return v?.trim() || undefined;
}

/** Milliseconds to wait from `now`, or undefined when the value is neither delta-seconds nor an HTTP-date. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  // An HTTP-date always names a weekday and a month: refusing bare numbers-with-junk keeps Date.parse honest.
  if (!/[a-z]{3}/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** The wait a 429 response asks for; DEFAULT_RETRY_AFTER_MS when it names none we can read. */
export function retryAfterMsFromHeaders(headers: HeaderBag, now: number = Date.now()): number {
  const lower: Record<string, HeaderValue> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v;
  const precise = first(lower[SANDBOX_RETRY_AFTER_MS_HEADER]);
  if (precise !== undefined && /^\d+(\.\d+)?$/.test(precise)) return Math.round(Number(precise));
  return parseRetryAfter(first(lower['retry-after']), now) ?? DEFAULT_RETRY_AFTER_MS;
}
