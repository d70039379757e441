/**
 * Redis connections. Workers retry forever (maxRetriesPerRequest: null, as BullMQ requires); producers and
 * CLIs fail fast so an operator sees a dead Redis at once instead of a hang.
 */
import IORedis, { type Redis, type RedisOptions } from 'ioredis';

export type { Redis };
export type RedisRole = 'worker' | 'producer';

export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra }
      : { maxRetriesPerRequest: 3, enableOfflineQueue: false, connectTimeout: 5000, ...extra };
  const redis = new IORedis(url, options);
  // Without a listener ioredis prints every reconnect attempt as an unhandled error.
  redis.on('error', () => undefined);
  return redis;
}

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
  ) {
    super(`Redis at ${url} is not reachable within ${timeoutMs} ms${lastError ? ` (${lastError})` : ''}: check REDIS_URL, the network and the Redis password`);
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
      const fail = () => reject(new RedisUnreachableError(redactRedisUrl(redisUrlOf(redis)), timeoutMs, lastError));
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
export async function connectRedis(url: string, role: RedisRole, opts: { timeoutMs?: number } & RedisOptions = {}): Promise<Redis> {
  const { timeoutMs, ...extra } = opts;
  const redis = createRedis(url, role, extra);
  try {
    await waitReady(redis, timeoutMs);
    return redis;
  } catch (err) {
    redis.disconnect();
    if (err instanceof RedisUnreachableError) throw new RedisUnreachableError(redactRedisUrl(url), err.timeoutMs, err.lastError);
    throw err;
  }
}

function redisUrlOf(redis: Redis): string {
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
export async function checkRedisServer(redis: Redis): Promise<RedisServerCheck> {
  const info = await redis.info();
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
  const problems: string[] = [];
  const version = field('redis_version');
  const major = Number(version.split('.')[0]);
  if (!(major >= 6)) problems.push(`Redis ${version || 'unknown'} is too old: BullMQ needs Redis 6.2 or newer`);
  const policy = field('maxmemory_policy');
  if (policy && policy !== 'noeviction') problems.push(`maxmemory-policy is "${policy}": set it to "noeviction" or Redis may silently drop jobs and ledger entries`);
  if (field('aof_enabled') !== '1') problems.push('AOF persistence is off (appendonly no): a Redis restart would lose every queued job and the migration ledger; set appendonly yes');
  return { ok: problems.length === 0, version, problems };
}
