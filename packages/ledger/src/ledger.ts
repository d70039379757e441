/**
 * The migration ledger: per run, every source connection's state, link_id, counts, attempts and last error.
 * It is the record of a migration (the queue is only transport): resume, retry, status and report read it.
 * Redis layout under the prefix: run:<id> (hash: meta, producer beat), run:<id>:rejects (recent rejects, capped),
 * run:<id>:limited (minute → MoneyKit 429s), runs (zset of run ids by creation); and per shard of the run:
 * run:<id>:conns (field user⇥connection → record json), :counts (state → n), :links (link_id → field), :rate (minute →
 * imported, last → ms), :errors (minute → retryable errors, last, lastAt), :open (field → job id, open records only:
 * bounded by what is queued), :landed (what landed on every link, see landed.ts), :outbox and the notifier's keys
 * (outbox.ts), :reconnected, :reconnects, :attention. A run has the shards it was created with (RunMeta.shards: 4 per
 * master on a cluster): with one, those keys are the run's own (<prefix>:run:<id>:conns, where they always were);
 * with more, shard n's are under a hash tag of its own ({…:l<n>}:run:<id>:conns), so a run fills every master. A
 * user's connections are all in one shard: each script touches one shard, and the run's figures are summed over them.
 */
import { hash } from 'node:crypto';
import type { Redis } from '@mk/shared';
import { DEFAULT_PREFIX, defaultShards, keysOn, withHashTag, type QueueName } from '@mk/shared';
import {
  CONNECTION_STATES,
  type ConnectionRecord,
  type ConnectionState,
  type ProducerBeat,
  type QueuePause,
  type RejectRecord,
  type RunMeta,
} from './records';
import { ledgerScripts, type RunKeys } from './scripts';
import {
  decodeLandedRecord,
  decodeOldLanded,
  landedAccount,
  landedAppendArgs,
  landedConnectionId,
  type LandedAccount,
  type LandedTransaction,
} from './landed';

const FIELD_SEP = '\t';
const RECENT_REJECTS = 1000;

export const connectionField = (sourceUserId: string, connectionId: string) =>
  `${sourceUserId}${FIELD_SEP}${connectionId}`;

export type RecordPatch = { [K in keyof ConnectionRecord]?: ConnectionRecord[K] | null };

/** Per-minute counts (minute index → n) of a run's recent imports and retryable errors, and the latest of each. */
export interface RunActivity {
  imported: Map<number, number>;
  lastImportAt?: number;
  errors: Map<number, number>;
  lastError?: string;
  lastErrorAt?: number;
}

/** A run's activity minute by minute, oldest first, for the run page's charts (arrays of equal length). */
export interface RunHistory {
  /** Epoch ms of each minute's start. */
  minutes: number[];
  imported: number[];
  /** Retryable errors recorded by the workers. */
  errors: number[];
  /** MoneyKit answers with HTTP 429 (they cost no attempt, so they are not errors). */
  rateLimited: number[];
}

/** An open connection and the job recorded as carrying it ('' when none was recorded). */
export interface OpenConnection {
  sourceUserId: string;
  connectionId: string;
  job: string;
}

/** Minutes of activity read for status: the 5-minute error window plus the minute it starts in. */
const ACTIVITY_MINUTES = 6;

export interface NewConnection {
  connectionId: string;
  accounts: number;
  transactions: number;
  batchesTotal: number;
  /** Unreadable rows left out of it (`--on-bad-row skip`). */
  rowsSkipped?: number;
}

export class LedgerStateError extends Error {
  constructor(readonly state: string) {
    super(`ledger record is in state ${state}`);
  }
}

/** A fenced change found the record changed by someone else since it was read: that worker no longer owns it. */
export class LedgerConflictError extends Error {
  constructor(readonly state: string) {
    super(`ledger record was changed by another worker (now ${state})`);
  }
}

export class MigrationLedger {
  /** @internal */
  readonly scripts: ReturnType<typeof ledgerScripts>;

  /**
   * With `outbox`, every change the team's backend hears of (imported, failed, reconnected, needs attention) also
   * writes its event to the run's outbox in the same step (NOTIFY_URL set: outbox.ts); without, nothing is kept.
   */
  constructor(
    readonly redis: Redis,
    readonly prefix: string = DEFAULT_PREFIX,
    readonly opts: { outbox?: boolean; shards?: number } = {},
  ) {
    this.scripts = ledgerScripts(redis);
  }

  /** Shard counts of the runs seen (fixed when a run is created). */
  private readonly shardCounts = new Map<string, number>();

  /** The run's own keys (meta, rejects, 429s): one each, whatever its shards. */
  private key(runId: string, part?: string) {
    return `${this.prefix}:run:${runId}${part ? `:${part}` : ''}`;
  }

  /** How many hash tags the run's connections are spread over (RunMeta.shards; a run from before shards: 1). */
  private async shardsOf(runId: string): Promise<number> {
    const known = this.shardCounts.get(runId);
    if (known !== undefined) return known;
    const run = await this.getRun(runId);
    const shards = run?.shards ?? 1;
    if (run) this.shardCounts.set(runId, shards);
    return shards;
  }

  /** Shard `n` of `shards`: with one, its keys are where they always were; else under a hash tag of its own. */
  private shardKeys(runId: string, n: number, shards: number): RunKeys {
    const base = shards === 1 ? this.key(runId) : `${withHashTag(this.prefix, `l${n}`)}:run:${runId}`;
    const k = (part: string) => `${base}:${part}`;
    return {
      shard: n,
      conns: k('conns'),
      counts: k('counts'),
      links: k('links'),
      rate: k('rate'),
      open: k('open'),
      errors: k('errors'),
      outbox: k('outbox'),
      reconnected: k('reconnected'),
      reconnects: k('reconnects'),
      attention: k('attention'),
      notifyRetry: k('notify-retry'),
      deadLetters: k('dead-letters'),
      landed: k('landed'),
      run: base,
    };
  }

  /** @internal The keys of the shard holding the user's connections (all of one user's: registering them is one step). */
  async keysOf(runId: string, sourceUserId: string): Promise<RunKeys> {
    const shards = await this.shardsOf(runId);
    const n = shards === 1 ? 0 : hash('sha1', sourceUserId, 'buffer').readUInt32BE(0) % shards;
    return this.shardKeys(runId, n, shards);
  }

  /** @internal Every shard's keys, shard 0 first (it holds run.completed). */
  async allKeys(runId: string): Promise<RunKeys[]> {
    const shards = await this.shardsOf(runId);
    return Array.from({ length: shards }, (_, n) => this.shardKeys(runId, n, shards));
  }

  /** @internal The records' fields in their shards' `part` hashes, in the order of `records`: one HMGET per shard. */
  async hmgetSharded(
    runId: string,
    part: 'conns' | 'open' | 'reconnected' | 'attention',
    records: Pick<ConnectionRecord, 'sourceUserId' | 'connectionId'>[],
  ): Promise<(string | null)[]> {
    const byKey = new Map<string, number[]>();
    for (const [i, r] of records.entries()) {
      const key = (await this.keysOf(runId, r.sourceUserId))[part];
      const list = byKey.get(key);
      if (list) list.push(i);
      else byKey.set(key, [i]);
    }
    const out: (string | null)[] = new Array<string | null>(records.length).fill(null);
    await Promise.all(
      [...byKey].map(async ([key, indexes]) => {
        const values = await this.redis.hmget(
          key,
          ...indexes.map((i) => connectionField(records[i]!.sourceUserId, records[i]!.connectionId)),
        );
        indexes.forEach((i, j) => (out[i] = values[j] ?? null));
      }),
    );
    return out;
  }

  // ---- runs ----

  /** Creates the run, or returns it unchanged when it exists (a re-run resumes it). */
  async openRun(runId: string, init: Partial<RunMeta> = {}): Promise<RunMeta> {
    const now = Date.now();
    const fresh: RunMeta = {
      runId,
      createdAt: now,
      status: 'enqueuing',
      usersSeen: 0,
      usersEnqueued: 0,
      usersSkipped: 0,
      connectionsSeen: 0,
      rejects: 0,
      shards: this.opts.shards ?? (await defaultShards(this.redis)),
      updatedAt: now,
      ...init,
    };
    const created = await this.redis.hsetnx(this.key(runId), 'meta', JSON.stringify(fresh));
    if (created) await this.redis.zadd(`${this.prefix}:runs`, now, runId);
    return (await this.getRun(runId))!;
  }

  async getRun(runId: string): Promise<RunMeta | undefined> {
    const raw = await this.redis.hget(this.key(runId), 'meta');
    return raw ? (JSON.parse(raw) as RunMeta) : undefined;
  }

  async updateRun(runId: string, patch: Partial<RunMeta>): Promise<void> {
    const run = await this.getRun(runId);
    if (!run) throw new Error(`run ${runId} does not exist`);
    await this.redis.hset(this.key(runId), 'meta', JSON.stringify({ ...run, ...patch, updatedAt: Date.now() }));
  }

  /** Every run id, newest first. */
  runIds(): Promise<string[]> {
    return this.redis.zrevrange(`${this.prefix}:runs`, 0, -1);
  }

  async listRuns(): Promise<RunMeta[]> {
    const ids = await this.runIds();
    const runs = await Promise.all(ids.map((id) => this.getRun(id)));
    return runs.filter((r): r is RunMeta => r !== undefined);
  }

  async addRejects(runId: string, rejects: RejectRecord[]): Promise<void> {
    if (rejects.length === 0) return;
    const key = this.key(runId, 'rejects');
    await this.redis
      .multi()
      .lpush(key, ...rejects.map((r) => JSON.stringify(r)))
      .ltrim(key, 0, RECENT_REJECTS - 1)
      .exec();
  }

  async recentRejects(runId: string, limit = 100): Promise<RejectRecord[]> {
    const raw = await this.redis.lrange(this.key(runId, 'rejects'), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as RejectRecord);
  }

  // ---- connections ----

  /**
   * Adds the user's connections as pending unless already known; returns every record as it now stands. With
   * `job`, the records still open are recorded as carried by that import job (written before the job is added: a
   * crash in between leaves records whose job does not exist, which `status` reports and a re-run fixes).
   */
  async register(
    runId: string,
    sourceUserId: string,
    line: number | undefined,
    connections: NewConnection[],
    opts: { job?: string } = {},
  ): Promise<ConnectionRecord[]> {
    const now = Date.now();
    const pairs = connections.map((c) => {
      const record: ConnectionRecord = {
        runId,
        sourceUserId,
        connectionId: c.connectionId,
        line,
        state: 'pending',
        ...(opts.job && { job: opts.job }),
        accounts: c.accounts,
        transactions: c.transactions,
        transactionsImported: 0,
        batchesTotal: c.batchesTotal,
        batchesDone: 0,
        attempts: 0,
        updatedAt: now,
        ...(c.rowsSkipped && { rowsSkipped: c.rowsSkipped }),
      };
      return [connectionField(sourceUserId, c.connectionId), JSON.stringify(record)] as [string, string];
    });
    await this.scripts.register(await this.keysOf(runId, sourceUserId), pairs, opts.job ?? '');
    const found = await this.getMany(
      runId,
      sourceUserId,
      connections.map((c) => c.connectionId),
    );
    return found.map((r) => r!);
  }

  async get(runId: string, sourceUserId: string, connectionId: string): Promise<ConnectionRecord | undefined> {
    const { conns } = await this.keysOf(runId, sourceUserId);
    const raw = await this.redis.hget(conns, connectionField(sourceUserId, connectionId));
    return raw ? (JSON.parse(raw) as ConnectionRecord) : undefined;
  }

  async getMany(
    runId: string,
    sourceUserId: string,
    connectionIds: string[],
  ): Promise<(ConnectionRecord | undefined)[]> {
    if (connectionIds.length === 0) return [];
    const { conns } = await this.keysOf(runId, sourceUserId);
    const raw = await this.redis.hmget(conns, ...connectionIds.map((c) => connectionField(sourceUserId, c)));
    return raw.map((r) => (r ? (JSON.parse(r) as ConnectionRecord) : undefined));
  }

  /**
   * Applies `patch` atomically (undefined values are ignored, null removes a key) and keeps the state counts in
   * step. With `expect`, refuses unless the record is in one of those states (LedgerStateError).
   */
  async transition(
    record: Pick<ConnectionRecord, 'runId' | 'sourceUserId' | 'connectionId'>,
    patch: RecordPatch,
    opts: { countAttempt?: boolean; expect?: ConnectionState[]; fromRev?: number } = {},
  ): Promise<ConnectionRecord> {
    const { runId } = record;
    try {
      const raw = await this.scripts.transition(await this.keysOf(runId, record.sourceUserId), {
        field: connectionField(record.sourceUserId, record.connectionId),
        patch: JSON.stringify(patch),
        now: Date.now(),
        countAttempt: opts.countAttempt === true,
        expectStates: opts.expect,
        fromRev: opts.fromRev,
        outbox: this.opts.outbox === true,
      });
      return JSON.parse(raw) as ConnectionRecord;
    } catch (err) {
      const message = (err as Error).message;
      if (message.startsWith('LEDGER_STATE ')) throw new LedgerStateError(message.slice('LEDGER_STATE '.length));
      if (message.startsWith('LEDGER_CONFLICT '))
        throw new LedgerConflictError(message.slice('LEDGER_CONFLICT '.length));
      throw err;
    }
  }

  /**
   * A worker's change: applied only if the record is exactly as this worker last read or wrote it (LedgerConflictError
   * otherwise). Returns the new record, to pass to the next change.
   */
  transitionFrom(
    record: ConnectionRecord,
    patch: RecordPatch,
    opts: { countAttempt?: boolean } = {},
  ): Promise<ConnectionRecord> {
    return this.transition(record, patch, { ...opts, fromRev: record.rev ?? 0 });
  }

  // ---- what landed on each link (landed.ts) ----

  /** The key of the landed records of the connection `field` (user⇥connection). */
  private async landedKeyOf(runId: string, field: string): Promise<string> {
    return (await this.keysOf(runId, field.slice(0, field.indexOf(FIELD_SEP)))).landed;
  }

  /**
   * Records `transactions` as landed on the connection's link, once (a landing recorded twice counts once); with
   * `accountIds`, those accounts are known to exist even with nothing on them. Call it before the ledger change that
   * says the call landed: a crash in between leaves the call looked up again, never a landing unrecorded.
   */
  async noteLanded(
    runId: string,
    field: string,
    transactions: LandedTransaction[],
    accountIds: string[] = [],
  ): Promise<number> {
    if (transactions.length === 0 && accountIds.length === 0) return 0;
    const key = await this.landedKeyOf(runId, field);
    return this.scripts.landed(key, landedAppendArgs(field, transactions, accountIds));
  }

  /** What landed on each of these accounts of the connection's link (undefined: nothing recorded for it). */
  async landed(runId: string, field: string, accountIds: string[]): Promise<Map<string, LandedAccount | undefined>> {
    if (accountIds.length === 0) return new Map();
    const accounts = accountIds.map((a) => landedAccount(field, a));
    const connection = landedConnectionId(field);
    const [record, ...old] = await this.scripts.landedRead(
      await this.landedKeyOf(runId, field),
      connection,
      accounts.map((a) => a.oldField),
    );
    const recorded = record ? decodeLandedRecord(record) : undefined;
    return new Map(
      accountIds.map((a, i) => {
        const value = old[i];
        return [a, recorded?.get(accounts[i]!.key.toString('hex')) ?? (value ? decodeOldLanded(value) : undefined)];
      }),
    );
  }

  /** Every key of the run's landed records, shard 0 first. */
  async landedKeys(runId: string): Promise<string[]> {
    return (await this.allKeys(runId)).map((k) => k.landed);
  }

  /** Bytes Redis spends on the run's landed records (MEMORY USAGE), for the benchmark's per-transaction figure. */
  async landedBytes(runId: string): Promise<number> {
    const usage = await Promise.all(
      (await this.landedKeys(runId)).map((key) => this.redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')),
    );
    return usage.reduce<number>((sum, n) => sum + Number(n ?? 0), 0);
  }

  /** The run and connection that own a link, looked up in every run's link owners (runs are few). */
  async findLink(linkId: string): Promise<{ runId: string; sourceUserId: string; connectionId: string } | undefined> {
    const runIds = await this.runIds();
    if (runIds.length === 0) return undefined;
    const owners = await Promise.all(runIds.map((runId) => this.linkOwner(runId, linkId)));
    const i = owners.findIndex((o) => o !== undefined);
    if (i < 0) return undefined;
    const field = owners[i]!;
    const sep = field.indexOf(FIELD_SEP);
    return { runId: runIds[i]!, sourceUserId: field.slice(0, sep), connectionId: field.slice(sep + 1) };
  }

  /**
   * The end user reconnected the link (MoneyKit's `link.state_changed` → connected): kept once, at its first
   * reconnect, beside the record (not in it: a worker fenced on the record's revision is never disturbed).
   * Returns false for a repeat (a webhook delivered twice counts once).
   */
  async recordReconnect(
    record: Pick<ConnectionRecord, 'runId' | 'sourceUserId' | 'connectionId'>,
    at: number,
  ): Promise<boolean> {
    return this.linkEvent(record, 'reconnected', at, '');
  }

  /** The link needs a person (bad state, product forbidden, deleted): one event per reason and time. */
  async recordAttention(
    record: Pick<ConnectionRecord, 'runId' | 'sourceUserId' | 'connectionId'>,
    reason: string,
    at: number,
  ): Promise<boolean> {
    return this.linkEvent(record, 'attention', at, reason);
  }

  private async linkEvent(
    record: Pick<ConnectionRecord, 'runId' | 'sourceUserId' | 'connectionId'>,
    kind: 'reconnected' | 'attention',
    at: number,
    reason: string,
  ) {
    try {
      return await this.scripts.linkEvent(await this.keysOf(record.runId, record.sourceUserId), {
        field: connectionField(record.sourceUserId, record.connectionId),
        kind,
        at,
        reason,
        outbox: this.opts.outbox === true,
      });
    } catch (err) {
      if ((err as Error).message.startsWith('LEDGER_NO_RECORD')) return false;
      throw err;
    }
  }

  /** When the connection's user first reconnected its link (epoch ms), or undefined while it still waits. */
  async reconnectedAt(runId: string, sourceUserId: string, connectionId: string): Promise<number | undefined> {
    const { reconnected } = await this.keysOf(runId, sourceUserId);
    const raw = await this.redis.hget(reconnected, connectionField(sourceUserId, connectionId));
    return raw === null ? undefined : Number(raw);
  }

  /** reconnectedAt of many records of a run at once (same order). */
  async reconnectedAtMany(
    runId: string,
    records: Pick<ConnectionRecord, 'sourceUserId' | 'connectionId'>[],
  ): Promise<(number | undefined)[]> {
    if (records.length === 0) return [];
    const raw = await this.hmgetSharded(runId, 'reconnected', records);
    return raw.map((v) => (v === null ? undefined : Number(v)));
  }

  /** The last attention reason of many records of a run (same order; undefined = none since its last reconnect). */
  async attentionMany(
    runId: string,
    records: Pick<ConnectionRecord, 'sourceUserId' | 'connectionId'>[],
  ): Promise<(string | undefined)[]> {
    if (records.length === 0) return [];
    const raw = await this.hmgetSharded(runId, 'attention', records);
    return raw.map((v) => (v === null ? undefined : v.split('\t')[0]));
  }

  /** Links reconnected per UTC day (day index = epoch ms / 86,400,000) and in all. */
  async reconnects(runId: string): Promise<{ perDay: Map<number, number>; total: number }> {
    const shards = await this.allKeys(runId);
    const [days, totals] = await Promise.all([
      Promise.all(shards.map((k) => this.redis.hgetall(k.reconnects))),
      Promise.all(shards.map((k) => this.redis.hlen(k.reconnected))),
    ]);
    const perDay = new Map<number, number>();
    for (const shard of days)
      for (const [d, n] of Object.entries(shard)) perDay.set(Number(d), (perDay.get(Number(d)) ?? 0) + Number(n));
    return { perDay, total: totals.reduce((a, b) => a + b, 0) };
  }

  /** Which connection of this run owns a link (so reconciliation never adopts a sibling's link). */
  async linkOwner(runId: string, linkId: string): Promise<string | undefined> {
    const owners = await Promise.all((await this.allKeys(runId)).map((k) => this.redis.hget(k.links, linkId)));
    return owners.find((o) => o !== null) ?? undefined;
  }

  async counts(runId: string): Promise<Record<ConnectionState, number>> {
    const shards = await Promise.all((await this.allKeys(runId)).map((k) => this.redis.hgetall(k.counts)));
    return Object.fromEntries(
      CONNECTION_STATES.map((s) => [s, shards.reduce((n, raw) => n + Number(raw[s] ?? 0), 0)]),
    ) as Record<ConnectionState, number>;
  }

  /** The run's imports and retryable errors of the last few minutes, per minute, for throughput and stall detection. */
  async activity(runId: string, now = Date.now()): Promise<RunActivity> {
    const minute = Math.floor(now / 60_000);
    const minutes = Array.from({ length: ACTIVITY_MINUTES }, (_, i) => minute - i);
    const fields = [...minutes.map(String), 'last'];
    const shards = await this.allKeys(runId);
    const [rates, errorsPerShard] = await Promise.all([
      Promise.all(shards.map((k) => this.redis.hmget(k.rate, ...fields))),
      Promise.all(shards.map((k) => this.redis.hmget(k.errors, ...fields, 'lastAt'))),
    ]);
    const sum = (perShard: (string | null)[][]) =>
      new Map(minutes.map((m, i) => [m, perShard.reduce((n, values) => n + Number(values[i] ?? 0), 0)]));
    const lastImport = Math.max(0, ...rates.map((r) => Number(r[ACTIVITY_MINUTES] ?? 0)));
    // the latest error of any shard, with its message
    const latest = errorsPerShard.reduce<(string | null)[] | undefined>(
      (best, e) => (Number(e[ACTIVITY_MINUTES + 1] ?? 0) > Number(best?.[ACTIVITY_MINUTES + 1] ?? 0) ? e : best),
      undefined,
    );
    const [lastError, lastErrorAt] = [latest?.[ACTIVITY_MINUTES], latest?.[ACTIVITY_MINUTES + 1]];
    return {
      imported: sum(rates),
      errors: sum(errorsPerShard),
      ...(lastImport > 0 && { lastImportAt: lastImport }),
      ...(lastErrorAt && { lastError: lastError ?? '', lastErrorAt: Number(lastErrorAt) }),
    };
  }

  /** A 429 from MoneyKit while importing this run's connections, counted in the minute it came. */
  async noteRateLimited(runId: string, now = Date.now()): Promise<void> {
    await this.redis.hincrby(this.key(runId, 'limited'), String(Math.floor(now / 60_000)), 1);
  }

  /** The last `minutes` minutes of the run's activity (never before the minute it was opened). */
  async history(runId: string, opts: { minutes: number; createdAt?: number; now?: number }): Promise<RunHistory> {
    const last = Math.floor((opts.now ?? Date.now()) / 60_000);
    const first = Math.max(
      last - opts.minutes + 1,
      opts.createdAt === undefined ? -Infinity : Math.floor(opts.createdAt / 60_000),
    );
    const minutes = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    const fields = minutes.map(String);
    const read = (key: string) => this.redis.hmget(key, ...fields).then((values) => values.map((v) => Number(v ?? 0)));
    const summed = async (keys: string[]) =>
      (await Promise.all(keys.map(read))).reduce((a, b) => a.map((n, i) => n + b[i]!));
    const shards = await this.allKeys(runId);
    const [imported, errors, rateLimited] = await Promise.all([
      summed(shards.map((k) => k.rate)),
      summed(shards.map((k) => k.errors)),
      read(this.key(runId, 'limited')),
    ]);
    return { minutes: minutes.map((m) => m * 60_000), imported, errors, rateLimited };
  }

  /** Records still open (pending, importing, linked) and the job each was enqueued with; few: bounded by the queue. */
  async *openConnections(runId: string, batch = 1000): AsyncGenerator<OpenConnection> {
    for (const { open } of await this.allKeys(runId)) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(open, cursor, 'COUNT', batch);
        cursor = next;
        for (let i = 0; i < flat.length; i += 2) {
          const field = flat[i]!;
          const sep = field.indexOf(FIELD_SEP);
          yield { sourceUserId: field.slice(0, sep), connectionId: field.slice(sep + 1), job: flat[i + 1]! };
        }
      } while (cursor !== '0');
    }
  }

  /** Of these, the ones still open with the same job (re-read after their job was found gone: it may have just finished). */
  async stillOpen(runId: string, connections: OpenConnection[]): Promise<OpenConnection[]> {
    if (connections.length === 0) return [];
    const jobs = await this.hmgetSharded(runId, 'open', connections);
    return connections.filter((c, i) => jobs[i] === c.job);
  }

  /** The producer's heartbeat while it reads the dump (a field of its own: never races the meta's read-modify-write). */
  async beat(runId: string, beat: ProducerBeat): Promise<void> {
    await this.redis.hset(this.key(runId), 'producer', JSON.stringify(beat));
  }

  async producerBeat(runId: string): Promise<ProducerBeat | undefined> {
    const raw = await this.redis.hget(this.key(runId), 'producer');
    return raw ? (JSON.parse(raw) as ProducerBeat) : undefined;
  }

  /** Why a process paused `queue`, when one did (undefined: not paused by a process, maybe by an operator). */
  async queuePause(queue: QueueName): Promise<QueuePause | undefined> {
    const raw = await this.redis.hgetall(keysOn(this.redis, this.prefix).queuePause(queue));
    if (!raw.by) return undefined;
    return {
      by: raw.by,
      ...(raw.reason && { reason: raw.reason }),
      ...(raw.at && Number.isFinite(Number(raw.at)) && { at: Number(raw.at) }),
    };
  }

  /** Every record of a run, streamed (HSCAN): memory stays flat for a million connections. */
  async *scan(runId: string, batch = 1000): AsyncGenerator<ConnectionRecord> {
    for (const { conns } of await this.allKeys(runId)) {
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(conns, cursor, 'COUNT', batch);
        cursor = next;
        for (let i = 1; i < flat.length; i += 2) yield JSON.parse(flat[i]!) as ConnectionRecord;
      } while (cursor !== '0');
    }
  }
}
