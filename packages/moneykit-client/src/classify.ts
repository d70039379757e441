/**
 * Every failure of a MoneyKit call is classified here, once, into a MoneyKitError. Callers act on
 * `errorClass` (and `mayHaveTakenEffect`, `retryAfterMs`), never on raw statuses.
 *
 * | what happened                                   | errorClass      | mayHaveTakenEffect      |
 * |-------------------------------------------------|-----------------|-------------------------|
 * | 429                                             | rate_limited    | false                   |
 * | any non-429 4xx on /auth/token                  | auth            | false                   |
 * | 401 api_error.auth.expired_access_token         | retryable       | false                   |
 * | 401 link_error.unauthorized_access              | terminal        | false                   |
 * | other 401                                       | auth            | false                   |
 * (a 401 of an API call is classified only after the client's one retry with a fresh token: see isRefusedTokenError)
 * | 422 link_error.bad_state                        | needs_reconnect | false                   |
 * | other 4xx: 403 / 404 / 410 / 413 / the rest     | terminal (forbidden / not_found / gone / too_large / invalid) | false |
 * | 5xx                                             | retryable       | true unless GET         |
 * | 2xx whose body fails its schema                 | retryable       | true unless GET         |
 * | ECONNREFUSED, DNS, unreachable                  | retryable       | false (nothing was sent)|
 * | reset, socket hang up, EPIPE, timeout, other    | retryable       | true unless GET         |
 * | body over MAX_REQUEST_BYTES (refused locally)   | terminal        | false                   |
 *
 * A GET changes nothing, so it never "may have taken effect".
 * Messages are composed here from status and codes; the server's own message is scrubbed and cut short,
 * request data and headers are never read.
 */
import { apiErrorBodySchema, ERROR_CODES, MAX_REQUEST_BYTES, scrubString, type ApiErrorBody } from '@mk/shared';
import { ENDPOINTS, type EndpointName } from './endpoints';
import { MoneyKitError, type TerminalKind } from './errors';
import { retryAfterMsFromHeaders, type HeaderBag } from './retry-after';

/** Transport failures where the request provably never reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
// ERR_CANCELED: the transport's wall-clock deadline aborted the call.
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'ERR_CANCELED']);
const SERVER_MESSAGE_MAX = 160;

/** Client-side codes, for failures that carry no MoneyKit error_code. */
export const CLIENT_CODES = {
  invalidResponse: 'client.invalid_response',
  unexpectedStatus: 'client.unexpected_status',
  sendWindowPassed: 'client.send_window_passed',
} as const;

export interface HttpFailure {
  endpoint: EndpointName;
  status: number;
  headers: HeaderBag;
  /** The parsed JSON body, or undefined when there was none or it was not JSON. */
  body: unknown;
  now?: number;
}

const mutates = (endpoint: EndpointName): boolean => ENDPOINTS[endpoint].method !== 'GET';

function serverDetail(body: ApiErrorBody | undefined): string {
  if (!body) return '';
  const parts: string[] = [];
  if (body.error_message) {
    const msg = scrubString(body.error_message);
    parts.push(msg.length > SERVER_MESSAGE_MAX ? `${msg.slice(0, SERVER_MESSAGE_MAX)}…` : msg);
  }
  // Field locations and error types only: validation messages may quote the rejected value.
  if (body.validation_errors?.length) {
    const fields = body.validation_errors.slice(0, 5).map((v) => `${v.location.join('.')} (${v.type})`);
    const more = body.validation_errors.length > 5 ? ` and ${body.validation_errors.length - 5} more` : '';
    parts.push(`invalid fields: ${fields.join(', ')}${more}`);
  }
  return parts.length ? `: ${parts.join('; ')}` : '';
}

/** A non-2xx response. */
export function classifyHttpFailure({ endpoint, status, headers, body, now = Date.now() }: HttpFailure): MoneyKitError {
  const parsed = apiErrorBodySchema.safeParse(body);
  const errorBody = parsed.success ? parsed.data : undefined;
  const code = errorBody?.error_code;
  const head = `MoneyKit ${endpoint} answered HTTP ${status}${code ? ` ${code}` : ''}${serverDetail(errorBody)}`;
  const base = { endpoint, status, ...(code !== undefined && { code }) };

  if (status === 429) {
    const retryAfterMs = retryAfterMsFromHeaders(headers, now);
    return new MoneyKitError({
      ...base,
      errorClass: 'rate_limited',
      retryAfterMs,
      mayHaveTakenEffect: false,
      message: `${head} (retry after ${retryAfterMs} ms)`,
    });
  }
  if (status >= 400 && status < 500) {
    if (endpoint === 'auth_token') {
      return new MoneyKitError({
        ...base,
        errorClass: 'auth',
        mayHaveTakenEffect: false,
        message: `${head} (no access token: check MONEYKIT_CLIENT_ID / MONEYKIT_CLIENT_SECRET)`,
      });
    }
    if (status === 401 && code === ERROR_CODES.expiredToken) {
      return new MoneyKitError({
        ...base,
        errorClass: 'retryable',
        mayHaveTakenEffect: false,
        message: `${head} (access token expired)`,
      });
    }
    // The link belongs to another app: nothing about our credentials, and retrying this link will not help.
    if (status === 401 && code === ERROR_CODES.unauthorizedLinkAccess) {
      return new MoneyKitError({
        ...base,
        errorClass: 'terminal',
        terminal: 'foreign_link',
        mayHaveTakenEffect: false,
        message: head,
      });
    }
    if (status === 401) {
      return new MoneyKitError({
        ...base,
        errorClass: 'auth',
        mayHaveTakenEffect: false,
        message: `${head} (credentials refused)`,
      });
    }
    if (status === 422 && code === ERROR_CODES.badState) {
      const linkErrorCode = errorBody?.link_error_code;
      return new MoneyKitError({
        ...base,
        errorClass: 'needs_reconnect',
        mayHaveTakenEffect: false,
        ...(linkErrorCode !== undefined && { linkErrorCode }),
        message: `${head} (link needs reconnecting${linkErrorCode ? `: ${linkErrorCode}` : ''})`,
      });
    }
    return new MoneyKitError({
      ...base,
      errorClass: 'terminal',
      terminal: terminalKindOf(status, code),
      mayHaveTakenEffect: false,
      message: head,
    });
  }
  if (status >= 500) {
    const taken = mutates(endpoint);
    return new MoneyKitError({
      ...base,
      errorClass: 'retryable',
      mayHaveTakenEffect: taken,
      message: `${head}${taken ? ' (outcome unknown: the request may have been committed)' : ''}`,
    });
  }
  return new MoneyKitError({
    ...base,
    code: code ?? CLIENT_CODES.unexpectedStatus,
    errorClass: 'terminal',
    terminal: 'unexpected',
    mayHaveTakenEffect: false,
    message: `${head} (unexpected status)`,
  });
}

function terminalKindOf(status: number, code: string | undefined): TerminalKind {
  if (status === 403 || code === ERROR_CODES.forbidden) return 'forbidden';
  if (status === 404 || code === ERROR_CODES.notFound) return 'not_found';
  if (status === 410 || code === ERROR_CODES.deleted) return 'gone';
  if (status === 413 || code === ERROR_CODES.payloadTooLarge) return 'too_large';
  return 'invalid';
}

/** A 2xx whose body is not what the contract promises: the server did act, we cannot tell on what. */
export function classifyInvalidSuccess(endpoint: EndpointName, status: number): MoneyKitError {
  const taken = mutates(endpoint);
  return new MoneyKitError({
    endpoint,
    status,
    code: CLIENT_CODES.invalidResponse,
    errorClass: 'retryable',
    mayHaveTakenEffect: taken,
    message: `MoneyKit ${endpoint} answered HTTP ${status} with a body that does not match the API contract${taken ? ' (the request was accepted: it may have been committed)' : ''}`,
  });
}

/** No response at all: connection refused or reset, socket hang up, timeout… */
export function classifyTransportFailure(endpoint: EndpointName, error: unknown): MoneyKitError {
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' && raw ? raw : 'ERR_NETWORK';
  const notSent = NOT_SENT_CODES.has(code);
  const taken = !notSent && mutates(endpoint);
  const what = TIMEOUT_CODES.has(code) ? 'timed out' : notSent ? 'could not reach the server' : 'lost the connection';
  return new MoneyKitError({
    endpoint,
    code,
    errorClass: 'retryable',
    mayHaveTakenEffect: taken,
    message: `MoneyKit ${endpoint} ${what} (${code})${taken ? ': the request may have been committed' : ''}`,
  });
}

/** Not sent: the caller's deadline for sending it had passed (a claim gone stale while this process stalled). */
export function sendWindowPassed(endpoint: EndpointName, lateMs: number): MoneyKitError {
  return new MoneyKitError({
    endpoint,
    code: CLIENT_CODES.sendWindowPassed,
    errorClass: 'retryable',
    mayHaveTakenEffect: false,
    message: `MoneyKit ${endpoint} not sent: ${lateMs} ms past the moment it had to go out by`,
  });
}

/** Refused before sending: MoneyKit would reject it and the same body can never pass. */
export function payloadTooLarge(endpoint: EndpointName, bytes: number): MoneyKitError {
  return new MoneyKitError({
    endpoint,
    code: ERROR_CODES.payloadTooLarge,
    errorClass: 'terminal',
    terminal: 'too_large',
    mayHaveTakenEffect: false,
    message: `MoneyKit ${endpoint} body is ${bytes} bytes, over the ${MAX_REQUEST_BYTES}-byte limit: not sent`,
  });
}

/** No answer came back in time: the congestion signal (the refresh pipeline backs off on it). */
export function isTimeoutError(error: unknown): boolean {
  return (
    error instanceof MoneyKitError &&
    error.status === undefined &&
    error.code !== undefined &&
    TIMEOUT_CODES.has(error.code)
  );
}

export function isExpiredTokenError(error: unknown): boolean {
  return error instanceof MoneyKitError && error.status === 401 && error.code === ERROR_CODES.expiredToken;
}

/**
 * A 401 of an API call (not of the token endpoint): the token was refused, whatever the code says. The client
 * fetches one fresh token and retries once before the failure counts.
 */
export function isRefusedTokenError(error: unknown): error is MoneyKitError {
  return error instanceof MoneyKitError && error.status === 401 && error.endpoint !== 'auth_token';
}
