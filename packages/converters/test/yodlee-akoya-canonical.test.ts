import { detectFormat, fixtures } from '../src';
import { convert, rejection } from './helpers';

describe('yodlee (dataExtracts userData element)', () => {
  const record = (over: { account?: unknown[]; transaction?: unknown[] } = {}) => ({
    user: { loginName: 'sbMem5a1b2c3', email: 'jo@example.com' },
    providerAccount: [{ id: 10045, providerId: 16441, status: 'SUCCESS' }],
    account: over.account ?? [
      {
        id: 501,
        CONTAINER: 'bank',
        providerAccountId: 10045,
        accountName: 'TESTDATA',
        nickname: 'Everyday',
        accountNumber: 'xxxx4933',
        accountType: 'CHECKING',
        currentBalance: { amount: 44.78, currency: 'USD' },
        availableBalance: { amount: 54.78, currency: 'USD' },
      },
      {
        id: 502,
        CONTAINER: 'creditCard',
        providerAccountId: 10045,
        accountName: 'CREDIT CARD',
        accountNumber: 'xxxx8614',
        accountType: 'CREDIT',
        runningBalance: { amount: 1636.44, currency: 'USD' },
        totalCreditLine: { amount: 5000, currency: 'USD' },
        availableCredit: { amount: 3363.56, currency: 'USD' },
      },
    ],
    transaction: over.transaction ?? [
      {
        id: 7,
        CONTAINER: 'bank',
        accountId: 501,
        amount: { amount: 12.5, currency: 'USD' },
        baseType: 'DEBIT',
        categoryType: 'EXPENSE',
        category: 'Restaurants',
        description: { original: 'CHIPOTLE 1234', simple: 'Chipotle' },
        date: '2025-05-01',
        postDate: '2025-05-02',
        status: 'POSTED',
      },
      {
        id: 7,
        CONTAINER: 'creditCard',
        accountId: 502,
        amount: { amount: 300, currency: 'USD' },
        baseType: 'CREDIT',
        categoryType: 'TRANSFER',
        category: 'Credit Card Payments',
        description: { original: 'PAYMENT THANK YOU' },
        date: '2025-05-03',
        status: 'POSTED',
      },
    ],
  });

  it('converts accounts per container, makes transaction ids unique with the CONTAINER, signs from baseType', () => {
    const u = convert(record());
    expect(u.sourceUserId).toBe('sbMem5a1b2c3');
    const { connectionId, request } = u.connections[0]!;
    expect(connectionId).toBe('yodlee:10045');
    expect(request.institution_id).toBe('yodlee.16441');
    expect(request.accounts).toEqual([
      {
        account_id: '501',
        name: 'TESTDATA',
        nickname: 'Everyday',
        mask: '4933',
        type: 'depository.checking',
        balances: { currency: 'USD', current: 44.78, available: 54.78 },
      },
      {
        account_id: '502',
        name: 'CREDIT CARD',
        mask: '8614',
        type: 'liability.credit_card',
        balances: { currency: 'USD', current: 1636.44, available: 3363.56, limit: 5000 },
      },
    ]);
    expect(request.transactions).toEqual([
      {
        account_id: '501',
        transaction_id: 'bank:7',
        amount: '-12.5',
        date: '2025-05-02',
        description: 'Chipotle',
        type: 'food_and_drink.restaurants',
      },
      {
        account_id: '502',
        transaction_id: 'creditCard:7',
        amount: '300',
        date: '2025-05-03',
        description: 'PAYMENT THANK YOU',
        type: 'loan_payments.credit_card_payments',
      },
    ]);
  });

  it('counts unknown account types and categories but still imports them', () => {
    const u = convert(
      record({
        account: [{ id: 1, CONTAINER: 'bank', providerAccountId: 10045, accountName: 'X', accountType: 'SPACE_VAULT' }],
        transaction: [
          {
            id: 1,
            CONTAINER: 'bank',
            accountId: 1,
            amount: { amount: 1 },
            baseType: 'DEBIT',
            categoryType: 'EXPENSE',
            category: 'Moon Rocks',
            date: '2025-01-01',
            status: 'PENDING',
          },
        ],
      }),
      { pending: 'include' },
    );
    expect(u.connections[0]!.request.accounts[0]!.type).toBe('depository.other');
    expect(u.connections[0]!.request.transactions[0]!.type).toBe('other.moon_rocks');
    expect(u.stats).toMatchObject({ unknownAccountTypes: ['bank.SPACE_VAULT'], unknownCategories: ['Moon Rocks'] });
  });

  it.each([
    [
      record({
        transaction: [
          { id: 1, CONTAINER: 'bank', accountId: 999, amount: { amount: 1 }, baseType: 'DEBIT', date: '2025-01-01' },
        ],
      }),
      "transaction[0].accountId: '999' is not an account of this user",
    ],
    [
      record({
        transaction: [{ id: 1, CONTAINER: 'bank', accountId: 501, amount: 1, baseType: 'DEBIT', date: '2025-01-01' }],
      }),
      'transaction[0].amount: expected an object, got number',
    ],
    [
      record({
        transaction: [
          { id: 1, CONTAINER: 'bank', accountId: 501, amount: { amount: 1 }, baseType: 'UP', date: '2025-01-01' },
        ],
      }),
      'transaction[0].baseType: is not CREDIT or DEBIT',
    ],
  ])('rejects %#', (rec, reason) => {
    expect(rejection(rec).reason).toBe(reason);
  });
});

describe('akoya (FDX)', () => {
  const record = (accounts: unknown[], transactions: unknown[]) => ({
    source: 'akoya',
    user: { id: 'user-0042', email: 'al@example.com' },
    providers: [{ providerId: 'mikomo', accounts, transactions }],
  });
  const deposit = {
    depositAccount: {
      accountId: 'dep1',
      accountType: 'CHECKING',
      accountNumberDisplay: '...6789',
      productName: 'Basic Checking',
      nickname: 'Bills',
      currency: { currencyCode: 'USD' },
      currentBalance: 501.24,
      availableBalance: 500,
      balanceAsOf: '2025-06-30T08:00:00.000Z',
    },
  };
  const loc = {
    locAccount: {
      accountId: 'loc1',
      accountType: 'CREDITCARD',
      accountNumberDisplay: '4321',
      productName: 'Rewards Card',
      currentBalance: 120.5,
      creditLine: 3000,
    },
  };
  const dtx = (over: Record<string, unknown>) => ({
    depositTransaction: {
      accountId: 'dep1',
      transactionId: 't1',
      postedTimestamp: '2025-06-01T07:00:00.000-07:00',
      transactionTimestamp: '2025-05-31T00:00:00Z',
      description: 'GROCER',
      debitCreditMemo: 'DEBIT',
      status: 'POSTED',
      amount: 42.1,
      merchantCategoryCode: '5411',
      ...over,
    },
  });

  it('unwraps FDX accounts and transactions, signs from debitCreditMemo, dates as the bank wrote them', () => {
    const u = convert(
      record(
        [deposit, loc],
        [dtx({}), dtx({ transactionId: 't2', debitCreditMemo: 'CREDIT', amount: -10, merchantCategoryCode: '5812' })],
      ),
    );
    const { connectionId, request } = u.connections[0]!;
    expect(connectionId).toBe('akoya:user-0042:mikomo');
    expect(request.institution_id).toBe('akoya.mikomo');
    expect(request.accounts).toEqual([
      {
        account_id: 'dep1',
        name: 'Basic Checking',
        nickname: 'Bills',
        mask: '6789',
        type: 'depository.checking',
        balances: { currency: 'USD', current: 501.24, available: 500, balance_date: '2025-06-30T08:00:00.000Z' },
      },
      {
        account_id: 'loc1',
        name: 'Rewards Card',
        mask: '4321',
        type: 'liability.credit_card',
        balances: { current: 120.5, limit: 3000 },
      },
    ]);
    expect(request.transactions).toEqual([
      {
        account_id: 'dep1',
        transaction_id: 't1',
        amount: '-42.1',
        date: '2025-06-01',
        description: 'GROCER',
        type: 'food_and_drink.groceries',
      },
      {
        account_id: 'dep1',
        transaction_id: 't2',
        amount: '10',
        date: '2025-06-01',
        description: 'GROCER',
        type: 'food_and_drink.restaurants',
      },
    ]);
  });

  it.each(['PENDING', 'MEMO', 'AUTHORIZATION'])('treats status %s as pending', (status) => {
    const u = convert(record([deposit], [dtx({ status, postedTimestamp: undefined })]));
    expect(u.stats.pendingSkipped).toBe(1);
    expect(u.connections[0]!.request.transactions).toEqual([]);
  });

  it('counts an unknown MCC and a bare (unwrapped) account with an unknown type', () => {
    const u = convert(
      record(
        [{ accountId: 'x1', accountType: 'SPACEVAULT', productName: 'Vault' }],
        [
          {
            accountId: 'x1',
            transactionId: 'q',
            transactionTimestamp: '2025-01-01',
            debitCreditMemo: 'DEBIT',
            amount: 1,
            merchantCategoryCode: '6051',
          },
        ],
      ),
    );
    expect(u.connections[0]!.request.accounts[0]!.type).toBe('other.spacevault');
    expect(u.connections[0]!.request.transactions[0]!.type).toBe('other.mcc_6051');
    expect(u.stats).toMatchObject({ unknownAccountTypes: ['SPACEVAULT'], unknownCategories: ['6051'] });
  });

  it('rejects an unknown debitCreditMemo', () => {
    expect(rejection(record([deposit], [dtx({ debitCreditMemo: 'BOTH' })])).reason).toBe(
      'providers[0].transactions[0].depositTransaction.debitCreditMemo: is not DEBIT, CREDIT or MEMO',
    );
  });
});

describe('canonical', () => {
  const request = (over: Record<string, unknown> = {}) => ({
    customer_user: { id: 'user-0100' },
    provider: 'plaid',
    institution_id: 'plaid.ins_3',
    accounts: [{ account_id: 'a', name: 'Checking', type: 'depository.checking', balances: { current: 1 } }],
    transactions: [{ account_id: 'a', amount: -12.5, date: '2025-01-01' }],
    ...over,
  });
  const record = (req: unknown) => ({ user_id: 'user-0100', connections: [{ connection_id: 'conn-1', request: req }] });

  it('passes a valid request through, normalising number amounts to exact decimal strings', () => {
    const u = convert(record(request()));
    expect(u.connections).toEqual([
      {
        connectionId: 'conn-1',
        request: { ...request(), transactions: [{ account_id: 'a', amount: '-12.5', date: '2025-01-01' }] },
      },
    ]);
    expect(u.stats).toMatchObject({ accounts: 1, transactions: 1 });
  });

  it.each([
    [
      request({ institution_id: '' }),
      'connections[0].request.institution_id: String must contain at least 1 character(s)',
    ],
    [
      request({ transactions: [{ account_id: 'zz', amount: '1', date: '2025-01-01' }] }),
      "connections[0].request.transactions[0].account_id: 'zz' does not match any account of the request",
    ],
    [
      request({ transactions: [{ account_id: 'a', amount: 'x', date: '2025-01-01' }] }),
      'connections[0].request.transactions[0].amount: a string of 1 characters is not a decimal',
    ],
    [
      request({ transactions: [{ account_id: 'a', amount: '1', date: '2025/01/01' }] }),
      'connections[0].request.transactions[0].date: is not YYYY-MM-DD or an ISO-8601 date-time',
    ],
    [
      request({ customer_user: { id: 'user-9999' } }),
      "connections[0].request.customer_user.id: does not match user_id 'user-0100'",
    ],
    [
      request({
        accounts: [
          { account_id: 'a', name: 'x', type: 't', balances: {} },
          { account_id: 'a', name: 'y', type: 't', balances: {} },
        ],
      }),
      'connections[0].request.accounts[1].account_id: duplicate account_id "a"',
    ],
  ])('rejects %#', (req, reason) => {
    expect(rejection(record(req)).reason).toBe(reason);
  });
});

describe('detectFormat', () => {
  const user = fixtures.generateUser(fixtures.createRng(5), 1, { txPerAccount: 2 });
  it.each(['plaid', 'mx', 'yodlee', 'finicity', 'akoya', 'canonical'] as const)(
    'recognises %s by shape, without the source field',
    (format) => {
      const { source: _omit, ...rec } = fixtures.renderUser(format, user, 1) as Record<string, unknown>;
      expect(detectFormat(rec)).toBe(format);
    },
  );
  it('trusts a declared source, and rejects unknown ones', () => {
    expect(detectFormat({ source: 'MX' })).toBe('mx');
    expect(detectFormat({ source: 'teller' })).toBeUndefined();
    expect(detectFormat({ rows: [] })).toBeUndefined();
    expect(detectFormat([1])).toBeUndefined();
  });
  it('a forced format overrides detection', () => {
    expect(rejection({ items: [] }, { format: 'mx' }).reason).toBe('user: expected an object, got undefined');
  });
});
