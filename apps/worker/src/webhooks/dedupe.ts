/**
 * Webhook idempotency, at least once: MoneyKit retries a delivery (with backoff, for up to 2 hours) until we answer
 * 2xx, each time with the same `webhook_idempotency_key`. One key holds each delivery's fate:
 *
 *   (none)              never seen, or its processing failed and was released: the next delivery claims it
 *   processing:<token>  a receiver is applying it, under a short lease (DEFAULT_PROCESSING_LEASE_MS)
 *   done                applied: every later delivery is a duplicate for the dedupe TTL (longer than the retries)
 *
 * Why a lease and not "claim for the whole TTL": a receiver killed between claim and done would otherwise leave the
 * key claimed for hours, and every retry of that delivery would be acknowledged as a duplicate and never applied (a
 * lost `connected` leaves its link parked for good). The lease outlives any apply (one Lua script and an XADD:
 * milliseconds) and is far shorter than MoneyKit's retries; a delivery that finds it held is answered "busy" (the
 * route says 503, so MoneyKit retries later) instead of 200, and once a dead holder's lease runs out the next
 * retry claims the key and applies the event.
 *
 * Why not "apply first, mark done after" without a lease: two identical deliveries at once (a retry sent while the
 * first is still being answered) would both apply, and applying twice is not free — a second `connected` makes the
 * link due again at once, a second product refresh counts twice and writes a second event. With the lease that only
 * happens when a receiver dies after applying and before `done`, or an apply outlasts its lease (Redis stalled).
 *
 * `done` is written unconditionally (the event was applied, whoever holds the lease now); `release` only deletes a
 * lease that is still ours, so a late failure never erases another receiver's lease or its `done`.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { scriptSet, type Redis } from '@mk/shared';

/** Longer than MoneyKit's 2 h of retries. */
export const DEFAULT_DEDUPE_TTL_MS = 3 * 3_600_000;
/** A thousand times an apply, and short beside MoneyKit's backoff: a dead holder costs its event a retry or two. */
export const DEFAULT_PROCESSING_LEASE_MS = 5_000;

export type DedupeClaim =
  | { kind: 'claimed'; token: string }
  | { kind: 'done' }
  /** Another delivery holds the lease for this long (it finishes, or its dead holder's lease runs out). */
  | { kind: 'busy'; retryAfterMs: number };

export type DeliveryState = 'unseen' | 'processing' | 'done';

const DONE = 'done';
const PROCESSING = 'processing';

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), {
  mkWebhookClaim: { file: 'claim.lua', keys: 1 },
  mkWebhookRelease: { file: 'release.lua', keys: 1 },
});

export class WebhookDedupe {
  private readonly scripts: ReturnType<typeof SCRIPTS.on>;

  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (idempotencyKey: string) => string,
    private readonly ttlMs = DEFAULT_DEDUPE_TTL_MS,
    readonly leaseMs = DEFAULT_PROCESSING_LEASE_MS,
  ) {
    if (!(leaseMs > 0 && leaseMs < ttlMs))
      throw new Error(
        `webhook processing lease (${leaseMs} ms) must be positive and shorter than the dedupe TTL (${ttlMs} ms)`,
      );
    this.scripts = SCRIPTS.on(redis);
  }

  async claim(idempotencyKey: string): Promise<DedupeClaim> {
    const token = randomUUID();
    const [kind, ttl] = (await this.scripts.mkWebhookClaim(
      [this.keyOf(idempotencyKey)],
      [token, this.leaseMs, PROCESSING, DONE],
    )) as [string, number?];
    if (kind === 'claimed') return { kind, token };
    if (kind === 'done') return { kind };
    return { kind: 'busy', retryAfterMs: Number(ttl) };
  }

  /** Applied: later deliveries are duplicates for the dedupe TTL. */
  async done(idempotencyKey: string): Promise<void> {
    await this.redis.set(this.keyOf(idempotencyKey), DONE, 'PX', this.ttlMs);
  }

  /** Processing failed (the event may not be applied): MoneyKit's next retry claims the key at once. */
  async release(idempotencyKey: string, claim: Extract<DedupeClaim, { kind: 'claimed' }>): Promise<void> {
    await this.scripts.mkWebhookRelease([this.keyOf(idempotencyKey)], [claim.token, PROCESSING]);
  }

  /** Where a delivery stands (for ops and tests: 'done' means its event was applied). */
  async state(idempotencyKey: string): Promise<DeliveryState> {
    const v = await this.redis.get(this.keyOf(idempotencyKey));
    if (v === null) return 'unseen';
    return v === DONE ? 'done' : 'processing';
  }
}
