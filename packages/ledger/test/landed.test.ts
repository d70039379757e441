import IORedis from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import {
  connectionField,
  diffLanded,
  LANDED_ENTRY_BYTES,
  LANDED_HEADER_BYTES,
  microUnits,
  MigrationLedger,
  normalizeAmount,
} from '@mk/ledger';

let server: PrivateRedis;
let redis: IORedis;
let ledger: MigrationLedger;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  ledger = new MigrationLedger(redis, '{landed}');
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const tx = (id: string, amount: string, date = '2026-11-01', account_id = 'a1') => ({
  account_id,
  transaction_id: id,
  amount,
  date,
});
const field = connectionField('u1', 'c1');

describe('landed records', () => {
  it('normalises amounts and counts them in exact micro-units', () => {
    expect(normalizeAmount('012.50')).toBe('12.5');
    expect(normalizeAmount('-0.00')).toBe('0');
    expect(normalizeAmount('+3')).toBe('3');
    expect(microUnits('-12.345678')).toBe(-12_345_678n);
    expect(microUnits('0.1') + microUnits('0.2')).toBe(microUnits('0.3'));
  });

  it('records a landing once, with the sum, and 8 bytes per transaction', async () => {
    const batch = [tx('t1', '-10.00'), tx('t2', '25.5'), tx('t3', '-0.25', '2026-11-02', 'a2')];
    expect(await ledger.noteLanded('r1', field, batch, ['a1', 'a2', 'a3'])).toBe(3);
    // the same landing settled twice (two workers after one lost call) counts once
    expect(await ledger.noteLanded('r1', field, batch)).toBe(0);
    const landed = await ledger.landed('r1', field, ['a1', 'a2', 'a3', 'a4']);
    expect(landed.get('a1')).toMatchObject({ sumMicro: 15_500_000n });
    expect(landed.get('a1')!.entries.size).toBe(2);
    expect(landed.get('a2')!.entries.size).toBe(1);
    expect(landed.get('a3')).toEqual({ sumMicro: 0n, entries: new Map() }); // an account with nothing on it yet
    expect(landed.get('a4')).toBeUndefined();
    const raw = await redis.hvalsBuffer('{landed}:run:r1:landed');
    expect(raw.map((v) => v.length).sort((a, b) => a - b)).toEqual([
      LANDED_HEADER_BYTES,
      LANDED_HEADER_BYTES + LANDED_ENTRY_BYTES,
      LANDED_HEADER_BYTES + 2 * LANDED_ENTRY_BYTES,
    ]);
  });

  it("tells a newer dump's transactions apart: new, changed under the same id, posted since pending, on another account", async () => {
    await ledger.noteLanded('r2', field, [tx('t1', '-10.00'), tx('t2', '25.50')], ['a1']);
    const landed = await ledger.landed('r2', field, ['a1', 'a9']);
    const newer = [
      tx('t1', '-10'), // the same money, written another way
      tx('t2', '26.75'), // amount changed under the same id
      tx('t3', '-4.00'), // new
      tx('t-pending', '-7.10'), // pending in the first dump (skipped by the pending policy), posted now
      tx('t9', '-1.00', '2026-11-03', 'a9'), // an account opened since: not on the link
    ];
    const diff = diffLanded(landed, newer);
    expect(diff.fresh.map((t) => t.transaction_id)).toEqual(['t3', 't-pending']);
    expect(diff.changed.map((t) => t.transaction_id)).toEqual(['t2']);
    expect(diff.same).toBe(1);
    expect(diff.otherAccount.map((t) => t.transaction_id)).toEqual(['t9']);
    expect(diff.unrecorded).toBe(false);
    // a date change is a change too
    expect(diffLanded(landed, [tx('t1', '-10.00', '2026-11-05')]).changed).toHaveLength(1);
    // nothing recorded for the connection: nothing is assumed to be new
    expect(diffLanded(await ledger.landed('r2', connectionField('u9', 'c9'), ['a1']), newer)).toMatchObject({
      unrecorded: true,
      fresh: [],
    });
  });
});
