/**
 * The one place that decides what a failed refresh call means, from the client's classification
 * (MoneyKitError.errorClass), never from raw statuses scattered through the code.
 *
 * | answer                                   | decision                                                    |
 * |------------------------------------------|-------------------------------------------------------------|
 * | 429, only this link lately               | later: this link waits Retry-After, the rest carry on      |
 * | 429 from ≥ appRateLimitLinks links       | pause: the whole queue waits Retry-After (app-wide limit)   |
 * | 403 for one product                      | stop that product for that link (forbidden)                 |
 * | 403 for several products                 | probe: send each alone to learn which one is refused        |
 * | 404 / 410                                | remove the link from the schedule                           |
 * | other terminal (400, 401 foreign link…)  | park the link ('terminal'): an operator has to look         |
 * | 422 bad_state (needs_reconnect)          | park the link with its link error until a webhook resumes it|
 * | retryable, may have taken effect         | uncertain: counts as a refresh, then checked (refresh-check)|
 * | retryable, provably not sent             | retry with backoff (bounded), then later                    |
 * | auth (our credentials)                   | credentials: the queue pauses until the token endpoint accepts them again (credentials-pause.ts, as for imports), nothing is spent |
 *
 * Telling app-wide from per-link 429s: MoneyKit answers both with api_error.rate_limit_exceeded. Our ledger
 * guarantees we never send a refresh inside a product's quota window, so a per-link 429 is rare and
 * isolated (a link refreshed by someone else, an institution that only refreshes at set hours). An app-wide
 * limit hits every link at once. So a 429 is treated as app-wide once several distinct links got one within
 * a short window (appRateLimitLinks within appRateLimitWindowMs, counted in Redis across all workers);
 * until then each 429'd link just waits its own Retry-After.
 */
import type { Product } from '@mk/shared';
import { DEFAULT_RETRY_AFTER_MS, type MoneyKitError } from '@mk/moneykit-client';
import type { Settlement } from '@mk/refresh';

export type RefreshDecision =
  | { kind: 'settle'; settlement: Settlement; counter?: 'rateLimitedLink' }
  | { kind: 'retry' }
  | { kind: 'pause'; delayMs: number; counter: 'rateLimitedApp' }
  | { kind: 'credentials' }
  | { kind: 'probe' };

export interface DecisionContext {
  products: Product[];
  /** This is the job's last attempt. */
  lastAttempt: boolean;
  /** For 429s: distinct links answered 429 within the window, this one included. */
  recent429Links?: number;
  appRateLimitLinks: number;
  /** Delay before a link whose retries ran out is tried again. */
  retryLaterMs: number;
}

export function decideRefreshOutcome(err: MoneyKitError, ctx: DecisionContext): RefreshDecision {
  switch (err.errorClass) {
    case 'rate_limited': {
      const delayMs = err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
      if ((ctx.recent429Links ?? 1) >= ctx.appRateLimitLinks)
        return { kind: 'pause', delayMs, counter: 'rateLimitedApp' };
      return { kind: 'settle', settlement: { action: 'later', delayMs }, counter: 'rateLimitedLink' };
    }
    case 'needs_reconnect':
      return { kind: 'settle', settlement: { action: 'park', reason: err.linkErrorCode ?? 'bad_state' } };
    case 'terminal':
      switch (err.terminal) {
        case 'forbidden':
          return ctx.products.length > 1
            ? { kind: 'probe' }
            : { kind: 'settle', settlement: { action: 'stop', products: ctx.products, why: 'forbidden' } };
        case 'not_found':
          return { kind: 'settle', settlement: { action: 'remove', reason: 'not_found' } };
        case 'gone':
          return { kind: 'settle', settlement: { action: 'remove', reason: 'deleted' } };
        default:
          return { kind: 'settle', settlement: { action: 'park', reason: 'terminal' } };
      }
    case 'retryable':
      // it may have refreshed: never resend before the quota window, whatever the retry policy says
      if (err.mayHaveTakenEffect)
        return { kind: 'settle', settlement: { action: 'uncertain', answered: err.status !== undefined } };
      if (ctx.lastAttempt) return { kind: 'settle', settlement: { action: 'later', delayMs: ctx.retryLaterMs } };
      return { kind: 'retry' };
    case 'auth':
      return { kind: 'credentials' };
  }
}
