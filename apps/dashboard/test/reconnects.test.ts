/** The reconnect campaign as the dashboard shows it: figures per day from the ledger, in /api/runs and /metrics. */
import { Queue } from 'bullmq';
import { createRedis, QUEUES, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { MigrationLedger } from '@mk/ledger';
import { LedgerRunSource, reconnectFigures } from '@mk/dashboard';
import { createDashboardMetrics } from '../src/metrics';
import { find, parsePrometheus } from './prometheus';

const PREFIX = '{mk-reconnects-test}';
const DAY = 86_400_000;

describe('reconnect figures', () => {
  it('count reconnects per UTC day and the share of imported links still waiting after each', () => {
    const now = Date.UTC(2027, 2, 10, 12);
    const today = Math.floor(now / DAY);
    const f = reconnectFigures(
      10,
      {
        perDay: new Map([
          [today - 2, 3],
          [today, 2],
        ]),
        total: 5,
      },
      now - 2.5 * DAY,
      now,
    );
    expect(f.days).toEqual([today - 2, today - 1, today].map((d) => d * DAY));
    expect(f.perDay).toEqual([3, 0, 2]);
    expect(f.shareWaitingByDay).toEqual([0.7, 0.7, 0.5]);
    expect(f).toMatchObject({ reconnected: 5, waiting: 5, shareWaiting: 0.5 });
    // nothing imported yet: nothing waits
    expect(reconnectFigures(0, { perDay: new Map(), total: 0 }, now, now)).toMatchObject({
      waiting: 0,
      shareWaiting: 0,
      perDay: [0],
    });
  });

  describe('from the ledger', () => {
    let server: PrivateRedis;
    let redis: Redis;
    beforeAll(async () => {
      server = await startPrivateRedis();
      redis = createRedis(server.url, 'worker');
    });
    afterAll(async () => {
      redis.disconnect();
      await server.stop();
    });

    it('are in the run snapshot (/api/runs) and in /metrics', async () => {
      const ledger = new MigrationLedger(redis, PREFIX);
      await ledger.openRun('spring', { status: 'enqueued' });
      const records = await ledger.register(
        'spring',
        'u',
        1,
        Array.from({ length: 8 }, (_, i) => ({ connectionId: `c${i}`, accounts: 1, transactions: 1, batchesTotal: 0 })),
      );
      const imported = await Promise.all(
        records.map((r, i) => ledger.transition(r, { state: 'imported', linkId: `mk_${i}` })),
      );
      for (const r of imported.slice(0, 3)) await ledger.recordReconnect(r, Date.now());
      await ledger.recordReconnect(imported[0]!, Date.now()); // a redelivered webhook

      const source = new LedgerRunSource(ledger);
      const run = await source.getRun('spring');
      expect(run!.reconnects).toMatchObject({ reconnected: 3, waiting: 5, shareWaiting: 5 / 8 });
      expect(run!.reconnects!.perDay.at(-1)).toBe(3);

      const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
      try {
        const { samples } = parsePrometheus(await createDashboardMetrics({ queues: [queue], runs: source })());
        expect(find(samples, 'mk_run_links_reconnected_total', { run: 'spring' })?.value).toBe(3);
        expect(find(samples, 'mk_run_links_waiting_reconnect', { run: 'spring' })?.value).toBe(5);
      } finally {
        await queue.close();
      }
    });
  });
});
