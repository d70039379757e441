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

/** Waits for a fail-fast connection to be ready (enableOfflineQueue: false rejects commands before that). */
export async function waitReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Redis not reachable within ${timeoutMs} ms`)), timeoutMs);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
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
