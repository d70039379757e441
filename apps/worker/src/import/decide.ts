/**
 * The one place that decides what a failed import step means, from the client's classification — beside the refresh
 * pipeline's table (apps/worker/src/refresh/outcome.ts). The import call's 429 loop and the job's processor both ask
 * it; neither reads raw statuses.
 *
 * | failure                                        | before the last attempt                     | on the last attempt |
 * |------------------------------------------------|---------------------------------------------|---------------------|
 * | rate_limited (429), this call's holds left     | hold: wait Retry-After (an import call: every worker, through the limiter), no attempt spent | |
 * | retryable on a read, its in-place retries left | again: the read is retried in place after a short wait (it changes nothing upstream) | |
 * | rate_limited, holds spent; retryable           | retry the job with backoff                  | fail, with the reason |
 * | terminal (any kind), needs_reconnect           | fail, with the reason: the same request can never pass |       |
 * | too large even split (ImportTooLargeError)     | fail, with the reason                       |                     |
 * | auth (our credentials)                         | pause the queue until they are accepted (credentials-pause.ts), no attempt spent | |
 * | another worker changed the record (fenced out) | yield: write nothing, retry later from what the ledger then says |  |
 * | anything else (Redis, a bug)                   | retry the job with backoff                  | fail, with the reason |
 */
import { ImportTooLargeError, type FailureInfo } from '@mk/shared';
import { LedgerConflictError } from '@mk/ledger';
import { DEFAULT_RETRY_AFTER_MS, isMoneyKitError } from '@mk/moneykit-client';

export type ImportDecision =
  | { kind: 'hold'; delayMs: number }
  | { kind: 'again'; delayMs: number }
  | { kind: 'retry'; failure: FailureInfo }
  | { kind: 'fail'; failure: FailureInfo }
  | { kind: 'pause'; failure: FailureInfo }
  | { kind: 'yield'; reason: string };

export interface ImportDecisionContext {
  /** The job's last attempt: a retry would not come. */
  lastAttempt: boolean;
  /** 429 holds this call may still take before it gives the job back (undefined: not inside a call's loop). */
  holdsLeft?: number;
  /** A read (look-up): how many in-place retries it has left, and the wait before the next. */
  read?: { retriesLeft: number; delayMs: number };
}

export function decideImportFailure(err: unknown, ctx: ImportDecisionContext): ImportDecision {
  if (err instanceof LedgerConflictError) return { kind: 'yield', reason: err.message };
  const failure = isMoneyKitError(err)
    ? err.toFailure()
    : ({
        errorClass: err instanceof ImportTooLargeError ? 'terminal' : 'retryable',
        message: err instanceof Error ? err.message : String(err),
      } satisfies FailureInfo);
  const retry = (): ImportDecision => (ctx.lastAttempt ? { kind: 'fail', failure } : { kind: 'retry', failure });
  if (err instanceof ImportTooLargeError) return { kind: 'fail', failure };
  if (!isMoneyKitError(err)) return retry();
  switch (err.errorClass) {
    case 'rate_limited':
      if ((ctx.holdsLeft ?? 0) > 0) return { kind: 'hold', delayMs: err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS };
      return retry();
    case 'retryable':
      if (ctx.read && ctx.read.retriesLeft > 0) return { kind: 'again', delayMs: ctx.read.delayMs };
      return retry();
    case 'terminal':
    case 'needs_reconnect':
      return { kind: 'fail', failure };
    case 'auth':
      return { kind: 'pause', failure };
  }
}
