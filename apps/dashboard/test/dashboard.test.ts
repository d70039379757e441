import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { createRedis, importJob, QUEUES, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { createDashboard, type AuthOptions } from '@mk/dashboard';
import { InMemoryRefreshSource, InMemoryRunSource, sampleRefresh, sampleRun } from './fakes';
import { basicAuth, request, type RequestOptions } from './http';

const PREFIX = '{mk-dash-test}';
const ADMIN = { username: 'ops-admin', password: 'admin-password-123', role: 'admin' as const };
const VIEWER = { username: 'ops-viewer', password: 'viewer-password-123', role: 'viewer' as const };
const AUTH: AuthOptions = { mode: 'credentials', users: [ADMIN, VIEWER] };

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('dashboard', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let queue: Queue;
  let app: FastifyInstance;
  let base: string;
  const runs = new InMemoryRunSource([
    sampleRun(),
    sampleRun({
      runId: 'mx-small',
      createdAt: Date.UTC(2026, 10, 21),
      counts: { imported: 5 },
      rejects: 0,
      throughputPerMin: 0,
      recentFailures: [],
      recentRejects: [],
    }),
    sampleRun({
      runId: 'stalled-run',
      createdAt: Date.UTC(2026, 10, 22),
      throughputPerMin: 0,
      importQueue: {
        paused: true,
        pausedBy: { by: 'worker host-a/9', reason: 'MoneyKit refused our credentials' },
        workers: 2,
      },
    }),
  ]);
  const get = (path: string, opts: RequestOptions = {}) => request(base, path, opts);

  async function login(user: { username: string; password: string }, next = '/runs'): Promise<string> {
    const res = await get('/login', { form: { username: user.username, password: user.password, next } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(next);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    return cookie.split(';')[0]!;
  }

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis(server.url, 'worker');
    queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    await queue.add(importJob.name, { n: 1 }, { jobId: 'run1-user-1' });
    app = await createDashboard({
      redis,
      prefix: PREFIX,
      auth: AUTH,
      runs,
      refresh: new InMemoryRefreshSource(sampleRefresh),
    });
    base = await listen(app);
  });

  afterAll(async () => {
    await app.close();
    await queue.close();
    redis.disconnect();
    await server.stop();
  });

  it('sends browsers without a session to the login page and refuses API calls without credentials', async () => {
    const page = await get('/runs', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login?next=%2Fruns');
    for (const path of [
      '/api/runs',
      '/api/refresh',
      '/board/admin/api/queues',
      '/board/viewer/api/queues',
      '/board/admin/',
    ]) {
      expect((await get(path)).status).toBe(401);
    }
    expect((await get(`/board/admin/api/queues/${QUEUES.import}/pause`, { method: 'PUT' })).status).toBe(401);
    expect(await queue.isPaused()).toBe(false);
    const form = await get('/login?next=/runs/x');
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="password"');
    expect(form.body).toContain('value="/runs/x"');
  });

  it('keeps the probes and /metrics open for Kubernetes and Prometheus', async () => {
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).json()).toEqual({ ready: true });
    expect((await get('/metrics')).status).toBe(200);
  });

  it('signs in with the form, refuses wrong passwords, forged cookies and foreign redirects', async () => {
    const wrong = await get('/login', { form: { username: ADMIN.username, password: 'nope', next: '/runs' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body).toContain('Wrong username or password');
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const cookie = await login(ADMIN);
    const runsPage = await get('/runs', { headers: { cookie } });
    expect(runsPage.status).toBe(200);
    expect(runsPage.body).toContain('plaid-2026-11-20');

    const [name, value] = cookie.split('=') as [string, string];
    expect((await get('/api/runs', { headers: { cookie: `${name}=${value.slice(0, -2)}xy` } })).status).toBe(401);

    const redirect = await get('/login', {
      form: { username: ADMIN.username, password: ADMIN.password, next: '//evil.example/x' },
    });
    expect(redirect.headers.get('location')).toBe('/runs');

    const out = await get('/logout', { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });

  it('accepts HTTP Basic credentials from scripts', async () => {
    expect((await get('/api/runs', { headers: { authorization: basicAuth(VIEWER) } })).status).toBe(200);
    expect(
      (await get('/api/runs', { headers: { authorization: basicAuth({ ...VIEWER, password: 'wrong' }) } })).status,
    ).toBe(401);
  });

  it('lets a viewer read the read-only board but never write or reach the admin board', async () => {
    const cookie = await login(VIEWER);
    expect((await get('/board', { headers: { cookie } })).headers.get('location')).toBe('/board/viewer/');

    const list = await get('/board/viewer/api/queues', { headers: { cookie } });
    expect(list.status).toBe(200);
    const queues = list.json().queues as { name: string; readOnlyMode: boolean }[];
    expect(queues.map((q) => q.name).sort()).toEqual(Object.values(QUEUES).sort());
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);

    const adminUi = await get('/board/admin/', { headers: { cookie, accept: 'text/html' } });
    expect(adminUi.status).toBe(403);
    expect(adminUi.body).toContain('Forbidden');
    expect((await get('/board/admin/api/queues', { headers: { cookie } })).status).toBe(403);
    // Encoded or dotted spellings of the admin board are judged by the route they reach.
    expect((await get('/board/%61dmin/api/queues', { headers: { cookie } })).status).toBe(403);
    expect((await get('/board/admin/api/queue%73', { headers: { cookie } })).status).toBe(403);
    for (const path of [
      `/board/viewer/api/queues/${QUEUES.import}/pause`,
      `/board/admin/api/queues/${QUEUES.import}/pause`,
      `/board/viewer/api/queues/${QUEUES.import}/clean/completed`,
      `/board/viewer/api/queues/${QUEUES.import}/run1-user-1/retry`,
    ]) {
      expect((await get(path, { method: 'PUT', headers: { cookie } })).status).toBe(403);
    }
    expect(await queue.isPaused()).toBe(false);
    expect(await queue.getJobState('run1-user-1')).toBe('waiting');
  });

  it('lets an admin pause and resume a queue; the read-only board refuses writes even to an admin (405)', async () => {
    const cookie = await login(ADMIN);
    expect((await get('/board', { headers: { cookie } })).headers.get('location')).toBe('/board/admin/');
    const ui = await get('/board/admin/', { headers: { cookie } });
    expect(ui.status).toBe(200);
    expect(ui.body).toContain('/board/admin/');

    expect(
      (await get(`/board/viewer/api/queues/${QUEUES.import}/pause`, { method: 'PUT', headers: { cookie } })).status,
    ).toBe(405);
    expect(await queue.isPaused()).toBe(false);

    expect(
      (await get(`/board/admin/api/queues/${QUEUES.import}/pause`, { method: 'PUT', headers: { cookie } })).status,
    ).toBe(200);
    expect(await queue.isPaused()).toBe(true);
    expect(
      (await get(`/board/admin/api/queues/${QUEUES.import}/resume`, { method: 'PUT', headers: { cookie } })).status,
    ).toBe(200);
    expect(await queue.isPaused()).toBe(false);
  });

  it('serves run status as JSON with throughput and the ETA at the current rate', async () => {
    const headers = { authorization: basicAuth(VIEWER) };
    const list = (await get('/api/runs', { headers })).json();
    expect(list.runs.map((r: { runId: string }) => r.runId)).toEqual(['stalled-run', 'mx-small', 'plaid-2026-11-20']);

    const run = (await get('/api/runs/plaid-2026-11-20', { headers })).json();
    expect(run).toMatchObject({
      runId: 'plaid-2026-11-20',
      total: 4000,
      imported: 2780,
      failed: 20,
      remaining: 1200,
      rejects: 7,
      parkedLinks: 2780,
    });
    expect(run.etaSeconds).toBe(Math.ceil((1200 / 59.5) * 60));
    expect(run.recentFailures).toHaveLength(2);
    expect(run.recentFailures[0]).toEqual(
      expect.objectContaining({ sourceUserId: 'user-0042', connectionId: 'item-9', errorClass: 'terminal' }),
    );

    expect(run).toMatchObject({ state: 'running', stateLabel: 'running', stalled: [], summary: 'running' });
    expect((await get('/api/runs/mx-small', { headers })).json()).toMatchObject({
      remaining: 0,
      etaSeconds: null,
      percentDone: 100,
      state: 'completed',
    });
    const stalled = (await get('/api/runs/stalled-run', { headers })).json();
    expect(stalled).toMatchObject({
      state: 'stalled',
      etaSeconds: null,
      stalled: [{ kind: 'queue_paused', by: 'worker host-a/9', reason: 'MoneyKit refused our credentials' }],
    });
    expect(stalled.summary).toBe('stalled: import queue paused by worker host-a/9 (MoneyKit refused our credentials)');
    expect(
      (await get('/api/runs', { headers })).json().runs.find((r: { runId: string }) => r.runId === 'stalled-run')
        .summary,
    ).toBe(stalled.summary);
    expect((await get('/api/runs/nope', { headers })).status).toBe(404);
    expect((await get('/api/refresh', { headers })).json()).toEqual(sampleRefresh);
  });

  it('renders the run pages with escaped content', async () => {
    const headers = { authorization: basicAuth(VIEWER) };
    const list = await get('/runs', { headers });
    expect(list.headers.get('content-type')).toContain('text/html');
    expect(list.body).toContain('Refresh pipeline');
    expect(list.body).toContain('2,731'); // parked links

    expect(list.body).toContain('class="pill bad state-stalled"');
    expect(list.body).toContain('stalled: import queue paused by worker host-a/9 (MoneyKit refused our credentials)');
    expect(list.body).toContain('>completed</span>');
    const stalledPage = await get('/runs/stalled-run', { headers });
    expect(stalledPage.body).toContain(
      '<div class="banner bad state-detail" role="alert" data-stall="queue_paused"><strong>Paused: nothing is imported until the import queue resumes</strong>',
    );
    expect(stalledPage.body).toContain(
      '<li>import queue paused by worker host-a/9 (MoneyKit refused our credentials)</li>',
    );
    // charts: our own scripts, the figures in a data block, nothing inline that runs
    expect(stalledPage.body).toContain(
      '<script src="/static/uplot.js" defer></script><script src="/static/charts.js" defer></script>',
    );
    expect(stalledPage.body.match(/<script(?![^>]*(src=|type="application\/json"))/g)).toBeNull();
    for (const asset of ['/static/uplot.js', '/static/charts.js', '/static/uplot.css']) {
      const res = await get(asset, { headers });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    }
    expect(stalledPage.body).toContain('No expected end while stalled.');

    const detail = await get('/runs/plaid-2026-11-20', { headers });
    expect(detail.status).toBe(200);
    expect(detail.body).toContain('user-0042');
    expect(detail.body).toContain('account acc-2 has no currency');
    expect(detail.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(detail.body).not.toContain('<script>alert(1)</script>');
    expect(detail.headers.get('x-frame-options')).toBe('DENY');
    expect(detail.headers.get('cache-control')).toBe('no-store');
    expect((await get('/runs/nope', { headers })).status).toBe(404);
  });

  // Last: it locks 127.0.0.1 out of the login form for this app.
  it('throttles password guessing from one address', async () => {
    const attempt = () => get('/login', { form: { username: ADMIN.username, password: 'guess' } });
    let refused = 0;
    for (let i = 0; i < 12; i++) if ((await attempt()).status === 429) refused++;
    expect(refused).toBeGreaterThan(0);
    const blocked = await get('/login', { form: { username: ADMIN.username, password: ADMIN.password } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('dashboard without the refresh source or authentication (local development)', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let app: FastifyInstance;
  let base: string;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis(server.url, 'worker');
    app = await createDashboard({ redis, prefix: PREFIX, auth: { mode: 'none' }, runs: new InMemoryRunSource() });
    base = await listen(app);
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
    await server.stop();
  });

  it('treats every request as admin and says what is unavailable', async () => {
    expect((await request(base, '/board')).headers.get('location')).toBe('/board/admin/');
    const page = await request(base, '/runs');
    expect(page.status).toBe(200);
    expect(page.body).toContain('No migration run yet');
    expect(page.body).toContain('not available');
    expect((await request(base, '/api/refresh')).status).toBe(503);
  });

  it('answers /readyz 503 when Redis is gone', async () => {
    await server.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect((await request(base, '/readyz')).status).toBe(503);
  });
});
