/**
 * The dashboard in a real browser (headless Chromium): sign-in, the run pages, Bull Board with real queues, and
 * the read-only role. Screenshots go to docs/img when missing or with UPDATE_SCREENSHOTS=1, else to a temp dir.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createRedis, importJob, QUEUES, refreshJob, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { MigrationLedger } from '@mk/ledger';
import { createDashboard, LedgerRunSource } from '@mk/dashboard';
import { InMemoryRefreshSource, sampleRefresh } from './fakes';

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
  await ledger.openRun(RUN_ID, { dump: 'plaid-users.ndjson.gz', format: 'plaid', status: 'enqueued', rejects: 3 });
  await ledger.addRejects(RUN_ID, [
    { line: 118, sourceId: 'user-0118', reason: 'account acc-2: missing iso_currency_code' },
    { line: 907, sourceId: 'user-0907', reason: 'no accounts in connection item-1' },
    { line: 1204, sourceId: 'user-1204', reason: 'invalid JSON at column 88' },
  ]);
  const reasons = [
    { errorClass: 'terminal' as const, status: 400, code: 'unsupported_institution', message: 'institution ins_109512 is not supported (400 unsupported_institution)' },
    { errorClass: 'retryable' as const, status: 503, message: 'retries exhausted after 8 attempts (last: 503 Service Unavailable)' },
    { errorClass: 'terminal' as const, status: 413, message: 'request larger than 1 MB after splitting (413)' },
  ];
  for (let u = 0; u < 120; u++) {
    const user = `user-${String(u).padStart(4, '0')}`;
    const [record] = await ledger.register(RUN_ID, user, u + 1, [{ connectionId: `item-${u % 7}`, accounts: 2, transactions: 40, batchesTotal: 0 }]);
    if (u < 84) await ledger.transition(record!, { state: 'imported', linkId: `mk_link_${u}` });
    else if (u < 87) await ledger.transition(record!, { state: 'failed', lastError: reasons[u - 84]! });
    else if (u < 92) await ledger.transition(record!, { state: 'importing' });
  }
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

    const imports = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    const refresh = new Queue(QUEUES.refresh, { connection: redis, prefix: PREFIX });
    queues.push(imports, refresh);
    await imports.add(importJob.name, { runId: RUN_ID, sourceUserId: 'user-0085' }, { jobId: `${RUN_ID}-user-0085` });
    const workerConnection = createRedis(server.url, 'worker');
    const worker = new Worker(QUEUES.import, async () => {
      throw new Error('retries exhausted after 8 attempts (last: 503 Service Unavailable)');
    }, { connection: workerConnection, prefix: PREFIX });
    await new Promise((resolve) => worker.once('failed', resolve));
    await worker.close();
    workerConnection.disconnect();
    for (let u = 92; u < 100; u++) await imports.add(importJob.name, { runId: RUN_ID, sourceUserId: `user-00${u}` }, { jobId: `${RUN_ID}-user-00${u}` });
    await refresh.add(refreshJob.name, { linkId: 'mk_link_1', products: ['transactions'] }, { jobId: 'mk_link_1-transactions', delay: 3_600_000 });

    app = await createDashboard({
      redis,
      prefix: PREFIX,
      auth: { mode: 'credentials', users: [ADMIN, VIEWER] },
      runs: new LedgerRunSource(ledger),
      refresh: new InMemoryRefreshSource(sampleRefresh),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
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
    expect(body).toContain('institution ins_109512 is not supported');
    expect(body).toContain('missing iso_currency_code');
    await page.screenshot({ path: screenshotPath('run-page.png'), fullPage: true });

    await page.goto(`${base}/board`);
    await page.waitForURL('**/board/admin/**');
    for (const name of Object.values(QUEUES)) await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    await page.waitForTimeout(300); // let the counters render
    await page.screenshot({ path: screenshotPath('bull-board.png') });
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
