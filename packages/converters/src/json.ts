/**
 * JSON parsing that never loses an amount to a float, at close to native JSON.parse speed.
 *
 * Why this is safe without a full custom parser: a number literal with at most 15 significant digits
 * is recovered exactly by `String(Number(literal))` (doubles carry 15.95 decimal digits, and the
 * shortest round-trip rendering of the nearest double has at most as many digits as the literal, so
 * it is the same decimal value). Only literals with more significant digits, or with an exponent
 * (which could overflow to Infinity or render as `1e+21`), can lose information. One pass over the
 * text finds those few literals and quotes them, so JSON.parse hands them over as their exact text;
 * the decimal normaliser (decimal.ts) accepts both forms. The same pass enforces a nesting limit.
 */

export const DEFAULT_MAX_DEPTH = 64;
const SAFE_SIGNIFICANT_DIGITS = 15;

export class JsonInputError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'JsonInputError';
  }
}

export interface ParseJsonOptions {
  /** Deepest allowed nesting of objects/arrays (a nesting bomb is refused before JSON.parse). */
  maxDepth?: number;
}

const QUOTE = 34; // "
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const LOWER_E = 101;
const UPPER_E = 69;
const PLUS = 43;

/** Index of the quote that closes the string opened at `open`, or -1 when unterminated. */
function closingQuote(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  while (q !== -1) {
    let slashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === BACKSLASH; k--) slashes++;
    if ((slashes & 1) === 0) return q;
    q = text.indexOf('"', q + 1);
  }
  return -1;
}

/**
 * Parses one JSON document, keeping number literals that a double cannot carry exactly as strings
 * holding their literal text. Throws JsonInputError with a precise reason on invalid input.
 */
export function parseJsonPreservingNumbers(text: string, opts: ParseJsonOptions = {}): unknown {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const len = text.length;
  let depth = 0;
  let spans: number[] | undefined; // [start, end) pairs of literals to quote
  let i = 0;
  while (i < len) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const q = closingQuote(text, i);
      if (q === -1) break; // unterminated: JSON.parse reports it
      i = q + 1;
      continue;
    }
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > maxDepth) throw new JsonInputError(`nesting deeper than ${maxDepth} levels at character ${i}`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      // A number literal: count significant digits and look for an exponent.
      const start = i;
      let significant = 0;
      let leading = true;
      let exponent = false;
      if (c === MINUS) i++;
      for (; i < len; i++) {
        const d = text.charCodeAt(i);
        if (d >= ZERO && d <= NINE) {
          if (exponent) continue;
          if (leading && d === ZERO) continue;
          leading = false;
          significant++;
        } else if (d === DOT) {
          continue;
        } else if (d === LOWER_E || d === UPPER_E) {
          exponent = true;
        } else if ((d === PLUS || d === MINUS) && exponent) {
          continue;
        } else break;
      }
      if (exponent || significant > SAFE_SIGNIFICANT_DIGITS) (spans ??= []).push(start, i);
      continue;
    }
    i++;
  }
  const source = spans ? quoteSpans(text, spans) : text;
  try {
    return JSON.parse(source);
  } catch (e) {
    throw new JsonInputError(`invalid JSON: ${describeJsonError((e as Error).message)}`);
  }
}

/**
 * JSON.parse's message without the slice of input it may quote (`Unexpected token 'j', "{"email": jane@…" is not
 * valid JSON`): a reject reason is stored in Redis and shown on the run page, and must never carry a value.
 */
function describeJsonError(message: string): string {
  const at = /at position (\d+)/.exec(message);
  const what = message
    .replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '')
    .replace(/ '.*?'/s, '')
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/ \(line \d+ column \d+\)/, '');
  return at ? `${what} at character ${at[1]}` : what;
}

function quoteSpans(text: string, spans: number[]): string {
  let out = '';
  let last = 0;
  for (let k = 0; k < spans.length; k += 2) {
    const start = spans[k]!;
    const end = spans[k + 1]!;
    out += text.slice(last, start) + '"' + text.slice(start, end) + '"';
    last = end;
  }
  return out + text.slice(last);
}
