/**
 * `verify`'s reads of MoneyKit, paced in Redis so that every verify process (and every call of one) shares them:
 * each read takes a slot of the app-wide read budget (VERIFY_READS_PER_MIN), and a read of a link's accounts or of
 * the link itself also a slot of that link's own limit (MoneyKit: 4/min and 15/min per link). Slots are spaced
 * evenly (GCRA), so MoneyKit never sees a burst; a 429 still answered is waited out by the caller (Retry-After).
 */
import path from 'node:path';
import type { Redis } from 'ioredis';
import { MONEYKIT_READ_LIMITS, scriptSet } from '@mk/shared';
import type { EndpointName } from '@mk/moneykit-client';

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), { mkReadAcquire: { file: 'read-acquire.lua', keys: 1 } });

/** Per-link limits MoneyKit documents, per endpoint (calls per minute). */
const PER_LINK: Partial<Record<EndpointName, number>> = {
  get_link_accounts: MONEYKIT_READ_LIMITS.accountsPerLinkPerMin,
  get_link: MONEYKIT_READ_LIMITS.linkPerLinkPerMin,
};

export class ReadLimiter {
  private readonly scripts: ReturnType<typeof SCRIPTS.on>;

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
    if (perLink !== undefined && linkId) await this.slot(`${this.prefix}:ratelimit:read:${endpoint}:${linkId}`, Math.ceil(60_000 / perLink));
    await this.slot(`${this.prefix}:ratelimit:read`, Math.ceil(60_000 / this.readsPerMinute));
  }

  private async slot(key: string, intervalMs: number): Promise<void> {
    for (;;) {
      const waitMs = Number(await this.scripts.mkReadAcquire([key], [intervalMs]));
      if (waitMs <= 0) return;
      await new Promise((r) => setTimeout(r, waitMs + Math.floor(Math.random() * 20)));
    }
  }
}
