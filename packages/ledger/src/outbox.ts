/**
 * The outbox of events for the team's backend (NOTIFY_URL). Each event is written by the ledger change it tells of,
 * in the same Lua step (transition.lua, link-event.lua, run-completed.lua), to the stream run:<id>:outbox of the
 * shard holding its connection (run.completed: shard 0's): a process killed right after the change cannot lose it. The notifier (apps/worker/src/notify) delivers the stream and
 * removes what was delivered, so it holds only the backlog; what it gives up on moves to run:<id>:dead-letters.
 * Stream order is each link's history order (a link's events are all in its shard's stream). Entry fields: type, field (user⇥connection, '' for the run), n (what
 * tells two events of one kind apart: the record's revision, the webhook's time, the retry round), at (ms), data (json).
 */
import { createHash } from 'node:crypto';
import { connectionField, type MigrationLedger } from './ledger';
import type { ConnectionRecord } from './records';
import type { RunKeys } from './scripts';

export const NOTIFY_EVENT_TYPES = [
  'connection.imported',
  'connection.failed',
  'link.reconnected',
  'link.needs_attention',
  'run.completed',
] as const;
export type NotifyEventType = (typeof NOTIFY_EVENT_TYPES)[number];

export interface OutboxEntry {
  /** The stream entry id (changes when an event is queued again; the idempotency key does not). */
  id: string;
  runId: string;
  /** The run's shard whose stream holds it. */
  shard: number;
  type: NotifyEventType;
  /** The connection it is about (user⇥connection), '' for run.completed: the unit whose order is kept. */
  field: string;
  n: string;
  at: number;
  data: Record<string, unknown>;
  /** Dead letters only: why the notifier gave up. */
  why?: string;
}

/** What the team's endpoint receives (docs/notify.md). */
export interface NotifyEvent {
  /** The idempotency key: the same for every delivery of one event, whoever sends it and however often. */
  id: string;
  type: NotifyEventType;
  created_at: string;
  run_id: string;
  data: Record<string, unknown>;
}

/** Where one event's delivery stands: attempts made, the first one's and the next one's time (ms). */
export interface DeliveryState {
  attempts: number;
  firstAt: number;
  nextAt: number;
  lastError?: string;
}

export function eventKey(runId: string, type: string, field: string, n: string): string {
  return createHash('sha256').update([runId, type, field, n].join('\u0000')).digest('hex').slice(0, 32);
}

export function eventOf(entry: OutboxEntry): NotifyEvent {
  return {
    id: eventKey(entry.runId, entry.type, entry.field, entry.n),
    type: entry.type,
    created_at: new Date(entry.at).toISOString(),
    run_id: entry.runId,
    data: entry.data,
  };
}

const entryOf = (runId: string, shard: number, [id, flat]: [string, string[]]): OutboxEntry => {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    runId,
    shard,
    type: f.type as NotifyEventType,
    field: f.field ?? '',
    n: f.n ?? '',
    at: Number(f.at),
    data: JSON.parse(f.data ?? '{}') as Record<string, unknown>,
    ...(f.why !== undefined && { why: f.why }),
  };
};

const entryFields = (e: Omit<OutboxEntry, 'id' | 'shard'>) => [
  'type',
  e.type,
  'field',
  e.field,
  'n',
  e.n,
  'at',
  String(e.at),
  'data',
  JSON.stringify(e.data),
];

export class EventOutbox {
  constructor(private readonly ledger: MigrationLedger) {}

  private async keys(runId: string, shard: number): Promise<RunKeys> {
    const keys = (await this.ledger.allKeys(runId))[shard];
    if (!keys) throw new Error(`run ${runId} has no shard ${shard}`);
    return keys;
  }

  /** Every run, newest first (their outboxes are read one after the other). */
  runIds(): Promise<string[]> {
    return this.ledger.runIds();
  }

  /** How many streams the run's events are spread over (its shards). */
  async shards(runId: string): Promise<number> {
    return (await this.ledger.allKeys(runId)).length;
  }

  /** The oldest `count` events of one shard still to deliver after `after` (exclusive; '-' = from the start). */
  async read(runId: string, shard: number, count: number, after = '-'): Promise<OutboxEntry[]> {
    const start = after === '-' ? '-' : `(${after}`;
    const raw = (await this.ledger.redis.xrange(
      (await this.keys(runId, shard)).outbox,
      start,
      '+',
      'COUNT',
      count,
    )) as [string, string[]][];
    return raw.map((r) => entryOf(runId, shard, r));
  }

  async backlog(runId: string): Promise<{ pending: number; dead: number }> {
    const shards = await this.ledger.allKeys(runId);
    const [pending, dead] = await Promise.all([
      Promise.all(shards.map((k) => this.ledger.redis.xlen(k.outbox))),
      Promise.all(shards.map((k) => this.ledger.redis.xlen(k.deadLetters))),
    ]);
    const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);
    return { pending: sum(pending), dead: sum(dead) };
  }

  /** Where the delivery of these events of one shard stands (same order). */
  async deliveryStates(runId: string, shard: number, ids: string[]): Promise<(DeliveryState | undefined)[]> {
    if (ids.length === 0) return [];
    const raw = await this.ledger.redis.hmget((await this.keys(runId, shard)).notifyRetry, ...ids);
    return raw.map((r) => (r ? (JSON.parse(r) as DeliveryState) : undefined));
  }

  async noteAttempt(entry: OutboxEntry, state: DeliveryState): Promise<void> {
    const { notifyRetry } = await this.keys(entry.runId, entry.shard);
    await this.ledger.redis.hset(notifyRetry, entry.id, JSON.stringify(state));
  }

  async delivered(entry: OutboxEntry): Promise<boolean> {
    return this.ledger.scripts.settleEvent(await this.keys(entry.runId, entry.shard), entry.id, 'delivered');
  }

  async deadLetter(entry: OutboxEntry, why: string): Promise<boolean> {
    return this.ledger.scripts.settleEvent(await this.keys(entry.runId, entry.shard), entry.id, 'dead', why);
  }

  /** run.completed, once per round (the import, then each retry), in shard 0's stream. */
  async runCompleted(runId: string, round: number, data: Record<string, unknown>, now = Date.now()): Promise<boolean> {
    return this.ledger.scripts.runCompleted(await this.keys(runId, 0), round, now, JSON.stringify(data));
  }

  /** The events given up on, oldest first in each shard, streamed. */
  async *deadLetters(runId: string, batch = 500): AsyncGenerator<OutboxEntry> {
    for (const k of await this.ledger.allKeys(runId)) {
      let after = '-';
      for (;;) {
        const raw = (await this.ledger.redis.xrange(
          k.deadLetters,
          after === '-' ? '-' : `(${after}`,
          '+',
          'COUNT',
          batch,
        )) as [string, string[]][];
        if (raw.length === 0) break;
        for (const r of raw) yield entryOf(runId, k.shard, r);
        after = raw[raw.length - 1]![0];
      }
    }
  }

  /** Queues every dead letter again (same idempotency keys) and removes it from the dead letters, one step each. */
  async resendDeadLetters(runId: string): Promise<number> {
    let moved = 0;
    for await (const entry of this.deadLetters(runId)) {
      const k = await this.keys(runId, entry.shard);
      await this.ledger.redis
        .multi()
        .xadd(k.outbox, '*', ...entryFields(entry))
        .xdel(k.deadLetters, entry.id)
        .exec();
      moved++;
    }
    return moved;
  }

  /**
   * Queues again, from the ledger, every event of the run as its records now stand (imported or failed, reconnected,
   * needs attention, completed), with the keys they were first sent with: a full resync the endpoint deduplicates.
   * Streamed: memory stays flat however many connections the run has.
   */
  async rederive(runId: string, batch = 500): Promise<number> {
    let queued = 0;
    let records: ConnectionRecord[] = [];
    const flush = async () => {
      const [reconnected, attention, keys] = await Promise.all([
        this.ledger.reconnectedAtMany(runId, records),
        this.ledger.hmgetSharded(runId, 'attention', records),
        Promise.all(records.map((r) => this.ledger.keysOf(runId, r.sourceUserId))),
      ]);
      // one MULTI per shard's stream: a cluster runs a MULTI on one slot only
      const multis = new Map<string, ReturnType<typeof this.ledger.redis.multi>>();
      records.forEach((r, i) => {
        const outbox = keys[i]!.outbox;
        let multi = multis.get(outbox);
        if (!multi) multis.set(outbox, (multi = this.ledger.redis.multi()));
        const field = connectionField(r.sourceUserId, r.connectionId);
        const who = {
          source_user_id: r.sourceUserId,
          source_connection_id: r.connectionId,
          ...(r.linkId && { link_id: r.linkId }),
        };
        const add = (e: Omit<OutboxEntry, 'id' | 'runId' | 'field' | 'shard'>) => {
          multi.xadd(outbox, '*', ...entryFields({ ...e, runId, field }));
          queued++;
        };
        const rev = String(r.rev ?? 0);
        if (r.state === 'imported') {
          add({
            type: 'connection.imported',
            n: rev,
            at: r.updatedAt,
            data: {
              ...who,
              adopted: r.adopted === true,
              accounts: r.accounts,
              transactions_imported: r.transactionsImported,
            },
          });
        } else if (r.state === 'failed') {
          add({
            type: 'connection.failed',
            n: rev,
            at: r.updatedAt,
            data: {
              ...who,
              attempts: r.attempts,
              ...(r.lastError && {
                error_class: r.lastError.errorClass,
                ...(r.lastError.code && { error_code: r.lastError.code }),
              }),
            },
          });
        }
        const at = reconnected[i];
        if (at !== undefined)
          add({ type: 'link.reconnected', n: String(at), at, data: { ...who, reconnected_at_ms: at } });
        const mark = attention[i];
        if (mark) {
          const [reason, when] = mark.split('\t') as [string, string];
          add({
            type: 'link.needs_attention',
            n: when,
            at: Number(when),
            data: { ...who, reason, at_ms: Number(when) },
          });
        }
      });
      await Promise.all([...multis.values()].map((m) => m.exec()));
      records = [];
    };
    for await (const record of this.ledger.scan(runId, batch)) {
      records.push(record);
      if (records.length >= batch) await flush();
    }
    if (records.length > 0) await flush();
    const k = await this.keys(runId, 0);
    const round = (await this.ledger.getRun(runId))?.retryRounds ?? 0;
    for (let r = 0; r <= round; r++) {
      const raw = await this.ledger.redis.hget(k.run, `completed:${r}`);
      const completion = raw === null ? undefined : await this.ledger.redis.hget(k.run, `completed-data:${r}`);
      if (raw !== null) {
        await this.ledger.redis.xadd(
          k.outbox,
          '*',
          ...entryFields({
            runId,
            type: 'run.completed',
            field: '',
            n: String(r),
            at: Number(raw),
            data: completion ? (JSON.parse(completion) as Record<string, unknown>) : { run_id: runId },
          }),
        );
        queued++;
      }
    }
    return queued;
  }
}
