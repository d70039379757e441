/**
 * Redis key layout of the refresh scheduler. Every key starts with the (hash-tagged) prefix, so a Redis
 * Cluster keeps them on one slot with the queues.
 *
 *   <prefix>:refresh:meta        hash   settings (bucket count) and counters
 *   <prefix>:refresh:due         zset   bucket number → earliest due time in that bucket (ms)
 *   <prefix>:refresh:d:<bucket>  zset   link id → next due time (ms): the due index, listpack-sized
 *   <prefix>:refresh:s:<bucket>  hash   link id → packed state (state.ts): products, quota times, parked
 *   <prefix>:refresh:w:<bucket>  hash   link id → last state-change webhook applied: <action><reason><time>
 *   <prefix>:refresh:429         zset   link id → time of its last 429 (tells per-link from app-wide)
 *   <prefix>:refresh:m:<minute>  hash   accepted, deferred, parked in that minute (minutes.ts; expires)
 *   <prefix>:refresh:events      stream notable events (parked, removed, stopped, failed) for ops
 *   <prefix>:refresh:trace:<link> list  the last steps of a traced link (trace.ts; only with traceSample > 0)
 *   <prefix>:webhook:seen:<key>  string a webhook delivery's fate: processing:<token> (short lease) or done
 */
import { DEFAULT_PREFIX } from '@mk/shared';

/**
 * Default bucket count: ~61 links a bucket at a million links, so buckets stay under Redis's
 * listpack limit of 128 entries (hash-max-listpack-entries, zset-max-listpack-entries).
 */
export const DEFAULT_BUCKETS = 16_384;

export function refreshKeys(prefix: string = DEFAULT_PREFIX) {
  const base = `${prefix}:refresh:`;
  return {
    base,
    meta: `${base}meta`,
    top: `${base}due`,
    state: (bucket: number) => `${base}s:${bucket}`,
    index: (bucket: number) => `${base}d:${bucket}`,
    webhookOrder: (bucket: number) => `${base}w:${bucket}`,
    recent429: `${base}429`,
    minute: (minute: number) => `${base}m:${minute}`,
    events: `${base}events`,
    trace: (linkId: string) => `${base}trace:${linkId}`,
    webhookSeen: (idempotencyKey: string) => `${prefix}:webhook:seen:${idempotencyKey}`,
  };
}
export type RefreshKeys = ReturnType<typeof refreshKeys>;

/** FNV-1a: the same bucket for a link in every process. */
export function bucketOf(linkId: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < linkId.length; i++) {
    h ^= linkId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}
