import { LoginThrottle } from '../src/auth/throttle';
import { SessionSigner, readCookie } from '../src/auth/session';
import { parseBasicAuth, verifyCredentials } from '../src/auth/credentials';

describe('dashboard authentication pieces', () => {
  it('signs sessions that expire and cannot be altered or replayed under another secret', () => {
    const signer = new SessionSigner('k'.repeat(32), 60_000);
    const token = signer.sign({ username: 'ops', role: 'viewer' }, 1_000);
    expect(signer.verify(token, 2_000)).toEqual({ username: 'ops', role: 'viewer' });
    expect(signer.verify(token, 61_001)).toBeUndefined();
    expect(new SessionSigner('j'.repeat(32), 60_000).verify(token, 2_000)).toBeUndefined();
    const [body, mac] = token.split('.') as [string, string];
    const elevated = Buffer.from(Buffer.from(body, 'base64url').toString().replace('viewer', 'admin')).toString('base64url');
    expect(signer.verify(`${elevated}.${mac}`, 2_000)).toBeUndefined();
    expect(signer.verify('garbage', 2_000)).toBeUndefined();
  });

  it('checks credentials exactly', () => {
    const users = [{ username: 'ops', password: 'a-long-password', role: 'admin' as const }];
    expect(verifyCredentials(users, 'ops', 'a-long-password')).toEqual({ username: 'ops', role: 'admin' });
    expect(verifyCredentials(users, 'ops', 'a-long-passwor')).toBeUndefined();
    expect(verifyCredentials(users, 'Ops', 'a-long-password')).toBeUndefined();
    expect(verifyCredentials(users, '', '')).toBeUndefined();
  });

  it('parses Basic headers and cookies', () => {
    expect(parseBasicAuth(`Basic ${Buffer.from('u:p:with:colons').toString('base64')}`)).toEqual({ username: 'u', password: 'p:with:colons' });
    expect(parseBasicAuth('Bearer abc')).toBeUndefined();
    expect(readCookie('a=1; mk_session=x%3Dy; b=2', 'mk_session')).toBe('x=y');
  });

  it('throttles one address after repeated failures, for a window, without touching others', () => {
    const throttle = new LoginThrottle(3, 60_000);
    for (let i = 0; i < 3; i++) throttle.fail('10.0.0.1', 1_000);
    expect(throttle.blockedFor('10.0.0.1', 2_000)).toBe(59);
    expect(throttle.blockedFor('10.0.0.2', 2_000)).toBe(0);
    expect(throttle.blockedFor('10.0.0.1', 61_001)).toBe(0);
    throttle.fail('10.0.0.2', 1_000);
    throttle.succeed('10.0.0.2');
    expect(throttle.blockedFor('10.0.0.2', 1_000)).toBe(0);
  });
});
