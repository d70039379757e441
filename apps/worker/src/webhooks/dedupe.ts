/**
 * Webhook idempotency: MoneyKit retries a delivery for up to 2 hours, each time with the same
 * `webhook_idempotency_key`. The first delivery to claim the key processes it; later ones are acknowledged
 * without processing. A delivery whose processing fails releases its key, so MoneyKit's next retry runs it.
 */
import type { Redis } from '@mk/shared';

/** Longer than MoneyKit's 2 h of retries. */
export const DEFAULT_DEDUPE_TTL_MS = 3 * 3_600_000;

export class WebhookDedupe {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (idempotencyKey: string) => string,
    private readonly ttlMs = DEFAULT_DEDUPE_TTL_MS,
  ) {}

  /** true when this delivery is the first with this key. */
  async claim(idempotencyKey: string): Promise<boolean> {
    return (await this.redis.set(this.keyOf(idempotencyKey), 'processing', 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async done(idempotencyKey: string): Promise<void> {
    await this.redis.set(this.keyOf(idempotencyKey), 'done', 'PX', this.ttlMs);
  }

  async release(idempotencyKey: string): Promise<void> {
    await this.redis.del(this.keyOf(idempotencyKey));
  }
}
