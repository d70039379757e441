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
    redis.disconnect();
    await server.stop();
  });
});
