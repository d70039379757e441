import { convert, convertText, rejection, sample } from './helpers';

const account = (over: Record<string, unknown> = {}) => ({
  account_id: 'acc-chk',
  name: 'Plaid Checking',
  official_name: 'Plaid Gold Standard 0% Interest Checking',
  mask: '0000',
  type: 'depository',
  subtype: 'checking',
  balances: { available: 100, current: 110, limit: null, iso_currency_code: 'USD', unofficial_currency_code: null },
  ...over,
});
const tx = (over: Record<string, unknown> = {}) => ({
  transaction_id: 'tx-1',
  account_id: 'acc-chk',
  amount: 6.33,
  iso_currency_code: 'USD',
  date: '2025-05-02',
  authorized_date: '2025-05-01',
  name: 'Uber 063015 SF**POOL**',
  merchant_name: 'Uber',
  pending: false,
  pending_transaction_id: null,
  personal_finance_category: {
    primary: 'TRANSPORTATION',
    detailed: 'TRANSPORTATION_TAXIS_AND_RIDE_SHARES',
    confidence_level: 'VERY_HIGH',
  },
  ...over,
});
const record = (
  accounts: unknown[],
  transactions: unknown[],
  user: Record<string, unknown> = { id: 'user-0001', email: 'jane@example.com' },
) => ({
  source: 'plaid',
  user,
  items: [{ item: { item_id: 'item-1', institution_id: 'ins_3' }, accounts, transactions }],
});

describe('plaid', () => {
  it('builds one import request per item with dotted institution, provider and customer user', () => {
    const u = convert(
      record([account()], [tx()], {
        id: 'user-0001',
        email: 'jane@example.com',
        phone: '+1 415 555 0100',
        phone_country: 'US',
      }),
    );
    expect(u.sourceUserId).toBe('user-0001');
    expect(u.connections).toHaveLength(1);
    const { connectionId, request } = u.connections[0]!;
    expect(connectionId).toBe('plaid:item-1');
    expect(request.provider).toBe('plaid');
    expect(request.institution_id).toBe('plaid.ins_3');
    expect(request.customer_user).toEqual({
      id: 'user-0001',
      email: { address: 'jane@example.com' },
      phone: { number: '+1 415 555 0100', country: 'US' },
    });
    expect(request.accounts[0]).toEqual({
      account_id: 'acc-chk',
      name: 'Plaid Checking',
      type: 'depository.checking',
      mask: '0000',
      balances: { currency: 'USD', available: 100, current: 110 },
    });
    expect(request.transactions[0]).toEqual({
      account_id: 'acc-chk',
      transaction_id: 'tx-1',
      amount: '-6.33',
      date: '2025-05-02',
      description: 'Uber 063015 SF**POOL**',
      type: 'transportation.taxis_and_ride_shares',
    });
  });

  it.each([
    ['money out (positive) becomes negative', '6.33', '-6.33'],
    ['money in (negative) becomes positive', '-500', '500'],
    ['sub-cent digits are kept', '48.2542', '-48.2542'],
    ['-0 becomes 0', '-0', '0'],
    ['exponent becomes a plain decimal', '1e3', '-1000'],
    ['17 significant digits survive', '1234567890.1234567', '-1234567890.1234567'],
    ['amount given as a string', '"12.10"', '-12.10'],
  ])('sign and decimals: %s', (_name, literal, expected) => {
    const text = JSON.stringify(record([account()], [tx({ amount: 0 })])).replace('"amount":0', `"amount":${literal}`);
    expect(convertText(text).connections[0]!.request.transactions[0]!.amount).toBe(expected);
  });

  it('skips pending rows by default and counts them; includes them when asked', () => {
    const rows = [
      tx({ transaction_id: 'p1', pending: true }),
      tx({ transaction_id: 't1', pending_transaction_id: 'p1' }),
    ];
    const skipped = convert(record([account()], rows));
    expect(skipped.connections[0]!.request.transactions.map((t) => t.transaction_id)).toEqual(['t1']);
    expect(skipped.stats.pendingSkipped).toBe(1);
    const included = convert(record([account()], rows), { pending: 'include' });
    expect(included.connections[0]!.request.transactions).toHaveLength(2);
    expect(included.stats.pendingSkipped).toBe(0);
  });

  it.each([
    ['depository', 'savings', 'depository.savings', true],
    ['credit', 'credit card', 'liability.credit_card', true],
    ['loan', 'student', 'liability.student_loan', true],
    ['investment', '401k', 'investment.401k', true],
    ['investment', 'some new plan', 'investment.some_new_plan', true],
    ['depository', 'space vault', 'depository.other', false],
    ['crypto', 'wallet', 'other.crypto_wallet', false],
  ])('account type %s/%s → %s', (type, subtype, expected, known) => {
    const u = convert(record([account({ type, subtype })], []));
    expect(u.connections[0]!.request.accounts[0]!.type).toBe(expected);
    expect(u.stats.unknownAccountTypes).toEqual(known ? [] : [`${type}.${subtype}`]);
  });

  it.each([
    [{ personal_finance_category: { primary: 'INCOME', detailed: 'INCOME_SALARY' } }, 'income.salary', true],
    [
      {
        personal_finance_category: { primary: 'LOAN_DISBURSEMENTS', detailed: 'LOAN_DISBURSEMENTS_OTHER_DISBURSEMENT' },
      },
      'loan_disbursements.other_disbursement',
      true,
    ],
    [
      { personal_finance_category: null, category: ['Food and Drink', 'Restaurants', 'Coffee Shop'] },
      'food_and_drink.restaurants',
      true,
    ],
    [
      { personal_finance_category: { primary: 'SPACE_TRAVEL', detailed: 'SPACE_TRAVEL_ORBIT' } },
      'space_travel.orbit',
      false,
    ],
    [{ personal_finance_category: null }, undefined, true],
  ])('category %j → %s', (over, expected, known) => {
    const u = convert(record([account()], [tx(over)]));
    expect(u.connections[0]!.request.transactions[0]!.type).toBe(expected);
    expect(u.stats.unknownCategories.length === 0).toBe(known);
  });

  it('keeps a credit card balance positive (owed), and uses the public sandbox credit-card user', () => {
    const cc = sample('plaid_sandbox_custom_user__credit_card_custom_user.json').override_accounts[0];
    const u = convert(
      record(
        [
          account({
            account_id: 'cc',
            type: cc.type,
            subtype: cc.subtype,
            name: cc.meta.name,
            official_name: cc.meta.official_name,
            mask: '3333',
            balances: {
              current: cc.starting_balance,
              available: cc.force_available_balance,
              limit: cc.meta.limit,
              iso_currency_code: 'USD',
            },
          }),
        ],
        cc.transactions.map((t: any, i: number) => ({
          transaction_id: `cc-${i}`,
          account_id: 'cc',
          amount: t.amount,
          date: t.date_posted,
          authorized_date: t.date_transacted,
          name: t.description,
          pending: false,
        })),
      ),
    );
    const req = u.connections[0]!.request;
    expect(req.accounts[0]).toMatchObject({
      type: 'liability.credit_card',
      balances: { current: 1245.67, available: 8754.33, limit: 10000 },
    });
    expect(req.transactions.map((t) => t.amount)).toEqual(['-87.43', '-156.89', '-45', '-1200', '-23.5']);
    expect(req.transactions[0]!.date).toBe('2026-07-21');
  });

  it('handles missing optional fields (no mask, no balances, no email, no transactions)', () => {
    const u = convert({
      source: 'plaid',
      user: { id: 'user-0002' },
      items: [
        {
          item: { item_id: 'i', institution_id: 'ins_1' },
          accounts: [{ account_id: 'a', name: 'Acct', type: 'depository', subtype: null }],
        },
      ],
    });
    expect(u.connections[0]!.request).toEqual({
      customer_user: { id: 'user-0002' },
      provider: 'plaid',
      institution_id: 'plaid.ins_1',
      transactions: [],
      accounts: [{ account_id: 'a', name: 'Acct', type: 'depository.other', balances: {} }],
    });
  });

  it('reads /transactions/sync `added` when there is no `transactions`', () => {
    const r = record([account()], []);
    (r.items[0] as any).transactions = undefined;
    (r.items[0] as any).added = [tx()];
    expect(convert(r).stats.transactions).toBe(1);
  });

  it.each([
    [
      record([account()], [tx({ amount: 'abc' })]),
      'items[0].transactions[0].amount: a string of 3 characters is not a decimal',
    ],
    [record([account()], [tx({ amount: null })]), 'items[0].transactions[0].amount: null is not a decimal'],
    [
      record([account()], [tx({ account_id: 'nope' })]),
      "items[0].transactions[0]: account 'nope' is not an account of connection 'plaid:item-1'",
    ],
    [
      record([account(), account()], []),
      "items[0].accounts[1]: duplicate account id 'acc-chk' in connection 'plaid:item-1'",
    ],
    [
      record([account()], [tx({ date: '05/02/2025' })]),
      'items[0].transactions[0].date: is not a YYYY-MM-DD date or ISO date-time',
    ],
    [record([account()], [], { email: 'x@example.com' }), 'user.id: is missing'],
    [record([account()], [], { id: 'abc' }), 'user: user id must be 4–150 characters for MoneyKit, got 3'],
    [{ source: 'plaid', user: { id: 'user-0001' }, items: {} }, 'items: expected an array, got an object'],
    [record([], []), "user 'user-0001' has nothing to import: no connection has any account"],
  ])('rejects malformed record %#', (rec, reason) => {
    const e = rejection(rec);
    expect(e.reason).toBe(reason);
  });

  it('puts the user id on rejections when it can be read', () => {
    expect(rejection(record([account()], [tx({ amount: 'abc' })])).sourceId).toBe('user-0001');
  });
});
