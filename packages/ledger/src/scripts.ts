/**
 * The ledger's scripts (lua/*.lua): each ledger change is one atomic step, so a worker killed at any instant leaves
 * records and counts in step. Typed callers; the argument order is the scripts' headers'.
 */
import path from 'node:path';
import type { Redis } from '@mk/shared';
import { scriptSet } from '@mk/shared';

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), {
  mkLedgerRegister: { file: 'register.lua', keys: 3 },
  mkLedgerTransition: { file: 'transition.lua', keys: 7 },
  mkLedgerLanded: { file: 'landed.lua', keys: 1 },
  mkLedgerLinkEvent: { file: 'link-event.lua', keys: 5 },
  mkLedgerOutboxSettle: { file: 'outbox-settle.lua', keys: 3 },
  mkLedgerRunCompleted: { file: 'run-completed.lua', keys: 2 },
});

export interface RunKeys {
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
  run: string;
}

/** One argument list of landed.lua: per account, its field, its entries and the sum of their micro-units. */
export type LandedArgs = (string | Buffer)[];

export function ledgerScripts(redis: Redis) {
  const s = SCRIPTS.on(redis);
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
      if (args.length === 0) return 0;
      return Number(await s.mkLedgerLanded([landedKey], args as unknown as (string | number)[]));
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
