import type { ImportLinkRequest, ImportTransaction } from '@mk/shared';

export function anImportRequest(userId = 'user-0001', transactions = 2): ImportLinkRequest {
  const txs: ImportTransaction[] = Array.from({ length: transactions }, (_, i) => ({
    account_id: 'acc-1',
    transaction_id: `tx-${i}`,
    amount: i % 2 ? '12.34' : '-5.00',
    date: '2024-12-01',
    description: 'Coffee shop',
    type: 'food_and_drink.restaurants',
  }));
  return {
    customer_user: {
      id: userId,
      email: { address: 'jane.doe@example.com' },
      phone: { number: '+14155550100', country: 'US' },
    },
    provider: 'mx',
    institution_id: 'mx.chase',
    accounts: [
      {
        account_id: 'acc-1',
        name: 'Checking',
        type: 'depository.checking',
        mask: '1234',
        balances: { currency: 'USD', available: 100.5, current: 120, balance_date: '2024-12-01T00:00:00Z' },
      },
    ],
    transactions: txs,
  };
}

/**
 * An import request whose serialized size is exactly `bytes`: padding goes into one transaction's description.
 * Padding is ASCII, so one character is one byte.
 */
export function anImportRequestOfSize(bytes: number, userId = 'user-size-0001'): ImportLinkRequest {
  const req = anImportRequest(userId, 1);
  const tx = req.transactions[0]!;
  tx.description = '';
  const base = Buffer.byteLength(JSON.stringify(req));
  if (bytes < base) throw new Error(`cannot build a ${bytes}-byte body: the smallest is ${base}`);
  tx.description = 'x'.repeat(bytes - base);
  return req;
}
