/** What every app checks at start: MoneyKit settings that go together, bounded values, and a Redis that answers. */
import { freePort, startPrivateRedis } from '@mk/testkit';
import {
  ConfigError,
  RedisUnreachableError,
  commonEnvSchema,
  connectRedis,
  loadConfig,
  moneykitEnvSchema,
  redactRedisUrl,
  requireCompleteMoneykitSettings,
} from '../src';

describe('MoneyKit settings', () => {
  const base = 'https://api.moneykit.com';
  it('all three or none', () => {
    expect(() => requireCompleteMoneykitSettings({})).not.toThrow();
    expect(() =>
      requireCompleteMoneykitSettings({
        MONEYKIT_BASE_URL: base,
        MONEYKIT_CLIENT_ID: 'id',
        MONEYKIT_CLIENT_SECRET: 's',
      }),
    ).not.toThrow();
    expect(() => requireCompleteMoneykitSettings({ MONEYKIT_BASE_URL: base })).toThrow(
      new ConfigError(
        'MONEYKIT_CLIENT_ID',
        "is missing: MONEYKIT_BASE_URL is set, and the sandbox's default credentials are never sent to another URL",
      ),
    );
    expect(() => requireCompleteMoneykitSettings({ MONEYKIT_BASE_URL: base, MONEYKIT_CLIENT_ID: 'id' })).toThrow(
      /MONEYKIT_CLIENT_SECRET is missing/,
    );
    expect(() => requireCompleteMoneykitSettings({ MONEYKIT_CLIENT_ID: 'id', MONEYKIT_CLIENT_SECRET: 's' })).toThrow(
      /MONEYKIT_BASE_URL is missing: MONEYKIT_CLIENT_ID and MONEYKIT_CLIENT_SECRET are set/,
    );
  });

  it('a base URL is http(s); timeouts are bounded', () => {
    expect(loadConfig(moneykitEnvSchema, { MONEYKIT_BASE_URL: 'http://127.0.0.1:8787' }).MONEYKIT_BASE_URL).toBe(
      'http://127.0.0.1:8787',
    );
    for (const bad of ['ftp://api.moneykit.com', 'javascript:alert(1)', 'api.moneykit.com']) {
      expect(() => loadConfig(moneykitEnvSchema, { MONEYKIT_BASE_URL: bad })).toThrow(/MONEYKIT_BASE_URL/);
    }
    expect(() => loadConfig(moneykitEnvSchema, { MONEYKIT_TIMEOUT_MS: '99999999' })).toThrow(/MONEYKIT_TIMEOUT_MS/);
  });

  it('REDIS_CONNECT_TIMEOUT_MS: 10 s unless set, validated like the others', () => {
    expect(loadConfig(commonEnvSchema, {}).REDIS_CONNECT_TIMEOUT_MS).toBe(10_000);
    expect(loadConfig(commonEnvSchema, { REDIS_CONNECT_TIMEOUT_MS: '250' }).REDIS_CONNECT_TIMEOUT_MS).toBe(250);
    for (const bad of ['0', '-1', 'soon', '1.5', '9999999']) {
      expect(() => loadConfig(commonEnvSchema, { REDIS_CONNECT_TIMEOUT_MS: bad })).toThrow(/REDIS_CONNECT_TIMEOUT_MS/);
    }
  });
});

describe('connectRedis', () => {
  it('masks the password of a URL', () => {
    expect(redactRedisUrl('redis://:s3cret@redis.internal:6380/2')).toBe('redis://:***@redis.internal:6380/2');
    expect(redactRedisUrl('rediss://user:s3cret@redis.internal:6380')).toBe('rediss://user:***@redis.internal:6380');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it.each(['worker', 'producer'] as const)(
    '%s role: nobody listening gives up after the timeout, naming the masked URL',
    async (role) => {
      const url = `redis://:s3cret@127.0.0.1:${await freePort()}/0`;
      const err = await connectRedis(url, role, { timeoutMs: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnreachableError);
      expect((err as Error).message).toMatch(
        /^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 is not reachable within 300 ms \(connect ECONNREFUSED .*\): check REDIS_URL/,
      );
      expect((err as Error).message).not.toContain('s3cret');
    },
  );

  it('a Redis that answers: ready', async () => {
    const server = await startPrivateRedis();
    try {
      const redis = await connectRedis(server.url, 'worker', { timeoutMs: 5000 });
      expect(await redis.ping()).toBe('PONG');
      redis.disconnect();
    } finally {
      await server.stop();
    }
  });
});
