/** The import pipeline's decision table, row by row (see src/import/decide.ts). */
import { ImportTooLargeError } from '@mk/shared';
import { LedgerConflictError } from '@mk/ledger';
import { classifyHttpFailure, classifyTransportFailure, payloadTooLarge } from '@mk/moneykit-client';
import { decideImportFailure } from '../src/import/decide';

const status = (code: number, retryAfter?: string) =>
  classifyHttpFailure({
    endpoint: 'import_link',
    status: code,
    headers: retryAfter ? { 'retry-after': retryAfter } : {},
    body: undefined,
  });
const first = { lastAttempt: false };
const last = { lastAttempt: true };

describe('decideImportFailure', () => {
  it('a 429 holds every worker for its Retry-After while the call has holds left, then gives the job back', () => {
    expect(decideImportFailure(status(429, '2'), { ...first, holdsLeft: 5 })).toEqual({ kind: 'hold', delayMs: 2000 });
    expect(decideImportFailure(status(429, '2'), { ...first, holdsLeft: 0 })).toMatchObject({ kind: 'retry' });
    expect(decideImportFailure(status(429, '2'), { ...last, holdsLeft: 0 })).toMatchObject({ kind: 'fail' });
  });

  it('retryable failures retry with backoff until the last attempt, then fail with the reason; a read retries in place first', () => {
    const reset = classifyTransportFailure('import_link', { code: 'ECONNRESET' });
    expect(decideImportFailure(reset, first)).toMatchObject({
      kind: 'retry',
      failure: { errorClass: 'retryable', code: 'ECONNRESET' },
    });
    expect(decideImportFailure(reset, last)).toMatchObject({
      kind: 'fail',
      failure: { message: expect.stringMatching(/lost the connection/) },
    });
    const read = classifyTransportFailure('get_user_links', { code: 'ECONNRESET' });
    expect(decideImportFailure(read, { ...first, read: { retriesLeft: 2, delayMs: 200 } })).toEqual({
      kind: 'again',
      delayMs: 200,
    });
    expect(decideImportFailure(read, { ...first, read: { retriesLeft: 0, delayMs: 800 } })).toMatchObject({
      kind: 'retry',
    });
    expect(decideImportFailure(status(503), first)).toMatchObject({ kind: 'retry' });
  });

  it('a terminal failure of any kind, or a link needing reconnection, fails the connection at once', () => {
    for (const code of [400, 403, 404, 410, 413])
      expect(decideImportFailure(status(code), first)).toMatchObject({
        kind: 'fail',
        failure: { errorClass: 'terminal', status: code },
      });
    expect(decideImportFailure(payloadTooLarge('import_link', 2_000_000), first)).toMatchObject({ kind: 'fail' });
    expect(decideImportFailure(new ImportTooLargeError('one transaction over 1 MB'), first)).toMatchObject({
      kind: 'fail',
      failure: { errorClass: 'terminal' },
    });
    const badState = classifyHttpFailure({
      endpoint: 'import_transactions',
      status: 422,
      headers: {},
      body: { error_code: 'link_error.bad_state', error_message: 'x', documentation_url: '' },
    });
    expect(decideImportFailure(badState, first)).toMatchObject({ kind: 'fail' });
  });

  it('refused credentials pause the queue without spending the attempt; a fenced-out worker yields; anything else retries', () => {
    expect(decideImportFailure(status(401), first)).toMatchObject({ kind: 'pause', failure: { errorClass: 'auth' } });
    expect(decideImportFailure(status(401), last)).toMatchObject({ kind: 'pause' });
    expect(decideImportFailure(new LedgerConflictError('imported'), first)).toMatchObject({ kind: 'yield' });
    expect(decideImportFailure(new Error('Connection is closed.'), first)).toEqual({
      kind: 'retry',
      failure: { errorClass: 'retryable', message: 'Connection is closed.' },
    });
    expect(decideImportFailure(new Error('Connection is closed.'), last)).toMatchObject({ kind: 'fail' });
  });
});
