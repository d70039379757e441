import { MAX_REQUEST_BYTES } from '@mk/shared';
import type { RunningSandbox } from '../src';
import { apiFor, importRequest, startTestSandbox, type Api } from './helpers';

let sb: RunningSandbox;
let api: Api;
beforeAll(async () => {
  sb = await startTestSandbox({ importRatePerMinute: 1_000 });
  api = await apiFor(sb);
});
afterAll(() => sb.close());
beforeEach(() => sb.state.reset());

/** A valid import request serialized to exactly `bytes` bytes (padding one transaction's description). */
function bodyOfExactly(bytes: number): string {
  const req = importRequest({}, 1);
  req.transactions[0]!.description = '';
  const base = Buffer.byteLength(JSON.stringify(req));
  req.transactions[0]!.description = 'x'.repeat(bytes - base);
  const json = JSON.stringify(req);
  expect(Buffer.byteLength(json)).toBe(bytes);
  return json;
}

test('an import creates a disconnected link (error / auth_expired) with the data kept', async () => {
  const req = importRequest({ provider: undefined, institution_id: 'mx.wells_fargo' }, 3);
  const res = await api.post('/links/import', req);
  expect(res.status).toBe(200);
  expect(res.body).toEqual(
    expect.objectContaining({
      link_id: expect.stringMatching(/^mk_[A-Za-z0-9]{22}$/),
      institution_id: 'mx.wells_fargo',
      institution_name: 'Wells Fargo',
      provider: 'mx',
      state: 'error',
      error_code: 'auth_expired',
      available_products: ['accounts', 'transactions', 'identity', 'account_numbers'],
    }),
  );
  const accounts = await api.get(`/links/${res.body.link_id}/accounts`);
  expect(accounts.body.accounts.map((a: any) => [a.original_id, a.account_type, a.account_mask])).toEqual([
    ['acct-1', 'depository.checking', '3748'],
    ['acct-2', 'liability.credit_card', '9911'],
  ]);
  const txns = await api.get(`/links/${res.body.link_id}/transactions`);
  expect(txns.body.total).toBe(3);
  expect(txns.body.transactions.map((t: any) => [t.original_id, t.amount, t.type])).toEqual([
    ['txn-0', '384.05', 'credit'],
    ['txn-1', '12.50', 'debit'],
    ['txn-2', '384.05', 'credit'],
  ]);
  // No PII is kept: the customer's email is nowhere in what the API shows.
  expect(JSON.stringify([res.body, accounts.body, txns.body])).not.toContain('person@example.com');
});

test('transactions are paginated and filterable', async () => {
  const { body: link } = await api.post('/links/import', importRequest({}, 7));
  const page2 = await api.get(`/links/${link.link_id}/transactions?page=2&size=3`);
  expect([page2.body.total, page2.body.page, page2.body.size, page2.body.transactions.length]).toEqual([7, 2, 3, 3]);
  expect(page2.body.transactions[0].original_id).toBe('txn-3');
  const acct = (await api.get(`/links/${link.link_id}/accounts`)).body.accounts[1].account_id;
  const filtered = await api.get(`/links/${link.link_id}/transactions?account_ids=${acct}`);
  expect(filtered.body.total).toBe(3);
  expect((await api.get(`/links/${link.link_id}/transactions?size=5000`)).status).toBe(422);
});

test(`a body of exactly ${MAX_REQUEST_BYTES} bytes is accepted; one byte more is refused with 413`, async () => {
  expect((await api.postRaw('/links/import', bodyOfExactly(MAX_REQUEST_BYTES))).status).toBe(200);
  const over = await api.postRaw('/links/import', bodyOfExactly(MAX_REQUEST_BYTES + 1));
  expect(over.status).toBe(413);
  expect(over.body).toEqual(
    expect.objectContaining({
      error_code: 'api_error.request.payload_too_large',
      error_message: expect.any(String),
      documentation_url: expect.any(String),
    }),
  );
  expect(sb.state.counters().linksCreated).toBe(1);
});

test('validation failures answer 422 with body locations', async () => {
  const req = importRequest();
  const bad = { ...req, customer_user: { id: 'ab' }, transactions: [{ ...req.transactions[0], amount: 12.5 }] };
  const res = await api.post('/links/import', bad);
  expect(res.status).toBe(422);
  expect(res.body.error_code).toBe('api_error.request.validation_failed');
  expect(res.body.validation_errors).toEqual([
    { location: ['body', 'customer_user', 'id'], message: expect.any(String), type: 'string_too_short' },
    { location: ['body', 'transactions', 0, 'amount'], message: expect.any(String), type: 'string_type' },
  ]);
  const ghost = await api.post('/links/import', {
    ...req,
    transactions: [req.transactions[0], { ...req.transactions[1], account_id: 'ghost' }],
  });
  expect(ghost.body.validation_errors).toEqual([
    { location: ['body', 'transactions', 1, 'account_id'], message: expect.any(String), type: 'value_error' },
  ]);
  expect((await api.postRaw('/links/import', '{not json')).body.validation_errors[0].type).toBe('json_invalid');
  expect(sb.state.counters().linksCreated).toBe(0);
});

test('import/transactions appends to the link, checks account ids and counts re-sent transactions', async () => {
  const { body: link } = await api.post('/links/import', importRequest({}, 2));
  const batch = {
    transactions: [
      { account_id: 'acct-2', transaction_id: 'txn-1', amount: '-3', date: '2022-03-01T10:00:00Z' },
      { account_id: 'acct-1', amount: '5', date: '2022-03-02' },
    ],
  };
  const res = await api.post(`/links/${link.link_id}/import/transactions`, batch);
  expect(res.status).toBe(200);
  expect(res.body.link_id).toBe(link.link_id);
  const txns = await api.get(`/links/${link.link_id}/transactions`);
  expect(txns.body.total).toBe(4);
  expect(txns.body.transactions[2]).toEqual(
    expect.objectContaining({
      original_id: 'txn-1',
      date: '2022-03-01',
      datetime: '2022-03-01T10:00:00.000Z',
      type: 'debit',
      amount: '3',
    }),
  );
  expect(sb.state.counters()).toEqual(
    expect.objectContaining({ transactionsImported: 4, duplicateTransactions: 1, importTransactionsCalls: 1 }),
  );

  const wrongAccount = await api.post(`/links/${link.link_id}/import/transactions`, {
    transactions: [{ account_id: 'acct-9', amount: '1', date: '2022-01-01' }],
  });
  expect(wrongAccount.status).toBe(422);
  expect(wrongAccount.body.validation_errors[0].location).toEqual(['body', 'transactions', 0, 'account_id']);
  expect((await api.get(`/links/${link.link_id}/transactions`)).body.total).toBe(4);
});

test('a retried import is a duplicate link: counted per user, and visible in GET /users/{id}/links', async () => {
  const req = importRequest();
  const first = await api.post('/links/import', req);
  const retry = await api.post('/links/import', req);
  expect(retry.body.link_id).not.toBe(first.body.link_id);
  // Same user and institution but other accounts: a second connection, not a duplicate.
  await api.post('/links/import', {
    ...req,
    accounts: [{ ...req.accounts[0]!, account_id: 'other' }],
    transactions: [],
  });
  const c = sb.state.counters();
  expect(c).toEqual(expect.objectContaining({ linksCreated: 3, duplicateLinks: 1, importCalls: 3 }));
  expect(c.linksByCustomerUser[req.customer_user.id]).toBe(3);
  const userLinks = await api.get(`/users/${req.customer_user.id}/links`);
  expect(Object.keys(userLinks.body.links)).toEqual(expect.arrayContaining([first.body.link_id, retry.body.link_id]));
  // Deleting the duplicate leaves one live copy: a new identical import is a duplicate again.
  await api.del(`/links/${retry.body.link_id}`);
  expect(sb.state.counters().linksByCustomerUser[req.customer_user.id]).toBe(2);
  await api.post('/links/import', req);
  expect(sb.state.counters().duplicateLinks).toBe(2);
});

test('granted products are configurable per sandbox', async () => {
  const narrow = await startTestSandbox({ grantedProducts: ['accounts', 'transactions'] });
  try {
    const narrowApi = await apiFor(narrow);
    const { body } = await narrowApi.post('/links/import', importRequest());
    expect(body.available_products).toEqual(['accounts', 'transactions']);
    expect(Object.keys(body.products).sort()).toEqual(['accounts', 'transactions']);
  } finally {
    await narrow.close();
  }
});

describe('the app-wide import rate limit', () => {
  let limited: RunningSandbox;
  let lapi: Api;
  beforeAll(async () => {
    limited = await startTestSandbox({ importRatePerMinute: 3 });
    lapi = await apiFor(limited);
  });
  afterAll(() => limited.close());

  test('counts import and import/transactions together, answers 429 with Retry-After, and records arrivals', async () => {
    const { body: link } = await lapi.post('/links/import', importRequest());
    expect((await lapi.post(`/links/${link.link_id}/import/transactions`, { transactions: [] })).status).toBe(200);
    expect((await lapi.post('/links/import', importRequest())).status).toBe(200);
    const refused = await lapi.post('/links/import', importRequest());
    expect(refused.status).toBe(429);
    expect(refused.body.error_code).toBe('api_error.rate_limit_exceeded');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(Number(refused.headers.get('x-sandbox-retry-after-ms'))).toBeGreaterThan(58_000);
    expect((await lapi.post(`/links/${link.link_id}/import/transactions`, { transactions: [] })).status).toBe(429);
    expect(limited.state.counters()).toEqual(
      expect.objectContaining({
        rateLimited429s: 2,
        maxImportCallsPerMinuteSeen: 5,
        importCalls: 3,
        importTransactionsCalls: 2,
        linksCreated: 2,
      }),
    );
    // Refreshes and reads are not import calls.
    expect((await lapi.get(`/links/${link.link_id}`)).status).toBe(200);
  });
});

test('latency grows with body size: base + per KB, capped', async () => {
  const slow = await startTestSandbox({ latency: { baseMs: 100, perKbMs: 2, maxMs: 250 } });
  try {
    const sapi = await apiFor(slow);
    const timed = async (body: string) => {
      const t0 = Date.now();
      expect((await sapi.postRaw('/links/import', body)).status).toBe(200);
      return Date.now() - t0;
    };
    expect(await timed(bodyOfExactly(1_000))).toBeGreaterThanOrEqual(100);
    const mid = await timed(bodyOfExactly(50_000)); // 100 + 2 × 50 = 200 ms
    expect(mid).toBeGreaterThanOrEqual(195);
    const capped = await timed(bodyOfExactly(500_000)); // would be 1,100 ms; capped at 250
    expect(capped).toBeGreaterThanOrEqual(245);
    expect(capped).toBeLessThan(900);
  } finally {
    await slow.close();
  }
});
