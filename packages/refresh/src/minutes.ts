/**
 * The refresh pipeline minute by minute, for the dashboard's charts: calls MoneyKit accepted, products the quota
 * deferred, links parked by a refresh answer. One small hash per minute (`<prefix>:refresh:m:<minute>`), expiring
 * after a few days, so the series costs a few KB whatever the number of links.
 */
import type { Redis } from '@mk/shared';

export const MINUTE_EVENTS = ['accepted', 'deferred', 'parked'] as const;
export type MinuteEvent = (typeof MINUTE_EVENTS)[number];

/** How long a minute's counts are kept. */
const KEEP_SECONDS = 3 * 24 * 3600;

export type RefreshHistory = { minutes: number[] } & Record<MinuteEvent, number[]>;

export class RefreshMinutes {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (minute: number) => string,
  ) {}

  /** Counts `n` events in the current minute (of this process's clock: a chart, not a quota). */
  async note(event: MinuteEvent, n = 1, now = Date.now()): Promise<void> {
    if (n <= 0) return;
    const key = this.keyOf(Math.floor(now / 60_000));
    await this.redis.multi().hincrby(key, event, n).expire(key, KEEP_SECONDS).exec();
  }

  /** The last `minutes` minutes, oldest first. */
  async history(minutes: number, now = Date.now()): Promise<RefreshHistory> {
    const last = Math.floor(now / 60_000);
    const range = Array.from({ length: minutes }, (_, i) => last - minutes + 1 + i);
    const pipe = this.redis.pipeline();
    for (const m of range) pipe.hmget(this.keyOf(m), ...MINUTE_EVENTS);
    const rows = ((await pipe.exec()) ?? []).map(([, v]) => (v as (string | null)[] | null) ?? []);
    const series = Object.fromEntries(MINUTE_EVENTS.map((e, j) => [e, rows.map((r) => Number(r[j] ?? 0))])) as Record<
      MinuteEvent,
      number[]
    >;
    return { minutes: range.map((m) => m * 60_000), ...series };
  }
}
