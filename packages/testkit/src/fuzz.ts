import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as netConnect } from 'node:net';
import { fixtures } from '@mk/converters';

type Rng = fixtures.Rng;

/**
 * Seeded fuzzing for tests: a tiny PRNG and mutation helpers for JSON documents, text and bytes.
 * Deterministic so a failure in CI reproduces locally: every suite logs its seed and `FUZZ_SEED=<n>` replays it.
 */

/** The dump generator's seeded PRNG (mulberry32), plus what fuzzing needs on top. */
export interface FuzzRng extends Rng {
  readonly seed: number;
  bytes(n: number): Buffer;
  shuffle<T>(items: T[]): T[];
}

export function createFuzzRng(seed: number): FuzzRng {
  const rng = fixtures.createRng(seed);
  return {
    ...rng,
    seed,
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = rng.int(0, 255);
      return b;
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [items[i], items[j]] = [items[j]!, items[i]!];
      }
      return items;
    },
  };
}

/** The seed a fuzz suite uses: FUZZ_SEED when set (to replay a failure), else the suite's fixed default. */
export function fuzzSeed(fallback: number): number {
  const fromEnv = Number(process.env.FUZZ_SEED);
  return Number.isInteger(fromEnv) && process.env.FUZZ_SEED !== '' ? fromEnv : fallback;
}

export type JsonPath = (string | number)[];

/** Every path inside a JSON value (containers and leaves), depth-first; the root ([]) excluded. */
export function jsonPaths(value: unknown, prefix: JsonPath = []): JsonPath[] {
  const out: JsonPath[] = [];
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([...prefix, i], ...jsonPaths(v, [...prefix, i]));
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) out.push([...prefix, k], ...jsonPaths(v, [...prefix, k]));
  }
  return out;
}

export function getAt(value: unknown, path: JsonPath): unknown {
  let cur = value;
  for (const key of path) cur = (cur as Record<string | number, unknown> | undefined)?.[key];
  return cur;
}

/** A deep copy of `value` with the value at `path` replaced (or removed when `replacement` is REMOVE). */
export function setAt(value: unknown, path: JsonPath, replacement: unknown): unknown {
  const copy = structuredClone(value);
  if (path.length === 0) return replacement;
  const parent = getAt(copy, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  if (replacement === REMOVE) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else parent[key] = replacement;
  return copy;
}

export const REMOVE = Symbol('remove');

/** A value of another JSON type than `original` (string↔number↔null↔array↔object↔boolean), or a removal. */
export function alienValues(original: unknown): unknown[] {
  const all: unknown[] = ['', 'x', 0, -1, 1.5, null, true, [], [1], {}, { a: 1 }, REMOVE];
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  return all.filter((v) => v === REMOVE || kind(v) !== kind(original) || (kind(v) === 'string' && v !== original));
}

/** Strings that break naive code: emoji, RTL marks, NUL, lone surrogates, combining marks, odd whitespace. */
export const NASTY_STRINGS: readonly string[] = [
  '😀👩‍👩‍👧‍👦🏳️‍🌈',
  '\u202Eevil\u202C مرحبا שלום',
  'nul\u0000inside',
  'lone \uD800 high',
  'lone \uDC00 low',
  'e\u0301\u0301\u0301 combining',
  '\u2028line\u2029sep',
  '\t\r\u000b\u000c',
  '"quoted" \\ back\\slash',
  '<script>alert(1)</script>',
  '%s%n%x{{}}${x}',
  ' ',
  '١٢٣٫٤٥',
];

/** A JSON text nested `depth` levels deep: `[[[...]]]`. */
export function nestingBomb(depth: number, open = '[', close = ']'): string {
  return open.repeat(depth) + close.repeat(depth);
}

/** A random JSON value of bounded size, to stand in for whatever a broken exporter writes. */
export function randomJson(rng: FuzzRng, depth = 3): unknown {
  const choice = rng.int(0, depth > 0 ? 7 : 4);
  switch (choice) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -0, 1, -1, 1.5, 1e21, -1e-7, 2 ** 53 + 1, rng.int(-1e6, 1e6)]);
    case 3:
      return rng.pick(NASTY_STRINGS);
    case 4:
      return randomText(rng, rng.int(0, 12));
    case 5:
    case 6:
      return Array.from({ length: rng.int(0, 3) }, () => randomJson(rng, depth - 1));
    default:
      return Object.fromEntries(
        Array.from({ length: rng.int(0, 3) }, () => [randomText(rng, rng.int(1, 6)), randomJson(rng, depth - 1)]),
      );
  }
}

const TEXT_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789 -_.:/@';

export function randomText(rng: FuzzRng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += TEXT_ALPHABET[rng.int(0, TEXT_ALPHABET.length - 1)];
  return s;
}

/** `text` cut at a random point strictly inside it (at least one character kept, at least one dropped). */
export function truncate(rng: FuzzRng, text: string): string {
  return text.slice(0, rng.int(1, Math.max(1, text.length - 1)));
}

/**
 * A few random byte edits (flip, insert, delete, duplicate a span), never producing `forbidden` bytes
 * (e.g. a newline, which would change how a line-oriented reader splits the input).
 */
export function mutateBytes(
  rng: FuzzRng,
  input: Buffer,
  edits = rng.int(1, 4),
  forbidden: readonly number[] = [0x0a],
): Buffer {
  let b = Buffer.from(input);
  const safeByte = (): number => {
    let x = rng.int(0, 255);
    while (forbidden.includes(x)) x = rng.int(0, 255);
    return x;
  };
  for (let e = 0; e < edits && b.length > 0; e++) {
    const at = rng.int(0, b.length - 1);
    switch (rng.int(0, 3)) {
      case 0:
        b[at] = safeByte();
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([safeByte()]), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + rng.int(1, 16))]);
        break;
      default: {
        const len = rng.int(1, 32);
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
      }
    }
  }
  return b;
}

/** Rejects with a clear message when `promise` has not settled in `ms`: a fuzz case must never hang. */
export async function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records unhandled promise rejections while installed: a fuzz suite asserts the list stays empty. */
export function trackUnhandledRejections(): { readonly reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const onRejection = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on('unhandledRejection', onRejection);
  return { reasons, stop: () => process.off('unhandledRejection', onRejection) };
}

// ---------- HTTP fuzzing ----------

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
}

/**
 * One HTTP request sent as given (any method, path, header bytes, body), unlike fetch which normalises and
 * refuses much of what a fuzzer wants to send. Rejects only on a network error or after `timeoutMs`.
 */
export function sendRaw(baseUrl: string, req: RawRequest, timeoutMs = 10_000): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string | string[]> = { ...req.headers };
  const named = (h: string) => Object.keys(headers).some((k) => k.toLowerCase() === h);
  // Node sends a GET/DELETE body unframed unless told its length: that would be a broken request, not a fuzz case.
  if (req.body !== undefined && !named('content-length') && !named('transfer-encoding'))
    headers['content-length'] = String(Buffer.byteLength(req.body));
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        agent: false,
        timeout: timeoutMs,
        insecureHTTPParser: true,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          let json: unknown;
          try {
            json = body.length ? JSON.parse(body.toString('utf8')) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
        res.on('error', reject);
      },
    );
    r.on('timeout', () =>
      r.destroy(new Error(`${req.method} ${req.path.slice(0, 80)} got no answer within ${timeoutMs} ms`)),
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** Bytes written straight to the socket (a broken request line, bad framing); resolves with what came back. */
export function sendRawSocket(baseUrl: string, bytes: Buffer | string, timeoutMs = 5_000): Promise<string> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = netConnect(Number(url.port), url.hostname, () => socket.end(bytes));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' || e.code === 'EPIPE' ? undefined : reject(e),
    );
  });
}

export const FUZZ_METHODS: readonly string[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'PURGE',
  'SEARCH',
];

/** Content types a client could send by mistake or on purpose (and none at all: undefined). */
export const FUZZ_CONTENT_TYPES: readonly (string | undefined)[] = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'application/json;;;',
  'text/plain',
  'text/html',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/merge-patch+json',
  'application/vnd.api+json',
  '*/*',
  '',
  ';',
  'json',
  'application/',
  '\u00e9/\u00e9',
];

/** Request paths a scanner or a broken client sends: traversal, encodings, control bytes, very long. */
export function randomPath(rng: FuzzRng, known: readonly string[] = []): string {
  const pieces = [
    '',
    '..',
    '%2e%2e',
    '%00',
    '%ff',
    '%',
    '%zz',
    '~',
    'a',
    'links',
    'users',
    '_sandbox',
    '.well-known',
    'admin',
    'api',
    '%F0%9F%98%80',
    ';',
    ',',
    '*',
    '?',
    '#',
  ];
  switch (rng.int(0, 5)) {
    case 0:
      return (
        rng.pick(known.length ? known : ['/']) +
        rng.pick(['', '/', '?', '?a=1&a=2', '?%', '/%00', '/..', '.json', '?x=' + 'y'.repeat(3000)])
      );
    case 1:
      return '/' + Array.from({ length: rng.int(1, 6) }, () => rng.pick(pieces)).join('/');
    case 2:
      return '/' + 'a/'.repeat(rng.int(100, 2000));
    case 3:
      return '/' + percentEncodeBytes(rng.pick(NASTY_STRINGS));
    case 4:
      return '//' + randomText(rng, rng.int(1, 30)).replace(/ /g, '%20');
    default:
      return '/' + randomText(rng, rng.int(0, 40)).replace(/ /g, '+');
  }
}

/** Every UTF-8 byte as %XX (encodeURIComponent throws on a lone surrogate; its bytes here are U+FFFD's). */
export function percentEncodeBytes(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`).join('');
}

/** Bodies that are not the JSON an endpoint wants: broken, wrong type, bombs, binary, huge. */
export function malformedBodies(rng: FuzzRng, valid: unknown = { a: 1 }): Buffer[] {
  const text = JSON.stringify(valid);
  return [
    '',
    ' ',
    '{',
    '}',
    '{"a":',
    '[1,2',
    '"unterminated',
    'nul',
    'NaN',
    'Infinity',
    '{"a":1,}',
    "{'a':1}",
    '{"a":1}{"b":2}',
    '\uFEFF' + text,
    'null',
    'true',
    '0',
    '-1',
    '"string"',
    '[]',
    '[{}]',
    '{}',
    '{"__proto__":{"polluted":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
    nestingBomb(10_000),
    '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
    truncate(rng, text),
    text.replace(/"/g, "'"),
    JSON.stringify(randomJson(rng)),
    '\u0000\u0001\u0002',
    'a=1&b=2',
    '<xml/>',
  ]
    .map((s): Buffer => Buffer.from(s))
    .concat([
      rng.bytes(rng.int(1, 2048)),
      Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
      Buffer.from([0xc3, 0x28, 0x7b, 0x7d]),
      mutateBytes(rng, Buffer.from(text), 3, []),
    ]);
}

/** Authorization header values that are missing, malformed, forged or absurd. */
export function garbageAuthHeaders(rng: FuzzRng): (string | undefined)[] {
  return [
    undefined,
    '',
    ' ',
    'Bearer',
    'Bearer ',
    'Bearer  ',
    'bearer x',
    'Bearer ' + 'x'.repeat(16_000),
    'Bearer a b',
    'Token abc',
    'Basic',
    'Basic ',
    'Basic !!!!',
    'Basic ' + Buffer.from('no-colon').toString('base64'),
    'Basic ' + Buffer.from(':').toString('base64'),
    'Basic ' + Buffer.from('%E0%A4%A:%zz').toString('base64'),
    'Basic ' + Buffer.from('user:' + 'p'.repeat(10_000)).toString('base64'),
    'Basic ' + rng.bytes(24).toString('base64'),
    'Basic ' + Buffer.from([0xff, 0x3a, 0xfe]).toString('base64'),
    'Basic ====',
    'Digest username="x"',
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    '\u00ff\u00fe',
    randomText(rng, 20),
  ];
}
