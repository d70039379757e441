/**
 * The registry's scripts (lua/*.lua, each prefixed with lua/lib.lua), one typed caller each. Arguments are named
 * here and put in the order the scripts' headers give; the packed codes (product letters, mode and status chars)
 * stay between this file, state.ts and the Lua.
 */
import path from 'node:path';
import { readLua, scriptSet, type Redis } from '@mk/shared';
import type { RefreshKeys, ShardKeys } from './keys';
import { STATE_EPOCH_MS } from './state';

const DIR = path.join(__dirname, 'lua');
const SCRIPTS = scriptSet(
  DIR,
  {
    mkRefreshRegister: { file: 'register.lua', keys: 2 },
    mkRefreshDispatch: { file: 'dispatch.lua', keys: 2 },
    mkRefreshConfirm: { file: 'confirm.lua', keys: 1 },
    mkRefreshClaim: { file: 'claim.lua', keys: 1 },
    mkRefreshSettle: { file: 'settle.lua', keys: 2 },
    mkRefreshLink: { file: 'link.lua', keys: 5 },
    mkRefresh429: { file: 'rate429.lua', keys: 1 },
  },
  readLua(DIR, 'lib.lua', { __STATE_EPOCH_MS__: String(STATE_EPOCH_MS) }),
);

/** One link of a registration: bucket, product codes ('!' prefix = given explicitly), park reason code ('' = active). */
export interface RegisterEntry {
  linkId: string;
  bucket: number;
  codes: string;
  parkReason: string;
  firstDueOffsetMs: number;
}

/** One link of a claim: its bucket and the product codes asked for. */
export interface ClaimEntry {
  linkId: string;
  bucket: number;
  codes: string;
}

/** One call's outcome: the claim it settles (codes, token, previous entries) and the action with its argument. */
export interface SettleEntry {
  linkId: string;
  bucket: number;
  codes: string;
  token: number;
  previous: string;
  action: string;
  arg: string;
}

const chunks = (flat: string[], size: number): string[][] =>
  Array.from({ length: flat.length / size }, (_, i) => flat.slice(i * size, i * size + size));

export type LinkScriptAction = 'park' | 'resume' | 'remove' | 'trigger' | 'product';

/**
 * Every call touches the keys of one shard (ShardKeys, and the buckets of that shard): on a Redis Cluster each
 * shard is one slot. `register` and `confirm` take links of one shard only; the registry groups them.
 */
export function registryScripts(redis: Redis, keys: RefreshKeys, timing: string) {
  const s = SCRIPTS.on(redis);
  const shardOfBucket = (bucket: number) => keys.shard(keys.shardOf(bucket));
  return {
    /** Links of one shard. Returns [added, updated, unchanged, removed]. */
    async register(shard: ShardKeys, entries: RegisterEntry[]): Promise<number[]> {
      const args = entries.flatMap((e) => [e.linkId, e.bucket, e.codes, e.parkReason, e.firstDueOffsetMs]);
      return (await s.mkRefreshRegister([shard.meta, shard.top], [shard.base, timing, ...args])) as number[];
    },
    /** Returns a flat list: link, bucket, product codes, due-at ms, hand-over lease end ms, ... */
    async dispatch(shard: ShardKeys, batch: number, handOverMs: number): Promise<string[]> {
      return (await s.mkRefreshDispatch([shard.top, shard.meta], [shard.base, timing, batch, handOverMs])) as string[];
    },
    /** Links of one shard. Returns how many hand-over leases became the long lease. */
    async confirm(
      shard: ShardKeys,
      leaseMs: number,
      links: { linkId: string; bucket: number; handOverUntil: number }[],
    ): Promise<number> {
      return Number(
        await s.mkRefreshConfirm(
          [shard.top],
          [shard.base, leaseMs, ...links.flatMap((d) => [d.linkId, d.bucket, d.handOverUntil])],
        ),
      );
    },
    /** Links of one shard. Per link: ['ok', codes, token, previous, due times, earliest allowed of deferred] or ['gone', mode..reason, …]. */
    async claim(shard: ShardKeys, inFlightMs: number, links: ClaimEntry[]): Promise<string[][]> {
      const flat = (await s.mkRefreshClaim(
        [shard.meta],
        [shard.base, timing, inFlightMs, ...links.flatMap((l) => [l.linkId, l.bucket, l.codes])],
      )) as string[];
      return chunks(flat, 6);
    },
    /** Calls of one shard. Per call: [mode char or 'gone'/'removed', next due ms or '']. */
    async settle(shard: ShardKeys, jitterFraction: number, calls: SettleEntry[]): Promise<[string, string][]> {
      const flat = (await s.mkRefreshSettle(
        [shard.top, shard.meta],
        [
          shard.base,
          timing,
          jitterFraction,
          ...calls.flatMap((c) => [c.linkId, c.bucket, c.codes, c.token, c.previous, c.action, c.arg, Math.random()]),
        ],
      )) as string[];
      return chunks(flat, 2) as [string, string][];
    },
    /** Returns the action's result word (see link.lua), or a mode char for an action that changed nothing. */
    async link(a: {
      bucket: number;
      linkId: string;
      action: LinkScriptAction;
      reasonCode: string;
      eventAt?: number;
      productCode?: string;
      status?: string;
    }): Promise<string> {
      return (await s.mkRefreshLink(
        [
          keys.state(a.bucket),
          keys.index(a.bucket),
          shardOfBucket(a.bucket).top,
          shardOfBucket(a.bucket).meta,
          keys.webhookOrder(a.bucket),
        ],
        [
          a.linkId,
          a.bucket,
          timing,
          a.action,
          a.reasonCode,
          a.eventAt === undefined ? '' : Math.round(a.eventAt),
          a.productCode ?? '',
          a.status ?? '',
        ],
      )) as string;
    },
    /** Returns how many distinct links got a 429 within the window. */
    async note429(linkId: string, windowMs: number): Promise<number> {
      return Number(await s.mkRefresh429([keys.recent429], [linkId, windowMs]));
    },
  };
}
export type RegistryScripts = ReturnType<typeof registryScripts>;
