/**
 * The story of a link's refreshes, for the links an operator (or a failing test) needs to explain: registered →
 * parked → webhook → due → queued → claimed → sent → answer → settled with its next due time. Off by default; a
 * share of links (`traceSample`, chosen by a hash of the link id, so every process traces the same links) keeps its
 * last TRACE_DEPTH steps in a capped Redis list that expires a day after its last step.
 */
import type { Redis } from '@mk/shared';
import { bucketOf } from './keys';

const TRACE_DEPTH = 64;
const TRACE_TTL_MS = 24 * 3_600_000;
const HASH_RANGE = 2 ** 32;

export type TraceStep =
  | 'registered'
  | 'webhook'
  | 'action'
  | 'dispatched'
  | 'grouped'
  | 'queued'
  | 'claimed'
  | 'deferred'
  | 'sent'
  | 'answer'
  | 'settled'
  | 'checked';

export interface TraceEntry {
  at: number;
  step: TraceStep;
  detail: string;
  /** The process that wrote it (pid), to tell workers apart. */
  by: string;
}

export class RefreshTrace {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (linkId: string) => string,
    private readonly sample: number,
  ) {}

  traced(linkId: string): boolean {
    if (this.sample <= 0) return false;
    return this.sample >= 1 || bucketOf(linkId, HASH_RANGE) / HASH_RANGE < this.sample;
  }

  /** Never fails the caller: a trace is an aid, not part of the work. */
  async note(linkId: string, step: TraceStep, detail = ''): Promise<void> {
    if (!this.traced(linkId)) return;
    const key = this.keyOf(linkId);
    const entry = JSON.stringify({ at: Date.now(), step, detail, by: String(process.pid) } satisfies TraceEntry);
    await this.redis
      .multi()
      .lpush(key, entry)
      .ltrim(key, 0, TRACE_DEPTH - 1)
      .pexpire(key, TRACE_TTL_MS)
      .exec()
      .catch(() => undefined);
  }

  /** Oldest first. Empty when the link is not traced or nothing happened to it lately. */
  async story(linkId: string): Promise<TraceEntry[]> {
    const raw = await this.redis.lrange(this.keyOf(linkId), 0, -1);
    return raw.map((r) => JSON.parse(r) as TraceEntry).reverse();
  }
}
