import { planImport, ImportTooLargeError, type ImportLinkRequest, type ImportTransaction } from '@mk/shared';

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v), 'utf8');

function request(txCount: number, descriptionLength = 180): ImportLinkRequest {
  const transactions: ImportTransaction[] = Array.from({ length: txCount }, (_, i) => ({
    account_id: 'acc-1',
    transaction_id: `tx-${i}`,
    amount: i % 2 ? '-12.34' : '1500.00',
    date: '2024-01-15',
    description: 'é'.repeat(i % 7) + 'x'.repeat(descriptionLength),
  }));
  return {
    customer_user: { id: 'user-0001' },
    provider: 'plaid',
    institution_id: 'plaid.ins_3',
    accounts: [
      {
        account_id: 'acc-1',
        name: 'Checking',
        type: 'depository.checking',
        balances: { currency: 'USD', current: 10 },
      },
    ],
    transactions,
  };
}

describe('planImport', () => {
  it('keeps a small request whole', () => {
    const req = request(10);
    const plan = planImport(req);
    expect(plan.batches).toHaveLength(0);
    expect(plan.importBody).toEqual(req);
    expect(plan.importBytes).toBe(bytes(req));
  });

  it('splits a heavy request losslessly into bodies each within the limit, with exact sizes', () => {
    const req = request(12_000); // multi-byte characters included: bytes, not characters, are counted
    const plan = planImport(req);
    expect(plan.batches.length).toBeGreaterThan(1);
    expect(plan.importBytes).toBe(bytes(plan.importBody));
    expect(plan.importBytes).toBeLessThanOrEqual(1_000_000);
    plan.batches.forEach((batch, i) => {
      expect(plan.batchBytes[i]).toBe(bytes({ transactions: batch }));
      expect(plan.batchBytes[i]).toBeLessThanOrEqual(1_000_000);
    });
    const all = [...plan.importBody.transactions, ...plan.batches.flat()];
    expect(all).toEqual(req.transactions);
  });

  it('fills bodies up to exactly the limit', () => {
    const req = request(3);
    const whole = bytes(req);
    expect(planImport(req, whole).batches).toHaveLength(0);
    expect(planImport(req, whole - 1).batches).toHaveLength(1);
  });

  it('refuses what can never fit', () => {
    expect(() => planImport(request(1, 2_000_000))).toThrow(ImportTooLargeError);
  });
});
