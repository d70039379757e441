import { MoneyKitError, classifyHttpFailure } from '@mk/moneykit-client';
import { ConfigError } from '@mk/shared';
import { decideRefreshOutcome, type DecisionContext } from '../src/refresh/outcome';
import { productTimings, refreshOptionsFromEnv, resolveRefreshOptions } from '@mk/refresh';

const ctx: DecisionContext = {
  products: ['accounts'],
  lastAttempt: false,
  appRateLimitLinks: 3,
  retryLaterMs: 300_000,
};
/** A failure as the client classifies it (a terminal one from its status, as classify.ts does). */
const err = (fields: Partial<ConstructorParameters<typeof MoneyKitError>[0]>) => {
  if ((fields.errorClass ?? 'terminal') === 'terminal') {
    const body = fields.code ? { error_code: fields.code, error_message: 'x', documentation_url: '' } : undefined;
    return classifyHttpFailure({ endpoint: 'refresh_products', status: fields.status ?? 400, headers: {}, body });
  }
  return new MoneyKitError({
    errorClass: 'terminal',
    endpoint: 'refresh_products',
    message: 'x',
    mayHaveTakenEffect: false,
    ...fields,
  });
};

describe('decideRefreshOutcome', () => {
  it('a lone 429 delays only the link; 429s from several links pause the queue', () => {
    const e = err({ errorClass: 'rate_limited', status: 429, retryAfterMs: 1500 });
    expect(decideRefreshOutcome(e, { ...ctx, recent429Links: 1 })).toEqual({
      kind: 'settle',
      settlement: { action: 'later', delayMs: 1500 },
      counter: 'rateLimitedLink',
    });
    expect(decideRefreshOutcome(e, { ...ctx, recent429Links: 3 })).toEqual({
      kind: 'pause',
      delayMs: 1500,
      counter: 'rateLimitedApp',
    });
  });

  it('403 stops the product, or probes when several were asked; 404/410 remove; 422 parks with the link error', () => {
    expect(decideRefreshOutcome(err({ status: 403, code: 'link_error.forbidden_action' }), ctx)).toEqual({
      kind: 'settle',
      settlement: { action: 'stop', products: ['accounts'], why: 'forbidden' },
    });
    expect(decideRefreshOutcome(err({ status: 403 }), { ...ctx, products: ['accounts', 'identity'] })).toEqual({
      kind: 'probe',
    });
    expect(decideRefreshOutcome(err({ status: 404 }), ctx)).toMatchObject({
      settlement: { action: 'remove', reason: 'not_found' },
    });
    expect(decideRefreshOutcome(err({ status: 410 }), ctx)).toMatchObject({
      settlement: { action: 'remove', reason: 'deleted' },
    });
    expect(
      decideRefreshOutcome(err({ errorClass: 'needs_reconnect', status: 422, linkErrorCode: 'auth_expired' }), ctx),
    ).toMatchObject({ settlement: { action: 'park', reason: 'auth_expired' } });
    expect(decideRefreshOutcome(err({ status: 400 }), ctx)).toMatchObject({
      settlement: { action: 'park', reason: 'terminal' },
    });
  });

  it('never resends a call that may have taken effect; retries one that provably did not, then gives up for later', () => {
    expect(decideRefreshOutcome(err({ errorClass: 'retryable', status: 500, mayHaveTakenEffect: true }), ctx)).toEqual({
      kind: 'settle',
      settlement: { action: 'uncertain', answered: true },
    });
    expect(
      decideRefreshOutcome(err({ errorClass: 'retryable', code: 'ECONNRESET', mayHaveTakenEffect: true }), ctx),
    ).toEqual({ kind: 'settle', settlement: { action: 'uncertain', answered: false } });
    expect(decideRefreshOutcome(err({ errorClass: 'retryable', code: 'ECONNREFUSED' }), ctx)).toEqual({
      kind: 'retry',
    });
    expect(
      decideRefreshOutcome(err({ errorClass: 'retryable', code: 'ECONNREFUSED' }), { ...ctx, lastAttempt: true }),
    ).toEqual({ kind: 'settle', settlement: { action: 'later', delayMs: 300_000 } });
    expect(decideRefreshOutcome(err({ errorClass: 'auth', status: 401 }), ctx)).toEqual({ kind: 'credentials' });
  });
});

describe('refresh options', () => {
  it('never plans a refresh below the quota, whatever the cadence', () => {
    const t = productTimings(
      resolveRefreshOptions({ timeScale: 3600, quotaGuardMs: 20, cadence: { accounts: 60, transactions: 7200 } }),
    );
    expect(t.accounts).toEqual({ allowMs: 1020, intervalMs: 1020, deferMs: 102 });
    expect(t.transactions).toEqual({ allowMs: 1020, intervalMs: 2000, deferMs: 200 });
    expect(t.identity.allowMs).toBe(24_020);
  });

  it('reads the environment and names a bad setting', () => {
    const o = refreshOptionsFromEnv({
      TIME_SCALE: '60',
      REFRESH_PRODUCTS: 'accounts,identity',
      REFRESH_CADENCE: 'identity=172800',
      REFRESH_CONCURRENCY: '8',
    });
    expect(o).toMatchObject({
      timeScale: 60,
      defaultProducts: ['accounts', 'identity'],
      concurrency: 8,
      cadence: { identity: 172800 },
    });
    expect(() => refreshOptionsFromEnv({ REFRESH_PRODUCTS: 'accounts,balances' })).toThrow(ConfigError);
    expect(() => refreshOptionsFromEnv({ REFRESH_CADENCE: 'identity=-1' })).toThrow(
      new ConfigError('REFRESH_CADENCE', 'quota for identity must be a positive number of seconds, got "-1"'),
    );
  });
});
