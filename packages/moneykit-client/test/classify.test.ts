import { inspect } from 'node:util';
import { ERROR_CODES, MAX_REQUEST_BYTES } from '@mk/shared';
import {
  classifyHttpFailure,
  classifyInvalidSuccess,
  classifyTransportFailure,
  CLIENT_CODES,
  isExpiredTokenError,
  isMoneyKitError,
  payloadTooLarge,
  type EndpointName,
} from '../src';

const http = (endpoint: EndpointName, status: number, body?: unknown, headers: Record<string, string> = {}) =>
  classifyHttpFailure({ endpoint, status, headers, body, now: Date.parse('2025-01-01T00:00:00Z') });
const apiError = (error_code: string, extra: Record<string, unknown> = {}) => ({
  error_code,
  error_message: 'x',
  documentation_url: null,
  ...extra,
});

describe('classifyHttpFailure', () => {
  it('429 is rate_limited with the wait the server asked for', () => {
    const err = http('import_link', 429, apiError(ERROR_CODES.rateLimited), { 'Retry-After': '7' });
    expect(err).toMatchObject({
      errorClass: 'rate_limited',
      status: 429,
      code: ERROR_CODES.rateLimited,
      retryAfterMs: 7000,
      mayHaveTakenEffect: false,
    });
  });

  it('429 without Retry-After waits the default second', () => {
    expect(http('refresh_products', 429, undefined).retryAfterMs).toBe(1000);
  });

  it.each([
    [400, ERROR_CODES.validationFailed],
    [403, ERROR_CODES.forbidden],
    [404, ERROR_CODES.notFound],
    [410, ERROR_CODES.deleted],
    [413, ERROR_CODES.payloadTooLarge],
    [422, ERROR_CODES.validationFailed],
    [409, 'api_error.conflict'],
  ])('%i %s is terminal', (status, code) => {
    const err = http('refresh_products', status, apiError(code));
    expect(err).toMatchObject({ errorClass: 'terminal', status, code, mayHaveTakenEffect: false });
  });

  it('422 link_error.bad_state needs a reconnect and keeps the link error', () => {
    const err = http('refresh_products', 422, apiError(ERROR_CODES.badState, { link_error_code: 'auth_expired' }));
    expect(err).toMatchObject({
      errorClass: 'needs_reconnect',
      status: 422,
      code: ERROR_CODES.badState,
      linkErrorCode: 'auth_expired',
    });
    expect(err.message).toContain('auth_expired');
  });

  it('401 unauthorized is auth; an expired token is retryable; a foreign link is terminal', () => {
    expect(http('get_link', 401, apiError(ERROR_CODES.unauthorized)).errorClass).toBe('auth');
    expect(http('get_link', 401, undefined).errorClass).toBe('auth');
    const expired = http('import_link', 401, apiError(ERROR_CODES.expiredToken));
    expect(expired).toMatchObject({ errorClass: 'retryable', mayHaveTakenEffect: false });
    expect(isExpiredTokenError(expired)).toBe(true);
    expect(http('get_link', 401, apiError(ERROR_CODES.unauthorizedLinkAccess)).errorClass).toBe('terminal');
  });

  it('any non-429 4xx on /auth/token is auth', () => {
    for (const status of [400, 401, 403])
      expect(http('auth_token', status, apiError(ERROR_CODES.unauthorized)).errorClass).toBe('auth');
    expect(http('auth_token', 429, undefined).errorClass).toBe('rate_limited');
  });

  it('5xx is retryable; it may have taken effect unless the call was a GET', () => {
    for (const status of [500, 502, 503, 504]) {
      expect(http('import_link', status, apiError(ERROR_CODES.serverError))).toMatchObject({
        errorClass: 'retryable',
        status,
        mayHaveTakenEffect: true,
      });
      expect(http('get_user_links', status, undefined)).toMatchObject({
        errorClass: 'retryable',
        mayHaveTakenEffect: false,
      });
    }
    expect(http('delete_link', 500, undefined).mayHaveTakenEffect).toBe(true);
  });

  it('a redirect is unexpected and terminal', () => {
    expect(http('get_link', 302, undefined)).toMatchObject({
      errorClass: 'terminal',
      code: CLIENT_CODES.unexpectedStatus,
    });
  });

  it('messages name fields, never quote values, and scrub PII out of the server text', () => {
    const err = http('import_link', 422, {
      error_code: ERROR_CODES.validationFailed,
      error_message: 'bad email jane.doe@example.com or phone +1 415 555 0100',
      validation_errors: [
        {
          location: ['body', 'customer_user', 'email', 'address'],
          message: 'value "jane.doe@example.com" is not valid',
          type: 'value_error',
        },
      ],
    });
    expect(err.message).toContain('body.customer_user.email.address (value_error)');
    expect(err.message).not.toContain('jane.doe');
    expect(err.message).not.toContain('555');
  });

  it('cuts a long server message short', () => {
    const err = http('get_link', 400, apiError('api_error.x', { error_message: 'y'.repeat(5000) }));
    expect(err.message.length).toBeLessThan(400);
  });
});

describe('classifyTransportFailure', () => {
  const netErr = (code: string, message = code) =>
    Object.assign(new Error(message), {
      code,
      config: { headers: { Authorization: 'Bearer SECRET-TOKEN' }, data: 'client_secret=SECRET' },
    });

  it.each([
    ['ECONNRESET', 'import_link', true],
    ['EPIPE', 'import_link', true],
    ['ETIMEDOUT', 'import_transactions', true],
    ['ECONNABORTED', 'refresh_products', true],
    ['ERR_NETWORK', 'import_link', true],
    ['ECONNRESET', 'get_link', false],
    ['ETIMEDOUT', 'get_user_links', false],
    ['ECONNREFUSED', 'import_link', false],
    ['ENOTFOUND', 'import_link', false],
    ['EAI_AGAIN', 'refresh_products', false],
  ] as const)('%s on %s is retryable, mayHaveTakenEffect=%s', (code, endpoint, taken) => {
    const err = classifyTransportFailure(endpoint, netErr(code));
    expect(err).toMatchObject({ errorClass: 'retryable', code, mayHaveTakenEffect: taken });
    expect(err.status).toBeUndefined();
  });

  it('never carries the axios config (headers, body) along', () => {
    const err = classifyTransportFailure('import_link', netErr('ECONNRESET', 'socket hang up'));
    const dumped = [
      JSON.stringify(err),
      inspect(err, { depth: 10, showHidden: true }),
      String(err),
      err.stack ?? '',
    ].join('\n');
    expect(dumped).not.toContain('SECRET');
    expect(Object.keys(err)).not.toContain('config');
    expect(err.cause).toBeUndefined();
  });

  it('something that is not an Error at all still becomes a MoneyKitError', () => {
    const err = classifyTransportFailure('import_link', 'boom');
    expect(isMoneyKitError(err)).toBe(true);
    expect(err).toMatchObject({ errorClass: 'retryable', code: 'ERR_NETWORK', mayHaveTakenEffect: true });
  });
});

describe('other classifications', () => {
  it('an unparseable 2xx is retryable and may have taken effect (unless a GET)', () => {
    expect(classifyInvalidSuccess('import_link', 200)).toMatchObject({
      errorClass: 'retryable',
      mayHaveTakenEffect: true,
      code: CLIENT_CODES.invalidResponse,
      status: 200,
    });
    expect(classifyInvalidSuccess('import_link', 200).message).toMatch(/may have been committed/);
    expect(classifyInvalidSuccess('get_link', 200).mayHaveTakenEffect).toBe(false);
  });

  it('an over-size body is terminal with the payload-too-large code and no status', () => {
    const err = payloadTooLarge('import_link', MAX_REQUEST_BYTES + 1);
    expect(err).toMatchObject({ errorClass: 'terminal', code: ERROR_CODES.payloadTooLarge, mayHaveTakenEffect: false });
    expect(err.status).toBeUndefined();
    expect(err.toFailure()).toEqual({
      errorClass: 'terminal',
      code: ERROR_CODES.payloadTooLarge,
      message: err.message,
    });
  });

  it('a terminal failure says its kind, so no caller reads raw statuses', () => {
    expect(http('refresh_products', 403, apiError(ERROR_CODES.forbidden)).terminal).toBe('forbidden');
    expect(http('refresh_products', 404, apiError(ERROR_CODES.notFound)).terminal).toBe('not_found');
    expect(http('refresh_products', 410, apiError(ERROR_CODES.deleted)).terminal).toBe('gone');
    expect(http('refresh_products', 401, apiError(ERROR_CODES.unauthorizedLinkAccess)).terminal).toBe('foreign_link');
    expect(http('import_link', 413, undefined).terminal).toBe('too_large');
    expect(payloadTooLarge('import_link', MAX_REQUEST_BYTES + 1).terminal).toBe('too_large');
    expect(http('import_link', 400, apiError(ERROR_CODES.validationFailed)).terminal).toBe('invalid');
    expect(http('import_link', 302, undefined).terminal).toBe('unexpected');
    expect(http('import_link', 500, undefined).terminal).toBeUndefined();
  });

  it('toFailure is plain data that survives JSON', () => {
    const err = http('refresh_products', 404, apiError(ERROR_CODES.notFound));
    const failure = err.toFailure();
    expect(JSON.parse(JSON.stringify(failure))).toEqual({
      errorClass: 'terminal',
      status: 404,
      code: ERROR_CODES.notFound,
      message: err.message,
    });
    expect(JSON.parse(JSON.stringify(err))).toMatchObject({
      name: 'MoneyKitError',
      errorClass: 'terminal',
      endpoint: 'refresh_products',
      status: 404,
    });
  });
});
