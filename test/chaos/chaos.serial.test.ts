import { SHORT, formatResult, runChaos, verdict } from './chaos';

describe('fault-injection suite (short form)', () => {
  it('migrates ≥ 2,000 connections and refreshes them while workers, Redis and the producer are killed: 0 duplicates, 0 lost, 0 quota violations, 0 stuck', async () => {
    const result = await runChaos(SHORT);
    process.stdout.write(`${formatResult(result)}\n`);
    expect(result.connectionsExpected).toBeGreaterThanOrEqual(2000);
    expect(result.workerKills).toBeGreaterThanOrEqual(2);
    expect(result.redisRestarts).toBe(2);
    expect(result.producerKills).toBeGreaterThanOrEqual(1);
    expect(verdict(result)).toEqual([]);
  }, 15 * 60_000);
});
