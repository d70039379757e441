/**
 * A folder of saved API responses for a few users of each source, written in the shapes the aggregators document
 * (Plaid OpenAPI, Yodlee API 1.1, MX Platform API, Finicity/Mastercard Open Banking, Akoya/FDX), with several pages
 * where the endpoint pages. `expected` says, by the source's own rules, what each user's transactions are.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ExpectedTransaction {
  /** The id MoneyKit keeps (Yodlee's is `<CONTAINER>:<id>`). */
  id: string;
  /** Positive = money in, as MoneyKit reads it. */
  amount: string;
  date: string;
}
export interface ExpectedConnection {
  sourceUserId: string;
  connectionId: string;
  transactions: ExpectedTransaction[];
}

function put(root: string, rel: string, body: unknown): void {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(body, null, 2));
}

export function writeSavedResponses(root: string, usersPerSource = 2): ExpectedConnection[] {
  const expected: ExpectedConnection[] = [];
  for (let n = 1; n <= usersPerSource; n++) {
    // Plaid: /transactions/sync pages, applied in cursor order (added, then modified, then removed).
    const pu = `plaid-user-${n}`;
    const item = `item-${n}`;
    const acct = {
      account_id: `acc-${n}`,
      name: 'Plaid Checking',
      type: 'depository',
      subtype: 'checking',
      balances: { available: 100, current: 110, iso_currency_code: 'USD' },
    };
    put(root, `plaid/${pu}/${item}/item_get.json`, {
      item: { item_id: item, institution_id: 'ins_109508' },
      request_id: 'r',
    });
    put(root, `plaid/${pu}/${item}/accounts_get.json`, {
      accounts: [acct],
      item: { item_id: item, institution_id: 'ins_109508' },
      request_id: 'r',
    });
    put(root, `plaid/${pu}/${item}/auth_get.json`, {
      accounts: [acct],
      numbers: { ach: [{ account_id: `acc-${n}`, account: '1111222233330000', routing: '011401533' }] },
      request_id: 'r',
    });
    put(root, `plaid/${pu}/${item}/identity_get.json`, {
      accounts: [
        {
          ...acct,
          owners: [
            {
              emails: [{ data: `plaid${n}@example.com`, primary: true }],
              phone_numbers: [{ data: '+14155550100', primary: true }],
            },
          ],
        },
      ],
      request_id: 'r',
    });
    const t = (id: string, amount: number, date: string) => ({
      transaction_id: id,
      account_id: `acc-${n}`,
      amount,
      date,
      name: 'Uber 063015 SF**POOL**',
      pending: false,
      personal_finance_category: { primary: 'TRANSPORTATION', detailed: 'TRANSPORTATION_TAXIS_AND_RIDE_SHARES' },
    });
    put(root, `plaid/${pu}/${item}/transactions_sync.1.json`, {
      added: [t(`p${n}-1`, 6.33, '2025-05-02'), t(`p${n}-2`, 25, '2025-05-03')],
      modified: [],
      removed: [],
      next_cursor: 'c1',
      has_more: true,
    });
    put(root, `plaid/${pu}/${item}/transactions_sync.2.json`, {
      added: [t(`p${n}-3`, -500, '2025-05-04')],
      modified: [t(`p${n}-1`, 7.33, '2025-05-02')],
      removed: [{ transaction_id: `p${n}-2` }],
      next_cursor: 'c2',
      has_more: false,
    });
    expected.push({
      sourceUserId: pu,
      connectionId: `plaid:${item}`,
      transactions: [
        { id: `p${n}-1`, amount: '-7.33', date: '2025-05-02' },
        { id: `p${n}-3`, amount: '500', date: '2025-05-04' },
      ],
    });

    // Yodlee: GET /user, GET /accounts, GET /transactions in two pages; sign from baseType.
    const yu = `yodlee-user-${n}`;
    put(root, `yodlee/${yu}/user.json`, { user: { id: 10000 + n, loginName: yu, email: `y${n}@example.com` } });
    put(root, `yodlee/${yu}/accounts.json`, {
      account: [
        {
          CONTAINER: 'bank',
          providerAccountId: 3000 + n,
          providerId: '16441',
          id: 4000 + n,
          accountName: 'TESTDATA',
          accountNumber: 'xxxx3xxx',
          accountType: 'CHECKING',
          currentBalance: { amount: 44.78, currency: 'USD' },
        },
      ],
    });
    const yt = (id: number, baseType: string, amount: number, postDate: unknown) => ({
      CONTAINER: 'bank',
      id,
      amount: { amount, currency: 'USD' },
      baseType,
      categoryType: 'EXPENSE',
      category: 'Restaurants/Dining',
      description: { original: 'DAGBANK', simple: 'DagBank' },
      postDate,
      status: 'POSTED',
      accountId: 4000 + n,
    });
    put(root, `yodlee/${yu}/transactions.1.json`, { transaction: [yt(n * 10 + 1, 'DEBIT', 12.5, '2025-04-01')] });
    put(root, `yodlee/${yu}/transactions.2.json`, {
      transaction: [yt(n * 10 + 2, 'CREDIT', 1000, { date: '2025-04-02', format: 'yyyy-MM-dd' })],
    });
    expected.push({
      sourceUserId: yu,
      connectionId: `yodlee:${3000 + n}`,
      transactions: [
        { id: `bank:${n * 10 + 1}`, amount: '-12.5', date: '2025-04-01' },
        { id: `bank:${n * 10 + 2}`, amount: '1000', date: '2025-04-02' },
      ],
    });

    // MX: members, accounts, transactions list pages with pagination; sign from type.
    const mu = `mx-user-${n}`;
    put(root, `mx/${mu}/user.json`, { user: { guid: `USR-${n}`, id: mu, email: `m${n}@example.com` } });
    put(root, `mx/${mu}/members.1.json`, {
      members: [{ guid: `MBR-${n}`, institution_code: 'mxbank', user_guid: `USR-${n}` }],
      pagination: { current_page: 1, per_page: 25, total_entries: 1, total_pages: 1 },
    });
    put(root, `mx/${mu}/accounts.1.json`, {
      accounts: [
        {
          guid: `ACT-${n}`,
          member_guid: `MBR-${n}`,
          name: 'Checking',
          type: 'CHECKING',
          balance: 1000.23,
          currency_code: 'USD',
        },
      ],
      pagination: { current_page: 1, total_pages: 1 },
    });
    const mt = (guid: string, type: string, amount: number, date: string) => ({
      guid,
      account_guid: `ACT-${n}`,
      amount,
      type,
      date,
      description: 'Whole Foods',
      top_level_category: 'Food & Dining',
      category: 'Groceries',
      status: 'POSTED',
    });
    put(root, `mx/${mu}/transactions.1.json`, {
      transactions: [mt(`TRN-${n}-1`, 'DEBIT', 61.11, '2025-03-01')],
      pagination: { current_page: 1, total_pages: 2 },
    });
    put(root, `mx/${mu}/transactions.2.json`, {
      transactions: [mt(`TRN-${n}-2`, 'CREDIT', 5, '2025-03-02')],
      pagination: { current_page: 2, total_pages: 2 },
    });
    expected.push({
      sourceUserId: mu,
      connectionId: `mx:MBR-${n}`,
      transactions: [
        { id: `TRN-${n}-1`, amount: '-61.11', date: '2025-03-01' },
        { id: `TRN-${n}-2`, amount: '5', date: '2025-03-02' },
      ],
    });

    // Finicity: customer, customer accounts, transactions pages ({ found, displaying, moreAvailable, transactions }); signed already.
    const fu = `finicity-user-${n}`;
    put(root, `finicity/${fu}/customer.json`, {
      id: `100506${n}`,
      username: fu,
      firstName: 'John',
      lastName: 'Smith',
      type: 'active',
      createdDate: 1607450357,
    });
    put(root, `finicity/${fu}/accounts.json`, {
      accounts: [
        {
          id: `501164${n}`,
          number: 'xxxxxx8377',
          name: 'Checking',
          balance: 501.24,
          type: 'checking',
          status: 'active',
          customerId: `100506${n}`,
          institutionId: '4222',
          institutionLoginId: 70000 + n,
          currency: 'USD',
        },
      ],
    });
    const ft = (id: number, amount: number, postedDate: number) => ({
      id,
      amount,
      accountId: `501164${n}`,
      customerId: `100506${n}`,
      status: 'active',
      description: 'Buy Coffee',
      postedDate,
      transactionDate: postedDate,
      categorization: { category: 'Coffee Shops' },
    });
    put(root, `finicity/${fu}/transactions.1.json`, {
      found: 2,
      displaying: 1,
      moreAvailable: true,
      transactions: [ft(n * 100 + 1, -4.5, 1748736000)],
    });
    put(root, `finicity/${fu}/transactions.2.json`, {
      found: 2,
      displaying: 1,
      moreAvailable: false,
      transactions: [ft(n * 100 + 2, 250, 1748822400)],
    });
    expected.push({
      sourceUserId: fu,
      connectionId: `finicity:${70000 + n}`,
      transactions: [
        { id: String(n * 100 + 1), amount: '-4.5', date: '2025-06-01' },
        { id: String(n * 100 + 2), amount: '250', date: '2025-06-02' },
      ],
    });

    // Akoya: per provider, accounts + balances (merged by accountId) + transactions ({ links, transactions }).
    const au = `akoya-user-${n}`;
    put(root, `akoya/${au}/mikomo/accounts.json`, {
      accounts: [
        {
          depositAccount: {
            accountId: `dep-${n}`,
            accountType: 'CHECKING',
            accountNumberDisplay: '...5678',
            productName: 'Checking',
            currency: { currencyCode: 'USD' },
          },
        },
      ],
    });
    put(root, `akoya/${au}/mikomo/balances.json`, {
      accounts: [
        {
          depositAccount: {
            accountId: `dep-${n}`,
            currentBalance: 501.24,
            availableBalance: 500,
            balanceAsOf: '2025-06-30T08:00:00.000Z',
          },
        },
      ],
    });
    const at = (id: string, dcm: string, amount: number, ts: string) => ({
      depositTransaction: {
        accountId: `dep-${n}`,
        transactionId: id,
        postedTimestamp: ts,
        description: 'GROCER',
        debitCreditMemo: dcm,
        status: 'POSTED',
        amount,
        merchantCategoryCode: '5411',
      },
    });
    put(root, `akoya/${au}/mikomo/transactions.1.json`, {
      links: { next: { href: '/transactions?offset=1' } },
      transactions: [at(`a${n}-1`, 'DEBIT', 42.1, '2025-06-01T07:00:00.000-07:00')],
    });
    put(root, `akoya/${au}/mikomo/transactions.2.json`, {
      links: {},
      transactions: [at(`a${n}-2`, 'CREDIT', 10, '2025-06-02T07:00:00.000-07:00')],
    });
    expected.push({
      sourceUserId: au,
      connectionId: `akoya:${au}:mikomo`,
      transactions: [
        { id: `a${n}-1`, amount: '-42.1', date: '2025-06-01' },
        { id: `a${n}-2`, amount: '10', date: '2025-06-02' },
      ],
    });
  }
  return expected;
}
