/**
 * What landed on each imported link, kept small enough for a million users: 7 bytes per transaction — 5 bytes of a
 * hash of its source id (`transaction_id`), 2 bytes of a hash of its amount and date — and per account its entry
 * count and the sum of the landed amounts. That is what a top-up needs to know "not on the link yet" (the id) and
 * "changed under the same id" (amount or date), and what `verify` compares MoneyKit's answer with (count, sum, ids).
 *
 * Only the whole entry decides "already there, as it is", so a new transaction is silently skipped only when it
 * shares all 56 bits with one of its account's entries (≈ n/2^56). Sharing the 40 id bits alone makes it "changed":
 * reported with its source id, never hidden (≈ n/2^40). A change goes unnoticed with odds 1/65,536: the content hash
 * is what the changed report rests on, and one byte of it (1/256) already misses a change in a few hundred.
 *
 * The records are packed into the buckets of one hash per shard, grown by linear hashing (lua/landed-lib.lua has the
 * layout): a bucket holds a few KB of connection records in allocation-sized chunks, so Redis's cost per hash field
 * is shared by dozens of accounts whatever the run's size. Written when a call that carried the transactions is known to have landed, atomically per
 * call (landed.lua) and idempotently: a landing recorded twice (two workers settling the same lost call) is recorded
 * once. Records of the layout before buckets (one field per account, 8-byte entries) are read as they are and
 * converted by the next write to their connection.
 */
import { hash } from 'node:crypto';

export const LANDED_ENTRY_BYTES = 7;
const ID_BYTES = 5;
/** Past this many bytes per bucket on average, the hash grows by a bucket (landed.lua). */
export const LANDED_BUCKET_BYTES = 8192;
/**
 * A bucket is stored in chunks of this size: with Redis's 5-byte header and terminating NUL a chunk takes exactly one
 * 4,096-byte allocation, where a value of any length wastes ~10 % of its allocation on average.
 */
export const LANDED_CHUNK_BYTES = 4090;

/** What identifies a transaction across dumps: its source id, or (none given) what it says. */
export interface LandedTransaction {
  account_id: string;
  transaction_id?: string;
  amount: string;
  date: string;
  description?: string;
}

// One-shot hashing: a top-up hashes every transaction twice, and createHash() objects cost twice as much.
const sha = (s: string) => hash('sha256', s, 'buffer');

/** "12.50" and "12.5" are the same money: MoneyKit may answer either. Sign kept; "-0" is "0". */
export function normalizeAmount(amount: string): string {
  let s = amount.trim();
  const negative = s.startsWith('-');
  if (negative || s.startsWith('+')) s = s.slice(1);
  let [int = '0', frac = ''] = s.split('.');
  int = int.replace(/^0+(?=\d)/, '');
  frac = frac.replace(/0+$/, '');
  const body = frac ? `${int}.${frac}` : int;
  return negative && body !== '0' ? `-${body}` : body;
}

/** The amount in micro-units (exact for up to 6 decimals; more are rounded toward zero). */
export function microUnits(amount: string): bigint {
  const n = normalizeAmount(amount);
  const negative = n.startsWith('-');
  const [int = '0', frac = ''] = (negative ? n.slice(1) : n).split('.');
  const micro = BigInt(int) * 1_000_000n + BigInt((frac + '000000').slice(0, 6));
  return negative ? -micro : micro;
}

/** The id part of a transaction's entry (hex, for maps). */
export function landedIdKey(t: LandedTransaction): string {
  const id = t.transaction_id ?? `~${t.date.slice(0, 10)}|${normalizeAmount(t.amount)}|${t.description ?? ''}`;
  return sha(id).subarray(0, ID_BYTES).toString('hex');
}

function contentHash(t: Pick<LandedTransaction, 'amount' | 'date'>): Buffer {
  return sha(`${normalizeAmount(t.amount)}|${t.date.slice(0, 10)}`).subarray(0, LANDED_ENTRY_BYTES - ID_BYTES);
}

export function landedEntry(t: LandedTransaction): Buffer {
  return Buffer.concat([Buffer.from(landedIdKey(t), 'hex'), contentHash(t)]);
}

/** One account's landed transactions, decoded: id key → the content hashes (hex) of the entries with that id key. */
export interface LandedAccount {
  sumMicro: bigint;
  count: number;
  entries: Map<string, string[]>;
}

/** Decodes one account's entries (`bytes` long each: the id key first, the content hash at `content`). */
function decodeAccount(sum: number, entries: Buffer, bytes: number, content: number): LandedAccount {
  const contentBytes = LANDED_ENTRY_BYTES - ID_BYTES;
  const map = new Map<string, string[]>();
  let count = 0;
  for (let at = 0; at + bytes <= entries.length; at += bytes, count++) {
    const id = entries.subarray(at, at + ID_BYTES).toString('hex');
    const hashHex = entries.subarray(at + content, at + content + contentBytes).toString('hex');
    const list = map.get(id);
    if (list) list.push(hashHex);
    else map.set(id, [hashHex]);
  }
  return { sumMicro: BigInt(Math.round(sum)), count, entries: map };
}

/** A connection's record (landed-lib.lua): account key (hex) → what landed on it. */
export function decodeLandedRecord(record: Buffer): Map<string, LandedAccount> {
  const accounts = new Map<string, LandedAccount>();
  let p = 10;
  for (let n = record.readUInt16BE(8); n > 0; n--) {
    const count = record.readUInt32BE(p + 4);
    const end = p + 16 + LANDED_ENTRY_BYTES * count;
    accounts.set(
      record.subarray(p, p + 4).toString('hex'),
      decodeAccount(record.readDoubleBE(p + 8), record.subarray(p + 16, end), LANDED_ENTRY_BYTES, ID_BYTES),
    );
    p = end;
  }
  return accounts;
}

/** A landed hash's fields (HGETALL) as whole buckets: bucket number → its chunks joined. */
export function landedBuckets(fields: Record<string, Buffer>): Map<string, Buffer> {
  const chunks = new Map<string, Buffer[]>();
  for (const [field, value] of Object.entries(fields)) {
    if (field === '~') continue;
    const [bucket = field, i = '0'] = field.split('.');
    const list = chunks.get(bucket) ?? [];
    list[Number(i)] = value;
    chunks.set(bucket, list);
  }
  return new Map([...chunks].map(([bucket, list]) => [bucket, Buffer.concat(list)]));
}

/** The connection ids of the records in one bucket's value, in order. */
export function landedConnectionsIn(bucket: Buffer): Buffer[] {
  const ids: Buffer[] = [];
  let at = 0;
  while (at < bucket.length) {
    ids.push(bucket.subarray(at, at + 8));
    let p = at + 10;
    for (let n = bucket.readUInt16BE(at + 8); n > 0; n--) p += 16 + LANDED_ENTRY_BYTES * bucket.readUInt32BE(p + 4);
    at = p;
  }
  return ids;
}

/** A value of the layout before buckets: an 8-byte sum, then 8-byte entries (6 B id hash, 2 B content hash at 6). */
export function decodeOldLanded(value: Buffer): LandedAccount {
  return decodeAccount(value.readDoubleBE(0), value.subarray(8), 8, 6);
}

/** Compared with what landed: not there yet, there with another amount or date (changed), or there as it is. */
export type LandedStatus = 'new' | 'changed' | 'same';

export function landedStatus(account: LandedAccount | undefined, t: LandedTransaction): LandedStatus {
  const found = account?.entries.get(landedIdKey(t));
  if (found === undefined) return 'new';
  return found.includes(contentHash(t).toString('hex')) ? 'same' : 'changed';
}

/** The 8-byte id of a connection's record. */
export function landedConnectionId(connectionField: string): Buffer {
  return sha(connectionField).subarray(0, 8);
}

/** An account's key within its connection's record, and its field in the layout before buckets. */
export function landedAccount(connectionField: string, accountId: string): { key: Buffer; oldField: string } {
  const digest = sha(`${connectionField}\t${accountId}`);
  return { key: digest.subarray(0, 4), oldField: digest.subarray(0, 12).toString('base64') };
}

/**
 * The arguments of landed.lua after its key: `transactions` per account, and `emptyAccounts` as existing with
 * nothing on them.
 */
export function landedAppendArgs(
  connectionField: string,
  transactions: LandedTransaction[],
  emptyAccounts: string[] = [],
): (string | Buffer)[] {
  const byAccount = new Map<string, LandedTransaction[]>();
  for (const t of transactions) {
    const list = byAccount.get(t.account_id);
    if (list) list.push(t);
    else byAccount.set(t.account_id, [t]);
  }
  for (const a of emptyAccounts) if (!byAccount.has(a)) byAccount.set(a, []);
  const args: (string | Buffer)[] = [landedConnectionId(connectionField)];
  for (const [accountId, list] of byAccount) {
    const { key, oldField } = landedAccount(connectionField, accountId);
    const sum = list.reduce((s, t) => s + microUnits(t.amount), 0n);
    args.push(key, oldField, Buffer.concat(list.map(landedEntry)), sum.toString());
  }
  return args;
}

/** A newer dump's transactions of one connection against what landed on its link. */
export interface LandedDiff<T extends LandedTransaction> {
  /** Not on the link yet: what a top-up sends. */
  fresh: T[];
  /** On the link under the same source id with another amount or date: reported, never sent twice. */
  changed: T[];
  /** On the link as they are. */
  same: number;
  /** On an account the link does not have (opened since): MoneyKit refuses them; they come with the user's reconnect. */
  otherAccount: T[];
  /** Nothing at all was recorded as landed for this connection (imported before landed records were kept). */
  unrecorded: boolean;
}

export function diffLanded<T extends LandedTransaction>(
  landed: Map<string, LandedAccount | undefined>,
  transactions: T[],
): LandedDiff<T> {
  const diff: LandedDiff<T> = {
    fresh: [],
    changed: [],
    same: 0,
    otherAccount: [],
    unrecorded: [...landed.values()].every((a) => a === undefined),
  };
  if (diff.unrecorded) return diff;
  for (const t of transactions) {
    const account = landed.get(t.account_id);
    if (!account) {
      diff.otherAccount.push(t);
      continue;
    }
    const status = landedStatus(account, t);
    if (status === 'new') diff.fresh.push(t);
    else if (status === 'changed') diff.changed.push(t);
    else diff.same++;
  }
  return diff;
}
