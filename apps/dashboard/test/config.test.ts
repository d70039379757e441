import { ConfigError, loadConfig } from '@mk/shared';
import { dashboardEnvSchema, resolveAuth } from '@mk/dashboard';

const auth = (env: Record<string, string>) => resolveAuth(loadConfig(dashboardEnvSchema, env));
const strong = 'correct-horse-battery';

describe('dashboard configuration', () => {
  it('refuses to start without credentials', () => {
    expect(() => auth({})).toThrow(ConfigError);
    expect(() => auth({})).toThrow(/DASHBOARD_ADMIN_USER/);
  });

  it('treats empty variables (compose passes unset ones as "") as not configured', () => {
    const empty = {
      DASHBOARD_ADMIN_USER: '',
      DASHBOARD_ADMIN_PASSWORD: '',
      DASHBOARD_VIEWER_USER: '',
      DASHBOARD_VIEWER_PASSWORD: '',
    };
    expect(() => auth(empty)).toThrow(/DASHBOARD_ADMIN_USER and DASHBOARD_ADMIN_PASSWORD are required/);
    expect(auth({ ...empty, DASHBOARD_ADMIN_USER: 'ops', DASHBOARD_ADMIN_PASSWORD: strong })).toMatchObject({
      mode: 'credentials',
    });
  });

  it('allows no authentication only when asked for, on a loopback host', () => {
    expect(auth({ DASHBOARD_DEV_NO_AUTH: 'true' })).toEqual({ mode: 'none' });
    expect(auth({ DASHBOARD_DEV_NO_AUTH: 'true', DASHBOARD_HOST: '::1' })).toEqual({ mode: 'none' });
    expect(() => auth({ DASHBOARD_DEV_NO_AUTH: 'true', DASHBOARD_HOST: '0.0.0.0' })).toThrow(
      /DASHBOARD_DEV_NO_AUTH is only allowed on a loopback/,
    );
  });

  it('builds admin and viewer accounts, and names the setting that is wrong', () => {
    const result = auth({
      DASHBOARD_ADMIN_USER: 'ops',
      DASHBOARD_ADMIN_PASSWORD: strong,
      DASHBOARD_VIEWER_USER: 'support',
      DASHBOARD_VIEWER_PASSWORD: `${strong}-2`,
      DASHBOARD_SESSION_TTL_HOURS: '2',
    });
    expect(result).toMatchObject({
      mode: 'credentials',
      users: [
        { username: 'ops', role: 'admin' },
        { username: 'support', role: 'viewer' },
      ],
      sessionTtlMs: 7_200_000,
    });
    expect(() => auth({ DASHBOARD_ADMIN_USER: 'ops' })).toThrow(/DASHBOARD_ADMIN_PASSWORD is missing/);
    expect(() => auth({ DASHBOARD_ADMIN_USER: 'ops', DASHBOARD_ADMIN_PASSWORD: 'short' })).toThrow(
      /DASHBOARD_ADMIN_PASSWORD.*12 characters/,
    );
    expect(() => auth({ DASHBOARD_VIEWER_USER: 'support', DASHBOARD_VIEWER_PASSWORD: strong })).toThrow(
      /viewer account needs an admin/,
    );
    expect(() =>
      auth({
        DASHBOARD_ADMIN_USER: 'ops',
        DASHBOARD_ADMIN_PASSWORD: strong,
        DASHBOARD_VIEWER_USER: 'ops',
        DASHBOARD_VIEWER_PASSWORD: strong,
      }),
    ).toThrow(/DASHBOARD_VIEWER_USER must differ/);
  });

  it('trims usernames and refuses blank or unusable ones at start, naming the setting', () => {
    expect(auth({ DASHBOARD_ADMIN_USER: '  ops ', DASHBOARD_ADMIN_PASSWORD: strong })).toMatchObject({
      users: [{ username: 'ops' }],
    });
    for (const bad of [' ', '\t', 'a:b', 'a\u0007b']) {
      expect(() => auth({ DASHBOARD_ADMIN_USER: bad, DASHBOARD_ADMIN_PASSWORD: strong })).toThrow(ConfigError);
      expect(() => auth({ DASHBOARD_ADMIN_USER: bad, DASHBOARD_ADMIN_PASSWORD: strong })).toThrow(
        /DASHBOARD_ADMIN_USER/,
      );
    }
    expect(() =>
      auth({
        DASHBOARD_ADMIN_USER: 'ops',
        DASHBOARD_ADMIN_PASSWORD: strong,
        DASHBOARD_VIEWER_USER: ' ',
        DASHBOARD_VIEWER_PASSWORD: strong,
      }),
    ).toThrow(/DASHBOARD_VIEWER_USER/);
  });

  it('reads which proxies to trust for the client address', () => {
    const env = { DASHBOARD_ADMIN_USER: 'ops', DASHBOARD_ADMIN_PASSWORD: strong };
    expect(loadConfig(dashboardEnvSchema, env).DASHBOARD_TRUST_PROXY).toBe(false);
    expect(loadConfig(dashboardEnvSchema, { ...env, DASHBOARD_TRUST_PROXY: 'true' }).DASHBOARD_TRUST_PROXY).toBe(true);
    expect(
      loadConfig(dashboardEnvSchema, { ...env, DASHBOARD_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).DASHBOARD_TRUST_PROXY,
    ).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(() => loadConfig(dashboardEnvSchema, { ...env, DASHBOARD_TRUST_PROXY: 'yes please' })).toThrow(
      /DASHBOARD_TRUST_PROXY/,
    );
  });

  it('never puts a password into the error message', () => {
    try {
      auth({ DASHBOARD_ADMIN_USER: 'ops', DASHBOARD_ADMIN_PASSWORD: 'hunter2' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
