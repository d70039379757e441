import { createRedis, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { CredentialThrottle } from '../src/auth/throttle';
import { SessionStore } from '../src/auth/session';
import { parseBasicAuth, verifyCredentials } from '../src/auth/credentials';

describe('dashboard authentication pieces', () => {
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

  it('keeps sessions in Redis under a hash of the token; revoked, unknown or opened with an old password they end', async () => {
    const users = [{ username: 'ops', password: 'a-long-password', role: 'viewer' as const }];
    const store = new SessionStore(redis, '{auth-test}', users, 60_000);
    const token = await store.open({ username: 'ops', role: 'viewer' });
    expect(await store.read(token)).toEqual({ username: 'ops', role: 'viewer' });
    expect(await redis.keys(`*${token}*`)).toEqual([]);
    expect(await store.read(`${token}x`)).toBeUndefined();
    expect(await store.read(undefined)).toBeUndefined();

    const changed = new SessionStore(redis, '{auth-test}', [{ ...users[0]!, password: 'a-new-long-password' }], 60_000);
    expect(await changed.read(token)).toBeUndefined();
    expect(await store.read(token)).toBeUndefined(); // the stale session was deleted

    const again = await store.open({ username: 'ops', role: 'viewer' });
    await store.revoke(again);
    expect(await store.read(again)).toBeUndefined();
  });

  it('checks credentials exactly', () => {
    const users = [{ username: 'ops', password: 'a-long-password', role: 'admin' as const }];
    expect(verifyCredentials(users, 'ops', 'a-long-password')).toEqual({ username: 'ops', role: 'admin' });
    expect(verifyCredentials(users, 'ops', 'a-long-passwor')).toBeUndefined();
    expect(verifyCredentials(users, 'Ops', 'a-long-password')).toBeUndefined();
    expect(verifyCredentials(users, '', '')).toBeUndefined();
  });

  it('parses Basic headers', () => {
    expect(parseBasicAuth(`Basic ${Buffer.from('u:p:with:colons').toString('base64')}`)).toEqual({
      username: 'u',
      password: 'p:with:colons',
    });
    expect(parseBasicAuth('Bearer abc')).toBeUndefined();
  });

  it('refuses a guessing address, and addresses that failed at a username under attack, but not a clean address', async () => {
    const throttle = new CredentialThrottle(redis, '{throttle-test}', { perAddress: 3, perUser: 5, windowSeconds: 60 });
    for (let i = 0; i < 3; i++) await throttle.failed('admin', '10.0.0.1');
    expect((await throttle.check('admin', '10.0.0.1')).waitSeconds).toBeGreaterThan(50);
    expect((await throttle.check('someone', '10.0.0.1')).waitSeconds).toBeGreaterThan(0);
    expect((await throttle.check('admin', '10.0.0.2')).waitSeconds).toBe(0);

    // The username crosses its limit from a spread of addresses: those addresses are refused for it, a clean one is not.
    await throttle.failed('admin', '10.0.0.3');
    await throttle.failed('admin', '10.0.0.4');
    expect((await throttle.check('admin', '10.0.0.3')).waitSeconds).toBeGreaterThan(0);
    expect((await throttle.check('other', '10.0.0.3')).waitSeconds).toBe(0);
    expect(await throttle.check('admin', '192.168.1.9')).toEqual({ waitSeconds: 0, addressFailures: 0 });

    await throttle.succeeded('10.0.0.4');
    expect((await throttle.check('admin', '10.0.0.4')).addressFailures).toBe(0);
    // Neither addresses nor usernames are kept in clear.
    const keys = await redis.keys('{throttle-test}*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.join(' ')).not.toMatch(/10\.0\.0|admin/);
  });
});
