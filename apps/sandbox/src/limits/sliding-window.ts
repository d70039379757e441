/**
 * A sliding-log window: the exact number of events in the last `windowMs`. Used both to enforce a
 * per-minute limit and to measure the busiest minute a client produced.
 */
export class SlidingWindow {
  private times: number[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {}

  private evict(now: number): void {
    while (this.head < this.times.length && this.times[this.head]! <= now - this.windowMs) this.head += 1;
    // Compact now and then so the array does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }

  count(now = Date.now()): number {
    this.evict(now);
    return this.times.length - this.head;
  }

  record(now = Date.now()): number {
    this.evict(now);
    this.times.push(now);
    return this.times.length - this.head;
  }

  /** Records the event if fewer than `limit` happened in the window; otherwise says when a slot frees. */
  tryAdmit(limit: number, now = Date.now()): { admitted: true } | { admitted: false; retryAfterMs: number } {
    if (this.count(now) < limit) {
      this.times.push(now);
      return { admitted: true };
    }
    const oldest = this.times[this.times.length - limit]!;
    return { admitted: false, retryAfterMs: Math.max(1, oldest + this.windowMs - now) };
  }

  clear(): void {
    this.times = [];
    this.head = 0;
  }
}
