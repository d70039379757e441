/**
 * Events for the team's backend, at least once and in each link's order, through everything: the endpoint answers
 * 5xx, drops connections and is down for a while; worker processes (importers, notifier lease holders, the webhook
 * receiver) are SIGKILLed mid-run. Every event of the run must arrive (duplicates allowed, recognised by their key),
 * signed, and for every link its import before its reconnect.
 */
import http from 'node:http';
import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { importJob, QUEUES, jobId, planImport, type ImportJob } from '@mk/shared';
import { EventOutbox, MigrationLedger, type NotifyEvent } from '@mk/ledger';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import {
  freePort,
  measureSlowdown,
  startApp,
  startPrivateRedis,
  type AppProcess,
  type PrivateRedis,
} from '@mk/testkit';
import { verifyNotifySignature } from '../src/notify';
import { importJobs } from './support/users';

const PREFIX = '{n}';
const RUN = 'notify';
const SECRET = 'test-notify-secret-0123456789';

let redisServer: PrivateRedis;
let sandbox: RunningSandbox;
let redis: IORedis;
const processes: AppProcess[] = [];
let closeEndpoint: (() => Promise<void>) | undefined;

afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  await closeEndpoint?.();
  await sandbox?.close();
  redis?.disconnect();
  await redisServer?.stop();
});

interface Received {
  event: NotifyEvent;
  raw: string;
}

/** The team's endpoint: every 4th request answered 503, every 7th connection dropped, and down when asked. */
function startEndpoint(port: number) {
  const received: Received[] = [];
  let badSignatures = 0;
  let requests = 0;
  let server: http.Server | undefined;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          requests++;
          if (requests % 7 === 0) return req.socket.destroy();
          if (requests % 4 === 0) return res.writeHead(503).end();
          const raw = Buffer.concat(chunks).toString('utf8');
          if (!verifyNotifySignature(SECRET, req.headers['migrator-signature'] as string | undefined, raw)) {
            badSignatures++;
            return res.writeHead(401).end();
          }
          received.push({ event: JSON.parse(raw) as NotifyEvent, raw });
          res.writeHead(204).end();
        });
      });
      server.listen(port, '127.0.0.1', () => resolve());
    });
  return {
    received,
    badSignatures: () => badSignatures,
    requests: () => requests,
    listen,
    down: () =>
      new Promise<void>((resolve) =>
        server ? (server.close(() => resolve()), server.closeAllConnections()) : resolve(),
      ),
  };
}

async function enqueue(jobs: ImportJob[]): Promise<number> {
  const ledger = new MigrationLedger(redis, PREFIX);
  await ledger.openRun(RUN, { status: 'enqueued' });
  for (const job of jobs) {
    await ledger.register(
      RUN,
      job.sourceUserId,
      job.line,
      job.connections.map((c) => ({
        connectionId: c.connectionId,
        accounts: 1,
        transactions: c.request.transactions.length,
        batchesTotal: planImport(c.request).batches.length,
      })),
    );
  }
  const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
  await queue.addBulk(
    jobs.map((data) => ({
      name: importJob.name,
      data,
      opts: { ...importJob.options, jobId: jobId(RUN, data.sourceUserId) },
    })),
  );
  await queue.close();
  return jobs.reduce((n, j) => n + j.connections.length, 0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  ok: () => Promise<boolean> | boolean,
  timeoutMs: number,
  diag: () => Promise<string> | string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms\n${await diag()}`);
    await sleep(100);
  }
}

it("delivers every event at least once, signed, in each link's order, through endpoint faults and worker SIGKILLs", async () => {
  const slow = measureSlowdown();
  redisServer = await startPrivateRedis({ aof: true });
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  const [webhookPort, endpointPort] = [await freePort(), await freePort()];
  sandbox = await startSandbox({
    latency: { baseMs: 20, perKbMs: 0, maxMs: 50 },
    importRatePerMinute: 1_000_000,
    logLevel: 'silent',
    seed: 7,
    webhookRetryDelaysMs: [200, 500, 1000, 2000, 4000, 8000, 16_000, 30_000, 60_000],
    webhookUrl: `http://127.0.0.1:${webhookPort}/webhooks/moneykit`,
  });
  const endpoint = startEndpoint(endpointPort);
  closeEndpoint = endpoint.down;
  await endpoint.listen();

  const jobs = importJobs(RUN, 30);
  // one connection MoneyKit refuses for good (no account): its connection.failed must arrive too
  jobs[3]!.connections[0]!.request.accounts = [];
  const total = await enqueue(jobs);

  const env = {
    REDIS_URL: redisServer.url,
    REDIS_PREFIX: PREFIX,
    LOG_LEVEL: 'error',
    OPS_PORT: '0',
    MONEYKIT_BASE_URL: sandbox.url,
    MONEYKIT_CLIENT_ID: sandbox.clientId,
    MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
    MONEYKIT_IMPORT_TIMEOUT_MS: '2000',
    IMPORT_SETTLE_MS: '300',
    IMPORT_BACKOFF_BASE_MS: '50',
    IMPORT_BACKOFF_MAX_MS: '500',
    IMPORT_RATE_PER_MIN: '600',
    IMPORT_LOCK_MS: '2000',
    IMPORT_CONCURRENCY: '4',
    NOTIFY_URL: `http://127.0.0.1:${endpointPort}/events`,
    NOTIFY_SECRET: SECRET,
    NOTIFY_TIMEOUT_MS: '1000',
    NOTIFY_RETRY_BASE_MS: '50',
    NOTIFY_RETRY_MAX_MS: '400',
    NOTIFY_LEASE_MS: '1000',
    NOTIFY_CONCURRENCY: '4',
  };
  const workers: AppProcess[] = [];
  const startWorker = () => {
    const w = startApp('apps/worker/src/main.ts', { ...env, WORKER_ROLES: 'import', WEBHOOK_PORT: '0' });
    processes.push(w);
    workers.push(w);
  };
  const startReceiver = () => {
    const r = startApp('apps/worker/src/main.ts', {
      ...env,
      WORKER_ROLES: 'webhooks',
      WEBHOOK_PORT: String(webhookPort),
      WEBHOOK_HOST: '127.0.0.1',
    });
    processes.push(r);
    return r;
  };
  startWorker();
  startWorker();
  let receiver = startReceiver();

  const ledger = new MigrationLedger(redis, PREFIX);
  const settled = async () => {
    const c = await ledger.counts(RUN);
    return c.imported + c.failed === total;
  };
  // Import phase: a worker SIGKILLed every time a few more connections are done; the endpoint down for a while.
  let kills = 0;
  const deadline = Date.now() + 90_000 * slow;
  while (!(await settled())) {
    if (Date.now() > deadline)
      throw new Error(
        `imports not settled: ${JSON.stringify(await ledger.counts(RUN))}\n${workers.map((w) => w.output().slice(-2000)).join('\n---\n')}`,
      );
    const c = await ledger.counts(RUN);
    if (kills < 3 && c.imported >= (kills + 1) * (total / 5)) {
      await workers.shift()!.kill('SIGKILL');
      kills++;
      startWorker();
      if (kills === 2) {
        await endpoint.down();
        await sleep(2000);
        await endpoint.listen();
      }
    }
    await sleep(100);
  }
  const counts = await ledger.counts(RUN);
  expect(counts.failed).toBeGreaterThanOrEqual(1);

  // Reconnect phase: every imported link's user reconnects; the webhook receiver and a worker are SIGKILLed meanwhile.
  const records = [];
  for await (const r of ledger.scan(RUN)) records.push(r);
  const imported = records.filter((r) => r.state === 'imported');
  for (const r of imported) sandbox.state.reconnect(r.linkId!);
  await sleep(300);
  await receiver.kill('SIGKILL');
  await workers.shift()!.kill('SIGKILL');
  kills += 2;
  startWorker();
  receiver = startReceiver();

  // Every event of the run: the imported/failed of each connection, the reconnect of each imported link, run.completed.
  const expected = new Set<string>([
    ...records.map((r) => `${r.state === 'imported' ? 'connection.imported' : 'connection.failed'} ${r.connectionId}`),
    ...imported.map((r) => `link.reconnected ${r.connectionId}`),
    'run.completed ',
  ]);
  const got = () =>
    new Set(endpoint.received.map(({ event }) => `${event.type} ${String(event.data.source_connection_id ?? '')}`));
  const outbox = new EventOutbox(ledger);
  await until(
    'every event received',
    () => [...expected].every((e) => got().has(e)),
    120_000 * slow,
    async () => {
      const missing = [...expected].filter((e) => !got().has(e));
      return `missing ${missing.length}: ${missing.slice(0, 10).join(', ')}\nbacklog ${JSON.stringify(await outbox.backlog(RUN))}\n${[receiver, ...workers].map((w) => w.output().slice(-1500)).join('\n---\n')}`;
    },
  );
  await until('outbox drained', async () => (await outbox.backlog(RUN)).pending === 0, 30_000 * slow);

  expect(endpoint.badSignatures()).toBe(0);
  expect((await outbox.backlog(RUN)).dead).toBe(0);
  expect([...got()].filter((e) => !expected.has(e))).toEqual([]);
  // Duplicates are recognisable: one key, one body (the key is stable per event, whoever sent it).
  const byKey = new Map<string, Set<string>>();
  for (const { event } of endpoint.received) {
    const { created_at, ...rest } = event;
    byKey.set(event.id, (byKey.get(event.id) ?? new Set()).add(JSON.stringify({ created_at, ...rest })));
  }
  expect([...byKey.values()].filter((bodies) => bodies.size > 1)).toEqual([]);
  expect(byKey.size).toBe(expected.size);
  // Each link's order: its import arrived before its reconnect.
  const firstAt = (key: string) =>
    endpoint.received.findIndex(
      ({ event }) => `${event.type} ${String(event.data.source_connection_id ?? '')}` === key,
    );
  const outOfOrder = imported.filter(
    (r) => firstAt(`connection.imported ${r.connectionId}`) > firstAt(`link.reconnected ${r.connectionId}`),
  );
  expect(outOfOrder.map((r) => r.connectionId)).toEqual([]);
  // Every connection.imported names the link the ledger holds.
  for (const r of imported) {
    const event = endpoint.received.find(
      ({ event: e }) => e.type === 'connection.imported' && e.data.source_connection_id === r.connectionId,
    )!.event;
    expect(event.data).toMatchObject({ source_user_id: r.sourceUserId, link_id: r.linkId });
  }
  // The faults happened: the endpoint refused or dropped some, and processes were killed.
  expect(endpoint.requests()).toBeGreaterThan(endpoint.received.length);
  expect(kills).toBe(5);
  // the reconnects are on the ledger, once each, whatever the redeliveries
  expect((await ledger.reconnects(RUN)).total).toBe(imported.length);
}, 300_000);
