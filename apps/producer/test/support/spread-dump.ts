/**
 * A Plaid dump written one line per item, as many exports are: each user's first item in place, the others at the
 * end in reverse order (so a user's lines are far apart), plus two repeats: a line holding a repeated item with a
 * new one, and an exact copy of a line.
 */
import { fixtures } from '@mk/converters';

interface PlaidRecord {
  source: 'plaid';
  user: { id: string };
  items: { item: { item_id: string } }[];
}

export interface SpreadDump {
  lines: string[];
  users: number;
  usersOnSeveralLines: number;
  /** Distinct connections (what must be imported, once each). */
  connections: number;
  /** Per source user (MoneyKit's customer user id is the source user id): its distinct connections. */
  records: { customerUserId: string; items: number }[];
  /** The repeats, with the 1-based lines of both occurrences (connection ids as the Plaid converter names them). */
  duplicates: { line: number; firstLine: number; userId: string; connectionId: string }[];
}

export function spreadDump(opts: { users: number; seed: number; txPerAccount?: number }): SpreadDump {
  const records = [
    ...fixtures.dumpLines({
      users: opts.users,
      format: 'plaid',
      seed: opts.seed,
      txPerAccount: opts.txPerAccount ?? 3,
      badShare: 0,
    }),
  ].map((l) => JSON.parse(l.line) as PlaidRecord);
  const three = records.find((r) => r.items.length === 3);
  if (!three) throw new Error('no user with three items: pick another seed');
  const head = records.map((r) => ({ ...r, items: [r.items[0]!] }));
  const tail: PlaidRecord[] = [];
  for (const r of records) {
    for (const item of r.items.slice(1))
      tail.push({ ...r, items: r === three && item === r.items[2] ? [r.items[0]!, item] : [item] });
  }
  const copied = head[1]!;
  tail.push(copied);
  const ordered = [...head, ...tail.reverse()];
  const lineOf = (r: PlaidRecord) => ordered.indexOf(r) + 1;
  const mixed = ordered.find((r) => r.user.id === three.user.id && r.items.length === 2)!;
  return {
    lines: ordered.map((r) => JSON.stringify(r)),
    users: records.length,
    usersOnSeveralLines: records.filter((r) => r.items.length > 1).length,
    connections: records.reduce((n, r) => n + r.items.length, 0),
    records: records.map((r) => ({ customerUserId: r.user.id, items: r.items.length })),
    duplicates: [
      {
        line: lineOf(mixed),
        firstLine: lineOf(head[records.indexOf(three)]!),
        userId: three.user.id,
        connectionId: `plaid:${three.items[0]!.item.item_id}`,
      },
      {
        line: ordered.lastIndexOf(copied) + 1,
        firstLine: ordered.indexOf(copied) + 1,
        userId: copied.user.id,
        connectionId: `plaid:${copied.items[0]!.item.item_id}`,
      },
    ].sort((a, b) => a.line - b.line),
  };
}
