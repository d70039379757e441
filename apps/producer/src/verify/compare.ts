/**
 * `verify`'s comparison of one connection: what MoneyKit holds on its link against what the run recorded as landed
 * (the ledger's landed records: per account the source ids, their count and the sum of their amounts). Pure: the
 * reads are the caller's. MoneyKit answers amounts non-negative with `type` credit (money in) or debit (money out);
 * they are compared signed, as imported (positive = money in).
 */
import { landedIdKey, microUnits, type ConnectionRecord, type LandedAccount } from '@mk/ledger';

export const VERIFY_COLUMNS = [
  'source_user_id',
  'source_connection_id',
  'link_id',
  'status',
  'accounts_expected',
  'accounts_found',
  'transactions_expected',
  'transactions_found',
  'amount_sum_expected',
  'amount_sum_found',
  'ids_missing',
  'ids_extra',
  'ids_duplicated',
  'duplicate_links',
  'duplicates_deleted',
  'problems',
] as const;

/** ok: everything matches; mismatch: something differs (said in `problems`); not_imported: the run did not link it. */
export type VerifyStatus = 'ok' | 'mismatch' | 'not_imported';

export interface VerifyRow {
  /** The ledger field (user ⇥ connection): how a resumed verify knows what it checked. */
  field: string;
  source_user_id: string;
  source_connection_id: string;
  link_id: string;
  status: VerifyStatus;
  accounts_expected: number;
  accounts_found: number;
  transactions_expected: number;
  transactions_found: number;
  amount_sum_expected: string;
  amount_sum_found: string;
  ids_missing: number;
  ids_extra: number;
  ids_duplicated: number;
  /** Live links of the same customer user at the same institution that no ledger record owns, `;`-separated. */
  duplicate_links: string;
  duplicates_deleted: string;
  problems: string;
}

export interface FoundAccount {
  account_id: string;
  original_id?: string | null;
}

export interface FoundTransaction {
  account_id?: string;
  original_id?: string | null;
  amount?: string;
  type?: string;
  date?: string;
  description?: string | null;
}

export interface LinkReadBack {
  record: ConnectionRecord;
  /** Undefined: the link is not among the user's live links (deleted, or gone). */
  found?: { accounts: FoundAccount[]; transactions: FoundTransaction[] };
  /** What landed, per original account id MoneyKit answered. */
  landed: Map<string, LandedAccount | undefined>;
  duplicates: string[];
  deleted?: string[];
}

/** Micro-units → a plain decimal string ("-12.5"). */
export function fromMicro(micro: bigint): string {
  const negative = micro < 0n;
  const abs = negative ? -micro : micro;
  const int = abs / 1_000_000n;
  const frac = (abs % 1_000_000n).toString().padStart(6, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${int}${frac ? `.${frac}` : ''}`;
}

const signedAmount = (t: FoundTransaction) => (t.type === 'debit' ? `-${t.amount ?? '0'}` : (t.amount ?? '0'));

export function compareLink(r: LinkReadBack): VerifyRow {
  const { record } = r;
  const row: VerifyRow = {
    field: `${record.sourceUserId}\t${record.connectionId}`,
    source_user_id: record.sourceUserId,
    source_connection_id: record.connectionId,
    link_id: record.linkId ?? '',
    status: 'ok',
    accounts_expected: record.accounts,
    accounts_found: 0,
    transactions_expected: record.transactionsImported,
    transactions_found: 0,
    amount_sum_expected: '',
    amount_sum_found: '',
    ids_missing: 0,
    ids_extra: 0,
    ids_duplicated: 0,
    duplicate_links: r.duplicates.join(';'),
    duplicates_deleted: (r.deleted ?? []).join(';'),
    problems: '',
  };
  const problems: string[] = [];
  if (record.state !== 'imported' || !record.linkId) {
    row.status = 'not_imported';
    row.problems = `not imported by the run (${record.state})`;
    return row;
  }
  if (!r.found) {
    row.status = 'mismatch';
    row.problems = "the link is not among the user's live links (deleted?)";
    return row;
  }
  const { accounts, transactions } = r.found;
  row.accounts_found = accounts.length;
  row.transactions_found = transactions.length;
  const originalOf = new Map(accounts.map((a) => [a.account_id, a.original_id ?? '']));
  const recorded = [...r.landed.values()].some(Boolean);

  const notImported = accounts.filter((a) => !r.landed.get(a.original_id ?? ''));
  if (recorded && notImported.length > 0) problems.push(`${notImported.length} accounts the run did not import`);
  if (accounts.length !== record.accounts)
    problems.push(`accounts: ${accounts.length} on the link, ${record.accounts} imported`);

  let expectedSum = 0n;
  let foundSum = 0n;
  let expectedCount = 0;
  const byAccount = new Map<string, FoundTransaction[]>();
  for (const t of transactions) {
    const original = originalOf.get(t.account_id ?? '') ?? '';
    const list = byAccount.get(original);
    if (list) list.push(t);
    else byAccount.set(original, [t]);
    foundSum += microUnits(signedAmount(t));
  }
  for (const [original, landed] of r.landed) {
    if (!landed) continue;
    expectedCount += landed.count;
    expectedSum += landed.sumMicro;
    const seen = new Map<string, number>();
    for (const t of byAccount.get(original) ?? []) {
      const key = landedIdKey({
        account_id: original,
        amount: signedAmount(t),
        date: t.date ?? '',
        ...(t.original_id ? { transaction_id: t.original_id } : {}),
        ...(t.description ? { description: t.description } : {}),
      });
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    // Two imported transactions may share an id key (40 bits): compare how many of each, not just which.
    for (const [key, imported] of landed.entries) {
      const n = seen.get(key) ?? 0;
      if (n < imported.length) row.ids_missing += imported.length - n;
      else if (n > imported.length) row.ids_duplicated += n - imported.length;
    }
    for (const [key, n] of seen) if (!landed.entries.has(key)) row.ids_extra += n;
  }
  if (recorded) {
    row.transactions_expected = expectedCount;
    row.amount_sum_expected = fromMicro(expectedSum);
    row.amount_sum_found = fromMicro(foundSum);
    if (expectedSum !== foundSum)
      problems.push(`sum of amounts ${row.amount_sum_found} on the link, ${row.amount_sum_expected} imported`);
    if (row.ids_missing) problems.push(`${row.ids_missing} imported transactions not on the link`);
    if (row.ids_extra) problems.push(`${row.ids_extra} transactions on the link the run did not import`);
    if (row.ids_duplicated) problems.push(`${row.ids_duplicated} transactions on the link twice`);
  } else {
    row.amount_sum_found = fromMicro(foundSum);
    problems.push('no landed record (imported before they were kept): only counts compared');
  }
  if (transactions.length !== row.transactions_expected)
    problems.push(`transactions: ${transactions.length} on the link, ${row.transactions_expected} imported`);
  const deleted = new Set(r.deleted ?? []);
  const left = r.duplicates.filter((d) => !deleted.has(d));
  if (left.length)
    problems.push(`${left.length} extra links at the same institution no ledger record owns (--delete-duplicates)`);
  // No landed record is not a mismatch by itself: the counts above decide.
  const mismatch = problems.filter((p) => !p.startsWith('no landed record'));
  row.status = mismatch.length ? 'mismatch' : 'ok';
  row.problems = problems.join('; ');
  return row;
}
