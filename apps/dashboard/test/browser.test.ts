/**
 * The dashboard in a real browser (headless Chromium): sign-in, the run pages with their charts and a stalled-run
 * banner (wide and phone-sized), Bull Board with real queues, and the read-only role. Screenshots go to docs/img when missing or with UPDATE_SCREENSHOTS=1, else to a temp dir.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createRedis, importJob, keys, QUEUES, refreshJob, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { MigrationLedger } from '@mk/ledger';
import { createDashboard, LedgerRunSource } from '@mk/dashboard';
import { InMemoryRefreshSource, sampleRefresh, sampleRefreshHistory } from './fakes';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PREFIX = '{mk-browser-test}';
const RUN_ID = 'plaid-2026-11-20';
const ADMIN = { username: 'ops-admin', password: 'admin-password-123', role: 'admin' as const };
const VIEWER = { username: 'support', password: 'viewer-password-123', role: 'viewer' as const };

const repoImg = path.resolve(__dirname, '../../../docs/img');
function screenshotPath(name: string): string {
  const target = path.join(repoImg, name);
  if (process.env.UPDATE_SCREENSHOTS === '1' || !fs.existsSync(target)) {
    fs.mkdirSync(repoImg, { recursive: true });
    return target;
  }
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mk-shots-')), name);
}

/** A run part-way through: imported, failed with real reasons, in flight, pending; a few rejected records. */
async function seedLedger(ledger: MigrationLedger): Promise<void> {
  // started two hours ago, so its charts have something to show
  await ledger.openRun(RUN_ID, {
    dump: 'plaid-users.ndjson.gz',
    format: 'plaid',
    status: 'enqueued',
    rejects: 3,
    createdAt: Date.now() - 125 * 60_000,
  });
  await ledger.addRejects(RUN_ID, [
    { line: 118, sourceId: 'user-0118', reason: 'account acc-2: missing iso_currency_code' },
    { line: 907, sourceId: 'user-0907', reason: 'no accounts in connection item-1' },
    { line: 1204, sourceId: 'user-1204', reason: 'invalid JSON at column 88' },
  ]);
  const reasons = [
    {
      errorClass: 'terminal' as const,
      status: 400,
      code: 'unsupported_institution',
      message: 'institution ins_109512 is not supported (400 unsupported_institution)',
    },
    {
      errorClass: 'retryable' as const,
      status: 503,
      message: 'retries exhausted after 8 attempts (last: 503 Service Unavailable)',
    },
    { errorClass: 'terminal' as const, status: 413, message: 'request larger than 1 MB after splitting (413)' },
  ];
  for (let u = 0; u < 120; u++) {
    const user = `user-${String(u).padStart(4, '0')}`;
    const [record] = await ledger.register(RUN_ID, user, u + 1, [
      { connectionId: `item-${u % 7}`, accounts: 2, transactions: 40, batchesTotal: 0 },
    ]);
    if (u < 84) {
      const linked = await ledger.transition(record!, { state: 'imported', linkId: `mk_link_${u}` });
      // the reconnect campaign under way: some users reconnected yesterday, some today
      if (u % 3 === 0) await ledger.recordReconnect(linked, Date.now() - (u % 2) * 86_400_000);
    } else if (u < 87) await ledger.transition(record!, { state: 'failed', lastError: reasons[u - 84]! });
    else if (u < 92) await ledger.transition(record!, { state: 'importing' });
  }
}

/** Two hours of imports at about the limit, a stretch of 503s and a 429 burst, written as the workers write them. */
async function seedActivity(redis: Redis): Promise<void> {
  const now = Math.floor(Date.now() / 60_000);
  const pipe = redis.pipeline();
  for (let i = 120; i >= 1; i--) {
    const minute = String(now - i);
    const outage = i > 40 && i <= 52;
    pipe.hincrby(`${PREFIX}:run:${RUN_ID}:rate`, minute, outage ? 3 : 55 + ((i * 7) % 6));
    if (outage) pipe.hincrby(`${PREFIX}:run:${RUN_ID}:errors`, minute, 18 + (i % 4));
    if (i > 80 && i <= 84) pipe.hincrby(`${PREFIX}:run:${RUN_ID}:limited`, minute, 9 - (84 - i) * 2);
  }
  await pipe.exec();
}

describe('dashboard in a browser', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  const queues: Queue[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis(server.url, 'worker');
    const ledger = new MigrationLedger(redis, PREFIX);
    await seedLedger(ledger);
    await seedActivity(redis);

    const imports = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    const refresh = new Queue(QUEUES.refresh, { connection: redis, prefix: PREFIX });
    queues.push(imports, refresh);
    await imports.add(importJob.name, { runId: RUN_ID, sourceUserId: 'user-0085' }, { jobId: `${RUN_ID}-user-0085` });
    const workerConnection = createRedis(server.url, 'worker');
    const worker = new Worker(
      QUEUES.import,
      async () => {
        throw new Error('retries exhausted after 8 attempts (last: 503 Service Unavailable)');
      },
      { connection: workerConnection, prefix: PREFIX },
    );
    await new Promise((resolve) => worker.once('failed', resolve));
    await worker.close();
    workerConnection.disconnect();
    for (let u = 92; u < 100; u++)
      await imports.add(
        importJob.name,
        { runId: RUN_ID, sourceUserId: `user-00${u}` },
        { jobId: `${RUN_ID}-user-00${u}` },
      );
    await refresh.add(
      refreshJob.name,
      { linkId: 'mk_link_1', products: ['transactions'] },
      { jobId: 'mk_link_1-transactions', delay: 3_600_000 },
    );

    app = await createDashboard({
      redis,
      prefix: PREFIX,
      auth: { mode: 'credentials', users: [ADMIN, VIEWER] },
      runs: new LedgerRunSource(ledger, imports),
      refresh: new InMemoryRefreshSource(sampleRefresh, sampleRefreshHistory(180)),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await Promise.all(queues.map((q) => q.close()));
    redis?.disconnect();
    await server?.stop();
  });

  async function signIn(page: Page, user: { username: string; password: string }, start = '/runs'): Promise<void> {
    await page.goto(`${base}${start}`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('#username', user.username);
    await page.fill('#password', user.password);
    await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.click('button[type=submit]')]);
  }

  it('refuses a visitor without credentials', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/board/admin/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    expect((await context.request.get(`${base}/api/runs`)).status()).toBe(401);
    expect((await context.request.put(`${base}/board/admin/api/queues/${QUEUES.import}/pause`)).status()).toBe(401);

    await page.fill('#username', ADMIN.username);
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    await expect(page.locator('[role=alert]').textContent()).resolves.toContain('Wrong username or password');
    await context.close();
  });

  it('signs an admin in, shows the run pages and Bull Board with the queues', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, ADMIN);
    expect(new URL(page.url()).pathname).toBe('/runs');
    await expect(page.locator('h1').textContent()).resolves.toBe('Migration runs');
    await page.click(`a[href="/runs/${RUN_ID}"]`);
    await page.waitForURL(`**/runs/${RUN_ID}`);
    const body = (await page.textContent('main')) ?? '';
    expect(body).toContain('84'); // imported
    expect(body).toContain('Waiting for their user');
    expect(body).toContain('institution ins_109512 is not supported');
    expect(body).toContain('missing iso_currency_code');
    await page.goto(`${base}/runs`);
    await context.close();
  });

  it('charts a stalled run and says why, wide and phone-sized, with the charts served by the dashboard itself', async () => {
    // The queue as a worker leaves it when MoneyKit refuses our credentials: paused, marked with why.
    const imports = queues[0]!;
    await imports.pause();
    await redis.hset(keys(PREFIX).queuePause(QUEUES.import), {
      by: 'worker import-7f9c:41',
      reason: 'MoneyKit refused our credentials (401 invalid_client)',
      at: String(Date.now() - 7 * 60_000),
    });
    const external: string[] = [];
    try {
      for (const [name, viewport] of [
        ['run-page.png', { width: 1280, height: 800 }],
        ['run-page-narrow.png', { width: 390, height: 844 }],
      ] as const) {
        const context = await browser.newContext({ viewport });
        const page = await context.newPage();
        page.on('request', (r) => {
          if (!r.url().startsWith(base)) external.push(r.url());
        });
        await signIn(page, ADMIN, `/runs/${RUN_ID}`);
        await page.waitForSelector('html[data-charts=drawn]');
        // imports, refreshes, and the reconnect conversion
        expect(await page.locator('.chart canvas').count()).toBe(3);
        await expect(page.locator('[data-chart=reconnects]').locator('..').textContent()).resolves.toContain(
          '28 reconnected, 56 still waiting (66.7 %)',
        );
        const banner = page.locator('.banner[role=alert]');
        await expect(banner.textContent()).resolves.toContain('Paused');
        await expect(banner.textContent()).resolves.toContain('MoneyKit refused our credentials');
        // the banner is on screen without scrolling, and the page does not scroll sideways on a phone
        const box = await banner.boundingBox();
        expect(box!.y + box!.height).toBeLessThan(viewport.height);
        expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(viewport.width);
        await page.screenshot({ path: screenshotPath(name), fullPage: true });
        await context.close();
      }
    } finally {
      await redis.del(keys(PREFIX).queuePause(QUEUES.import));
      await imports.resume();
    }
    expect(external).toEqual([]);
  });

  it('shows Bull Board with the queues to an admin', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Under the CSP, Bull Board still renders and works; only its Google Fonts link is refused (on purpose).
    const refused: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
    });
    page.on('pageerror', (e) => refused.push(`page error: ${e.message}`));
    await signIn(page, ADMIN, '/board');
    await page.waitForURL('**/board/admin/**');
    for (const name of Object.values(QUEUES))
      await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.waitForTimeout(300); // let the counters render
    await page.screenshot({ path: screenshotPath('bull-board.png') });
    expect(refused.filter((r) => !/fonts\.googleapis\.com/.test(r))).toEqual([]);
    expect(await page.locator('script[src]').count()).toBeGreaterThan(0);
    // The board's own writes carry this origin and pass the cross-site check.
    const put = (u: string) => page.evaluate(async (url) => (await fetch(url, { method: 'PUT' })).status, u);
    expect(await put(`/board/admin/api/queues/${QUEUES.refresh}/pause`)).toBe(200);
    expect(await queues[1]!.isPaused()).toBe(true);
    expect(await put(`/board/admin/api/queues/${QUEUES.refresh}/resume`)).toBe(200);
    await context.close();
  });

  it('lets a viewer look but not act', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, VIEWER, '/board');
    await page.waitForURL('**/board/viewer/**');
    await page.getByText(QUEUES.import, { exact: true }).first().waitFor({ timeout: 15_000 });

    // What the board's buttons would send, from the signed-in page itself.
    const attempt = (url: string) => page.evaluate(async (u) => (await fetch(u, { method: 'PUT' })).status, url);
    expect(await attempt(`/board/viewer/api/queues/${QUEUES.import}/pause`)).toBe(403);
    expect(await attempt(`/board/viewer/api/queues/${QUEUES.import}/retry/failed`)).toBe(403);
    expect(await attempt(`/board/admin/api/queues/${QUEUES.import}/clean/failed`)).toBe(403);
    expect(await queues[0]!.isPaused()).toBe(false);
    expect(await queues[0]!.getFailedCount()).toBe(1);

    const admin = await page.goto(`${base}/board/admin/`);
    expect(admin?.status()).toBe(403);
    await context.close();
  });
});
