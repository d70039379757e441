/**
 * One logger factory for every app: structured JSON (pretty in development), with secrets and PII scrubbed
 * from every record, whatever key or nesting they arrive under.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Keys whose values never reach a log. */
const SENSITIVE_KEY =
  /(token|secret|password|authorization|cookie|email|phone|address|account_number|accountnumber|mask|description|memo|ssn|name_on|signature|api[-_]?key)/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const PHONE = /\+?\d[\d ().-]{8,}\d/g;
const BEARER = /(bearer\s+)[A-Za-z0-9._~+/=-]+/gi;
/** `client_secret=…`, `"access_token":"…"`, `password: …` inside free text (request bodies quoted in messages). */
const SECRET_ASSIGNMENT = /((?:token|secret|password|api[-_]?key|authorization)["']?\s*[:=]\s*["']?)([^"'&\s,;}]+)/gi;
/** Dates (2026-11-20…) look like phone numbers to PHONE; so do short digit runs. Neither is PII. */
const NOT_A_PHONE = (match: string) => /^\d{4}-\d{2}-\d{2}/.test(match) || match.replace(/\D/g, '').length < 10;
const REDACTED = '[redacted]';

export function scrubString(value: string): string {
  return value
    .replace(BEARER, `$1${REDACTED}`)
    .replace(SECRET_ASSIGNMENT, `$1${REDACTED}`)
    .replace(EMAIL, REDACTED)
    .replace(PHONE, (match) => (NOT_A_PHONE(match) ? match : REDACTED));
}

/** Deep copy of a log record with sensitive keys and PII-looking strings redacted. */
export function scrub(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[depth]';
  if (typeof value === 'string') return scrubString(value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { type: value.name, message: scrubString(value.message), ...(typeof code === 'string' ? { code } : {}) };
  }
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEY.test(k) ? REDACTED : scrub(v, depth + 1);
    return out;
  }
  return value;
}

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  /** Where records go; default stdout. Tests pass a stream to inspect them. */
  destination?: pino.DestinationStream;
}

export function createLogger(name: string, opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? process.env.LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? (process.env.NODE_ENV === 'development' && process.stdout.isTTY && !opts.destination);
  const options: pino.LoggerOptions = {
    name,
    level,
    formatters: { log: (record) => scrub(record) as Record<string, unknown> },
    hooks: {
      // The message string is not part of `record`: scrub it too.
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrubString(a) : a)) as typeof args;
        method.apply(this, scrubbed);
      },
    },
    // `log` above has already turned an Error into a plain, scrubbed object; this handles errors logged any other way.
    serializers: {
      err: (err: Error) =>
        err instanceof Error
          ? { type: err.name, message: scrubString(err.message), code: (err as { code?: string }).code }
          : err,
    },
  };
  if (pretty)
    return scrubChildBindings(pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } }));
  return scrubChildBindings(opts.destination ? pino(options, opts.destination) : pino(options));
}

/**
 * `logger.child(bindings)` bindings never pass through `formatters.log` (pino serializes them once, at child
 * creation): scrub them there. Children inherit this method, so grandchildren are covered too.
 */
function scrubChildBindings(logger: Logger): Logger {
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, scrub(bindings) as typeof bindings, options);
  } as Logger['child'];
  return logger;
}
