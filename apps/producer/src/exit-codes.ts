/** Typed exit codes: scripts around a migration tell outcomes apart without parsing output. */
export const EXIT = {
  /** Every connection imported, nothing rejected. */
  success: 0,
  /** The program could not run: bad config, unreachable Redis, unreadable dump. */
  error: 1,
  /** Finished; some connections failed or some records were rejected. */
  partial: 2,
  /** Finished; nothing was imported. */
  failure: 3,
  /** Not finished yet (status/report while jobs are still running). */
  inProgress: 4,
  /**
   * Stalled: nothing moves until someone acts, and the reason is printed (import queue paused, no worker alive,
   * MoneyKit unreachable, connections with no import job, producer stopped mid-dump).
   */
  stalled: 5,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
