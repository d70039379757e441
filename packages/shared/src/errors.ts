/**
 * The one classification of every upstream failure; workers act on the class, never on raw statuses.
 * - rate_limited: wait `retryAfterMs`, spend no attempt.
 * - retryable: try again with backoff; `mayHaveTakenEffect` means the request may have committed (reconcile first).
 * - terminal: the same request can never pass (validation, 403, 404, 410, size).
 * - needs_reconnect: the link is not connected (422 link_error.bad_state); park it until a webhook says otherwise.
 * - auth: our credentials are wrong; stop and tell ops.
 */
export const ERROR_CLASSES = ['rate_limited', 'retryable', 'terminal', 'needs_reconnect', 'auth'] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Plain data form of a classified failure, safe to store in the ledger and to log (no secrets, no bodies). */
export interface FailureInfo {
  errorClass: ErrorClass;
  status?: number;
  code?: string;
  message: string;
}

/** A program stopping at start because a setting is wrong: the message names the setting. */
export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${setting} ${reason}`);
    this.name = 'ConfigError';
  }
}
