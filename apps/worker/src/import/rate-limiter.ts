/**
 * One limit on MoneyKit import calls for every worker process: a GCRA in Redis (Redis's own clock, so hosts with
 * skewed clocks agree). Calls are spaced evenly, never bursting; a 429 pushes the schedule past its Retry-After
 * for everyone, and what follows resumes at the steady pace instead of in a burst.
 */
import path from 'node:path';
import type { Redis } from '@mk/shared';
import { scriptSet } from '@mk/shared';

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), {
  mkImportAcquire: { file: 'acquire.lua', keys: 1 },
  mkImportHold: { file: 'hold.lua', keys: 1 },
});

export class ImportRateLimiter {
  private readonly intervalMs: number;
  private readonly key: string;
  private readonly scripts: ReturnType<typeof SCRIPTS.on>;

  constructor(redis: Redis, prefix: string, callsPerMinute: number) {
    this.intervalMs = Math.ceil(60_000 / callsPerMinute);
    this.key = `${prefix}:ratelimit:import`;
    this.scripts = SCRIPTS.on(redis);
  }

  /** Resolves when this process may send one import call; the slot is taken. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw new Error('rate limiter wait aborted');
      const waitMs = Number(await this.scripts.mkImportAcquire([this.key], [this.intervalMs]));
      if (waitMs <= 0) return;
      // Wake a little after our turn; the loser of a race simply waits again.
      await new Promise((r) => setTimeout(r, waitMs + Math.floor(Math.random() * 20)));
    }
  }

  /** After an upstream 429: every worker waits `ms` before the next import call. */
  async holdFor(ms: number): Promise<void> {
    await this.scripts.mkImportHold([this.key], [Math.max(0, Math.ceil(ms))]);
  }
}
