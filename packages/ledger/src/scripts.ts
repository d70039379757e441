/**
 * The ledger's scripts (lua/*.lua): each ledger change is one atomic step, so a worker killed at any instant leaves
 * records and counts in step. Typed callers; the argument order is the scripts' headers'.
 */
import path from 'node:path';
import type { Redis } from '@mk/shared';
import { readLua, scriptSet } from '@mk/shared';
import { LANDED_BUCKET_BYTES, LANDED_CHUNK_BYTES, LANDED_ENTRY_BYTES } from './landed';

const LUA = path.join(__dirname, 'lua');
const SCRIPTS = scriptSet(LUA, {
  mkLedgerRegister: { file: 'register.lua', keys: 3 },
  mkLedgerTransition: { file: 'transition.lua', keys: 7 },
  mkLedgerLinkEvent: { file: 'link-event.lua', keys: 5 },
  mkLedgerOutboxSettle: { file: 'outbox-settle.lua', keys: 3 },
  mkLedgerRunCompleted: { file: 'run-completed.lua', keys: 2 },
});
const LANDED_SCRIPTS = scriptSet(
  LUA,
  {
    mkLedgerLanded: { file: 'landed.lua', keys: 1 },
    mkLedgerLandedRead: { file: 'landed-read.lua', keys: 1, buffers: true },
  },
  readLua(LUA, 'landed-lib.lua', {
    __LANDED_ENTRY__: String(LANDED_ENTRY_BYTES),
    __LANDED_CHUNK__: String(LANDED_CHUNK_BYTES),
    __LANDED_SPLIT_AT__: String(LANDED_BUCKET_BYTES),
  }),
);

/** The keys of one shard of a run (all of them: a script touches one shard only). */
export interface RunKeys {
  shard: number;
  conns: string;
  counts: string;
  links: string;
  rate: string;
  open: string;
  errors: string;
  /** Events waiting for the notifier (outbox.ts). */
  outbox: string;
  /** field → first reconnect ms; day → links reconnected that day; field → last attention reason and ms. */
  reconnected: string;
  reconnects: string;
  attention: string;
  /** Outbox entry id → delivery attempts so far; events given up on. */
  notifyRetry: string;
  deadLetters: string;
  /** What landed on the links (landed.ts). */
  landed: string;
  /** The run's own hash with one shard (meta, completion markers); with more, shard 0's holds the markers. */
  run: string;
}

/** The arguments of landed.lua after its key (landed.ts builds them). */
export type LandedArgs = (string | Buffer)[];

export function ledgerScripts(redis: Redis) {
  const s = SCRIPTS.on(redis);
  const landed = LANDED_SCRIPTS.on(redis);
  return {
    /** Returns how many records were new. */
    async register(k: RunKeys, pairs: [field: string, record: string][], job: string): Promise<number> {
      return Number(await s.mkLedgerRegister([k.conns, k.counts, k.open], [JSON.stringify(pairs), job]));
    },
    /** Returns the new record json; throws the script's error reply (LEDGER_*) as is. */
    async transition(
      k: RunKeys,
      a: {
        field: string;
        patch: string;
        now: number;
        countAttempt: boolean;
        expectStates: string[] | undefined;
        fromRev: number | undefined;
        outbox: boolean;
      },
    ): Promise<string> {
      return (await s.mkLedgerTransition(
        [k.conns, k.counts, k.links, k.rate, k.open, k.errors, k.outbox],
        [
          a.field,
          a.patch,
          a.now,
          a.countAttempt ? '1' : '0',
          a.expectStates ? `,${a.expectStates.join(',')},` : '',
          a.fromRev ?? '',
          a.outbox ? '1' : '0',
        ],
      )) as string;
    },
    /** Returns how many entries were added (0 when this landing was recorded before). */
    async landed(landedKey: string, args: LandedArgs): Promise<number> {
      return Number(await landed.mkLedgerLanded([landedKey], args));
    },
    /** The connection's record (or null), then the value of each old per-account field asked for (or null). */
    async landedRead(landedKey: string, connectionId: Buffer, oldFields: string[]): Promise<(Buffer | null)[]> {
      return (await landed.mkLedgerLandedRead([landedKey], [connectionId, ...oldFields])) as (Buffer | null)[];
    },
    /** Returns whether it was recorded (false: a repeat). */
    async linkEvent(
      k: RunKeys,
      a: { field: string; kind: 'reconnected' | 'attention'; at: number; reason: string; outbox: boolean },
    ): Promise<boolean> {
      const r = await s.mkLedgerLinkEvent(
        [k.conns, k.reconnected, k.reconnects, k.attention, k.outbox],
        [a.field, a.kind, a.at, a.reason, a.outbox ? '1' : '0'],
      );
      return Number(r) === 1;
    },
    /** Returns false when another notifier had already settled it. */
    async settleEvent(k: RunKeys, entryId: string, how: 'delivered' | 'dead', why = ''): Promise<boolean> {
      return Number(await s.mkLedgerOutboxSettle([k.outbox, k.notifyRetry, k.deadLetters], [entryId, how, why])) === 1;
    },
    async runCompleted(k: RunKeys, round: number, now: number, data: string): Promise<boolean> {
      return Number(await s.mkLedgerRunCompleted([k.run, k.outbox], [round, now, data])) === 1;
    },
  };
}
