import { hash } from 'node:crypto';
import IORedis from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import {
  connectionField,
  diffLanded,
  LANDED_BUCKET_BYTES,
  LANDED_CHUNK_BYTES,
  landedBuckets,
  LANDED_ENTRY_BYTES,
  landedConnectionsIn,
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
  await redis.quit();
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

  it('records a landing once, with the count and sum, and 7 bytes per transaction', async () => {
    const batch = [tx('t1', '-10.00'), tx('t2', '25.5'), tx('t3', '-0.25', '2026-11-02', 'a2')];
    expect(await ledger.noteLanded('r1', field, batch, ['a1', 'a2', 'a3'])).toBe(3);
    // the same landing settled twice (two workers after one lost call) counts once
    expect(await ledger.noteLanded('r1', field, batch)).toBe(0);
    const landed = await ledger.landed('r1', field, ['a1', 'a2', 'a3', 'a4']);
    expect(landed.get('a1')).toMatchObject({ sumMicro: 15_500_000n, count: 2 });
    expect(landed.get('a1')!.entries.size).toBe(2);
    expect(landed.get('a2')).toMatchObject({ sumMicro: -250_000n, count: 1 });
    expect(landed.get('a3')).toEqual({ sumMicro: 0n, count: 0, entries: new Map() }); // nothing on it yet
    expect(landed.get('a4')).toBeUndefined();
    // one bucket: a 10-byte connection header, 16 bytes per account, 7 per transaction
    const buckets = await redis.hgetallBuffer('{landed}:run:r1:landed');
    expect(Object.keys(buckets).sort()).toEqual(['0', '~']);
    expect(buckets['0']!.length).toBe(10 + 3 * 16 + 3 * LANDED_ENTRY_BYTES);
    expect(buckets['~']!.toString()).toBe(`0 0 ${buckets['0']!.length}`);
  });

  it('grows bucket by bucket as a run grows, every bucket a few KB, under 8 bytes per transaction', async () => {
    const connections = 1500;
    const perAccount = 40;
    for (let c = 0; c < connections; c++) {
      const transactions = Array.from({ length: perAccount }, (_, i) =>
        tx(`txn-${c}-${i}`, `-${(i % 97) + 0.25}`, '2026-10-01', `acc-${c}`),
      );
      await ledger.noteLanded('r3', connectionField(`user-${c}`, 'conn-0'), transactions, [`acc-${c}`]);
    }
    const fields = await redis.hgetallBuffer('{landed}:run:r3:landed');
    const [level, split, bytes] = fields['~']!.toString().split(' ').map(Number) as [number, number, number];
    const buckets = landedBuckets(fields);
    expect(buckets.size).toBe(2 ** level + split);
    expect([...buckets.values()].reduce((n, v) => n + v.length, 0)).toBe(bytes);
    expect(bytes / buckets.size).toBeLessThanOrEqual(LANDED_BUCKET_BYTES);
    // linear hashing: a bucket not split yet this round holds about twice the average, never much more
    expect(Math.max(...[...buckets.values()].map((v) => v.length))).toBeLessThan(6 * LANDED_BUCKET_BYTES);
    // chunks fill their allocation: only a bucket's last one is shorter
    for (const [field, value] of Object.entries(fields)) {
      if (field === '~') continue;
      const [bucket = field, i = '0'] = field.split('.');
      const whole = buckets.get(bucket)!.length;
      if ((Number(i) + 1) * LANDED_CHUNK_BYTES < whole) expect(value.length).toBe(LANDED_CHUNK_BYTES);
    }
    expect([...buckets.values()].flatMap((v) => landedConnectionsIn(v))).toHaveLength(connections);
    // records in the middle of a bucket grow in place
    for (const c of [0, 777]) {
      const more = [tx(`txn-${c}-more`, '-3', '2026-10-02', `acc-${c}`)];
      expect(await ledger.noteLanded('r3', connectionField(`user-${c}`, 'conn-0'), more)).toBe(1);
      const landed = await ledger.landed('r3', connectionField(`user-${c}`, 'conn-0'), [`acc-${c}`]);
      expect(landed.get(`acc-${c}`)).toMatchObject({ count: perAccount + 1 });
    }
    // every connection is found where it was written, whole
    for (const c of [1, 778, connections - 1]) {
      const landed = await ledger.landed('r3', connectionField(`user-${c}`, 'conn-0'), [`acc-${c}`]);
      expect(landed.get(`acc-${c}`)).toMatchObject({ count: perAccount });
      const again = tx(`txn-${c}-5`, `-${5 + 0.25}`, '2026-10-01', `acc-${c}`);
      expect(diffLanded(landed, [again]).same).toBe(1);
    }
    const perTransaction = (await ledger.landedBytes('r3')) / (connections * perAccount);
    expect(perTransaction).toBeLessThanOrEqual(8);
  });

  it("spreads a run's landed records over its shards (a cluster's hash tags), each read where it was written", async () => {
    const sharded = new MigrationLedger(redis, '{landed}', { shards: 4 });
    expect((await sharded.openRun('r5')).shards).toBe(4);
    const connections = 400;
    for (let c = 0; c < connections; c++)
      await sharded.noteLanded('r5', connectionField(`u${c}`, 'c'), [tx(`t${c}-1`, '-1'), tx(`t${c}-2`, '2')], ['a1']);
    const keys = await sharded.landedKeys('r5');
    expect(keys).toEqual([0, 1, 2, 3].map((n) => `{landed:l${n}}:run:r5:landed`));
    let total = 0;
    for (const key of keys) {
      let here = 0;
      for (const value of landedBuckets(await redis.hgetallBuffer(key)).values())
        here += landedConnectionsIn(value).length;
      expect(here).toBeGreaterThan(connections / 8); // ~100 each
      total += here;
    }
    expect(total).toBe(connections);
    // another process (nothing cached) finds the shard count in the run and every connection where it was written
    const other = new MigrationLedger(redis, '{landed}');
    for (const c of [0, 123, connections - 1])
      expect((await other.landed('r5', connectionField(`u${c}`, 'c'), ['a1'])).get('a1')).toMatchObject({
        count: 2,
        sumMicro: 1_000_000n,
      });
    const usage = await Promise.all(keys.map((k) => redis.call('MEMORY', 'USAGE', k, 'SAMPLES', '0')));
    expect(await other.landedBytes('r5')).toBe(usage.reduce<number>((n, u) => n + Number(u), 0));
  });

  it('reads and converts the records of the layout before buckets (one field per account, 8-byte entries)', async () => {
    // what landed.lua wrote before: field = base64 of 12 bytes of sha256(field⇥account), value = 8-byte sum, then
    // per transaction 6 bytes of sha256(source id) and 2 of sha256(amount|date)
    const sha = (s: string) => hash('sha256', s, 'buffer');
    const old = [tx('t1', '-10.00'), tx('t2', '25.50')];
    const sum = Buffer.alloc(8);
    sum.writeDoubleBE(15_500_000);
    const value = Buffer.concat([
      sum,
      ...old.map((t) =>
        Buffer.concat([
          sha(t.transaction_id).subarray(0, 6),
          sha(`${normalizeAmount(t.amount)}|${t.date}`).subarray(0, 2),
        ]),
      ),
    ]);
    const oldField = sha(`${field}\ta1`).subarray(0, 12).toString('base64');
    await redis.hset('{landed}:run:r4:landed', oldField, value);

    const before = await ledger.landed('r4', field, ['a1']);
    expect(before.get('a1')).toMatchObject({ sumMicro: 15_500_000n, count: 2 });
    expect(diffLanded(before, [tx('t1', '-10'), tx('t2', '26'), tx('t3', '-1')])).toMatchObject({
      same: 1,
      changed: [expect.objectContaining({ transaction_id: 't2' })],
      fresh: [expect.objectContaining({ transaction_id: 't3' })],
    });
    // the old landing settled again is still recorded once; a new one converts the account and adds to it
    expect(await ledger.noteLanded('r4', field, old)).toBe(0);
    expect(await redis.hexists('{landed}:run:r4:landed', oldField)).toBe(0);
    expect(await ledger.noteLanded('r4', field, [tx('t3', '-1.00')])).toBe(1);
    const after = await ledger.landed('r4', field, ['a1']);
    expect(after.get('a1')).toMatchObject({ sumMicro: 14_500_000n, count: 3 });
    expect(diffLanded(after, [...old, tx('t3', '-1')]).same).toBe(3);
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
