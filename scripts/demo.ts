/**
 * `npm run demo`: a whole migration on embedded defaults, end to end.
 * sample dump → sandbox MoneyKit → links → top-up from a newer dump → verify → end users reconnect → first refreshes
 * → report, reconnect list and dashboard URL.
 *
 * Everything runs on this machine: a private Redis (AOF on; REDIS_URL to use yours), the MoneyKit sandbox, the
 * worker (imports, refresh, webhooks) and the dashboard. The demo runs faster than the real API allows: the
 * sandbox and the workers share a higher import rate and a time scale on which an hour lasts a second; the same
 * code runs at 60 imports a minute against MoneyKit.
 *   --exit      stop once the report is printed (default when not on a terminal)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createLogger, createRedis, exitOnHelp, generatePayloadKeys, loadConfig, type Redis } from '@mk/shared';
import { fixtures } from '@mk/converters';
import { startSandbox } from '@mk/sandbox';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { main as producer, runStatus } from '@mk/producer';
import { MigrationLedger } from '@mk/ledger';
import { refreshOptionsFromEnv } from '@mk/refresh';
import { loadWorkerSettings } from '../apps/worker/src/config';
import { startWorker } from '../apps/worker/src/start';
import { createDashboard, createSources } from '@mk/dashboard';

const ROOT = path.resolve(__dirname, '..');
const OUT = path.join(ROOT, 'demo-out');
const SAMPLE = path.join(ROOT, 'samples', 'demo-dump.ndjson');
const IMPORT_RATE_PER_MIN = 1200;
const TIME_SCALE = 3600; // an hour of quota windows per second
const PREFIX = '{demo}';

const say = (s = '') => process.stdout.write(`${s}\n`);
const step = (s: string) => say(`\n▸ ${s}`);

/** The bundled sample plus one heavy user (over 1 MB: imported in batches), generated so the repo stays small. */
async function buildDump(): Promise<string> {
  fs.mkdirSync(OUT, { recursive: true });
  const dump = path.join(OUT, 'demo-dump.ndjson');
  const heavy = fixtures.generateUser(fixtures.createRng('demo-heavy'), 9001, {
    txPerAccount: 40,
    heavyTransactions: fixtures.HEAVY_TRANSACTIONS,
  });
  const heavyLine = JSON.stringify(fixtures.renderUser('plaid', heavy, 9001));
  fs.writeFileSync(dump, `${fs.readFileSync(SAMPLE, 'utf8').trimEnd()}\n${heavyLine}\n`);
  return dump;
}

/**
 * The second dump of the cutover, as the old aggregator would hand it over days later: the same users with more
 * transactions, their pending rows posted and one row per connection changed (Plaid and canonical records).
 */
function buildNewerDump(first: string): string {
  const newer = path.join(OUT, 'demo-dump-2.ndjson');
  const lines = fs.readFileSync(first, 'utf8').split('\n').filter(Boolean);
  const out = lines.map((line) => {
    try {
      return fixtures.newerDumpLine(line).line;
    } catch {
      return line; // the sample's malformed records stay as they are
    }
  });
  fs.writeFileSync(newer, `${out.join('\n')}\n`);
  return newer;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

async function main(): Promise<void> {
  exitOnHelp(`usage: npm run demo [-- --exit]

A whole migration of the bundled sample dump (samples/demo-dump.ndjson plus a user over 1 MB, written to
demo-out/demo-dump.ndjson) against the embedded MoneyKit sandbox, with a private Redis, the worker and the dashboard.
  --exit    stop once the report is printed (default when not on a terminal); otherwise the dashboard stays up
            until Ctrl-C. REDIS_URL uses your Redis (keys under their own prefix); LOG_LEVEL sets the logs.`);
  const exitWhenDone = process.argv.includes('--exit') || !process.stdin.isTTY;
  const logLevel = process.env.LOG_LEVEL ?? 'warn';
  const logger = createLogger('demo', { level: logLevel });
  const closers: (() => Promise<unknown> | void)[] = [];
  const shutdown = async () => {
    for (const close of closers.reverse()) await close();
  };

  step('Redis');
  let redisUrl = process.env.REDIS_URL;
  let privateRedis: PrivateRedis | undefined;
  if (!redisUrl) {
    privateRedis = await startPrivateRedis({ aof: true });
    redisUrl = privateRedis.url;
    closers.push(() => privateRedis!.stop());
    say(`  private redis-server (AOF on, noeviction) at ${redisUrl}`);
  } else say(`  using REDIS_URL (keys under the ${PREFIX} prefix)`);
  const redis: Redis = createRedis(redisUrl, 'worker');
  closers.push(() => redis.disconnect());

  step('MoneyKit sandbox');
  const sandbox = await startSandbox({
    latency: { baseMs: 50, perKbMs: 0.3, maxMs: 2000 },
    importRatePerMinute: IMPORT_RATE_PER_MIN,
    timeScale: TIME_SCALE,
    refreshCompletionDelayMs: 100,
    logLevel,
  });
  closers.push(() => sandbox.close());
  say(`  ${sandbox.url} (import limit ${IMPORT_RATE_PER_MIN}/min, an hour of quota lasts ${3600 / TIME_SCALE} s)`);

  step('Worker: imports, refresh pipeline, webhook receiver');
  // A key for this demo only: the producer seals import payloads with it, the worker opens them.
  const payloadKeys = process.env.PAYLOAD_KEYS || generatePayloadKeys('demo');
  const env = {
    PAYLOAD_KEYS: payloadKeys,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: PREFIX,
    LOG_LEVEL: logLevel,
    MONEYKIT_BASE_URL: sandbox.url,
    MONEYKIT_CLIENT_ID: sandbox.clientId,
    MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
    IMPORT_RATE_PER_MIN: String(IMPORT_RATE_PER_MIN),
    IMPORT_SETTLE_MS: '3000',
    TIME_SCALE: String(TIME_SCALE),
    REFRESH_PRODUCTS: 'accounts,transactions,identity',
    WEBHOOK_PORT: '0',
    WEBHOOK_HOST: '127.0.0.1',
  };
  const worker = await startWorker(loadWorkerSettings(env), redis, logger);
  closers.push(() => worker.close());
  sandbox.state.setWebhookUrl(worker.webhookUrl ?? null);
  say(`  webhooks from the sandbox go to ${worker.webhookUrl} (signed, verified)`);

  step('Dashboard');
  const password = crypto.randomBytes(9).toString('base64url');
  const dashboard = await createDashboard({
    redis,
    prefix: PREFIX,
    auth: { mode: 'credentials', users: [{ username: 'admin', password, role: 'admin' }] },
    ...(await createSources(redis, PREFIX, refreshOptionsFromEnv(env))),
    logger,
  });
  await dashboard.listen({ port: Number(process.env.DASHBOARD_PORT ?? 0), host: '127.0.0.1' });
  closers.push(() => dashboard.close());
  const address = dashboard.server.address();
  const dashboardUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const dump = await buildDump();
  const runId = `demo-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}`;
  const producerEnv = {
    PAYLOAD_KEYS: payloadKeys,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: PREFIX,
    LOG_LEVEL: logLevel,
    IMPORT_RATE_PER_MIN: String(IMPORT_RATE_PER_MIN),
    PRODUCER_OUT_DIR: OUT,
    MONEYKIT_BASE_URL: sandbox.url,
    MONEYKIT_CLIENT_ID: sandbox.clientId,
    MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
  };
  const io = { out: (s: string) => say(s.replace(/^/gm, '  ')), err: (s: string) => say(s.replace(/^/gm, '  ')) };

  step(`Plan (dry run) of ${path.relative(ROOT, dump)}`);
  await producer(['plan', dump, '--rejects', path.join(OUT, 'plan.rejects.ndjson')], producerEnv, io);

  step(`Run ${runId}: enqueue and import`);
  const rejects = path.join(OUT, `${runId}.rejects.ndjson`);
  const code = await producer(['run', dump, '--run', runId, '--rejects', rejects, '--wait'], producerEnv, io);

  step('Cutover: a newer dump of the same users arrives; top up what is not on the links yet');
  const newer = buildNewerDump(dump);
  await producer(['plan', newer, '--topup-of', runId], producerEnv, io);
  const toppedUp = await producer(['topup', newer, '--run', runId, '--wait'], producerEnv, io);

  step('Cutover: verify reads every link back and compares it with what was imported');
  const verified = await producer(['verify', runId], producerEnv, io);
  say(`  exit code of verify: ${verified} (0 everything landed)`);

  const ledger = new MigrationLedger(redis, PREFIX);
  const linkIds: string[] = [];
  for await (const record of ledger.scan(runId)) if (record.linkId) linkIds.push(record.linkId);

  step('End users reconnect half of the links (imported links start disconnected)');
  const reconnected = linkIds.filter((_, i) => i % 2 === 0);
  for (const id of reconnected) sandbox.state.reconnect(id);
  say(`  ${reconnected.length} links reconnected; the others stay parked until their user comes back`);
  const refreshed = await until(async () => {
    const calls = sandbox.state.counters().refreshCalls;
    return reconnected.every((id) => (calls[id]?.transactions ?? 0) >= 1);
  }, 60_000);
  const counters = sandbox.state.counters();
  const firstRefreshes = Object.values(counters.refreshCalls).reduce(
    (n, p) => n + Object.values(p).reduce((a, b) => a + (b ?? 0), 0),
    0,
  );
  say(
    `  ${refreshed ? 'every reconnected link refreshed' : 'not every reconnected link refreshed yet'}: ${firstRefreshes} product refreshes accepted, ${counters.quotaViolationsAttempted} quota violations, ${counters.badStateRefreshes} refreshes of disconnected links`,
  );

  step('Report');
  const status = await runStatus(ledger, runId);
  const csv = path.join(OUT, `${runId}.csv`);
  await producer(['report', runId, '--format', 'csv', '--out', csv], producerEnv, {
    out: () => undefined,
    err: () => undefined,
  });
  say(
    `  connections: ${status.counts.imported} imported, ${status.counts.failed} failed; records rejected: ${status.run.rejects} (${path.relative(ROOT, rejects)})`,
  );
  say(
    `  MoneyKit sandbox: ${counters.liveLinks} links, ${counters.duplicateLinks} duplicates, ${counters.transactionsImported} transactions`,
  );
  say(`  mapping source connection → link_id: ${path.relative(ROOT, csv)}`);
  say(`  exit code of the run: ${code} (0 all imported, 2 finished with rejects or failures)`);

  // The reconnect campaign: the links still waiting for their user, as the team's messaging tools read them.
  step('Reconnect list: links still waiting for their user');
  const waitingCsv = path.join(OUT, `${runId}.reconnects.csv`);
  await producer(['reconnects', runId, '--out', waitingCsv], producerEnv, io);
  const waitingRows = fs.readFileSync(waitingCsv, 'utf8').trimEnd().split('\n');
  for (const row of waitingRows.slice(0, 6)) say(`  ${row}`);
  if (waitingRows.length > 6) say(`  … ${waitingRows.length - 6} more in ${path.relative(ROOT, waitingCsv)}`);
  if (exitWhenDone) {
    // The dashboard stops with everything else: no URL to a page that is gone.
    say('\n  Stopping (--exit or no terminal); run `npm run demo` on a terminal to keep the dashboard up.');
    await shutdown();
    process.exit(
      status.counts.failed === 0 && counters.duplicateLinks === 0 && toppedUp === 0 && verified === 0 ? 0 : 1,
    );
  }
  say(`\n  Dashboard: ${dashboardUrl}/runs/${runId}   (user admin, password ${password})`);
  say(`  Bull Board: ${dashboardUrl}/board/admin`);
  say('\n  Ctrl-C to stop.');
  process.on('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.on('SIGTERM', () => void shutdown().then(() => process.exit(0)));
}

main().catch((err) => {
  process.stderr.write(`demo failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
