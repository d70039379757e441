/**
 * Every timer the sandbox starts (latencies, fault delays, refresh completions, webhook retries) goes
 * through one Timers so that close() cancels them all and the process can exit at once.
 */
export class Timers {
  private pending = new Set<NodeJS.Timeout>();
  private sleepers = new Set<() => void>();
  private closed = false;

  /** Runs `fn` after `ms` unless closed first. */
  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(
      () => {
        this.pending.delete(t);
        fn();
      },
      Math.max(0, ms),
    );
    this.pending.add(t);
  }

  /** Resolves after `ms`, or at once when closed (callers check `isClosed`). */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.add(wake);
      this.later(ms, wake);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Cancels scheduled work without closing (sandbox reset). */
  cancelAll(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
    for (const wake of [...this.sleepers]) wake();
  }

  close(): void {
    this.closed = true;
    this.cancelAll();
  }
}
