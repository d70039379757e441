/**
 * The real dashboard process started without a reachable Redis or with a bad setting: it says why and exits 1,
 * the one "could not run" code of every app.
 */
import { freePort, startApp, type AppProcess } from '@mk/testkit';

const started: AppProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill('SIGKILL')));
});

/** Generous: a loaded machine takes seconds just to boot tsx; the point is that it exits at all. */
const EXIT_DEADLINE_MS = 45_000;

async function exitOf(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const app = startApp('apps/dashboard/src/main.ts', {
    LOG_LEVEL: 'info',
    DASHBOARD_PORT: '0',
    DASHBOARD_HOST: '127.0.0.1',
    DASHBOARD_DEV_NO_AUTH: 'true',
    ...env,
  });
  started.push(app);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), EXIT_DEADLINE_MS)));
  const code = await Promise.race([app.exited, hung]).finally(() => clearTimeout(timer));
  if (code === 'hung') throw new Error(`dashboard did not exit within ${EXIT_DEADLINE_MS} ms:\n${app.output()}`);
  return { code, output: app.output() };
}

describe('dashboard start-up', () => {
  it('a Redis nobody answers on: logs the URL with its password masked and exits 1 after REDIS_CONNECT_TIMEOUT_MS', async () => {
    const port = await freePort();
    const { code, output } = await exitOf({
      REDIS_URL: `redis://:hunter2-do-not-log@127.0.0.1:${port}`,
      REDIS_CONNECT_TIMEOUT_MS: '300',
    });
    expect(code).toBe(1);
    expect(output).toContain(`redis://:***@127.0.0.1:${port}`);
    expect(output).toMatch(/not reachable within 300 ms/);
    expect(output).not.toContain('hunter2');
  }, 60_000);

  it('a bad setting: named, exit 1', async () => {
    const { code, output } = await exitOf({
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      REDIS_CONNECT_TIMEOUT_MS: '-5',
    });
    expect(code).toBe(1);
    expect(output).toMatch(/REDIS_CONNECT_TIMEOUT_MS/);
  }, 60_000);
});
