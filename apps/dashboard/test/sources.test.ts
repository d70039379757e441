import { createRedis, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { MigrationLedger } from '@mk/ledger';
import { LedgerRunSource, runProgress } from '@mk/dashboard';

const PREFIX = '{mk-sources-test}';
const conn = (connectionId: string) => ({ connectionId, accounts: 1, transactions: 5, batchesTotal: 0 });

describe('LedgerRunSource (the migration ledger as the dashboard sees it)', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let ledger: MigrationLedger;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis(server.url, 'worker');
    ledger = new MigrationLedger(redis, PREFIX);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  it('reports counts by state, throughput, rejects and the reasons of failed connections', async () => {
    await ledger.openRun('older', { dump: 'first.ndjson' });
    await ledger.openRun('run-1', { dump: 'plaid.ndjson', status: 'enqueued', rejects: 1 });
    await ledger.addRejects('run-1', [{ line: 4, sourceId: 'user-4', reason: 'no accounts' }]);
    const records = [];
    for (let u = 0; u < 5; u++) records.push(...(await ledger.register('run-1', `user-${u}`, u, [conn('item-a')])));
    await ledger.transition(records[0]!, { state: 'imported', linkId: 'mk_0' });
    await ledger.transition(records[1]!, { state: 'imported', linkId: 'mk_1' });
    await ledger.transition(records[2]!, {
      state: 'failed',
      lastError: { errorClass: 'terminal', status: 400, code: 'unsupported_institution', message: 'institution not supported' },
    });
    await ledger.transition(records[3]!, { state: 'importing' });

    const source = new LedgerRunSource(ledger);
    const list = await source.listRuns();
    expect(list.map((r) => r.runId)).toEqual(['run-1', 'older']);

    const run = await source.getRun('run-1');
    expect(run).toMatchObject({
      runId: 'run-1',
      status: 'enqueued',
      dump: 'plaid.ndjson',
      counts: { pending: 1, importing: 1, linked: 0, imported: 2, failed: 1 },
      rejects: 1,
      recentRejects: [{ line: 4, sourceId: 'user-4', reason: 'no accounts' }],
      recentFailures: [{ sourceUserId: 'user-2', connectionId: 'item-a', reason: 'institution not supported', errorClass: 'terminal' }],
    });
    expect(run!.throughputPerMin).toBeCloseTo(2 / 10); // two imported this minute, averaged over ten
    expect(runProgress(run!)).toMatchObject({ total: 5, remaining: 2, etaSeconds: 600 });
    expect(await source.getRun('missing')).toBeUndefined();
  });
});
