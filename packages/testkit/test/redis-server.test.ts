import IORedis from 'ioredis';
import { startPrivateRedis } from '@mk/testkit';

describe('startPrivateRedis', () => {
  it('starts a private server, keeps AOF data across a SIGKILL restart, and stops', async () => {
    const server = await startPrivateRedis({ aof: true });
    const redis = new IORedis(server.url, { maxRetriesPerRequest: null });
    await redis.set('survives', 'yes');
    await new Promise((r) => setTimeout(r, 1200)); // appendfsync everysec
    await server.restart();
    expect(await redis.get('survives')).toBe('yes');
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    await server.restartEmpty();
    expect(await redis.get('survives')).toBeNull();
    redis.disconnect();
    await server.stop();
  });

  it("measures this process's slowdown: about 1 alone, more with every core kept busy", async () => {
    const { measureSlowdown, startCpuLoad } = await import('@mk/testkit');
    const alone = measureSlowdown(200);
    expect(alone).toBeGreaterThanOrEqual(1);
    const load = startCpuLoad();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(measureSlowdown(500)).toBeGreaterThan(Math.min(alone, 1.5) * 1.2);
    } finally {
      await load.stop();
    }
  });
});
