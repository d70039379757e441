import { decodeLandedRecord, landedEntry, microUnits, type ConnectionRecord, type LandedAccount } from '@mk/ledger';
import { compareLink, fromMicro, type FoundTransaction } from '../src/verify/compare';

const record: ConnectionRecord = {
  runId: 'r',
  sourceUserId: 'u1',
  connectionId: 'c1',
  state: 'imported',
  linkId: 'mk_1',
  accounts: 2,
  transactions: 3,
  transactionsImported: 3,
  batchesTotal: 0,
  batchesDone: 0,
  attempts: 1,
  updatedAt: 0,
};

/** What landed.lua keeps for an account, built the same way: a one-account connection record, decoded. */
function landedOf(txs: { transaction_id: string; amount: string; date: string }[]): LandedAccount {
  const header = Buffer.alloc(26);
  header.writeUInt16BE(1, 8);
  header.writeUInt32BE(txs.length, 14);
  header.writeDoubleBE(Number(txs.reduce((s, t) => s + microUnits(t.amount), 0n)), 18);
  const record = Buffer.concat([header, ...txs.map((t) => landedEntry({ account_id: 'x', ...t }))]);
  return [...decodeLandedRecord(record).values()][0]!;
}

const imported = {
  a1: [
    { transaction_id: 't1', amount: '-10.00', date: '2026-10-01' },
    { transaction_id: 't2', amount: '2500.5', date: '2026-10-02' },
  ],
  a2: [{ transaction_id: 't3', amount: '-0.99', date: '2026-10-03' }],
};
const accounts = [
  { account_id: 'acc_a', original_id: 'a1' },
  { account_id: 'acc_b', original_id: 'a2' },
];
/** MoneyKit's answer: non-negative amounts, credit (money in) or debit (money out). */
const answered: FoundTransaction[] = [
  { account_id: 'acc_a', original_id: 't1', amount: '10.00', type: 'debit', date: '2026-10-01' },
  { account_id: 'acc_a', original_id: 't2', amount: '2500.50', type: 'credit', date: '2026-10-02' },
  { account_id: 'acc_b', original_id: 't3', amount: '0.99', type: 'debit', date: '2026-10-03' },
];
const landed = () =>
  new Map<string, LandedAccount | undefined>([
    ['a1', landedOf(imported.a1)],
    ['a2', landedOf(imported.a2)],
  ]);

describe('verify: one link against what the run imported', () => {
  it('matches when accounts, count, signed sum and source ids agree', () => {
    const row = compareLink({ record, found: { accounts, transactions: answered }, landed: landed(), duplicates: [] });
    expect(row).toMatchObject({
      status: 'ok',
      accounts_found: 2,
      transactions_expected: 3,
      transactions_found: 3,
      amount_sum_expected: '2489.51',
      amount_sum_found: '2489.51',
      problems: '',
    });
  });

  it('names a transaction missing, one there twice, one the run never sent, and a wrong sum', () => {
    const transactions = [answered[0]!, answered[0]!, { ...answered[2]!, original_id: 't-other' }];
    const row = compareLink({ record, found: { accounts, transactions }, landed: landed(), duplicates: [] });
    expect(row.status).toBe('mismatch');
    expect(row).toMatchObject({ ids_missing: 2, ids_duplicated: 1, ids_extra: 1 });
    expect(row.problems).toMatch(/sum of amounts/);
  });

  it('flags a missing account, a deleted link, an unlinked connection, and duplicates until deleted', () => {
    expect(
      compareLink({
        record,
        found: { accounts: accounts.slice(0, 1), transactions: answered.slice(0, 2) },
        landed: landed(),
        duplicates: [],
      }).problems,
    ).toMatch(/accounts: 1 on the link, 2 imported/);
    expect(compareLink({ record, landed: new Map(), duplicates: [] })).toMatchObject({
      status: 'mismatch',
      problems: expect.stringMatching(/not among the user's live links/),
    });
    expect(
      compareLink({ record: { ...record, state: 'failed', linkId: undefined }, landed: new Map(), duplicates: [] })
        .status,
    ).toBe('not_imported');
    const dup = compareLink({
      record,
      found: { accounts, transactions: answered },
      landed: landed(),
      duplicates: ['mk_2'],
    });
    expect(dup).toMatchObject({ status: 'mismatch', duplicate_links: 'mk_2' });
    expect(
      compareLink({
        record,
        found: { accounts, transactions: answered },
        landed: landed(),
        duplicates: ['mk_2'],
        deleted: ['mk_2'],
      }),
    ).toMatchObject({ status: 'ok', duplicates_deleted: 'mk_2' });
  });

  it('writes sums as plain decimals', () => {
    expect(fromMicro(-1_250_000n)).toBe('-1.25');
    expect(fromMicro(3_000_000n)).toBe('3');
    expect(fromMicro(10n)).toBe('0.00001');
  });
});
