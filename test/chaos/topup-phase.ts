/**
 * The chaos suite's top-up phase, its books: a newer dump of the same users (fixtures.newerDumpLine: new rows, rows
 * posted since pending, one changed row per Plaid and canonical connection) plus users new in it, and the check of
 * what the sandbox holds afterwards against what the two dumps say should be there — never against our own ledger,
 * which is what is under test.
 */
import fs from 'node:fs';
import { fixtures } from '@mk/converters';
import { microUnits, type MigrationLedger } from '@mk/ledger';
import { usersOf } from '@mk/producer';
import type { RunningSandbox } from '@mk/sandbox';

export interface NewerDumpSummary {
  /** Users only in the newer dump: their connections are new to the run. */
  newUsers: number;
  added: number;
  posted: number;
  changed: number;
}

/**
 * Writes the newer dump of `writeDumpFile(first, opts)`'s users, and `newUsers` more (dumpLines is prefix-stable).
 * Every `changeEvery`-th user has changed (the others are as they were: up to date, nothing sent).
 */
export function writeNewerDump(
  newer: string,
  opts: { users: number; format: 'mixed'; txPerAccount: number; heavyShare: number; badShare: number; seed: number },
  newUsers: number,
  changeEvery: number,
): NewerDumpSummary {
  const out: NewerDumpSummary = { newUsers, added: 0, posted: 0, changed: 0 };
  const lines: string[] = [];
  let users = 0;
  for (const l of fixtures.dumpLines({ ...opts, users: opts.users + newUsers })) {
    if (l.kind === 'user' && ++users <= opts.users && users % changeEvery === 0) {
      const n = fixtures.newerDumpLine(l.line);
      out.added += n.added;
      out.posted += n.posted;
      out.changed += n.changed;
      lines.push(n.line);
    } else lines.push(l.line);
  }
  fs.writeFileSync(newer, `${lines.join('\n')}\n`);
  return out;
}

interface Row {
  amount: string;
  date: string;
}
interface ExpectedConnection {
  sourceUserId: string;
  connectionId: string;
  first: Map<string, Row>;
  newer: Map<string, Row>;
}

/** A link's identity as MoneyKit knows it: customer user, institution, our account ids. */
const linkKey = (customerUserId: string, institutionId: string, accountIds: Iterable<string>) =>
  `${customerUserId}|${institutionId}|${[...accountIds].sort().join(',')}`;

/** Reads a dump's connections into `into`; returns how many it added (connections not in the dumps read before). */
async function connectionsOf(
  dump: string,
  into: Map<string, ExpectedConnection>,
  side: 'first' | 'newer',
): Promise<number> {
  let added = 0;
  for await (const item of usersOf(dump, { pending: 'skip' })) {
    if (!item.ok) continue;
    for (const c of item.user.connections) {
      const { request } = c;
      const key = linkKey(
        request.customer_user.id,
        request.institution_id,
        request.accounts.map((a) => a.account_id),
      );
      let e = into.get(key);
      if (!e) {
        e = { sourceUserId: item.user.sourceUserId, connectionId: c.connectionId, first: new Map(), newer: new Map() };
        into.set(key, e);
        added++;
      }
      for (const t of request.transactions)
        if (t.transaction_id) e[side].set(t.transaction_id, { amount: t.amount, date: t.date.slice(0, 10) });
    }
  }
  return added;
}

export interface TopupBooks {
  /** Connections of the newer dump with a link (the rest failed with a reason, or are counted lost). */
  connectionsChecked: number;
  /** Connections only in the newer dump (imported by the top-up). */
  connectionsNew: number;
  /** Connections of either dump that have no link and did not fail with a reason in the ledger. */
  connectionsWithoutLink: number;
  failedWithReason: number;
  transactionsExpected: number;
  /** Expected on a link (by the dumps), not there. */
  transactionsLost: number;
  /** The same source id more than once on a link (all of the run, not only the top-up's). */
  transactionsDuplicated: number;
  /** Same source id, another amount or date in the newer dump. */
  changedExpected: number;
  /** Of those, rows in the top-up's changed report. */
  changedReported: number;
  /** Of those, rows whose link holds the newer amount or date: sent again instead of reported. */
  changedSentAgain: number;
  /** A few connections whose books do not balance: what both sides saw. */
  stories: string[];
}

/** What the links must hold by the two dumps, against what the sandbox holds. */
export async function checkTopupBooks(
  first: string,
  newer: string,
  changedCsv: string | undefined,
  sandbox: RunningSandbox,
  ledger: MigrationLedger,
  runId: string,
): Promise<TopupBooks> {
  const expected = new Map<string, ExpectedConnection>();
  await connectionsOf(first, expected, 'first');
  const connectionsNew = await connectionsOf(newer, expected, 'newer');
  const links = new Map(
    sandbox.state.links
      .all()
      .filter((l) => !l.deletedAt)
      .map((l) => [linkKey(l.customerUserId, l.institutionId, l.accountsByOriginalId.keys()), l]),
  );
  const reported = new Set(
    changedCsv && fs.existsSync(changedCsv)
      ? fs
          .readFileSync(changedCsv, 'utf8')
          .trim()
          .split('\n')
          .slice(1)
          .map((line) => {
            const [, connectionId, , transactionId] = line.split(',');
            return `${connectionId}|${transactionId}`;
          })
      : [],
  );
  const books: TopupBooks = {
    connectionsChecked: 0,
    connectionsNew,
    connectionsWithoutLink: 0,
    failedWithReason: 0,
    transactionsExpected: 0,
    transactionsLost: 0,
    transactionsDuplicated: 0,
    changedExpected: 0,
    changedReported: 0,
    changedSentAgain: 0,
    stories: [],
  };
  const unbalanced: { e: ExpectedConnection; linkId?: string; why: string }[] = [];
  for (const [key, e] of expected) {
    const link = links.get(key);
    if (!link) {
      const record = await ledger.get(runId, e.sourceUserId, e.connectionId);
      if (record?.state === 'failed' && record.lastError?.message) books.failedWithReason++;
      else {
        books.connectionsWithoutLink++;
        unbalanced.push({ e, why: `no link (ledger: ${record?.state ?? 'no record'})` });
      }
      continue;
    }
    books.connectionsChecked++;
    const onLink = new Map<string, { amount: string; date: string }[]>();
    for (const t of link.transactions) {
      if (!t.originalId) continue;
      const list = onLink.get(t.originalId) ?? [];
      list.push({ amount: t.direction === 'debit' ? `-${t.amount}` : t.amount, date: t.date });
      onLink.set(t.originalId, list);
    }
    let lost = 0;
    let duplicated = 0;
    let sentAgain = 0;
    for (const id of new Set([...e.first.keys(), ...e.newer.keys()])) {
      books.transactionsExpected++;
      const found = onLink.get(id) ?? [];
      if (found.length === 0) lost++;
      if (found.length > 1) duplicated += found.length - 1;
      const was = e.first.get(id);
      const now = e.newer.get(id);
      if (was && now && (microUnits(was.amount) !== microUnits(now.amount) || was.date !== now.date)) {
        books.changedExpected++;
        if (reported.has(`${e.connectionId}|${id}`)) books.changedReported++;
        if (found.some((f) => microUnits(f.amount) === microUnits(now.amount) && f.date === now.date)) sentAgain++;
      }
    }
    books.transactionsLost += lost;
    books.transactionsDuplicated += duplicated;
    books.changedSentAgain += sentAgain;
    if (lost || duplicated || sentAgain)
      unbalanced.push({
        e,
        linkId: link.id,
        why: `${lost} lost, ${duplicated} duplicated, ${sentAgain} changed rows sent again (of ${e.first.size} first, ${e.newer.size} newer)`,
      });
  }
  for (const u of unbalanced.slice(0, 4)) {
    const record = await ledger.get(runId, u.e.sourceUserId, u.e.connectionId);
    const history = u.linkId ? sandbox.state.history(u.linkId).map((h) => `    sandbox: ${h.what}`) : [];
    books.stories.push(
      [
        `connection ${u.e.connectionId} of ${u.e.sourceUserId}, link ${u.linkId ?? '-'}: ${u.why}`,
        `    ledger: ${JSON.stringify(record && { ...record, lastError: record.lastError?.message })}`,
        ...history.slice(-12),
      ].join('\n'),
    );
  }
  return books;
}
