/**
 * How many refresh calls one process keeps in flight: additive increase, multiplicative decrease on timeouts.
 *
 * Why: a refresh whose answer we never get is counted as a refresh (it may have reached MoneyKit), so its products
 * wait a whole in-flight window plus the quota before the next try. When the upstream slows down (its load, our
 * machine's), a fixed concurrency keeps the queue at the upstream full, every call times out, and links are
 * "refreshed" by calls MoneyKit never processed — goodput collapses while we look busy. Backing off on timeouts keeps
 * the calls we make answerable. Other failures (5xx, 429, 4xx) are not congestion and do not move the limit.
 */
export type CallSignal = 'answered' | 'timedOut' | 'other';

export interface CongestionOptions {
  /** The ceiling (the worker's concurrency) and the starting point. */
  max: number;
  min?: number;
  /** One decrease per this many ms at most: a burst of timeouts from one slow spell halves the limit once. */
  cooldownMs: number;
  now?: () => number;
}

export class CongestionLimit {
  private limitValue: number;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private lastDecrease = -Infinity;
  private readonly min: number;
  private readonly now: () => number;

  constructor(private readonly opts: CongestionOptions) {
    this.min = Math.max(1, opts.min ?? 1);
    this.limitValue = Math.max(this.min, opts.max);
    this.now = opts.now ?? Date.now;
  }

  /** Calls allowed in flight at once right now. */
  get limit(): number {
    return Math.floor(this.limitValue);
  }

  get active(): number {
    return this.inFlight;
  }

  /** Resolves when a call may start; every acquire is paired with one release. */
  async acquire(): Promise<void> {
    while (this.inFlight >= this.limit) await new Promise<void>((resolve) => this.waiters.push(resolve));
    this.inFlight += 1;
  }

  /** Waits for one call to be allowed, then takes as many as are free, up to `wanted`; each is released on its own. */
  async acquireUpTo(wanted: number): Promise<number> {
    await this.acquire();
    const more = Math.max(0, Math.min(wanted - 1, this.limit - this.inFlight));
    this.inFlight += more;
    return 1 + more;
  }

  release(signal: CallSignal): void {
    this.inFlight -= 1;
    if (signal === 'answered') this.limitValue = Math.min(this.opts.max, this.limitValue + 1 / this.limitValue);
    else if (signal === 'timedOut' && this.now() - this.lastDecrease >= this.opts.cooldownMs) {
      this.limitValue = Math.max(this.min, this.limitValue / 2);
      this.lastDecrease = this.now();
    }
    // wake as many as may now start (the limit may have grown)
    for (let free = this.limit - this.inFlight; free > 0 && this.waiters.length > 0; free--) this.waiters.shift()!();
  }
}
