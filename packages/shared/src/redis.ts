/**
 * Redis connections, to one Redis (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES): callers get a `Redis`
 * either way and never ask which. Workers retry forever (maxRetriesPerRequest: null, as BullMQ requires); producers
 * and CLIs fail fast so an operator sees a dead Redis at once instead of a hang.
 */
import IORedis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError } from './errors';
import { keys, queuePrefix } from './queues';

/** A connection to one Redis or to a cluster (BullMQ, the ledger and the registry take either). */
export type Redis = IORedis | Cluster;
export type RedisRole = 'worker' | 'producer';

/** Seed nodes of a Redis Cluster; the password and TLS apply to every node (ioredis discovers the rest). */
export interface RedisClusterSeeds {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

/** Where Redis is: a redis:// or rediss:// URL, or a cluster's seeds. */
export type RedisTarget = string | RedisClusterSeeds;

/**
 * REDIS_CLUSTER_NODES: `host:port,host:port,…`; an entry may be a URL (`rediss://:password@host:port`) to give the
 * password and TLS, which then hold for every node. Throws a plain Error saying what is wrong (config.ts names it).
 */
export function parseClusterSeeds(spec: string): RedisClusterSeeds {
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('needs at least one host:port');
  const seeds: RedisClusterSeeds = { nodes: [], tls: false };
  const schemes = new Set<string>();
  for (const entry of entries) {
    const isUrl = /^[a-z]+:\/\//i.test(entry);
    let url: URL;
    try {
      url = new URL(isUrl ? entry : `redis://${entry}`);
    } catch {
      throw new Error(`entry "${redactEntry(entry)}" is neither host:port nor a redis:// URL`);
    }
    if (!/^rediss?:$/.test(url.protocol))
      throw new Error(`entry "${redactEntry(entry)}" must start with redis:// or rediss://`);
    const port = Number(url.port || 6379);
    if (!url.hostname || !Number.isInteger(port) || port < 1 || port > 65_535)
      throw new Error(`entry "${redactEntry(entry)}" needs a host and a port (host:port)`);
    if (isUrl) schemes.add(url.protocol);
    if (url.password) {
      const password = decodeURIComponent(url.password);
      if (seeds.password !== undefined && seeds.password !== password)
        throw new Error('entries give different passwords: a cluster has one');
      seeds.password = password;
      if (url.username) seeds.username = decodeURIComponent(url.username);
    }
    seeds.nodes.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port });
  }
  if (schemes.size > 1) throw new Error('entries mix redis:// and rediss://: TLS is on for every node or for none');
  seeds.tls = schemes.has('rediss:');
  return seeds;
}

function redactEntry(entry: string): string {
  return entry.replace(/(\/\/[^:@/\s]*:)[^@\s]*@/, '$1***@');
}

/**
 * The one Redis setting of a process: REDIS_URL or REDIS_CLUSTER_NODES, never both. `required`: a ConfigError
 * when neither is set. The prefix is checked against the mode: a cluster needs a hash tag (queues.ts).
 */
export function redisTargetOf(
  config: { REDIS_URL?: string | undefined; REDIS_CLUSTER_NODES?: RedisClusterSeeds | undefined },
  required: true,
): RedisTarget;
export function redisTargetOf(
  config: { REDIS_URL?: string | undefined; REDIS_CLUSTER_NODES?: RedisClusterSeeds | undefined },
  required?: boolean,
): RedisTarget | undefined;
export function redisTargetOf(
  config: { REDIS_URL?: string | undefined; REDIS_CLUSTER_NODES?: RedisClusterSeeds | undefined },
  required = false,
): RedisTarget | undefined {
  if (config.REDIS_URL && config.REDIS_CLUSTER_NODES) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      'and REDIS_URL are both set: set REDIS_URL for one Redis or REDIS_CLUSTER_NODES for a Redis Cluster, not both',
    );
  }
  const target = config.REDIS_CLUSTER_NODES ?? (config.REDIS_URL || undefined);
  if (!target && required)
    throw new ConfigError(
      'REDIS_URL',
      "is required (or REDIS_CLUSTER_NODES for a Redis Cluster): where the workers' Redis is",
    );
  return target;
}

/** The setting an operator fixes when this target is wrong. */
export const redisSettingOf = (target: RedisTarget) =>
  typeof target === 'string' ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES';

/** How a target reads in logs and messages: the URL with its password masked, or the seed nodes. */
export function describeRedisTarget(target: RedisTarget): string {
  if (typeof target === 'string') return redactRedisUrl(target);
  return `${target.tls ? 'rediss' : 'redis'} cluster ${target.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
}

const described = new WeakMap<object, RedisTarget>();

/**
 * One Redis: ioredis' client. A cluster: ioredis' Cluster with BullMQ's cluster settings (patterns/redis-cluster):
 * the role's options on every node connection, MOVED/ASK followed, TRYAGAIN and CLUSTERDOWN retried.
 */
export function createRedis(target: RedisTarget, role: RedisRole, extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra }
      : { maxRetriesPerRequest: 3, enableOfflineQueue: false, connectTimeout: 5000, ...extra };
  const redis =
    typeof target === 'string'
      ? new IORedis(target, options)
      : new Cluster(target.nodes, clusterOptions(target, options));
  described.set(redis, target);
  // Without a listener ioredis prints every reconnect attempt as an unhandled error.
  redis.on('error', () => undefined);
  return redis;
}

function clusterOptions(seeds: RedisClusterSeeds, options: RedisOptions): ClusterOptions {
  // The node connections never queue offline (ioredis' rule); the cluster client queues while it follows a redirect.
  const { retryStrategy, lazyConnect, enableReadyCheck, ...nodeOptions } = options;
  delete nodeOptions.enableOfflineQueue;
  return {
    redisOptions: {
      ...nodeOptions,
      ...(seeds.username !== undefined && { username: seeds.username }),
      ...(seeds.password !== undefined && { password: seeds.password }),
      ...(seeds.tls && { tls: {} }),
    },
    enableReadyCheck: enableReadyCheck ?? true,
    // A slot moving or a primary failing over is a few seconds of redirects: every role waits them out, queueing
    // commands meanwhile (a producer still fails fast at start: connectRedis waits with a deadline).
    enableOfflineQueue: true,
    maxRedirections: 32,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    ...(lazyConnect !== undefined && { lazyConnect }),
    ...(retryStrategy !== undefined && { clusterRetryStrategy: retryStrategy }),
  };
}

/** Every master of a cluster, or the one Redis: what a per-node check or count runs on. */
export function redisMasters(redis: Redis): IORedis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/** True when the connection is a Redis Cluster client (keys are then spread by hash tag: queues.ts). */
export const isRedisCluster = (redis: Redis): redis is Cluster => redis instanceof Cluster;

/** Hash tags per cluster master that sharded data (refresh registry, run ledger) spreads over: a few keeps them even. */
export const SHARDS_PER_MASTER = 4;

/** Shards new sharded data gets when no setting says: 1 on one Redis, SHARDS_PER_MASTER per master on a cluster. */
export async function defaultShards(redis: Redis): Promise<number> {
  if (!isRedisCluster(redis)) return 1;
  // The cluster's masters are known once it is ready.
  if (redis.status !== 'ready') await waitReady(redis);
  return Math.max(1, redisMasters(redis).length) * SHARDS_PER_MASTER;
}

/** The BullMQ prefix of `queue` over this connection (queues.ts queuePrefix: its own hash tag on a cluster). */
export const queuePrefixOn = (redis: Redis, prefix: string, queue: string): string =>
  queuePrefix(prefix, queue, isRedisCluster(redis));

/** The shared key names (queues.ts keys) laid out for this connection. */
export const keysOn = (redis: Redis, prefix: string) => keys(prefix, isRedisCluster(redis));

/**
 * Redis errors no retry can cure: the key layout, the mode or the credentials are wrong, so every later call fails the
 * same way. Returns the reason to stop with, or undefined for an error worth retrying (a lost connection, a
 * failover's READONLY/TRYAGAIN/CLUSTERDOWN, a busy script).
 */
export function unrecoverableRedisError(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (/CROSSSLOT/.test(message))
    return `Redis refused a command whose keys are on several cluster slots (${firstLine(message)}): REDIS_PREFIX needs a hash tag, e.g. {mk}`;
  // A Cluster client follows MOVED; one that surfaces is a single-node client pointed at a cluster.
  if (/^MOVED \d+/.test(message))
    return `Redis answered ${firstLine(message)}: it is a Redis Cluster node, set REDIS_CLUSTER_NODES instead of REDIS_URL`;
  if (/^(NOAUTH|WRONGPASS|NOPERM)\b/.test(message))
    return `Redis refused our credentials or permissions (${firstLine(message)}): check the Redis password and ACL`;
  if (/^WRONGTYPE\b/.test(message))
    return `Redis holds a key of another type than expected (${firstLine(message)}): another program shares REDIS_PREFIX`;
  return undefined;
}

const firstLine = (message: string) => message.split('\n')[0]!.slice(0, 200);

/** How long a process waits for Redis at start before it says so and stops (REDIS_CONNECT_TIMEOUT_MS). */
export const DEFAULT_REDIS_CONNECT_TIMEOUT_MS = 10_000;

/** The Redis URL with its password masked, for logs and messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/** Redis did not answer within the start-up deadline. `url` is already redacted. */
export class RedisUnreachableError extends Error {
  constructor(
    readonly url: string,
    readonly timeoutMs: number,
    readonly lastError?: string,
    readonly setting: string = 'REDIS_URL',
  ) {
    super(
      `Redis at ${url} is not reachable within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}: check ${setting}, the network and the Redis password`,
    );
    this.name = 'RedisUnreachableError';
  }
}

/**
 * Waits for a connection to be ready. A worker connection retries forever and a fail-fast one rejects commands
 * until then: either way, at start, this is what turns "no Redis" into an error instead of a silent hang.
 */
export async function waitReady(redis: Redis, timeoutMs = DEFAULT_REDIS_CONNECT_TIMEOUT_MS): Promise<void> {
  if (redis.status === 'ready') return;
  let lastError: string | undefined;
  const onError = (err: Error) => (lastError = scrubUrlPassword(err.message));
  redis.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const target = described.get(redis);
      const fail = () =>
        reject(
          target === undefined
            ? new RedisUnreachableError(redactRedisUrl(redisUrlOf(redis)), timeoutMs, lastError)
            : new RedisUnreachableError(describeRedisTarget(target), timeoutMs, lastError, redisSettingOf(target)),
        );
      const timer = setTimeout(fail, timeoutMs);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        redis.off('ready', onReady);
        redis.off('end', onEnd);
        if (ok) resolve();
        else fail();
      };
      const onReady = () => settle(true);
      // The retry strategy gave up: it will never be ready.
      const onEnd = () => settle(false);
      redis.once('ready', onReady);
      redis.once('end', onEnd);
    });
  } finally {
    redis.off('error', onError);
  }
}

/**
 * Opens a connection (see createRedis) and waits until Redis answers, at most `timeoutMs`; on failure the
 * connection is closed and a RedisUnreachableError names the (redacted) URL. Every app's start-up uses it.
 */
export async function connectRedis(
  target: RedisTarget,
  role: RedisRole,
  opts: { timeoutMs?: number } & RedisOptions = {},
): Promise<Redis> {
  const { timeoutMs, ...extra } = opts;
  const redis = createRedis(target, role, extra);
  try {
    await waitReady(redis, timeoutMs);
    return redis;
  } catch (err) {
    redis.disconnect();
    if (err instanceof RedisUnreachableError)
      throw new RedisUnreachableError(
        describeRedisTarget(target),
        err.timeoutMs,
        err.lastError,
        redisSettingOf(target),
      );
    throw err;
  }
}

function redisUrlOf(redis: Redis): string {
  if (redis instanceof Cluster) return 'redis cluster';
  const { host, port, db, password, tls } = redis.options;
  return `${tls ? 'rediss' : 'redis'}://${password ? ':***@' : ''}${host ?? '127.0.0.1'}:${port ?? 6379}/${db ?? 0}`;
}

/** ioredis messages quote addresses, never passwords; a URL in one would, so it is masked anyway. */
function scrubUrlPassword(message: string): string {
  return message.replace(/(rediss?:\/\/[^:@/\s]*:)[^@\s]*@/gi, '$1***@');
}

export interface RedisServerCheck {
  ok: boolean;
  version: string;
  problems: string[];
}

/**
 * Redis is the system of record for runs: it must not evict keys and must persist them. Returns what is wrong
 * in words an operator can act on.
 */
export async function checkRedisServer(
  redis: Redis,
  timeoutMs = DEFAULT_REDIS_CONNECT_TIMEOUT_MS,
): Promise<RedisServerCheck> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await checkServersOnce(redis);
    } catch (err) {
      // A cluster mid-failover: the client still lists the dead master until its slots are refreshed, and a process
      // starting then would stop on "Connection is closed.". Refresh and ask again; a setting that is wrong is not
      // cured by waiting.
      if (
        !(redis instanceof Cluster) ||
        err instanceof ConfigError ||
        unrecoverableRedisError(err) ||
        Date.now() > deadline
      )
        throw err;
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function checkServersOnce(redis: Redis): Promise<RedisServerCheck> {
  const masters = redisMasters(redis);
  const checks = await Promise.all(masters.map((node) => checkOneRedis(node, redis instanceof Cluster)));
  if (masters.length === 1) return checks[0]!;
  const problems = [
    ...new Set(
      checks.flatMap((c, i) => c.problems.map((p) => `${masters[i]!.options.host}:${masters[i]!.options.port}: ${p}`)),
    ),
  ];
  return { ok: problems.length === 0, version: checks[0]?.version ?? '', problems };
}

async function checkOneRedis(redis: IORedis, asCluster: boolean): Promise<RedisServerCheck> {
  const info = await redis.info();
  // One client on a cluster node answers MOVED for most keys and never follows it: refuse before any job.
  if (!asCluster && /^cluster_enabled:1/m.test(info)) {
    throw new ConfigError(
      'REDIS_URL',
      'points at a Redis Cluster node (cluster_enabled:1): set REDIS_CLUSTER_NODES to its nodes instead, and unset REDIS_URL',
    );
  }
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const problems: string[] = [];
  const version = field('redis_version');
  const major = Number(version.split('.')[0]);
  if (!(major >= 6)) problems.push(`Redis ${version || 'unknown'} is too old: BullMQ needs Redis 6.2 or newer`);
  const policy = field('maxmemory_policy');
  if (policy && policy !== 'noeviction')
    problems.push(
      `maxmemory-policy is "${policy}": set it to "noeviction" or Redis may silently drop jobs and ledger entries`,
    );
  if (field('aof_enabled') !== '1')
    problems.push(
      'AOF persistence is off (appendonly no): a Redis restart would lose every queued job and the migration ledger; set appendonly yes',
    );
  return { ok: problems.length === 0, version, problems };
}
