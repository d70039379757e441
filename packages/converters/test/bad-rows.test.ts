/**
 * One bad row costs one row: under the default policy an unreadable account or transaction row is left out and
 * reported (connection, field, reason); `onBadRow: 'reject'` (`--strict`) rejects the whole user. A reason never
 * quotes the value at fault: reasons are stored in Redis and shown on the run page.
 */
import { convertRecord, fixtures, parseJsonPreservingNumbers, RecordError } from '../src';
import { convert, rejection } from './helpers';

const account = (id: string, extra: object = {}) => ({
  account_id: id,
  name: 'Checking',
  mask: '1234',
  type: 'depository',
  subtype: 'checking',
  balances: { current: 10, iso_currency_code: 'USD' },
  ...extra,
});
const tx = (id: string, extra: object = {}) => ({
  transaction_id: id,
  account_id: 'a1',
  amount: 5,
  date: '2025-06-01',
  name: 'Shop',
  pending: false,
  ...extra,
});
const plaid = (accounts: object[], transactions: object[]) => ({
  source: 'plaid',
  user: { id: 'user-0001' },
  items: [{ item: { item_id: 'item-1', institution_id: 'ins_3' }, accounts, transactions }],
});

describe('--on-bad-row skip (default)', () => {
  it('imports the user without the bad transaction and says where and why', () => {
    const u = convert(
      plaid([account('a1')], [tx('t1'), tx('t2', { amount: 'jane@example.com' }), tx('t3', { date: '555-0100' })]),
    );
    expect(u.connections[0]!.request.transactions.map((t) => t.transaction_id)).toEqual(['t1']);
    expect(u.stats.badRows).toEqual([
      {
        connectionId: 'plaid:item-1',
        field: 'items[0].transactions[1].amount',
        reason: 'items[0].transactions[1].amount: a string of 16 characters is not a decimal',
      },
      {
        connectionId: 'plaid:item-1',
        field: 'items[0].transactions[2].date',
        reason: 'items[0].transactions[2].date: is not a YYYY-MM-DD date or ISO date-time',
      },
    ]);
  });

  it('skips a bad account row; the connection keeps its other accounts', () => {
    const u = convert(plaid([account('a1'), account('a2', { balances: { current: 'x' } })], [tx('t1')]));
    expect(u.connections[0]!.request.accounts.map((a) => a.account_id)).toEqual(['a1']);
    expect(u.stats.badRows).toEqual([expect.objectContaining({ field: 'items[0].accounts[1].balances.current' })]);
  });

  it('rejects a user left with nothing, naming the first skipped row', () => {
    const e = rejection(plaid([account('a1', { balances: { current: 'x' } })], []), { onBadRow: 'skip' });
    expect(e.reason).toMatch(
      /nothing to import: no connection has any account \(1 unreadable rows skipped, the first items\[0\]\.accounts\[0\]\.balances\.current: /,
    );
    expect(e.field).toBe('items[0].accounts[0].balances.current');
  });

  it.each([
    [
      'yodlee',
      {
        user: { loginName: 'user-0001' },
        providerAccount: [{ id: 1, providerId: 16441 }],
        account: [{ id: 11, providerAccountId: 1, CONTAINER: 'bank', accountName: 'C' }],
        transaction: [
          { id: 1, CONTAINER: 'bank', accountId: 11, amount: { amount: 1 }, baseType: 'DEBIT', date: '2025-01-01' },
          { id: 2, CONTAINER: 'bank', accountId: 11, amount: { amount: 1 }, baseType: 'SIDEWAYS', date: '2025-01-01' },
        ],
      },
      'yodlee:1',
      'transaction[1].baseType',
    ],
    [
      'mx',
      {
        source: 'mx',
        user: { id: 'user-0001' },
        members: [{ guid: 'MBR-1', institution_code: 'chase' }],
        accounts: [{ guid: 'ACT-1', member_guid: 'MBR-1', type: 'CHECKING' }],
        transactions: [
          { guid: 'TRN-1', account_guid: 'ACT-1', amount: 1, type: 'DEBIT', date: '2025-01-01' },
          { guid: 'TRN-2', account_guid: 'ACT-1', amount: 1, type: 'DEBIT', date: 'soon' },
        ],
      },
      'mx:MBR-1',
      'transactions[1].date',
    ],
    [
      'finicity',
      {
        customer: { id: 'user-0001' },
        accounts: [{ id: 1, institutionLoginId: 7, institutionId: 101732, type: 'checking' }],
        transactions: [
          { id: 1, accountId: 1, amount: -1, postedDate: 1700000000 },
          { id: 2, accountId: 1, amount: -1, postedDate: 'yesterday' },
        ],
      },
      'finicity:7',
      'transactions[1].postedDate',
    ],
    [
      'akoya',
      {
        source: 'akoya',
        user: { id: 'user-0001' },
        providers: [
          {
            providerId: 'mikomo',
            accounts: [{ depositAccount: { accountId: 'd1', accountType: 'CHECKING' } }],
            transactions: [
              {
                depositTransaction: {
                  accountId: 'd1',
                  transactionId: 't1',
                  amount: 1,
                  debitCreditMemo: 'DEBIT',
                  postedTimestamp: '2025-01-01T00:00:00Z',
                },
              },
              {
                depositTransaction: {
                  accountId: 'd1',
                  transactionId: 't2',
                  amount: 'lots',
                  debitCreditMemo: 'DEBIT',
                  postedTimestamp: '2025-01-01T00:00:00Z',
                },
              },
            ],
          },
        ],
      },
      'akoya:user-0001:mikomo',
      'providers[0].transactions[1].depositTransaction.amount',
    ],
  ])('%s: the bad row is skipped, its connection named', (_source, record, connectionId, field) => {
    const u = convert(record);
    expect(u.stats.transactions).toBe(1);
    expect(u.stats.badRows).toEqual([expect.objectContaining({ connectionId, field })]);
  });

  it('--strict rejects the whole user as before', () => {
    expect(rejection(plaid([account('a1')], [tx('t1'), tx('t2', { amount: 'abc' })])).reason).toBe(
      'items[0].transactions[1].amount: a string of 3 characters is not a decimal',
    );
  });

  it("the generator's malformed row kinds cost one row, not the user", () => {
    for (const kind of ['bad_amount', 'orphan_transaction', 'duplicate_account'] as const) {
      const u = convertRecord(parseJsonPreservingNumbers(fixtures.badLine(kind, 1)));
      expect(u.stats.badRows).toHaveLength(1);
    }
  });
});

describe('reject reasons never quote the value at fault', () => {
  const SECRET = 'jane.doe@example.com';
  const PHONE = '+1 415 555 0100';
  const reasons = (record: unknown): string[] => {
    const out: string[] = [];
    try {
      out.push(...convertRecord(parseJsonPreservingNumbers(JSON.stringify(record))).stats.badRows.map((r) => r.reason));
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      out.push(e.reason);
    }
    try {
      convertRecord(parseJsonPreservingNumbers(JSON.stringify(record)), { onBadRow: 'reject' });
    } catch (e) {
      out.push((e as Error).message);
    }
    return out;
  };

  it.each(['amount', 'date', 'pending', 'name', 'category'])('a PII value in transaction field %s', (field) => {
    for (const value of [SECRET, PHONE, { v: SECRET }, [SECRET]]) {
      for (const r of reasons(plaid([account('a1')], [tx('t1', { [field]: value })]))) {
        expect(r).not.toContain('jane');
        expect(r).not.toContain('555');
      }
    }
  });

  it.each([
    [
      'mx type',
      {
        source: 'mx',
        user: { id: 'user-0001' },
        members: [{ guid: 'MBR-1', institution_code: 'c' }],
        accounts: [{ guid: 'ACT-1', member_guid: 'MBR-1', type: 'CHECKING' }],
        transactions: [{ guid: 'T', account_guid: 'ACT-1', amount: 1, type: SECRET, date: '2025-01-01' }],
      },
    ],
    [
      'finicity date',
      {
        customer: { id: 'user-0001' },
        accounts: [{ id: 1, institutionLoginId: 7, institutionId: 1, type: 'checking' }],
        transactions: [{ id: 1, accountId: 1, amount: -1, postedDate: PHONE }],
      },
    ],
    [
      'akoya memo',
      {
        source: 'akoya',
        user: { id: 'user-0001' },
        providers: [
          {
            providerId: 'p',
            accounts: [{ accountId: 'd1' }],
            transactions: [
              {
                accountId: 'd1',
                transactionId: 't',
                amount: 1,
                debitCreditMemo: SECRET,
                postedTimestamp: '2025-01-01',
              },
            ],
          },
        ],
      },
    ],
  ])('%s', (_label, record) => {
    for (const r of reasons(record)) {
      expect(r).not.toContain('jane');
      expect(r).not.toContain('555');
    }
  });

  it('invalid JSON: the parser message without the slice of input it quotes', () => {
    let reason = '';
    try {
      parseJsonPreservingNumbers(`{"email": ${SECRET}}`);
    } catch (e) {
      reason = (e as Error).message;
    }
    expect(reason).toMatch(/^invalid JSON: /);
    expect(reason).not.toContain('jane');
  });
});
