/** Small, deterministic import payloads for worker tests (the converters have their own fixtures). */
import type { ImportJob, ImportLinkRequest, ImportTransaction } from '@mk/shared';

export function connectionRequest(userId: string, connection: number, transactions: number): ImportLinkRequest {
  const accountId = `${userId}-c${connection}-acc`;
  const txs: ImportTransaction[] = Array.from({ length: transactions }, (_, i) => ({
    account_id: accountId,
    transaction_id: `${accountId}-tx${i}`,
    amount: i % 3 ? `-${(i % 97) + 1}.${String(i % 100).padStart(2, '0')}` : '1250.00',
    date: `2024-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')}`,
    description: `Merchant number ${i} with a description long enough to look like a real bank statement line`,
    type: 'food_and_drink.restaurants',
  }));
  return {
    customer_user: { id: `cu-${userId}` },
    provider: 'plaid',
    institution_id: `plaid.ins_${connection + 1}`,
    accounts: [
      {
        account_id: accountId,
        name: 'Checking',
        type: 'depository.checking',
        mask: '1234',
        balances: { currency: 'USD', current: 100.5 },
      },
    ],
    transactions: txs,
  };
}

/** `users` jobs of 1–2 connections; every `heavyEvery`-th user has a connection over 1 MB. */
export function importJobs(runId: string, users: number, opts: { heavyEvery?: number; tx?: number } = {}): ImportJob[] {
  return Array.from({ length: users }, (_, u) => {
    const userId = `u${u}`;
    const heavy = opts.heavyEvery !== undefined && u % opts.heavyEvery === 0;
    const count = u % 2 ? 2 : 1;
    return {
      runId,
      sourceUserId: userId,
      line: u + 1,
      connections: Array.from({ length: count }, (_, c) => ({
        connectionId: `item-${u}-${c}`,
        request: connectionRequest(userId, c, heavy && c === 0 ? 9000 : (opts.tx ?? 20)),
      })),
    };
  });
}
