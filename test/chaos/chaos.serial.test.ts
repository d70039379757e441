import { loadRequested } from '@mk/testkit';
import { SHORT, formatResult, runChaos, verdict } from './chaos';

// MK_TEST_CPU_LOAD=1 (the runner's second pass): the same suite with every core kept busy by other processes.
const cpuLoad = loadRequested();

// The timeout only bounds a wedged run: the work is fixed, so its time grows with the slowdown (the unloaded pass took
// 11 min at ×22, the loaded one more than 15). Its own waits stretch with the slowdown it measures.
describe(`fault-injection suite (short form${cpuLoad ? ', every core kept busy' : ''})`, () => {
  it(
    'migrates ≥ 2,000 connections, tops them up from a newer dump and refreshes them while workers, Redis, the webhook receiver and the producer are killed and Redis loses its data: 0 duplicates, 0 lost, 0 quota violations, 0 stuck',
    async () => {
      const result = await runChaos({ ...SHORT, cpuLoad });
      process.stdout.write(`${formatResult(result)}\n`);
      expect(result.connectionsExpected).toBeGreaterThanOrEqual(2000);
      expect(result.workerKills).toBeGreaterThanOrEqual(2);
      expect(result.redisRestarts).toBe(3);
      expect(result.redisWipes).toBe(1);
      expect(result.webhookReceiverKills).toBe(2);
      expect(result.producerKills).toBeGreaterThanOrEqual(1);
      // the top-up phase ran under fire and had something to do
      expect(result.topup.connectionsToppedUp).toBeGreaterThan(0);
      expect(result.topup.connectionsNew).toBeGreaterThan(0);
      expect(result.topup.changedExpected).toBeGreaterThan(0);
      expect(result.topup.redisRestarts).toBe(1);
      expect(verdict(result)).toEqual([]);
    },
    40 * 60_000,
  );
});
