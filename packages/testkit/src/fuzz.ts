/**
 * Seeded fuzzing for tests: a tiny PRNG and mutation helpers for JSON documents, text and bytes.
 * Deterministic so a failure in CI reproduces locally: every suite logs its seed and `FUZZ_SEED=<n>` replays it.
 */

export interface FuzzRng {
  readonly seed: number;
  /** [0, 1) */
  next(): number;
  /** Inclusive on both ends. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  bytes(n: number): Buffer;
  shuffle<T>(items: T[]): T[];
}

/** mulberry32: 32-bit state, good enough spread for fuzzing, and trivially reproducible. */
export function createFuzzRng(seed: number): FuzzRng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
    shuffle: (items) => {
      for (let i = items.length - 1; i > 0; i--) {
        const j = int(0, i);
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
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([0, -0, 1, -1, 1.5, 1e21, -1e-7, 2 ** 53 + 1, rng.int(-1e6, 1e6)]);
    case 3: return rng.pick(NASTY_STRINGS);
    case 4: return randomText(rng, rng.int(0, 12));
    case 5:
    case 6: return Array.from({ length: rng.int(0, 3) }, () => randomJson(rng, depth - 1));
    default: return Object.fromEntries(Array.from({ length: rng.int(0, 3) }, () => [randomText(rng, rng.int(1, 6)), randomJson(rng, depth - 1)]));
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
export function mutateBytes(rng: FuzzRng, input: Buffer, edits = rng.int(1, 4), forbidden: readonly number[] = [0x0a]): Buffer {
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
