/**
 * Typed access to an untrusted parsed record. Every failure names the exact path
 * ("items[0].transactions[3].amount") so a rejected line can be fixed by hand.
 */
import { DecimalError, toDecimal } from './decimal';
import { RecordError } from './types';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function fail(path: string, what: string): never {
  throw new RecordError(path ? `${path}: ${what}` : what, undefined, path || undefined);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : typeof v;
}

export function obj(v: unknown, path: string): Json {
  if (!isObject(v)) fail(path, `expected an object, got ${kind(v)}`);
  return v;
}

export function optObj(v: unknown, path: string): Json | undefined {
  return v === undefined || v === null ? undefined : obj(v, path);
}

export function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${kind(v)}`);
  return v;
}

/** Optional array: missing or null reads as empty. */
export function optArr(v: unknown, path: string): unknown[] {
  return v === undefined || v === null ? [] : arr(v, path);
}

/**
 * Ids become ledger keys and job ids in Redis: an unpaired surrogate cannot be encoded (Redis' cjson refuses
 * its escape, failing the whole run), and a control character could make two keys collide.
 */
const UNSAFE_ID_CHAR = /[\u0000-\u001f\u007f]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** An identifier: sources mix string and integer ids, both are read as text. */
export function id(v: unknown, path: string): string {
  if (typeof v === 'string' && v.length > 0) {
    if (UNSAFE_ID_CHAR.test(v)) fail(path, 'contains a control character or an unpaired surrogate');
    return v;
  }
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  return fail(path, v === undefined ? 'is missing' : `expected a non-empty id, got ${kind(v)}`);
}

export function optId(v: unknown, path: string): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : id(v, path);
}

export function str(v: unknown, path: string): string {
  if (typeof v !== 'string') fail(path, v === undefined ? 'is missing' : `expected a string, got ${kind(v)}`);
  return v;
}

/** Optional text: missing, null and blank read as undefined. */
export function optStr(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(path, `expected a string, got ${kind(v)}`);
  return v.trim() === '' ? undefined : v;
}

export function decimal(v: unknown, path: string): string {
  if (v === undefined) fail(path, 'is missing');
  try {
    return toDecimal(v);
  } catch (e) {
    if (e instanceof DecimalError) fail(path, e.reason);
    throw e;
  }
}

export function optDecimal(v: unknown, path: string): string | undefined {
  return v === undefined || v === null || v === '' ? undefined : decimal(v, path);
}

/** Optional balance as the JSON number MoneyKit takes, read exactly first. */
export function optBalance(v: unknown, path: string): number | undefined {
  const d = optDecimal(v, path);
  return d === undefined ? undefined : Number(d);
}

const DATE_PREFIX = /^\d{4}-\d{2}-\d{2}(?:$|[T ])/;
/** What MoneyKit's import accepts for dates and date-times (as importTransactionSchema). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

/** `YYYY-MM-DD…` names a day that exists (the pattern alone lets 2025-13-45 through). */
export function isCalendarDate(s: string): boolean {
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(5, 7));
  const d = Number(s.slice(8, 10));
  const date = new Date(Date.UTC(y, m - 1, d));
  return y >= 1 && date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** A calendar date from `YYYY-MM-DD` or an ISO date-time: the date as the source wrote it (no time-zone shift). */
export function isoDate(v: unknown, path: string): string {
  const s = str(v, path);
  if (!DATE_PREFIX.test(s) || !isCalendarDate(s)) fail(path, 'is not a YYYY-MM-DD date or ISO date-time');
  return s.slice(0, 10);
}

/** An optional date or date-time passed on as written (balance dates): missing, null and blank read as undefined. */
export function optDateTime(v: unknown, path: string): string | undefined {
  const s = optStr(v, path)?.trim();
  if (s === undefined) return undefined;
  if (!DATE_TIME.test(s) || !isCalendarDate(s)) fail(path, 'is not a YYYY-MM-DD date or ISO date-time');
  return s;
}

const MIN_EPOCH_S = 0;
const MAX_EPOCH_S = 4_102_444_800; // 2100-01-01

/** Unix epoch seconds (number or numeric text) → YYYY-MM-DD in UTC. */
export function epochDate(v: unknown, path: string): string {
  return epochIso(v, path).slice(0, 10);
}

export function epochIso(v: unknown, path: string): string {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < MIN_EPOCH_S || n > MAX_EPOCH_S) {
    fail(path, `${kind(v)} that is not a Unix epoch time in seconds (1970–2100)`);
  }
  return new Date(n * 1000).toISOString();
}

const snakeCache = new Map<string, string>();
const SNAKE_CACHE_MAX = 10_000;

/** "Food & Dining" → "food_and_dining". Memoised: categories and types repeat on almost every row. */
export function lowerSnake(s: string): string {
  const hit = snakeCache.get(s);
  if (hit !== undefined) return hit;
  const out = s
    .trim()
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (snakeCache.size >= SNAKE_CACHE_MAX) snakeCache.clear();
  snakeCache.set(s, out);
  return out;
}

/** Last four characters of an account number or display mask, digits and letters only. */
export function lastFour(v: unknown): string | undefined {
  if (typeof v !== 'string' && typeof v !== 'number') return undefined;
  const clean = String(v)
    .replace(/[^0-9A-Za-z]/g, '')
    .replace(/^[xX*]+/, '');
  return clean.length === 0 ? undefined : clean.slice(-4);
}
