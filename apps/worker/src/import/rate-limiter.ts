/**
 * One limit on MoneyKit import calls for every worker process: a GCRA in Redis (Redis's own clock, so hosts with
 * skewed clocks agree). Calls are spaced evenly, never bursting; a 429 pushes the schedule past its Retry-After
 * for everyone, and what follows resumes at the steady pace instead of in a burst.
 */
import type { Redis } from 'ioredis';

// KEYS[1] = theoretical arrival time (ms). ARGV: interval ms. Returns ms to wait (0 = go, slot taken).
const ACQUIRE = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
if tat - now > 0 then return tat - now end
redis.call('SET', KEYS[1], tat + interval, 'PX', interval * 2 + 60000)
return 0
`;
// KEYS[1] = tat. ARGV: hold ms. Nobody goes before now + hold.
const HOLD = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local until_ = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > tat then redis.call('SET', KEYS[1], until_, 'PX', tonumber(ARGV[1]) + 60000) end
return until_
`;

export class ImportRateLimiter {
  private readonly intervalMs: number;
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    callsPerMinute: number,
  ) {
    this.intervalMs = Math.ceil(60_000 / callsPerMinute);
    this.key = `${prefix}:ratelimit:import`;
  }

  /** Resolves when this process may send one import call; the slot is taken. */
  async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw new Error('rate limiter wait aborted');
      const waitMs = Number(await this.redis.eval(ACQUIRE, 1, this.key, this.intervalMs));
      if (waitMs <= 0) return;
      // Wake a little after our turn; the loser of a race simply waits again.
      await new Promise((r) => setTimeout(r, waitMs + Math.floor(Math.random() * 20)));
    }
  }

  /** After an upstream 429: every worker waits `ms` before the next import call. */
  async holdFor(ms: number): Promise<void> {
    await this.redis.eval(HOLD, 1, this.key, Math.max(0, Math.ceil(ms)));
  }
}
