/**
 * What landed on each imported link, kept small enough for a million users: per account one hash field whose value
 * is an 8-byte header (the sum of the landed amounts, in micro-units) followed by one 8-byte entry per transaction —
 * 6 bytes of a hash of its source id (`transaction_id`), 2 bytes of a hash of its amount and date. That is what a
 * top-up needs to know "not on the link yet" (the id) and "changed under the same id" (amount or date), and what
 * `verify` compares MoneyKit's answer with (count, sum, ids). A false "already there" needs two ids of one account
 * to share 48 bits (≈ n/2^48); a change goes unnoticed with odds 1/65,536.
 *
 * Written when a call that carried the transactions is known to have landed, atomically per call (landed.lua) and
 * idempotently: a landing recorded twice (two workers settling the same lost call) is recorded once.
 */
import { hash } from 'node:crypto';

export const LANDED_ENTRY_BYTES = 8;
export const LANDED_HEADER_BYTES = 8;
const ID_BYTES = 6;

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

/** The 6-byte key of a transaction within its account (hex, for sets). */
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

/** One account's landed transactions, decoded: id key → content hash (hex). */
export interface LandedAccount {
  sumMicro: bigint;
  entries: Map<string, string>;
}

export function decodeLanded(value: Buffer | null | undefined): LandedAccount | undefined {
  if (!value || value.length < LANDED_HEADER_BYTES) return undefined;
  const entries = new Map<string, string>();
  for (let at = LANDED_HEADER_BYTES; at + LANDED_ENTRY_BYTES <= value.length; at += LANDED_ENTRY_BYTES) {
    entries.set(
      value.subarray(at, at + ID_BYTES).toString('hex'),
      value.subarray(at + ID_BYTES, at + LANDED_ENTRY_BYTES).toString('hex'),
    );
  }
  return { sumMicro: BigInt(Math.round(value.readDoubleBE(0))), entries };
}

/** Compared with what landed: not there yet, there with another amount or date (changed), or there as it is. */
export type LandedStatus = 'new' | 'changed' | 'same';

export function landedStatus(account: LandedAccount | undefined, t: LandedTransaction): LandedStatus {
  const found = account?.entries.get(landedIdKey(t));
  if (found === undefined) return 'new';
  return found === contentHash(t).toString('hex') ? 'same' : 'changed';
}

/** The hash field of one account of one connection (short: a million users' accounts are each one field). */
export function landedField(connectionField: string, accountId: string): string {
  return sha(`${connectionField}\t${accountId}`).subarray(0, 12).toString('base64');
}

/** The argument of landed.lua for one account: field, entries, first entry (its idempotence check), micro-units. */
export function landedAppendArgs(connectionField: string, transactions: LandedTransaction[]): (string | Buffer)[] {
  const byAccount = new Map<string, LandedTransaction[]>();
  for (const t of transactions) {
    const list = byAccount.get(t.account_id);
    if (list) list.push(t);
    else byAccount.set(t.account_id, [t]);
  }
  const args: (string | Buffer)[] = [];
  for (const [accountId, list] of byAccount) {
    const sum = list.reduce((s, t) => s + microUnits(t.amount), 0n);
    args.push(landedField(connectionField, accountId), Buffer.concat(list.map(landedEntry)), sum.toString());
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
