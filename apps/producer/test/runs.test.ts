/** `mk-migrate runs` against a real Redis: every run with its state, counts, total, age and last activity. */
import IORedis from 'ioredis';
import { MigrationLedger } from '@mk/ledger';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { EXIT, main } from '../src';

const PREFIX = '{runs}';
let server: PrivateRedis;
let redis: IORedis;
let ledger: MigrationLedger;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  ledger = new MigrationLedger(redis, PREFIX);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    { REDIS_URL: server.url, REDIS_PREFIX: PREFIX, LOG_LEVEL: 'silent' },
    { out: (s) => out.push(s), err: (s) => err.push(s) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const connection = (connectionId: string) => ({ connectionId, accounts: 1, transactions: 0, batchesTotal: 0 });

describe('mk-migrate runs', () => {
  it('says so when there is no run yet', async () => {
    expect(await cli(['runs'])).toMatchObject({ code: EXIT.success, out: 'no runs yet' });
  });

  it('lists every run, newest first, with its state, counts, total, age and last activity (table and JSON)', async () => {
    await ledger.openRun('spring', { status: 'enqueued', rejects: 2, createdAt: Date.now() - 3 * 3600_000 });
    const [a, b, c] = await ledger.register('spring', 'u1', 1, [connection('c1'), connection('c2'), connection('c3')]);
    await ledger.transition(a!, { state: 'imported', linkId: 'mk_1' });
    await ledger.transition(b!, {
      state: 'failed',
      lastError: { errorClass: 'terminal', status: 400, message: 'bad request' },
    });
    await ledger.transition(c!, { state: 'imported', linkId: 'mk_2' });

    await ledger.openRun('summer', { status: 'enqueued' });
    const [d] = await ledger.register('summer', 'u2', 1, [connection('c1'), connection('c2')]);
    await ledger.transition(d!, { state: 'imported', linkId: 'mk_3' });

    const json = await cli(['runs', '--format', 'json']);
    expect(json.code).toBe(EXIT.success);
    const runs = JSON.parse(json.out) as {
      runId: string;
      state: string;
      counts: object;
      total: number;
      createdAt: number;
      lastActivityAt: number;
    }[];
    expect(runs.map((r) => r.runId)).toEqual(['summer', 'spring']);
    expect(runs[1]).toMatchObject({
      state: 'completed_with_failures',
      counts: { imported: 2, failed: 1, pending: 0, rejected: 2 },
      total: 3,
    });
    expect(runs[0]).toMatchObject({ counts: { imported: 1, failed: 0, pending: 1, rejected: 0 }, total: 2 });
    expect(runs[0]!.state).not.toMatch(/^completed/);
    for (const r of runs) expect(r.lastActivityAt).toBeGreaterThanOrEqual(r.createdAt);

    const table = await cli(['runs']);
    expect(table.code).toBe(EXIT.success);
    const [header, summer, spring] = table.out.split('\n');
    expect(header).toMatch(/^RUN\s+STATE\s+IMPORTED\s+FAILED\s+PENDING\s+REJECTED\s+TOTAL\s+AGE\s+LAST ACTIVITY$/);
    expect(summer).toMatch(/^summer\s/);
    expect(spring).toMatch(/^spring\s+completed with failures\s+2\s+1\s+0\s+2\s+3\s+3 h 0 min\s+\S+.* ago$/);
  });

  it('refuses an unknown format', async () => {
    expect((await cli(['runs', '--format', 'xml'])).code).toBe(EXIT.error);
  });
});
