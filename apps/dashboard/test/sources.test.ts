import { Queue } from 'bullmq';
import { createRedis, importJob, keys, QUEUES, type Redis } from '@mk/shared';
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
      lastError: {
        errorClass: 'terminal',
        status: 400,
        code: 'unsupported_institution',
        message: 'institution not supported',
      },
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
      recentFailures: [
        { sourceUserId: 'user-2', connectionId: 'item-a', reason: 'institution not supported', errorClass: 'terminal' },
      ],
    });
    // Two imported since the run started a moment ago: the rate is over the time elapsed, not a fixed ten minutes.
    expect(run!.throughputPerMin).toBeGreaterThan(2);
    expect(runProgress(run!)).toMatchObject({
      total: 5,
      remaining: 2,
      state: 'running',
      etaSeconds: Math.ceil((2 / run!.throughputPerMin) * 60),
    });
    expect(await source.getRun('missing')).toBeUndefined();
  });

  it('with the import queue, says the same stalled state and why as the CLI: paused, by whom, no worker, no job', async () => {
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    try {
      await ledger.openRun('run-q', { status: 'enqueued' });
      await ledger.register('run-q', 'user-1', 1, [conn('item-a')], { job: 'run-q-user-1-L1' });
      await queue.add(importJob.name, {}, { jobId: 'run-q-user-1-L1' });
      const source = new LedgerRunSource(ledger, queue);
      const view = async () => runProgress((await source.getRun('run-q'))!);
      expect(await view()).toMatchObject({ state: 'stalled', stalled: [{ kind: 'no_worker' }], etaSeconds: null });

      await queue.pause();
      await redis.hset(keys(PREFIX).queuePause(QUEUES.import), {
        by: 'worker host-b/7',
        reason: 'MoneyKit refused our credentials',
      });
      expect((await view()).summary).toBe(
        'stalled: import queue paused by worker host-b/7 (MoneyKit refused our credentials); no import worker alive: start one (pnpm worker)',
      );
      await redis.del(keys(PREFIX).queuePause(QUEUES.import));
      await queue.resume();

      await (await queue.getJob('run-q-user-1-L1'))!.remove();
      expect((await view()).stalled).toEqual([
        { kind: 'no_worker' },
        { kind: 'connections_without_job', connections: 1 },
      ]);
      const listed = (await source.listRuns()).find((r) => r.runId === 'run-q')!;
      expect(runProgress(listed).stateLabel).toBe('stalled');
    } finally {
      await queue.close();
    }
  });
});
