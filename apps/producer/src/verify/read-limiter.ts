/**
 * `verify`'s reads of MoneyKit, paced in Redis so that every verify process (and every call of one) shares them:
 * each read takes a slot of the app-wide read budget (VERIFY_READS_PER_MIN, spaced evenly: GCRA), and a read of a
 * link's accounts or of the link itself also fits that link's own limit as MoneyKit counts it (4 and 15 in any
 * 60 s: a sliding log per link, gone a minute after its last read). A 429 still answered is waited out by the
 * caller (Retry-After).
 */
import path from 'node:path';
import type { Redis } from '@mk/shared';
import { MONEYKIT_READ_LIMITS, scriptSet } from '@mk/shared';
import type { EndpointName } from '@mk/moneykit-client';

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), {
  mkReadAcquire: { file: 'read-acquire.lua', keys: 1 },
  mkReadWindow: { file: 'read-window.lua', keys: 1 },
});
const WINDOW_MS = 60_000;

/** Per-link limits MoneyKit documents, per endpoint (calls per minute). */
const PER_LINK: Partial<Record<EndpointName, number>> = {
  get_link_accounts: MONEYKIT_READ_LIMITS.accountsPerLinkPerMin,
  get_link: MONEYKIT_READ_LIMITS.linkPerLinkPerMin,
};

export class ReadLimiter {
  private readonly scripts: ReturnType<typeof SCRIPTS.on>;
  /** Makes each logged read a member of its own. */
  private seq = 0;
  /** Makes each logged read a member of its own. */
  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly readsPerMinute: number,
  ) {
    this.scripts = SCRIPTS.on(redis);
  }

  /** Resolves when this read may go: the app-wide slot, then the link's own for endpoints MoneyKit limits per link. */
  async acquire(endpoint: EndpointName, linkId?: string): Promise<void> {
    const perLink = PER_LINK[endpoint];
    if (perLink !== undefined && linkId)
      await this.wait(() =>
        this.scripts.mkReadWindow(
          [`${this.prefix}:ratelimit:read:${endpoint}:${linkId}`],
          [perLink, WINDOW_MS, `${process.pid}:${++this.seq}`],
        ),
      );
    const intervalMs = Math.ceil(60_000 / this.readsPerMinute);
    await this.wait(() => this.scripts.mkReadAcquire([`${this.prefix}:ratelimit:read`], [intervalMs]));
  }

  private async wait(take: () => Promise<unknown>): Promise<void> {
    for (;;) {
      const waitMs = Number(await take());
      if (waitMs <= 0) return;
      await new Promise((r) => setTimeout(r, waitMs + Math.floor(Math.random() * 20)));
    }
  }
}
