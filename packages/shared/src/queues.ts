/**
 * Queue names and the Redis prefix. DO NOT RENAME: they are keys in a live Redis; renaming strands every
 * job already queued under the old name.
 * The prefix is hash-tagged so that a Redis Cluster keeps each queue's keys on one slot; on a cluster each queue
 * gets a tag of its own (queuePrefix) so queues spread over the masters.
 */
import { ConfigError } from './errors';

export const QUEUES = {
  import: 'mk-import',
  refresh: 'mk-refresh',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const DEFAULT_PREFIX = '{mk}';

/**
 * The hash tag of a key or prefix as Redis Cluster reads it: what is between the first `{` and the first `}` after
 * it, when not empty. Only that part is hashed, so keys sharing it share a slot.
 */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : undefined;
}

/** The prefix with its hash tag extended by `part`: `{mk}` → `{mk:part}` (same text around the tag). */
export function withHashTag(prefix: string, part: string): string {
  const tag = hashTagOf(prefix);
  if (tag === undefined) throw new Error(`prefix "${prefix}" has no hash tag`);
  const open = prefix.indexOf('{');
  return `${prefix.slice(0, open)}{${tag}:${part}}${prefix.slice(open + tag.length + 2)}`;
}

/**
 * On a cluster every Lua script and MULTI must touch one slot: a prefix without a hash tag would put a queue's keys
 * on many slots (CROSSSLOT on every BullMQ script). Refused at start, naming the setting.
 */
export function requireClusterPrefix(prefix: string): void {
  if (hashTagOf(prefix) !== undefined) return;
  throw new ConfigError(
    'REDIS_PREFIX',
    `("${prefix}") has no hash tag: on a Redis Cluster each queue's keys must share a slot, so the prefix needs one in braces, e.g. {${prefix.replace(/[{}]/g, '') || 'mk'}}`,
  );
}

/** Short name of a queue in its own hash tag: `mk-import` → `import`. */
const tagPartOf = (queue: string) => queue.replace(/^mk-/, '');

/**
 * The BullMQ prefix of a queue. One Redis: the prefix itself (the layout every existing deployment has). A cluster:
 * the prefix with a tag of the queue's own (`{mk}` → `{mk:import}`), so each queue lives on its own slot.
 */
export function queuePrefix(prefix: string, queue: string, spread: boolean): string {
  return spread ? withHashTag(prefix, tagPartOf(queue)) : prefix;
}

/** Key names shared by several packages (each package names its own keys otherwise). Every key starts with the prefix. */
export const keys = (prefix: string = DEFAULT_PREFIX, spread = false) => ({
  /**
   * Why a queue is paused, when a process paused it (hash: by, reason, at ms). Absent while the queue is paused
   * means an operator paused it (Bull Board, CLI). Whoever resumes the queue deletes it. It shares the queue's
   * slot: operator-paused.lua reads it with the queue's meta.
   */
  queuePause: (queue: QueueName) => `${queuePrefix(prefix, queue, spread)}:pause:${queue}`,
  /** Which worker process delivers the events for the team's backend now (string: its token, with a TTL). */
  notifyLease: `${prefix}:notify:lease`,
});
