/**
 * The security review's findings, each against a real dashboard on real Redis: Basic brute force throttled and
 * logged, sessions revoked by logout and by a password change, cross-site writes refused (Bull Board's API too),
 * security headers, the import queue's dangerous Bull Board actions refused, the client address behind a proxy.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { createLogger, createRedis, importJob, QUEUES, sealImportJob, type ImportJob, type Redis } from '@mk/shared';
import { startPrivateRedis, testSealer, type PrivateRedis } from '@mk/testkit';
import { createDashboard, type AuthOptions, type DashboardUser } from '@mk/dashboard';
import { InMemoryRunSource, sampleRun } from './fakes';
import { basicAuth, request, type RequestOptions } from './http';

const ADMIN = { username: 'ops-admin', password: 'admin-password-123', role: 'admin' as const };
const VIEWER = { username: 'ops-viewer', password: 'viewer-password-123', role: 'viewer' as const };
const THROTTLE = { perAddress: 5, perUser: 8, windowSeconds: 600 };

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

function captureLogs() {
  const records: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line));
      done();
    },
  });
  return {
    logger: createLogger('dashboard-test', { level: 'info', destination }),
    records,
    text: () => JSON.stringify(records),
  };
}

describe('dashboard security', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let queue: Queue;
  const started: FastifyInstance[] = [];
  let prefixSeq = 0;

  async function start(opts: { users?: DashboardUser[]; cookieSecure?: boolean; prefix?: string } = {}) {
    const logs = captureLogs();
    const auth: AuthOptions = {
      mode: 'credentials',
      users: opts.users ?? [ADMIN, VIEWER],
      throttle: THROTTLE,
      ...(opts.cookieSecure && { cookieSecure: true }),
    };
    const prefix = opts.prefix ?? `{sec-${++prefixSeq}}`;
    const app = await createDashboard({
      redis,
      prefix,
      auth,
      trustProxy: ['127.0.0.1'],
      runs: new InMemoryRunSource([sampleRun()]),
      logger: logs.logger,
    });
    started.push(app);
    const base = await listen(app);
    const get = (path: string, o: RequestOptions = {}) => request(base, path, o);
    const login = async (user: { username: string; password: string }, headers: Record<string, string> = {}) => {
      const res = await get('/login', {
        form: { username: user.username, password: user.password, next: '/runs' },
        headers,
      });
      expect(res.status).toBe(303);
      return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    };
    return { base, get, login, logs, prefix };
  }

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis(server.url, 'worker');
  });
  afterAll(async () => {
    for (const app of started) await app.close();
    await queue?.close();
    redis.disconnect();
    await server.stop();
  });

  it('throttles HTTP Basic guessing like the form, logs every failure without the password, and lets the admin in from another address', async () => {
    const { get, logs } = await start();
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      statuses.push(
        (
          await get('/api/runs', {
            headers: { authorization: basicAuth({ ...ADMIN, password: `guess-${i}` }), ...from('203.0.113.7') },
          })
        ).status,
      );
    }
    expect(statuses.slice(0, THROTTLE.perAddress)).toEqual(Array(THROTTLE.perAddress).fill(401));
    expect(statuses.slice(THROTTLE.perAddress).every((s) => s === 429)).toBe(true);
    // The guessing address is refused even with the right password; the login form shares the count.
    const right = await get('/api/runs', { headers: { authorization: basicAuth(ADMIN), ...from('203.0.113.7') } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (
        await get('/login', {
          form: { username: ADMIN.username, password: ADMIN.password },
          headers: from('203.0.113.7'),
        })
      ).status,
    ).toBe(429);

    const failures = logs.records.filter((r) => r.msg === 'dashboard sign-in failed');
    expect(failures).toHaveLength(THROTTLE.perAddress);
    expect(failures[0]).toMatchObject({ ip: '203.0.113.7', user: ADMIN.username, via: 'basic' });
    expect(logs.records.filter((r) => r.msg === 'dashboard sign-in throttled').length).toBeGreaterThan(0);
    expect(logs.text()).not.toContain('guess-');

    // A distributed guesser pushes the username over its limit: its addresses are refused, the admin's clean one is not.
    for (let i = 0; i < THROTTLE.perUser; i++)
      await get('/api/runs', {
        headers: { authorization: basicAuth({ ...ADMIN, password: 'x' }), ...from(`198.51.100.${i + 1}`) },
      });
    expect(
      (await get('/api/runs', { headers: { authorization: basicAuth(ADMIN), ...from('198.51.100.1') } })).status,
    ).toBe(429);
    expect(
      (await get('/api/runs', { headers: { authorization: basicAuth(ADMIN), ...from('192.0.2.50') } })).status,
    ).toBe(200);
    // A username typed wrong is not logged (it may be a password typed in the wrong field).
    await get('/api/runs', {
      headers: { authorization: basicAuth({ username: 'hunter2-secret', password: 'x' }), ...from('192.0.2.99') },
    });
    expect(logs.text()).not.toContain('hunter2-secret');
  });

  it('revokes a session at logout: a copied cookie no longer works', async () => {
    const { get, login } = await start();
    const cookie = await login(ADMIN);
    expect((await get('/api/runs', { headers: { cookie } })).status).toBe(200);
    const copied = cookie;
    const out = await get('/logout', { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await get('/api/runs', { headers: { cookie: copied } })).status).toBe(401);
  });

  it('ends the sessions opened with a password that has since changed', async () => {
    const prefix = '{sec-pwchange}';
    const before = await start({ prefix });
    const cookie = await before.login(VIEWER);
    expect((await before.get('/api/runs', { headers: { cookie } })).status).toBe(200);
    const after = await start({ prefix, users: [ADMIN, { ...VIEWER, password: 'a-brand-new-password' }] });
    expect((await after.get('/api/runs', { headers: { cookie } })).status).toBe(401);
    expect((await before.get('/api/runs', { headers: { cookie } })).status).toBe(401); // deleted from Redis, every replica
  });

  it('refuses cross-site writes with the admin cookie, Bull Board API included', async () => {
    const { base, get, login, prefix } = await start();
    queue = new Queue(QUEUES.refresh, { connection: redis, prefix });
    const cookie = await login(ADMIN);
    const evil = { cookie, origin: 'http://evil.example' };
    const pause = await get(`/board/admin/api/queues/${QUEUES.refresh}/pause`, { method: 'PUT', headers: evil });
    expect(pause.status).toBe(403);
    expect(pause.json().message).toMatch(/cross-site/);
    const add = await get(`/board/admin/api/queues/${QUEUES.refresh}/add`, {
      form: { name: 'x', data: '{}' },
      headers: evil,
    });
    expect(add.status).toBe(403);
    expect(
      (
        await get(`/board/admin/api/queues/${QUEUES.refresh}/pause`, {
          method: 'PUT',
          headers: { cookie, 'sec-fetch-site': 'cross-site' },
        })
      ).status,
    ).toBe(403);
    // Even a same-origin form post cannot reach Bull Board: only the login form's route parses form bodies.
    expect(
      (
        await get(`/board/admin/api/queues/${QUEUES.refresh}/add`, {
          form: { name: 'x' },
          headers: { cookie, origin: base },
        })
      ).status,
    ).toBe(415);
    expect(await queue.isPaused()).toBe(false);
    expect(await queue.count()).toBe(0);
    // Login from a foreign page (login CSRF) is refused too; the same origin works.
    expect(
      (
        await get('/login', {
          form: { username: ADMIN.username, password: ADMIN.password },
          headers: { origin: 'http://evil.example' },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await get(`/board/admin/api/queues/${QUEUES.refresh}/pause`, {
          method: 'PUT',
          headers: { cookie, origin: base },
        })
      ).status,
    ).toBe(200);
    expect(await queue.isPaused()).toBe(true);
  });

  it("refuses Bull Board's add job, rate limit, obliterate and data edits on the import queue", async () => {
    const { get, login, prefix } = await start();
    const imports = new Queue(QUEUES.import, { connection: redis, prefix });
    await imports.add('import', { runId: 'r', summary: {} }, { jobId: 'r-u-L1' });
    const cookie = await login(ADMIN);
    const json = { cookie, 'content-type': 'application/json' };
    const calls: [string, string, string?][] = [
      ['POST', `/board/admin/api/queues/${QUEUES.import}/add`, '{"name":"import","data":{}}'],
      ['PUT', `/board/admin/api/queues/${QUEUES.import}/rate-limit`, '{"max":1,"duration":1000}'],
      ['DELETE', `/board/admin/api/queues/${QUEUES.import}/rate-limit`],
      ['PUT', `/board/admin/api/queues/${QUEUES.import}/obliterate`, '{}'],
      ['PATCH', `/board/admin/api/queues/${QUEUES.import}/r-u-L1/update-data`, '{"jobData":{}}'],
      ['PUT', `/board/admin/api/queues/${QUEUES.import}/r-u-L1/update-data`, '{"jobData":{}}'],
    ];
    for (const [method, path, body] of calls) {
      const reply = await get(path, { method, headers: body ? json : { cookie }, ...(body && { body }) });
      expect([`${method} ${path}`, [403, 404].includes(reply.status)]).toEqual([`${method} ${path}`, true]);
      if (reply.status === 404) continue; // that verb is not one of Bull Board's routes
      expect(reply.json().message).toMatch(/import queue/);
    }
    expect(await imports.count()).toBe(1);
    expect(await imports.getRateLimitTtl()).toBeLessThanOrEqual(0);
    await imports.close();
  });

  it("shows admins and viewers an import job's summary in Bull Board, never its email, phone or account number", async () => {
    const { get, login, prefix } = await start();
    const imports = new Queue(QUEUES.import, { connection: redis, prefix });
    const job = (n: number): ImportJob => ({
      runId: 'pii-run',
      sourceUserId: `user-${n}`,
      line: n,
      connections: [
        {
          connectionId: `item-${n}`,
          request: {
            institution_id: 'chase',
            customer_user: {
              id: `user-${n}`,
              email: { address: `jane.doe.${n}@example.com` },
              phone: { number: `+1 415 555 01${n}9` },
            },
            accounts: [
              {
                account_id: `acc-${n}`,
                name: 'Checking',
                account_number: `99887766${n}`,
                mask: `7${n}31`,
                type: 'depository.checking',
                balances: { currency: 'USD', current: 1234.56 },
              },
            ],
            transactions: [],
          } as unknown as ImportJob['connections'][number]['request'],
        },
      ],
    });
    const sealer = testSealer();
    const add = (n: number) =>
      imports.add(importJob.name, sealImportJob(sealer, job(n)), {
        ...importJob.options,
        jobId: `pii-run-user-${n}-L${n}`,
      });
    // Job 2 fails (the way a job that ran out of attempts stays in Redis); job 1 waits.
    await add(2);
    const workerConnection = redis.duplicate();
    const failing = new Worker(
      QUEUES.import,
      async () => {
        throw new UnrecoverableError('import refused');
      },
      { connection: workerConnection, prefix },
    );
    for (let i = 0; i < 200 && (await imports.getFailedCount()) === 0; i++) await new Promise((r) => setTimeout(r, 25));
    await failing.close();
    workerConnection.disconnect();
    await add(1);

    const secrets = [
      'jane.doe.1@example.com',
      'jane.doe.2@example.com',
      '+1 415 555 0119',
      '+1 415 555 0129',
      '998877661',
      '998877662',
      '7131',
      '7231',
    ];
    for (const user of [ADMIN, VIEWER]) {
      const cookie = await login(user);
      const board = user === ADMIN ? 'admin' : 'viewer';
      const bodies: string[] = [];
      for (const status of ['latest', 'waiting', 'failed', 'active']) {
        const res = await get(`/board/${board}/api/queues?activeQueue=${QUEUES.import}&status=${status}&page=1`, {
          headers: { cookie },
        });
        expect(res.status).toBe(200);
        bodies.push(res.body);
      }
      for (const n of [1, 2]) {
        const res = await get(`/board/${board}/api/queues/${QUEUES.import}/pii-run-user-${n}-L${n}`, {
          headers: { cookie },
        });
        expect(res.status).toBe(200);
        bodies.push(res.body);
        expect(res.json().job.data).toEqual({
          runId: 'pii-run',
          line: n,
          summary: expect.objectContaining({
            connections: 1,
            accounts: 1,
            transactions: 0,
            user: expect.stringMatching(/^[0-9a-f]{16}$/),
          }),
        });
      }
      const all = bodies.join('\n');
      expect(secrets.filter((v) => all.includes(v))).toEqual([]);
      expect(all.includes('v1.test.')).toBe(false); // not even the sealed text
    }
    await imports.close();
  });

  it('sends a CSP that allows only the dashboard itself, and HSTS only over HTTPS', async () => {
    const plain = await start();
    const page = await plain.get('/login');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(page.headers.get('strict-transport-security')).toBeNull();
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const secure = await start({ cookieSecure: true });
    expect((await secure.get('/login')).headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});
