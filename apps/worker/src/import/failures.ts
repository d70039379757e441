/** The one place where a failed connection attempt is turned into ledger state and a job outcome. */
import type { FailureInfo } from '@mk/shared';
import { ImportTooLargeError } from '@mk/shared';
import { isMoneyKitError } from '@mk/moneykit-client';

export type ConnectionVerdict =
  /** Record it and stop trying: the same request can never pass. */
  | { action: 'fail'; failure: FailureInfo }
  /** Record it and let the job retry later with backoff (bounded by the job's attempts). */
  | { action: 'retry'; failure: FailureInfo }
  /** Our own credentials are refused: nothing will pass until ops fix them. */
  | { action: 'stop'; failure: FailureInfo };

export function judge(err: unknown): ConnectionVerdict {
  if (isMoneyKitError(err)) {
    const failure = err.toFailure();
    switch (err.errorClass) {
      case 'terminal':
      case 'needs_reconnect':
        return { action: 'fail', failure };
      case 'auth':
        return { action: 'stop', failure };
      case 'rate_limited': // only reaches here once the 429 budget of one call is spent
      case 'retryable':
        return { action: 'retry', failure };
    }
  }
  if (err instanceof ImportTooLargeError) return { action: 'fail', failure: { errorClass: 'terminal', message: err.message } };
  // Redis hiccups and our own bugs: retry, bounded by attempts, with the message kept for the report.
  return { action: 'retry', failure: { errorClass: 'retryable', message: err instanceof Error ? err.message : String(err) } };
}
