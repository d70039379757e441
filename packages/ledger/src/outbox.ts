/**
 * The outbox of events for the team's backend (NOTIFY_URL). Each event is written by the ledger change it tells of,
 * in the same Lua step (transition.lua, link-event.lua, run-completed.lua), to the run's stream run:<id>:outbox: a
 * process killed right after the change cannot lose it. The notifier (apps/worker/src/notify) delivers the stream and
 * removes what was delivered, so it holds only the backlog; what it gives up on moves to run:<id>:dead-letters.
 * Stream order is each link's history order. Entry fields: type, field (user⇥connection, '' for the run), n (what
 * tells two events of one kind apart: the record's revision, the webhook's time, the retry round), at (ms), data (json).
 */
import { createHash } from 'node:crypto';
import { connectionField, type MigrationLedger } from './ledger';
import type { ConnectionRecord } from './records';

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

const entryOf = (runId: string, [id, flat]: [string, string[]]): OutboxEntry => {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
  return {
    id,
    runId,
    type: f.type as NotifyEventType,
    field: f.field ?? '',
    n: f.n ?? '',
    at: Number(f.at),
    data: JSON.parse(f.data ?? '{}') as Record<string, unknown>,
    ...(f.why !== undefined && { why: f.why }),
  };
};

const entryFields = (e: Omit<OutboxEntry, 'id'>) => [
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

  private keys(runId: string) {
    return this.ledger.runKeys(runId);
  }

  /** Every run, newest first (their outboxes are read one after the other). */
  runIds(): Promise<string[]> {
    return this.ledger.runIds();
  }

  /** The oldest `count` events still to deliver after `after` (exclusive; '-' = from the start). */
  async read(runId: string, count: number, after = '-'): Promise<OutboxEntry[]> {
    const start = after === '-' ? '-' : `(${after}`;
    const raw = (await this.ledger.redis.xrange(this.keys(runId).outbox, start, '+', 'COUNT', count)) as [
      string,
      string[],
    ][];
    return raw.map((r) => entryOf(runId, r));
  }

  async backlog(runId: string): Promise<{ pending: number; dead: number }> {
    const k = this.keys(runId);
    const [pending, dead] = await Promise.all([
      this.ledger.redis.xlen(k.outbox),
      this.ledger.redis.xlen(k.deadLetters),
    ]);
    return { pending, dead };
  }

  async deliveryStates(runId: string, ids: string[]): Promise<(DeliveryState | undefined)[]> {
    if (ids.length === 0) return [];
    const raw = await this.ledger.redis.hmget(this.keys(runId).notifyRetry, ...ids);
    return raw.map((r) => (r ? (JSON.parse(r) as DeliveryState) : undefined));
  }

  async noteAttempt(runId: string, id: string, state: DeliveryState): Promise<void> {
    await this.ledger.redis.hset(this.keys(runId).notifyRetry, id, JSON.stringify(state));
  }

  delivered(runId: string, id: string): Promise<boolean> {
    return this.ledger.scripts.settleEvent(this.keys(runId), id, 'delivered');
  }

  deadLetter(runId: string, id: string, why: string): Promise<boolean> {
    return this.ledger.scripts.settleEvent(this.keys(runId), id, 'dead', why);
  }

  /** run.completed, once per round (the import, then each retry). */
  runCompleted(runId: string, round: number, data: Record<string, unknown>, now = Date.now()): Promise<boolean> {
    return this.ledger.scripts.runCompleted(this.keys(runId), round, now, JSON.stringify(data));
  }

  /** The events given up on, oldest first, streamed. */
  async *deadLetters(runId: string, batch = 500): AsyncGenerator<OutboxEntry> {
    let after = '-';
    for (;;) {
      const raw = (await this.ledger.redis.xrange(
        this.keys(runId).deadLetters,
        after === '-' ? '-' : `(${after}`,
        '+',
        'COUNT',
        batch,
      )) as [string, string[]][];
      if (raw.length === 0) return;
      for (const r of raw) yield entryOf(runId, r);
      after = raw[raw.length - 1]![0];
    }
  }

  /** Queues every dead letter again (same idempotency keys) and removes it from the dead letters, one step each. */
  async resendDeadLetters(runId: string): Promise<number> {
    const k = this.keys(runId);
    let moved = 0;
    for await (const entry of this.deadLetters(runId)) {
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
    const k = this.keys(runId);
    let queued = 0;
    let records: ConnectionRecord[] = [];
    const flush = async () => {
      const [reconnected, attention] = await Promise.all([
        this.ledger.reconnectedAtMany(runId, records),
        this.ledger.redis.hmget(k.attention, ...records.map((r) => connectionField(r.sourceUserId, r.connectionId))),
      ]);
      const multi = this.ledger.redis.multi();
      records.forEach((r, i) => {
        const field = connectionField(r.sourceUserId, r.connectionId);
        const who = {
          source_user_id: r.sourceUserId,
          source_connection_id: r.connectionId,
          ...(r.linkId && { link_id: r.linkId }),
        };
        const add = (e: Omit<OutboxEntry, 'id' | 'runId' | 'field'>) => {
          multi.xadd(k.outbox, '*', ...entryFields({ ...e, runId, field }));
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
      await multi.exec();
      records = [];
    };
    for await (const record of this.ledger.scan(runId, batch)) {
      records.push(record);
      if (records.length >= batch) await flush();
    }
    if (records.length > 0) await flush();
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
