/**
 * The real worker process started with bad settings: it says which setting is wrong (or that Redis does not
 * answer, with the password masked) and exits 1, the one "could not run" code of every app. No hang, no port
 * opened, no job taken.
 */
import net from 'node:net';
import { freePort, startApp, startPrivateRedis, type AppProcess, type PrivateRedis } from '@mk/testkit';

const started: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill('SIGKILL')));
});

/** Generous: a loaded machine takes seconds just to boot tsx; the point is that it exits at all. */
const EXIT_DEADLINE_MS = 45_000;

async function exitOf(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const app = startApp('apps/worker/src/main.ts', { LOG_LEVEL: 'info', OPS_PORT: '0', WEBHOOK_PORT: '0', ...env });
  started.push(app);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), EXIT_DEADLINE_MS)));
  const code = await Promise.race([app.exited, hung]).finally(() => clearTimeout(timer));
  if (code === 'hung') throw new Error(`worker did not exit within ${EXIT_DEADLINE_MS} ms:\n${app.output()}`);
  return { code, output: app.output() };
}

describe('worker start-up', () => {
  it('a Redis nobody answers on: logs the URL with its password masked and exits 1 after REDIS_CONNECT_TIMEOUT_MS', async () => {
    const port = await freePort();
    const { code, output } = await exitOf({
      REDIS_URL: `redis://:hunter2-do-not-log@127.0.0.1:${port}/0`,
      REDIS_CONNECT_TIMEOUT_MS: '300',
    });
    expect(code).toBe(1);
    expect(output).toContain(`redis://:***@127.0.0.1:${port}/0`);
    expect(output).toMatch(/not reachable within 300 ms/);
    expect(output).toMatch(/ECONNREFUSED/);
    expect(output).toMatch(/REDIS_URL/);
    expect(output).not.toContain('hunter2');
  }, 60_000);

  // Each of these fails before Redis is even tried: the unreachable REDIS_URL would otherwise hold it up.
  const unreachable = async () => `redis://127.0.0.1:${await freePort()}`;
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      'MONEYKIT_BASE_URL without credentials',
      { MONEYKIT_BASE_URL: 'https://api.moneykit.example' },
      /MONEYKIT_CLIENT_ID is missing: MONEYKIT_BASE_URL is set/,
    ],
    [
      'a secret without its id',
      { MONEYKIT_BASE_URL: 'https://api.moneykit.example', MONEYKIT_CLIENT_SECRET: 's' },
      /MONEYKIT_CLIENT_ID is missing/,
    ],
    [
      'credentials without a base URL',
      { MONEYKIT_CLIENT_ID: 'id', MONEYKIT_CLIENT_SECRET: 's' },
      /MONEYKIT_BASE_URL is missing/,
    ],
    [
      'a base URL that is not http(s)',
      { MONEYKIT_BASE_URL: 'ftp://api.moneykit.example', MONEYKIT_CLIENT_ID: 'id', MONEYKIT_CLIENT_SECRET: 's' },
      /MONEYKIT_BASE_URL .*http:\/\/ or https:\/\//,
    ],
    ['OPS_PORT out of range', { OPS_PORT: '70000' }, /OPS_PORT/],
    ['WEBHOOK_PORT out of range', { WEBHOOK_PORT: '-1' }, /WEBHOOK_PORT/],
    ['IMPORT_RATE_PER_MIN above what the limiter can space', { IMPORT_RATE_PER_MIN: '1000000' }, /IMPORT_RATE_PER_MIN/],
    ['IMPORT_CONCURRENCY of 0', { IMPORT_CONCURRENCY: '0' }, /IMPORT_CONCURRENCY/],
    ['REDIS_CONNECT_TIMEOUT_MS not a number', { REDIS_CONNECT_TIMEOUT_MS: 'soon' }, /REDIS_CONNECT_TIMEOUT_MS/],
    [
      'a backoff base above its maximum',
      { IMPORT_BACKOFF_BASE_MS: '5000', IMPORT_BACKOFF_MAX_MS: '1000' },
      /IMPORT_BACKOFF_BASE_MS/,
    ],
    ['REFRESH_QUOTAS unreadable', { REFRESH_QUOTAS: 'transactions=often' }, /REFRESH_QUOTAS/],
  ];
  it.each(cases)(
    '%s: names the setting and exits 1',
    async (_what, env, message) => {
      const { code, output } = await exitOf({
        REDIS_URL: await unreachable(),
        REDIS_CONNECT_TIMEOUT_MS: '20000',
        ...env,
      });
      expect(code).toBe(1);
      expect(output).toMatch(message);
      expect(output).not.toMatch(/not reachable/);
    },
    60_000,
  );

  describe('with a Redis', () => {
    let redis: PrivateRedis;
    beforeAll(async () => {
      redis = await startPrivateRedis();
    });
    afterAll(async () => {
      await redis.stop();
    });

    it.each(['OPS_PORT', 'WEBHOOK_PORT'])(
      '%s already taken: says so and exits 1',
      async (setting) => {
        const taken = net.createServer();
        await new Promise<void>((r) => taken.listen(0, '0.0.0.0', r));
        const port = String((taken.address() as net.AddressInfo).port);
        try {
          const { code, output } = await exitOf({
            REDIS_URL: redis.url,
            REDIS_PREFIX: '{startup}',
            WORKER_ROLES: 'import,webhooks',
            [setting]: port,
          });
          expect(code).toBe(1);
          expect(output).toMatch(new RegExp(`${setting} ${port} cannot be listened on.*EADDRINUSE`));
        } finally {
          taken.close();
        }
      },
      60_000,
    );
  });
});
