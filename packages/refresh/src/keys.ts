/**
 * Redis key layout of the refresh scheduler. Every key starts with the (hash-tagged) prefix. The buckets are
 * spread over `shards` hash tags (bucket % shards): with one shard (one Redis) every key is under <prefix> as it
 * always was; with more, shard n's keys are under <prefix with tag +':r'n> (`{mk}` → `{mk:r3}`), so a Redis Cluster
 * spreads them over its masters, and each script touches the keys of one shard only.
 *
 *   <prefix>:refresh:meta        hash   settings (bucket and shard counts) and counters
 *   <shard>:refresh:meta         hash   the shard's counters (the same key as above with one shard)
 *   <shard>:refresh:due          zset   bucket number → earliest due time in that bucket (ms)
 *   <shard>:refresh:d:<bucket>   zset   link id → next due time (ms): the due index, listpack-sized
 *   <shard>:refresh:s:<bucket>   hash   link id → packed state (state.ts): products, quota times, parked
 *   <shard>:refresh:w:<bucket>   hash   link id → last state-change webhook applied: <action><reason><time>
 *   <prefix>:refresh:429         zset   link id → time of its last 429 (tells per-link from app-wide)
 *   <prefix>:refresh:m:<minute>  hash   accepted, deferred, parked in that minute (minutes.ts; expires)
 *   <prefix>:refresh:events      stream notable events (parked, removed, stopped, failed) for ops
 *   <prefix>:refresh:trace:<link> list  the last steps of a traced link (trace.ts; only with traceSample > 0)
 *   <prefix>:webhook:seen:<key>  string a webhook delivery's fate: processing:<token> (short lease) or done
 */
import { DEFAULT_PREFIX, hashTagOf, withHashTag } from '@mk/shared';

/**
 * Default bucket count: ~61 links a bucket at a million links, so buckets stay under Redis's
 * listpack limit of 128 entries (hash-max-listpack-entries, zset-max-listpack-entries).
 */
export const DEFAULT_BUCKETS = 16_384;

/** Registry shards per cluster master when REFRESH_SHARDS is not set: a few per master keeps them even. */
export const SHARDS_PER_MASTER = 4;

/** The keys of one shard: what one script call touches (plus its buckets' keys, built from `base`). */
export interface ShardKeys {
  shard: number;
  base: string;
  meta: string;
  top: string;
}

export function refreshKeys(prefix: string = DEFAULT_PREFIX, shards = 1) {
  if (!(Number.isInteger(shards) && shards >= 1))
    throw new Error(`refresh shards must be a whole number >= 1, got ${shards}`);
  const base = `${prefix}:refresh:`;
  const shardBase = (n: number) => {
    if (shards === 1) return base;
    return hashTagOf(prefix) === undefined ? `${prefix}:r${n}:refresh:` : `${withHashTag(prefix, `r${n}`)}:refresh:`;
  };
  const shardOf = (bucket: number) => bucket % shards;
  const shard = (n: number): ShardKeys => {
    const b = shardBase(n);
    return { shard: n, base: b, meta: `${b}meta`, top: `${b}due` };
  };
  return {
    base,
    /** Settings and the counters written outside the scripts; with one shard, also the shard's. */
    meta: `${base}meta`,
    shards,
    shardOf,
    shard,
    /** Every shard's keys, shard 0 first. */
    allShards: () => Array.from({ length: shards }, (_, n) => shard(n)),
    state: (bucket: number) => `${shardBase(shardOf(bucket))}s:${bucket}`,
    index: (bucket: number) => `${shardBase(shardOf(bucket))}d:${bucket}`,
    webhookOrder: (bucket: number) => `${shardBase(shardOf(bucket))}w:${bucket}`,
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
