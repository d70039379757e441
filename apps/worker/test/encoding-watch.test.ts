import IORedis from 'ioredis';
import { RefreshRegistry } from '@mk/refresh';
import type { Logger, Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { watchEncoding } from '../src/refresh/encoding-watch';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const noop = () => undefined;
  const logger = { warn: (_o: object, msg: string) => warnings.push(msg), debug: noop } as unknown as Logger;
  return { logger, warnings };
}

describe('the registry encoding watch', () => {
  it('warns, naming REFRESH_EXPECTED_LINKS, when buckets outgrow listpack, and stays quiet when they do not', async () => {
    const sized = await RefreshRegistry.open(redis, '{enc-ok}', { buckets: 64, firstDueSpreadMs: 0 });
    await sized.register(Array.from({ length: 640 }, (_, i) => ({ linkId: `ok-${i}` })));
    const quiet = recordingLogger();
    const ok = watchEncoding(sized, quiet.logger, 3_600_000);
    expect(await ok.check()).toBe(0);
    ok.stop();
    expect(quiet.warnings).toEqual([]);

    // 600 links a bucket: past every listpack limit
    const crowded = await RefreshRegistry.open(redis, '{enc-full}', { buckets: 4, firstDueSpreadMs: 0 });
    await crowded.register(Array.from({ length: 2400 }, (_, i) => ({ linkId: `full-${i}` })));
    const loud = recordingLogger();
    const full = watchEncoding(crowded, loud.logger, 3_600_000);
    expect(await full.check()).toBe(1);
    full.stop();
    expect(loud.warnings.length).toBeGreaterThanOrEqual(1);
    expect(loud.warnings[0]).toMatch(/100\.0% of sampled bucket keys .*REFRESH_EXPECTED_LINKS/);
  });
});
