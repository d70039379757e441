import { convert, rejection, sample } from './helpers';

const v2025 = sample('mx_v20250224_schema_examples.json');
const v2011 = sample('mx_v20111101_schema_examples.json');

function record(over: { accounts?: unknown[]; transactions?: unknown[] } = {}) {
  const { _source, ...rest } = v2025;
  return {
    source: 'mx',
    user: rest.UserResponse,
    members: [rest.MemberResponse],
    accounts: over.accounts ?? [rest.AccountResponse],
    transactions: over.transactions ?? [rest.TransactionResponse],
  };
}
const tx = (over: Record<string, unknown>) => ({ ...v2025.TransactionResponse, ...over });

describe('mx (public schema examples)', () => {
  it('converts the v20250224 examples', () => {
    const u = convert(record());
    expect(u.sourceUserId).toBe('My-Unique-ID');
    const { connectionId, request } = u.connections[0]!;
    expect(connectionId).toBe('mx:MBR-7c6f361b-e582-15b6-60c0-358f12466b4b');
    expect(request.institution_id).toBe('mx.mxbank');
    expect(request.customer_user).toEqual({ id: 'My-Unique-ID', email: { address: 'example@example.com' } });
    expect(request.accounts[0]).toEqual({
      account_id: 'ACT-06d7f44b-caae-0f6e-1384-01f52e75dcb1',
      name: 'Test account 2',
      nickname: 'My Checking',
      mask: '1261',
      type: 'depository.money_market',
      balances: {
        currency: 'USD',
        available: 1000,
        current: 1000,
        limit: 5000,
        balance_date: '2025-02-13T18:09:00+00:00',
      },
    });
    expect(request.transactions[0]).toEqual({
      account_id: 'ACT-06d7f44b-caae-0f6e-1384-01f52e75dcb1',
      transaction_id: 'TRN-429ad9fe-a1d2-4559-8590-885b2603f0e1',
      amount: '61.11',
      date: '2024-12-20',
      description: 'MX Technologies Payroll',
      type: 'income.paycheck',
    });
  });

  it('converts the v20111101 examples (SAVINGS, subtype NONE) once the transaction points at the account', () => {
    const u = convert({
      source: 'mx',
      user: v2011.UserResponse,
      members: [v2011.MemberResponse],
      accounts: [v2011.AccountResponse],
      transactions: [{ ...v2011.TransactionResponse, account_guid: v2011.AccountResponse.guid }],
    });
    expect(u.connections[0]!.request.accounts[0]).toMatchObject({ type: 'depository.savings', mask: '5366' });
    expect(u.connections[0]!.request.transactions[0]!.amount).toBe('5003.9');
  });

  it.each([
    ['CREDIT', 61.11, '61.11'],
    ['DEBIT', 61.11, '-61.11'],
    ['DEBIT', -61.11, '-61.11'], // MX amounts are unsigned; a stray sign does not flip the direction
    ['DEBIT', 0, '0'],
  ])('sign from type %s with amount %p', (type, amount, expected) => {
    expect(
      convert(record({ transactions: [tx({ type, amount })] })).connections[0]!.request.transactions[0]!.amount,
    ).toBe(expected);
  });

  it('dates on posted_at, falling back to date then transacted_at for pending rows', () => {
    const rows = [
      tx({ guid: 'T1', posted_at: '2024-12-21T02:00:00Z', date: '2024-12-20' }),
      tx({ guid: 'T2', posted_at: null, date: '2024-12-19', status: 'PENDING' }),
    ];
    const u = convert(record({ transactions: rows }), { pending: 'include' });
    expect(u.connections[0]!.request.transactions.map((t) => t.date)).toEqual(['2024-12-21', '2024-12-19']);
    expect(convert(record({ transactions: rows })).stats.pendingSkipped).toBe(1);
  });

  it.each([
    ['Food & Dining', 'Restaurants', 'food_and_drink.restaurants', true],
    ['Bill & Utilities', 'Mobile Phone', 'rent_and_utilities.mobile_phone', true],
    ['Transfer', 'Transfer', 'transfer', true],
    [null, 'Income', 'income', true],
    ['Space', 'Rockets', 'space.rockets', false],
  ])('category %s / %s → %s', (top, category, expected, known) => {
    const u = convert(record({ transactions: [tx({ top_level_category: top, category })] }));
    expect(u.connections[0]!.request.transactions[0]!.type).toBe(expected);
    expect(u.stats.unknownCategories.length === 0).toBe(known);
  });

  it.each([
    ['CREDIT_CARD', 'NONE', 'liability.credit_card'],
    ['LOAN', 'STUDENT', 'liability.student_loan'],
    ['INVESTMENT', 'ROTH_IRA', 'investment.roth_ira'],
    ['MORTGAGE', null, 'liability.mortgage'],
    ['SPACESHIP', null, 'other.spaceship'],
  ])('account type %s/%s → %s', (type, subtype, expected) => {
    const u = convert(record({ accounts: [{ ...v2025.AccountResponse, type, subtype }], transactions: [] }));
    expect(u.connections[0]!.request.accounts[0]!.type).toBe(expected);
  });

  it.each([
    [record({ transactions: [tx({ type: 'SIDEWAYS' })] }), 'transactions[0].type: is not CREDIT or DEBIT'],
    [
      record({ transactions: [tx({ account_guid: 'ACT-x' })] }),
      "transactions[0].account_guid: 'ACT-x' is not an account of this user",
    ],
    [
      record({ accounts: [{ ...v2025.AccountResponse, member_guid: 'MBR-x' }] }),
      "accounts[0].member_guid: 'MBR-x' is not a member of this user",
    ],
    [
      record({ transactions: [tx({ amount: 'NaN' })] }),
      'transactions[0].amount: a string of 3 characters is not a decimal',
    ],
  ])('rejects %#', (rec, reason) => {
    expect(rejection(rec).reason).toBe(reason);
  });
});
