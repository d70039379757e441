import { convert, convertText, rejection, sample } from './helpers';

const s = sample('finicity_schema_examples.json');
const record = (over: { accounts?: unknown[]; transactions?: unknown[] } = {}) => ({
  customer: s.Customer,
  accounts: over.accounts ?? [s.CustomerAccount],
  transactions: over.transactions ?? [s.Transaction],
});
const tx = (over: Record<string, unknown>) => ({ ...s.Transaction, ...over });

describe('finicity (public schema examples)', () => {
  it('converts the examples: numeric ids join string ids, epoch seconds become UTC dates', () => {
    const u = convert(record());
    expect(u.sourceUserId).toBe('customerusername1');
    const { connectionId, request } = u.connections[0]!;
    expect(connectionId).toBe('finicity:1007302745');
    expect(request.institution_id).toBe('finicity.4222');
    expect(request.customer_user).toEqual({
      id: 'customerusername1',
      email: { address: 'myname@mycompany.com' },
      phone: { number: '1-801-984-4200' },
    });
    expect(request.accounts[0]).toEqual({
      account_id: '5011648377',
      name: 'Super Checking',
      mask: '7528',
      type: 'depository.checking',
      balances: {
        currency: 'USD',
        current: 401.26,
        available: 5678.78,
        limit: 7000,
        balance_date: '2020-12-08T17:59:17.000Z',
      },
    });
    expect(request.transactions[0]).toEqual({
      account_id: '5011648377',
      transaction_id: '21284820852',
      amount: '-828.9',
      date: '2020-12-08',
      description: 'Buy Stock',
      type: 'streaming_service',
    });
    expect(u.stats.unknownCategories).toEqual(['Streaming Service']);
  });

  it.each([
    ['postedDate', { postedDate: 1_700_000_000, transactionDate: 1_600_000_000 }, '2023-11-14'],
    ['transactionDate when not posted', { postedDate: null, transactionDate: 1_600_000_000 }, '2020-09-13'],
    ['UTC, not local time', { postedDate: 1_704_067_199 }, '2023-12-31'],
  ])('date: %s', (_n, over, expected) => {
    expect(convert(record({ transactions: [tx(over)] })).connections[0]!.request.transactions[0]!.date).toBe(expected);
  });

  it('keeps the amount sign, exactly', () => {
    const text = JSON.stringify(record({ transactions: [tx({ amount: 0 })] })).replace('"amount":0', '"amount":1e2');
    expect(convertText(text).connections[0]!.request.transactions[0]!.amount).toBe('100');
    expect(
      convert(record({ transactions: [tx({ amount: 2356.56 })] })).connections[0]!.request.transactions[0]!.amount,
    ).toBe('2356.56');
  });

  it('imports a credit card balance as owed (positive) and skips pending rows', () => {
    const card = { ...s.CustomerAccount, id: '77', type: 'creditCard', balance: -1234.5 };
    const u = convert(record({ accounts: [card], transactions: [tx({ accountId: 77, status: 'pending' })] }));
    expect(u.connections[0]!.request.accounts[0]).toMatchObject({
      type: 'liability.credit_card',
      balances: { current: 1234.5 },
    });
    expect(u.stats.pendingSkipped).toBe(1);
  });

  it('groups accounts into connections by institutionLoginId', () => {
    const other = { ...s.CustomerAccount, id: '99', institutionLoginId: 42, institutionId: '101732' };
    const u = convert(record({ accounts: [s.CustomerAccount, other] }));
    expect(u.connections.map((c) => [c.connectionId, c.request.institution_id])).toEqual([
      ['finicity:1007302745', 'finicity.4222'],
      ['finicity:42', 'finicity.101732'],
    ]);
  });

  it.each([
    [
      record({ transactions: [tx({ postedDate: 'yesterday' })] }),
      'transactions[0].postedDate: a string that is not a Unix epoch time in seconds (1970–2100)',
    ],
    [
      record({ transactions: [tx({ accountId: 1 })] }),
      "transactions[0].accountId: '1' is not an account of this customer",
    ],
    [
      record({ accounts: [s.CustomerAccount, s.CustomerAccount] }),
      "accounts[1]: duplicate account id '5011648377' in connection 'finicity:1007302745'",
    ],
  ])('rejects %#', (rec, reason) => {
    expect(rejection(rec).reason).toBe(reason);
  });
});
