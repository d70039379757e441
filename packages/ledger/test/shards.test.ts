/**
 * A run spread over shards (hash tags: a cluster's masters) answers every question as a run on one does: the same
 * changes made to a ledger of 1 shard and one of 3 give the same counts, activity, history, owners, reconnects, open
 * records and scan; each user's records sit in one shard, and every shard holds some.
 */
import IORedis from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { connectionField, MigrationLedger } from '@mk/ledger';

let server: PrivateRedis;
let redis: IORedis;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
});

const USERS = 60;
const conn = (connectionId: string) => ({ connectionId, accounts: 1, transactions: 4, batchesTotal: 0 });
const now = Date.UTC(2027, 0, 5, 10, 30);

/** The same run, change for change: user i has two connections; some import, some fail, some reconnect. */
async function play(ledger: MigrationLedger): Promise<void> {
  await ledger.openRun('r');
  for (let i = 0; i < USERS; i++) {
    const user = `user-${i}`;
    const [a, b] = await ledger.register('r', user, i + 1, [conn('a'), conn('b')], { job: `job-${i}` });
    let ra = await ledger.transitionFrom(a!, { state: 'importing' }, { countAttempt: true });
    if (i % 5 === 4) continue; // still importing: open
    ra = await ledger.transitionFrom(ra, { state: 'linked', linkId: `mk_${i}` });
    ra = await ledger.transitionFrom(ra, { state: 'imported', transactionsImported: 4 });
    if (i % 3 === 0) await ledger.recordReconnect(ra, now + i * 3_600_000);
    if (i % 7 === 0) await ledger.recordAttention(ra, 'deleted', now + i);
    if (i % 4 === 0)
      await ledger.transition(b!, {
        state: 'failed',
        lastError: { errorClass: 'terminal', code: 'invalid_request', message: 'no' },
      });
    await ledger.noteLanded('r', connectionField(user, 'a'), [
      { account_id: 'acc', transaction_id: `t${i}`, amount: '-1.5', date: '2026-11-01' },
    ]);
  }
}

/** Everything the ledger answers about the run, in a form two ledgers can be compared by. */
async function answers(ledger: MigrationLedger) {
  const records = [];
  for await (const r of ledger.scan('r'))
    records.push(`${r.sourceUserId}/${r.connectionId}:${r.state}:${r.linkId ?? ''}`);
  const open = [];
  for await (const o of ledger.openConnections('r')) open.push(`${o.sourceUserId}/${o.connectionId}:${o.job}`);
  const who = Array.from({ length: USERS }, (_, i) => ({ sourceUserId: `user-${i}`, connectionId: 'a' }));
  const activity = await ledger.activity('r', now);
  const reconnects = await ledger.reconnects('r');
  return {
    counts: await ledger.counts('r'),
    records: records.sort(),
    open: open.sort(),
    stillOpen: (
      await ledger.stillOpen(
        'r',
        open.map((o) => {
          const [user, rest] = o.split('/') as [string, string];
          const [connectionId, job] = rest.split(':') as [string, string];
          return { sourceUserId: user, connectionId, job };
        }),
      )
    ).length,
    imported: [...activity.imported.values()].reduce((a, b) => a + b, 0),
    hasLastImport: activity.lastImportAt !== undefined,
    reconnects: { total: reconnects.total, perDay: [...reconnects.perDay].sort(([a], [b]) => a - b) },
    reconnectedAt: await ledger.reconnectedAtMany('r', who),
    attention: await ledger.attentionMany('r', who),
    owner: await ledger.linkOwner('r', 'mk_33'),
    found: await ledger.findLink('mk_42'),
    landed: (await ledger.landed('r', connectionField('user-8', 'a'), ['acc'])).get('acc')?.count,
  };
}

describe('a run spread over shards', () => {
  it('answers as a run on one shard does, with each user in one shard and every shard used', async () => {
    const one = new MigrationLedger(redis, '{one}', { shards: 1 });
    const three = new MigrationLedger(redis, '{three}', { shards: 3 });
    await play(one);
    await play(three);
    const expected = await answers(one);
    expect(expected.counts).toMatchObject({ imported: 48, importing: 12, failed: 12, pending: 48 });
    expect(expected.reconnects.total).toBe(16);
    expect(await answers(three)).toEqual(expected);

    // another process, nothing cached, finds the shards in the run
    expect(await answers(new MigrationLedger(redis, '{three}'))).toEqual(expected);

    const keys = await redis.keys('{three*');
    for (const n of [0, 1, 2]) expect(keys).toContain(`{three:l${n}}:run:r:conns`);
    expect(keys.filter((k) => k.startsWith('{three}:')).sort()).toEqual(['{three}:run:r', '{three}:runs']); // meta, run list
    for (let i = 0; i < USERS; i += 11) {
      const { conns } = await three.keysOf('r', `user-${i}`);
      expect(await redis.hlen(conns)).toBeGreaterThan(0);
      expect(await redis.hexists(conns, connectionField(`user-${i}`, 'b'))).toBe(1);
    }
    const perShard = await Promise.all([0, 1, 2].map((n) => redis.hlen(`{three:l${n}}:run:r:conns`)));
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(2 * USERS);
    for (const n of perShard) expect(n).toBeGreaterThan(USERS / 3); // 40 each on average
  });
});
