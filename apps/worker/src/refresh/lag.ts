/** How late refreshes go out after their due time, per process (ms): count, mean, max and a p99 from a reservoir. */
export class LagTracker {
  count = 0;
  sum = 0;
  max = 0;
  private sample: number[] = [];
  constructor(private readonly size = 10_000) {}

  record(lagMs: number): void {
    const v = Math.max(0, lagMs);
    this.count += 1;
    this.sum += v;
    if (v > this.max) this.max = v;
    if (this.sample.length < this.size) this.sample.push(v);
    else {
      const i = Math.floor(Math.random() * this.count);
      if (i < this.size) this.sample[i] = v;
    }
  }

  snapshot(): { count: number; meanMs: number; p50Ms: number; p99Ms: number; maxMs: number } {
    const sorted = [...this.sample].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
    return {
      count: this.count,
      meanMs: this.count ? this.sum / this.count : 0,
      p50Ms: q(0.5),
      p99Ms: q(0.99),
      maxMs: this.max,
    };
  }

  reset(): void {
    this.count = 0;
    this.sum = 0;
    this.max = 0;
    this.sample = [];
  }
}
