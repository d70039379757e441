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
 *   <prefix>:refresh:turn        string dispatcher rounds taken so far, over all processes: the next round's shard
 *   <prefix>:refresh:m:<minute>  hash   accepted, deferred, parked in that minute (minutes.ts; expires)
 *   <prefix>:refresh:events      stream notable events (parked, removed, stopped, failed) for ops
 *   <prefix>:refresh:trace:<link> list  the last steps of a traced link (trace.ts; only with traceSample > 0)
 *   <prefix>:webhook:seen:<key>  string a webhook delivery's fate: processing:<token> (short lease) or done
 */
import { DEFAULT_PREFIX, hashTagOf, withHashTag } from '@mk/shared';
import { DEFAULT_EXPECTED_LINKS } from './options';

/**
 * Links a bucket is sized for. Redis keeps a sorted set listpack-encoded (about half the memory of its skiplist form)
 * up to 128 entries (zset-max-listpack-entries), a hash up to 128 in the shipped redis.conf (512 built in:
 * hash-max-listpack-entries); a bucket's link count is Poisson-spread around the mean, so a mean of at most 64 keeps
 * the fullest of a million buckets under 128.
 */
export const LINKS_PER_BUCKET = 64;
/** Fewest buckets of a registry: room for any shard count a small deployment picks. */
export const MIN_BUCKETS = 64;

/**
 * Buckets of a registry sized for `expectedLinks`: a power of two with at most LINKS_PER_BUCKET links each on average
 * (1 M links → 16,384, the count every registry had before the setting; 10 M → 262,144).
 */
export function bucketsFor(expectedLinks: number): number {
  if (!(Number.isInteger(expectedLinks) && expectedLinks >= 1))
    throw new Error(`expected links must be a whole number >= 1, got ${expectedLinks}`);
  return Math.max(MIN_BUCKETS, 2 ** Math.ceil(Math.log2(expectedLinks / LINKS_PER_BUCKET)));
}

/**
 * The expected-links figures that give `buckets` buckets, for the message refusing a mismatch; undefined when none
 * does (a count given explicitly, as tests do).
 */
export function expectedLinksRange(buckets: number): { from: number; to: number } | undefined {
  const to = buckets * LINKS_PER_BUCKET;
  if (bucketsFor(to) !== buckets) return undefined;
  return { from: buckets === MIN_BUCKETS ? 1 : (buckets / 2) * LINKS_PER_BUCKET + 1, to };
}

/** Bucket count of a registry sized for REFRESH_EXPECTED_LINKS' default. */
export const DEFAULT_BUCKETS = bucketsFor(DEFAULT_EXPECTED_LINKS);

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
    turn: `${base}turn`,
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
