/**
 * The refresh registry: which links are kept fresh, with which products, when each is next due, and the
 * per-link quota ledger. Everything lives in Redis (keys.ts) and changes only through the Lua scripts, so
 * any number of worker processes, the webhook receiver and the CLI can act on it at once.
 */
import { ConfigError, defaultShards, type Product, type Redis } from '@mk/shared';
import {
  DEFAULT_BUCKETS,
  bucketOf,
  bucketsFor,
  expectedLinksRange,
  refreshKeys,
  type RefreshKeys,
  type ShardKeys,
} from './keys';
import { productTimings, resolveRefreshOptions, type ProductTiming, type RefreshOptions } from './options';
import { registryScripts, type RegisterEntry, type RegistryScripts } from './scripts';
import { RefreshMinutes } from './minutes';
import { RefreshTrace } from './trace';
import {
  PRODUCT_CODES,
  STOPPED_STATUSES,
  decodeLink,
  productFromCode,
  reasonCode,
  sortProducts,
  type LinkMode,
  type ProductStatus,
  type Reason,
} from './state';

export interface LinkRegistration {
  linkId: string;
  /** Products this link wants; default: the registry's defaultProducts. */
  products?: Product[];
  /** Register the link parked (imported links start disconnected: reason 'auth_expired'). */
  parked?: { reason: string };
  /** The migration run it came from (counted per run). */
  runId?: string;
}

export interface RegisterResult {
  added: number;
  /** Existing links whose wanted products changed. */
  updated: number;
  unchanged: number;
  /** Links removed earlier (404/410/deleted): never brought back by a registration. */
  removed: number;
}

export interface ProductRefreshState {
  product: Product;
  status: ProductStatus;
  /** Why it is no longer refreshed (forbidden: MoneyKit answered 403; notGranted: not among the link's products). */
  stopped?: 'forbidden' | 'notGranted';
  /** The last moment MoneyKit may have received a refresh of it from us (provisional while in flight), ms. */
  lastRefreshAt?: number;
  /** Earliest time the quota lets us refresh it again, ms. */
  nextAllowedAt?: number;
  /** When it is planned to be refreshed next, ms (undefined when stopped). */
  nextDueAt?: number;
}

export interface LinkRefreshState {
  linkId: string;
  mode: LinkMode;
  parked?: { reason: Reason };
  removed?: { reason: Reason };
  /** The link's score in the due index: its next dispatch (or the lease end while a job is out), ms. */
  scheduledAt?: number;
  products: ProductRefreshState[];
}

export interface RefreshStats {
  /** Links kept by the registry (active + parked), removed ones excluded. */
  registered: number;
  active: number;
  parked: number;
  removed: number;
  /** Links whose due time has come and that are not yet in the queue. */
  dueNow: number;
  /** Of those, due for longer than overdueMs. */
  overdue: number;
  nextDueAt?: number;
  dispatched: number;
  accepted: number;
  /** Claims refused because the quota window had not passed (each would have been an early refresh). */
  quotaDeferrals: number;
  /** Due products held back a little to go in one call with another product of the link. */
  groupDeferrals: number;
  uncertain: number;
  forbidden: number;
  notGranted: number;
  parkedByRefresh: number;
  removedByRefresh: number;
  rateLimitedLink: number;
  rateLimitedApp: number;
  /** Calls refused because our own credentials were (the queue pauses). */
  authFailures: number;
  retries: number;
  resumed: number;
  /** Claims given back unsent because the process stalled too long between claim and send (then claimed afresh). */
  staleClaims: number;
  /** Refresh jobs that failed for good (an unexpected error, or killed workers too often); the link is re-dispatched. */
  jobsFailed: number;
  /** Uncertain calls looked up on MoneyKit once they could no longer arrive, and of those, calls it never received. */
  uncertainChecked: number;
  uncertainUnsent: number;
  buckets: number;
  /** Hash tags the buckets are spread over (REFRESH_SHARDS; 1 on one Redis). */
  shards: number;
  /** Bucket keys whose encoding was sampled (OBJECT ENCODING of a random few buckets' hashes and sorted sets). */
  encodingSampled: number;
  /**
   * Share (0..1) of the sampled bucket keys that are not listpack-encoded: buckets grown past Redis's listpack
   * limits cost about twice the memory. Above 0 the registry holds more links than REFRESH_EXPECTED_LINKS sized it for.
   */
  nonListpackShare: number;
}

/** What OBJECT ENCODING of a sample of bucket keys found. */
export interface EncodingHealth {
  sampled: number;
  notListpack: number;
  /** notListpack / sampled (0 when nothing was sampled). */
  share: number;
}

/** Buckets whose keys stats() samples: enough to see a few percent grown out of listpack, cheap on every scrape. */
const ENCODING_SAMPLE_BUCKETS = 64;
/** The compact encodings (ziplist: Redis before 7). */
const COMPACT_ENCODINGS = new Set(['listpack', 'ziplist']);

const COUNTERS = [
  'dispatched',
  'accepted',
  'quotaDeferrals',
  'groupDeferrals',
  'uncertain',
  'forbidden',
  'notGranted',
  'parkedByRefresh',
  'removedByRefresh',
  'rateLimitedLink',
  'rateLimitedApp',
  'authFailures',
  'retries',
  'resumed',
  'staleClaims',
  'jobsFailed',
  'uncertainChecked',
  'uncertainUnsent',
] as const;
export type RefreshCounter = (typeof COUNTERS)[number];

export interface DueLink {
  linkId: string;
  bucket: number;
  products: Product[];
  /** When the link became due (its score in the due index), ms. */
  dueAt: number;
  /** End of its hand-over lease (its score unless settled or confirmQueued), ms. */
  handOverUntil: number;
}

export type Claim =
  | { kind: 'gone'; linkId: string; mode: LinkMode | 'unknown'; reason?: Reason }
  | {
      kind: 'claimed';
      linkId: string;
      bucket: number;
      /** Products we may send now (possibly none: all deferred by the quota). */
      products: Product[];
      /** Compare-and-set token: settle() only touches products still carrying it. */
      token: number;
      previous: string;
      /** Due time of each claimed product before the claim (0 = never refreshed), ms. */
      dueTimes: number[];
      /** Earliest moment a product left out by the quota may be claimed, ms. */
      deferredUntil?: number;
      /** Local clock just before the claim was asked for: its age bounds how late the call may still go out. */
      askedAt: number;
    };

/** What became of a refresh call (decided in outcome.ts). */
export type Settlement =
  | { action: 'accepted'; granted?: Product[] }
  | { action: 'uncertain'; answered: boolean }
  /** MoneyKit says an uncertain call never arrived (asked once it could no longer arrive): its quota was not spent. */
  | { action: 'unsent' }
  | { action: 'rollback' }
  | { action: 'retry' }
  | { action: 'later'; delayMs: number }
  | { action: 'park'; reason: string }
  | { action: 'remove'; reason: string }
  | { action: 'stop'; products: Product[]; why: 'forbidden' | 'notGranted' };

export type Claimed = Extract<Claim, { kind: 'claimed' }>;

/** What a settlement left: the link's mode and, while it is scheduled, its next due time. */
export interface Settled {
  mode: string;
  nextDueAt?: number;
}

/** The settle script's argument of each action (see settle.lua). */
function settleArg(s: Settlement): string {
  switch (s.action) {
    case 'accepted':
      return s.granted ? codesOf(s.granted) : '*';
    case 'uncertain':
      return s.answered ? 'answered' : 'silent';
    case 'later':
      return String(Math.max(0, Math.round(s.delayMs)));
    case 'park':
    case 'remove':
      return reasonCode(s.reason);
    case 'stop':
      return `${codesOf(s.products)}:${s.why === 'forbidden' ? 'x' : 'g'}`;
    default:
      return '';
  }
}

export type LinkAction = 'park' | 'resume' | 'remove' | 'trigger';
export type LinkActionResult = 'unknown' | 'removed' | 'stale' | 'parked' | 'due' | 'recorded' | 'ignored' | LinkMode;

export interface RegistryOptions extends Partial<RefreshOptions> {
  /**
   * Bucket count of a new registry (tests; otherwise derived from expectedLinks). An existing registry with another
   * count is refused, as for expectedLinks.
   */
  buckets?: number;
  /** Shard count of a new registry (REFRESH_SHARDS); an existing one keeps its own. Default: see open(). */
  shards?: number;
}

const count = (n: number) => n.toLocaleString('en-US');

/** Refuses to open a registry with another bucket count than it was created with, saying which figures fit. */
function bucketMismatch(root: string, buckets: number, wanted: number, fromSetting: boolean): Error {
  const fits = expectedLinksRange(buckets);
  const why =
    `asks for ${count(wanted)} buckets, but the registry at ${root} was created with ${count(buckets)}` +
    `${fits ? ` (sized for up to ${count(fits.to)} links)` : ''}. The bucket count is fixed for the life of a ` +
    `registry: with another one, links would be looked for in buckets they are not in.`;
  if (!fromSetting) return new Error(`refresh registry: buckets ${count(wanted)} ${why}`);
  const instead = fits
    ? `Set REFRESH_EXPECTED_LINKS between ${count(fits.from)} and ${count(fits.to)} (the same in every process)`
    : 'No REFRESH_EXPECTED_LINKS gives that count (it was created with an explicit one)';
  return new ConfigError(
    'REFRESH_EXPECTED_LINKS',
    `${why} ${instead}, or, to size it for more links, register them into a new registry under another REDIS_PREFIX.`,
  );
}

const MODE_NAMES: Record<string, LinkMode> = { '.': 'active', p: 'parked', x: 'removed' };
/** link.lua answers a word, or the link's mode char when the action changed nothing. */
const linkResult = (r: string): LinkActionResult => MODE_NAMES[r] ?? (r as LinkActionResult);
const REGISTER_CHUNK = 500;
const EVENTS_MAXLEN = 10_000;

function timingArg(timings: Record<Product, ProductTiming>): string {
  return Object.entries(timings)
    .map(([p, t]) => `${PRODUCT_CODES[p as Product]}:${t.allowMs}:${t.intervalMs}:${t.deferMs}`)
    .join(';');
}
const codesOf = (products: Iterable<Product>) =>
  sortProducts(products)
    .map((p) => PRODUCT_CODES[p])
    .join('');
const productsOf = (codes: string) => sortProducts([...codes].map(productFromCode));

export class RefreshRegistry {
  readonly keys: RefreshKeys;
  readonly options: RefreshOptions;
  readonly timings: Record<Product, ProductTiming>;
  readonly trace: RefreshTrace;
  /** Accepted, deferred and parked per minute, for the dashboard's charts. */
  readonly minutes: RefreshMinutes;
  private readonly timing: string;
  private readonly scripts: RegistryScripts;

  private constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly buckets: number,
    readonly shards: number,
    options: RefreshOptions,
  ) {
    this.keys = refreshKeys(prefix, shards);
    this.options = options;
    this.timings = productTimings(options);
    this.timing = timingArg(this.timings);
    this.scripts = registryScripts(redis, this.keys, this.timing);
    this.trace = new RefreshTrace(redis, this.keys.trace, options.traceSample);
    this.minutes = new RefreshMinutes(redis, this.keys.minute);
  }

  /**
   * Opens (creating if needed) the registry under `prefix`; every process agrees on the bucket and shard counts (the
   * first to open it writes them). Buckets: `opts.buckets`, else bucketsFor(`expectedLinks`, REFRESH_EXPECTED_LINKS);
   * an existing registry with another count is refused (neither given: it is taken as it is). Shards: `opts.shards` (REFRESH_SHARDS), else 1 on one Redis and the cluster's
   * masters × SHARDS_PER_MASTER on a cluster.
   */
  static async open(redis: Redis, prefix: string, opts: RegistryOptions = {}): Promise<RefreshRegistry> {
    const { buckets: given, shards: wantedShards, ...rest } = opts;
    const options = resolveRefreshOptions(rest);
    const root = refreshKeys(prefix).meta;
    const wanted = given ?? (options.expectedLinks === undefined ? undefined : bucketsFor(options.expectedLinks));
    await redis.hsetnx(root, 'buckets', String(wanted ?? DEFAULT_BUCKETS));
    const buckets = Number(await redis.hget(root, 'buckets'));
    if (!(buckets > 0)) throw new Error(`refresh registry at ${root} has an invalid bucket count`);
    // A link's bucket is its id's hash modulo the count: another count would look for links where they are not.
    if (wanted !== undefined && wanted !== buckets) throw bucketMismatch(root, buckets, wanted, given === undefined);
    // A registry made before shards existed has one (its keys are where they always were).
    const existing = await redis.hlen(root);
    await redis.hsetnx(
      root,
      'shards',
      String(
        existing > 1 && wantedShards === undefined
          ? 1
          : Math.min(buckets, wantedShards ?? (await defaultShards(redis))),
      ),
    );
    const shards = Number(await redis.hget(root, 'shards'));
    if (!(Number.isInteger(shards) && shards >= 1 && shards <= buckets))
      throw new Error(`refresh registry at ${root} has an invalid shard count (${shards})`);
    return new RefreshRegistry(redis, prefix, buckets, shards, options);
  }

  shardOfLink(linkId: string): ShardKeys {
    return this.keys.shard(this.keys.shardOf(this.bucketOf(linkId)));
  }

  /** Each shard's counters once (with one shard the root meta is the shard's). */
  private metaKeys(): string[] {
    return [...new Set([this.keys.meta, ...this.keys.allShards().map((s) => s.meta)])];
  }

  bucketOf(linkId: string): number {
    return bucketOf(linkId, this.buckets);
  }

  /** Idempotent: an existing link keeps its schedule, quota times and parked state; only given products change. */
  async register(links: LinkRegistration[]): Promise<RegisterResult> {
    const total: RegisterResult = { added: 0, updated: 0, unchanged: 0, removed: 0 };
    const runs = new Map<string, number>();
    for (let i = 0; i < links.length; i += REGISTER_CHUNK) {
      const byShard = new Map<number, RegisterEntry[]>();
      for (const link of links.slice(i, i + REGISTER_CHUNK)) {
        if (!link.linkId) throw new Error('registerLinks: every link needs a linkId');
        const products = codesOf(link.products ?? this.options.defaultProducts);
        const bucket = this.bucketOf(link.linkId);
        const shard = this.keys.shardOf(bucket);
        if (!byShard.has(shard)) byShard.set(shard, []);
        byShard.get(shard)!.push({
          linkId: link.linkId,
          bucket,
          codes: `${link.products ? '!' : ''}${products}`,
          parkReason: link.parked ? reasonCode(link.parked.reason) : '',
          firstDueOffsetMs: Math.floor(Math.random() * this.options.firstDueSpreadMs),
        });
        if (link.runId) runs.set(link.runId, (runs.get(link.runId) ?? 0) + 1);
      }
      for (const [shard, entries] of byShard) {
        const [added, updated, unchanged, removed] = await this.scripts.register(this.keys.shard(shard), entries);
        total.added += added!;
        total.updated += updated!;
        total.unchanged += unchanged!;
        total.removed += removed!;
      }
    }
    for (const [runId, count] of runs) await this.redis.hincrby(this.keys.meta, `run:${runId}`, count);
    for (const link of links) {
      if (this.trace.traced(link.linkId))
        await this.trace.note(
          link.linkId,
          'registered',
          `${(link.products ?? this.options.defaultProducts).join('+')}${link.parked ? `, parked: ${link.parked.reason}` : ''}`,
        );
    }
    return total;
  }

  park(linkId: string, reason: string): Promise<LinkActionResult> {
    return this.linkAction(linkId, 'park', reason);
  }

  /** Back into the schedule, due at once (the quota still applies). */
  resume(linkId: string): Promise<LinkActionResult> {
    return this.linkAction(linkId, 'resume');
  }

  /** Out of the schedule for good (a tombstone keeps the reason; registering it again does not revive it). */
  remove(linkId: string, reason: string): Promise<LinkActionResult> {
    return this.linkAction(linkId, 'remove', reason);
  }

  /** Due at once: the dispatcher sends whatever the quota allows, the rest waits for its window. */
  trigger(linkId: string): Promise<LinkActionResult> {
    return this.linkAction(linkId, 'trigger');
  }

  /**
   * One link action; `eventAt` (ms) marks it as coming from a webhook, so an older event delivered late
   * is ignored ('stale') instead of undoing a newer one.
   */
  async linkAction(linkId: string, action: LinkAction, reason = 'none', eventAt?: number): Promise<LinkActionResult> {
    const b = this.bucketOf(linkId);
    const result = linkResult(
      await this.scripts.link({
        bucket: b,
        linkId,
        action,
        reasonCode: reasonCode(reason),
        ...(eventAt !== undefined && { eventAt }),
      }),
    );
    if (result === 'parked' || (result === 'removed' && action === 'remove'))
      await this.event(result, linkId, { reason });
    await this.trace.note(
      linkId,
      eventAt === undefined ? 'action' : 'webhook',
      `${action}${reason !== 'none' ? ` (${reason})` : ''} → ${result}`,
    );
    return result;
  }

  /** A `link.product_refresh` webhook: what became of the refresh MoneyKit accepted. */
  async recordProductRefresh(
    linkId: string,
    product: Product,
    state: 'pending' | 'in_progress' | 'completed' | 'failed',
    errorMessage?: string | null,
  ): Promise<LinkActionResult> {
    const b = this.bucketOf(linkId);
    const status = state === 'completed' ? 'c' : state === 'failed' ? 'f' : 'q';
    const result = linkResult(
      await this.scripts.link({
        bucket: b,
        linkId,
        action: 'product',
        reasonCode: '0',
        productCode: PRODUCT_CODES[product],
        status,
      }),
    );
    if (result === 'recorded') {
      await this.redis.hincrby(
        this.keys.meta,
        state === 'failed'
          ? 'productRefreshFailed'
          : state === 'completed'
            ? 'productRefreshCompleted'
            : 'productRefreshPending',
        1,
      );
      if (state === 'failed')
        await this.event('product_refresh_failed', linkId, { product, message: errorMessage ?? '' });
    }
    return result;
  }

  async get(linkId: string): Promise<LinkRefreshState | null> {
    const b = this.bucketOf(linkId);
    const [packed, score] = await Promise.all([
      this.redis.hget(this.keys.state(b), linkId),
      this.redis.zscore(this.keys.index(b), linkId),
    ]);
    if (packed === null) return null;
    const link = decodeLink(packed);
    const products = link.products.map((p): ProductRefreshState => {
      const t = this.timings[p.product];
      const stopped = STOPPED_STATUSES.has(p.status) ? (p.status as 'forbidden' | 'notGranted') : undefined;
      const out: ProductRefreshState = { product: p.product, status: p.status };
      if (stopped) out.stopped = stopped;
      if (p.refAt !== undefined) {
        out.lastRefreshAt = p.refAt;
        out.nextAllowedAt = p.refAt + t.allowMs;
      }
      if (!stopped) {
        const again = p.status === 'retry' || p.status === 'inFlight';
        out.nextDueAt = p.refAt === undefined ? 0 : p.refAt + (again ? t.allowMs : t.intervalMs);
      }
      return out;
    });
    const state: LinkRefreshState = { linkId, mode: link.mode, products };
    if (link.mode === 'parked') state.parked = { reason: link.reason };
    if (link.mode === 'removed') state.removed = { reason: link.reason };
    if (score !== null) state.scheduledAt = Number(score);
    return state;
  }

  /** The registry's figures, summed over its shards. */
  async stats(): Promise<RefreshStats> {
    const [metas, [sec, usec]] = await Promise.all([
      Promise.all(this.metaKeys().map((k) => this.redis.hgetall(k))),
      this.redis.time(),
    ]);
    const meta: Record<string, number> = {};
    for (const m of metas)
      for (const [k, v] of Object.entries(m))
        if (k !== 'buckets' && k !== 'shards') meta[k] = (meta[k] ?? 0) + Number(v);
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    const tops = this.keys.allShards().map((s) => s.top);
    let dueNow = 0;
    let overdue = 0;
    // A pipeline stays within one shard: on a cluster, one node.
    for (const top of tops) {
      const dueBuckets = await this.redis.zrangebyscore(top, '-inf', now);
      for (let i = 0; i < dueBuckets.length; i += 1000) {
        const pipe = this.redis.pipeline();
        for (const b of dueBuckets.slice(i, i + 1000)) {
          pipe.zcount(this.keys.index(Number(b)), '-inf', now);
          pipe.zcount(this.keys.index(Number(b)), '-inf', now - this.options.overdueMs);
        }
        const res = (await pipe.exec()) ?? [];
        res.forEach(([, n], j) => (j % 2 === 0 ? (dueNow += Number(n)) : (overdue += Number(n))));
      }
    }
    const firsts = (await Promise.all(tops.map((top) => this.redis.zrange(top, 0, 0, 'WITHSCORES'))))
      .filter((f) => f[1] !== undefined)
      .map((f) => Number(f[1]));
    const n = (k: string) => meta[k] ?? 0;
    const health = await this.encodingHealth();
    const stats = {
      encodingSampled: health.sampled,
      nonListpackShare: health.share,
      registered: n('links'),
      active: n('links') - n('parked'),
      parked: n('parked'),
      removed: n('removed'),
      dueNow,
      overdue,
      buckets: this.buckets,
      shards: this.shards,
      ...Object.fromEntries(COUNTERS.map((c) => [c, n(c)])),
    } as RefreshStats;
    if (firsts.length > 0) stats.nextDueAt = Math.min(...firsts);
    return stats;
  }

  /**
   * OBJECT ENCODING of the state hash, due sorted set and webhook-order hash of `sampleBuckets` random buckets: the
   * share not listpack-encoded tells a registry outgrowing its bucket count (REFRESH_EXPECTED_LINKS).
   */
  async encodingHealth(sampleBuckets = ENCODING_SAMPLE_BUCKETS): Promise<EncodingHealth> {
    const picked = new Set<number>();
    if (sampleBuckets >= this.buckets) for (let b = 0; b < this.buckets; b++) picked.add(b);
    else while (picked.size < sampleBuckets) picked.add(Math.floor(Math.random() * this.buckets));
    const byShard = new Map<number, number[]>();
    for (const b of picked) {
      const shard = this.keys.shardOf(b);
      if (!byShard.has(shard)) byShard.set(shard, []);
      byShard.get(shard)!.push(b);
    }
    let sampled = 0;
    let notListpack = 0;
    // A pipeline stays within one shard: on a cluster, one node.
    for (const group of byShard.values()) {
      const pipe = this.redis.pipeline();
      for (const b of group)
        for (const key of [this.keys.state(b), this.keys.index(b), this.keys.webhookOrder(b)])
          pipe.object('ENCODING', key);
      for (const [err, encoding] of (await pipe.exec()) ?? []) {
        if (err || encoding === null) continue; // no such key: an empty bucket
        sampled += 1;
        if (!COMPACT_ENCODINGS.has(String(encoding))) notListpack += 1;
      }
    }
    return { sampled, notListpack, share: sampled === 0 ? 0 : notListpack / sampled };
  }

  /**
   * Moves up to `batch` due links out of the due index of up to `maxShards` shards (rotating, so none waits behind
   * another), leased for the hand-over (handOverMs): jobs still queued later get the long lease (confirmQueued).
   * Safe to call from many processes.
   */
  async takeDue(batch = this.options.dispatchBatch, maxShards = this.shards): Promise<DueLink[]> {
    // One script per shard (each one slot), until the batch is full.
    const out: DueLink[] = [];
    // rounds take turns over the shards across all processes, so none waits behind another and every dispatching
    // process shortens each shard's wait (a local turn lets processes fall into step, visiting a shard back to back)
    const start = this.shards === 1 ? 0 : (await this.redis.incr(this.keys.turn)) % this.shards;
    for (let k = 0; k < Math.min(maxShards, this.shards) && out.length < batch; k++) {
      const flat = await this.scripts.dispatch(
        this.keys.shard((start + k) % this.shards),
        batch - out.length,
        this.options.handOverMs,
      );
      for (let i = 0; i < flat.length; i += 5) {
        out.push({
          linkId: flat[i]!,
          bucket: Number(flat[i + 1]),
          products: productsOf(flat[i + 2]!),
          dueAt: Number(flat[i + 3]),
          handOverUntil: Number(flat[i + 4]),
        });
      }
    }
    for (const d of out)
      if (this.trace.traced(d.linkId))
        await this.trace.note(
          d.linkId,
          'dispatched',
          `${d.products.join('+')}, due since ${new Date(d.dueAt).toISOString()}`,
        );
    return out;
  }

  /** The jobs of these links are in the queue: their hand-over lease becomes the long one (leaseMs). */
  async confirmQueued(links: DueLink[]): Promise<number> {
    if (links.length === 0) return 0;
    const byShard = new Map<number, DueLink[]>();
    for (const d of links) {
      const shard = this.keys.shardOf(d.bucket);
      if (!byShard.has(shard)) byShard.set(shard, []);
      byShard.get(shard)!.push(d);
    }
    let extended = 0;
    for (const [shard, group] of byShard)
      extended += await this.scripts.confirm(this.keys.shard(shard), this.options.leaseMs, group);
    return extended;
  }

  /** The quota gate: atomically claims those of `products` whose window has passed. */
  async claim(linkId: string, products: Product[]): Promise<Claim> {
    return (await this.claimMany([{ linkId, products }]))[0]!;
  }

  /** claim() for many links: one script call per shard they are in (a dispatched batch is of one shard). */
  async claimMany(wanted: { linkId: string; products: Product[] }[]): Promise<Claim[]> {
    const askedAt = Date.now();
    const claims = new Array<Claim>(wanted.length);
    const entries = wanted.map((w, i) => ({
      i,
      linkId: w.linkId,
      bucket: this.bucketOf(w.linkId),
      codes: codesOf(w.products),
    }));
    let deferred = 0;
    for (const [shard, group] of this.byShard(entries)) {
      const answers = await this.scripts.claim(this.keys.shard(shard), this.options.inFlightMs, group);
      group.forEach((e, j) => {
        const [status, codes = '', token, previous = '', dues = '', later = ''] = answers[j]!;
        if (status === 'gone') {
          const mode = MODE_NAMES[codes[0] ?? ''] ?? 'unknown';
          claims[e.i] = { kind: 'gone', linkId: e.linkId, mode, ...(codes[1] && { reason: decodeLink(codes).reason }) };
          return;
        }
        const claim: Claimed = {
          kind: 'claimed',
          linkId: e.linkId,
          bucket: e.bucket,
          products: productsOf(codes),
          token: Number(token),
          previous,
          dueTimes: dues ? dues.split(',').map(Number) : [],
          askedAt,
        };
        if (later) {
          claim.deferredUntil = Number(later);
          deferred += wanted[e.i]!.products.length - claim.products.length;
        }
        claims[e.i] = claim;
      });
    }
    await this.minutes.note('deferred', deferred);
    for (const claim of claims) {
      if (claim.kind !== 'claimed' || !this.trace.traced(claim.linkId)) continue;
      const rest = claim.deferredUntil
        ? `; quota holds the rest until ${new Date(claim.deferredUntil).toISOString()}`
        : '';
      await this.trace.note(
        claim.linkId,
        claim.products.length ? 'claimed' : 'deferred',
        `${claim.products.join('+') || 'nothing claimable'}${rest}`,
      );
    }
    return claims;
  }

  async settle(claim: Claimed, s: Settlement): Promise<Settled> {
    return (await this.settleMany([{ claim, settlement: s }]))[0]!;
  }

  /** settle() for many calls: one script call per shard, the minute counts once. */
  async settleMany(calls: { claim: Claimed; settlement: Settlement }[]): Promise<Settled[]> {
    const results = new Array<Settled>(calls.length);
    const entries = calls.map(({ claim, settlement: s }, i) => ({
      i,
      linkId: claim.linkId,
      bucket: claim.bucket,
      codes: codesOf(claim.products),
      token: claim.token,
      previous: claim.previous,
      action: s.action,
      arg: settleArg(s),
    }));
    for (const [shard, group] of this.byShard(entries)) {
      const answers = await this.scripts.settle(this.keys.shard(shard), this.options.jitterFraction, group);
      group.forEach((e, j) => {
        const [mode, due] = answers[j]!;
        results[e.i] = { mode: MODE_NAMES[mode] ?? mode, ...(due && { nextDueAt: Number(due) }) };
      });
    }
    const tally = (action: Settlement['action']) => calls.filter((c) => c.settlement.action === action).length;
    await this.minutes.note('accepted', tally('accepted'));
    await this.minutes.note('parked', tally('park'));
    for (const [i, { claim, settlement: s }] of calls.entries()) {
      if (s.action === 'park' || s.action === 'remove')
        await this.event(s.action === 'park' ? 'parked' : 'removed', claim.linkId, { reason: s.reason });
      if (s.action === 'stop')
        await this.event('stopped', claim.linkId, { products: s.products.join('+'), reason: s.why });
      if (!this.trace.traced(claim.linkId)) continue;
      const { nextDueAt } = results[i]!;
      const arg = entries[i]!.arg;
      const next = nextDueAt === undefined ? 'not scheduled' : `next due ${new Date(nextDueAt).toISOString()}`;
      await this.trace.note(
        claim.linkId,
        'settled',
        `${s.action}${arg && s.action !== 'accepted' ? ` ${arg}` : ''} → ${next}`,
      );
    }
    return results;
  }

  /** Groups by the shard of their bucket, in order. */
  private byShard<T extends { bucket: number }>(items: T[]): Map<number, T[]> {
    const groups = new Map<number, T[]>();
    for (const item of items) {
      const shard = this.keys.shardOf(item.bucket);
      if (!groups.has(shard)) groups.set(shard, []);
      groups.get(shard)!.push(item);
    }
    return groups;
  }

  /**
   * When the claim was taken (Redis clock) and when its call can no longer reach MoneyKit (the claim's token: it counts
   * as a refresh from then on), for checking an uncertain outcome afterwards.
   */
  claimWindow(claim: Claimed): { claimedAt: number; arrivesBy: number } {
    return { claimedAt: claim.token - this.options.inFlightMs, arrivesBy: claim.token };
  }

  /**
   * Gives back the quota of those products of an uncertain call that MoneyKit never received (see refreshCheckJob):
   * only while they still carry that call's uncertain outcome, so a refresh recorded since is never undone.
   */
  async unsent(check: {
    linkId: string;
    products: Product[];
    claimedAt: number;
    previous: string;
    claimedProducts: Product[];
  }): Promise<Settled> {
    // the claim's previous entries are in its product order: keep those of the products given back
    const entries = check.previous.split(',');
    const order = sortProducts(check.claimedProducts);
    const kept = sortProducts(check.products).map((p) => entries[order.indexOf(p)] ?? '-');
    const claim: Claimed = {
      kind: 'claimed',
      linkId: check.linkId,
      bucket: this.bucketOf(check.linkId),
      products: sortProducts(check.products),
      token: check.claimedAt,
      previous: kept.join(','),
      dueTimes: [],
      askedAt: Date.now(),
    };
    return this.settle(claim, { action: 'unsent' });
  }

  /** Plans the link again from its state (a claim that got nothing, a job for a link that changed). */
  async reschedule(linkId: string, notBefore?: number): Promise<void> {
    if (notBefore === undefined) return this.rescheduleMany([linkId]);
    const [sec, usec] = await this.redis.time();
    const now = Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    await this.settle(this.noClaim(linkId), { action: 'later', delayMs: notBefore - now });
  }

  /** reschedule() for many links at once (one script call per shard). */
  async rescheduleMany(linkIds: string[]): Promise<void> {
    if (linkIds.length === 0) return;
    await this.settleMany(linkIds.map((id) => ({ claim: this.noClaim(id), settlement: { action: 'rollback' } })));
  }

  /** A claim of nothing: settling it only plans the link from its state. */
  private noClaim(linkId: string): Claimed {
    return {
      kind: 'claimed',
      linkId,
      bucket: this.bucketOf(linkId),
      products: [],
      token: 0,
      previous: '',
      dueTimes: [],
      askedAt: Date.now(),
    };
  }

  /** Notes a 429 for the link; returns how many distinct links got one within appRateLimitWindowMs. */
  async note429(linkId: string): Promise<number> {
    return this.scripts.note429(linkId, this.options.appRateLimitWindowMs);
  }

  async count(counter: RefreshCounter, by = 1): Promise<void> {
    await this.redis.hincrby(this.keys.meta, counter, by);
  }

  /** Recent notable events (newest first), for the CLI and the dashboard. */
  async recentEvents(
    count = 100,
  ): Promise<{ id: string; at: number; type: string; linkId: string; [k: string]: string | number }[]> {
    const entries = await this.redis.xrevrange(this.keys.events, '+', '-', 'COUNT', count);
    return entries.map(([id, fields]) => {
      const rec: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) rec[fields[i]!] = fields[i + 1]!;
      return { id, at: Number(id.split('-')[0]), type: rec.type ?? '', linkId: rec.link ?? '', ...rec };
    });
  }

  private async event(type: string, linkId: string, fields: Record<string, string>): Promise<void> {
    const flat = Object.entries(fields).flatMap(([k, v]) => [k, v]);
    await this.redis.xadd(this.keys.events, 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', type, 'link', linkId, ...flat);
  }
}

/** The one entry point for the import pipeline and for links the company already has. */
export async function registerLinks(
  redis: Redis,
  prefix: string,
  links: LinkRegistration[],
  opts: RegistryOptions = {},
): Promise<RegisterResult> {
  const registry = await RefreshRegistry.open(redis, prefix, opts);
  return registry.register(links);
}
