/**
 * The events for the team's backend, in one process: the signature (and the verification snippet the docs give the
 * team), the settings, the outbox written with the ledger's changes, per-link order under retries, dead letters and
 * `resend`.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import IORedis from 'ioredis';
import { ConfigError, createLogger } from '@mk/shared';
import { EventOutbox, MigrationLedger, eventOf, type NotifyEvent } from '@mk/ledger';
import { freePort, startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import {
  backoffMs,
  notifyEnvSchema,
  notifyOptionsFromConfig,
  signNotifyBody,
  startNotifier,
  verifyNotifySignature,
  type NotifyOptions,
} from '../src/notify';

const SECRET = 'unit-test-secret-0123456789abcdef';
const ROOT = path.resolve(__dirname, '../../..');

describe('the signature', () => {
  it('is HMAC-SHA256 over timestamp.body, and verifies only the same body, secret and a recent time', () => {
    const body = '{"id":"k","type":"run.completed"}';
    const header = signNotifyBody(SECRET, body, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifyNotifySignature(SECRET, header, body, 300, 1_700_000_100)).toBe(true);
    expect(verifyNotifySignature(SECRET, header, `${body} `, 300, 1_700_000_100)).toBe(false);
    expect(verifyNotifySignature('another-secret-0123456789', header, body, 300, 1_700_000_100)).toBe(false);
    expect(verifyNotifySignature(SECRET, header, body, 300, 1_700_001_000)).toBe(false);
    expect(verifyNotifySignature(SECRET, undefined, body)).toBe(false);
  });

  it('verifies with the snippet docs/notify.md gives the team', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/notify.md'), 'utf8');
    const code = /<!-- verify-snippet[^>]*-->\s*```js\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(code).toBeDefined();
    // The documented snippet, run as the team would run it.
    const verify = new Function('require', `${code!}\nreturn verifyMigratorSignature;`)(require) as (
      s: string,
      h: string,
      b: string,
    ) => boolean;
    const body = JSON.stringify({ id: 'x', type: 'connection.imported', data: { link_id: 'mk_1' } });
    expect(verify(SECRET, signNotifyBody(SECRET, body), body)).toBe(true);
    expect(verify(SECRET, signNotifyBody(SECRET, body), body.replace('mk_1', 'mk_2'))).toBe(false);
    expect(verify(SECRET, signNotifyBody(SECRET, body, Math.floor(Date.now() / 1000) - 3600), body)).toBe(false);
  });
});

describe('the settings', () => {
  const load = (env: Record<string, string>) => notifyOptionsFromConfig(notifyEnvSchema.parse(env));
  it('are off without NOTIFY_URL, and need a real NOTIFY_SECRET with it', () => {
    expect(load({})).toBeUndefined();
    expect(() => load({ NOTIFY_URL: 'https://example.com/hook' })).toThrow(ConfigError);
    expect(() => load({ NOTIFY_URL: 'https://example.com/hook' })).toThrow(/NOTIFY_SECRET/);
    expect(() => load({ NOTIFY_URL: 'https://example.com/hook', NOTIFY_SECRET: 'short' })).toThrow(
      /NOTIFY_SECRET is too short/,
    );
    expect(() => load({ NOTIFY_SECRET: SECRET })).toThrow(/NOTIFY_URL/);
    expect(load({ NOTIFY_URL: 'https://example.com/hook', NOTIFY_SECRET: SECRET })).toMatchObject({
      timeoutMs: 10_000,
      giveUpAfterMs: 48 * 3_600_000,
    });
  });

  it('back off exponentially up to the maximum', () => {
    const o = { retryBaseMs: 100, retryMaxMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, o, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect(backoffMs(2, o, () => 0)).toBe(100);
  });
});

describe('the outbox and the notifier', () => {
  let server: PrivateRedis;
  let redis: IORedis;
  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  const conn = (connectionId: string) => ({ connectionId, accounts: 1, transactions: 3, batchesTotal: 0 });

  it('writes an event with each change the backend hears of, once per fact, and nothing without the outbox', async () => {
    const prefix = '{o1}';
    const ledger = new MigrationLedger(redis, prefix, { outbox: true });
    const outbox = new EventOutbox(ledger);
    await ledger.openRun('r');
    const [a, b] = await ledger.register('r', 'u1', 1, [conn('c1'), conn('c2')]);
    let ra = await ledger.transitionFrom(a!, { state: 'importing' }, { countAttempt: true });
    ra = await ledger.transitionFrom(ra, { state: 'linked', linkId: 'mk_a' });
    ra = await ledger.transitionFrom(ra, { state: 'imported', transactionsImported: 3 });
    await ledger.transitionFrom(b!, {
      state: 'failed',
      lastError: { errorClass: 'terminal', code: 'invalid_request', message: 'name jane@example.com' },
    });
    expect(await ledger.findLink('mk_a')).toEqual({ runId: 'r', sourceUserId: 'u1', connectionId: 'c1' });
    // a webhook delivered twice counts once
    expect(await ledger.recordReconnect(ra, Date.UTC(2027, 0, 5, 10))).toBe(true);
    expect(await ledger.recordReconnect(ra, Date.UTC(2027, 0, 5, 11))).toBe(false);
    expect(await ledger.recordAttention(ra, 'deleted', 1000)).toBe(true);
    expect(await ledger.recordAttention(ra, 'deleted', 1000)).toBe(false);

    const entries = await outbox.read('r', 0, 100);
    expect(entries.map((e) => e.type)).toEqual([
      'connection.imported',
      'connection.failed',
      'link.reconnected',
      'link.needs_attention',
    ]);
    expect(entries[0]!.data).toMatchObject({
      source_user_id: 'u1',
      source_connection_id: 'c1',
      link_id: 'mk_a',
      transactions_imported: 3,
    });
    expect(entries[1]!.data).toEqual({
      source_user_id: 'u1',
      source_connection_id: 'c2',
      attempts: 0,
      error_class: 'terminal',
      error_code: 'invalid_request',
    });
    expect(JSON.stringify(entries)).not.toContain('jane');
    expect(await ledger.reconnectedAt('r', 'u1', 'c1')).toBe(Date.UTC(2027, 0, 5, 10));
    expect(await ledger.reconnectedAt('r', 'u1', 'c2')).toBeUndefined();
    const reconnects = await ledger.reconnects('r');
    expect(reconnects.total).toBe(1);
    expect([...reconnects.perDay]).toEqual([[Math.floor(Date.UTC(2027, 0, 5) / 86_400_000), 1]]);

    // re-derived from the ledger, the same events carry the same keys
    const keys = entries.map((e) => eventOf(e).id);
    await redis.del((await ledger.keysOf('r', 'u1')).outbox);
    expect(await outbox.rederive('r')).toBe(4);
    expect((await outbox.read('r', 0, 100)).map((e) => eventOf(e).id).sort()).toEqual([...keys].sort());

    const quiet = new MigrationLedger(redis, '{o2}');
    const [q] = await quiet.register('q', 'u1', 1, [conn('c1')]);
    await quiet.transition(q!, { state: 'imported', linkId: 'mk_q' });
    expect(await redis.exists((await quiet.keysOf('q', 'u1')).outbox)).toBe(0);
  });

  async function endpoint(answer: (event: NotifyEvent, nth: number) => number) {
    const received: NotifyEvent[] = [];
    let nth = 0;
    const srv = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        const event = JSON.parse(raw) as NotifyEvent;
        const status = verifyNotifySignature(SECRET, req.headers['migrator-signature'] as string, raw)
          ? answer(event, nth++)
          : 401;
        if (status < 300) received.push(event);
        res.writeHead(status).end();
      });
    });
    const port = await freePort();
    await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
    return { received, url: `http://127.0.0.1:${port}/`, close: () => new Promise<void>((r) => srv.close(() => r())) };
  }

  const options = (url: string, extra: Partial<NotifyOptions> = {}): NotifyOptions => ({
    url,
    secret: SECRET,
    timeoutMs: 1000,
    retryBaseMs: 20,
    retryMaxMs: 100,
    giveUpAfterMs: 3_600_000,
    concurrency: 4,
    leaseMs: 600,
    ...extra,
  });

  const notifierFor = (ledger: MigrationLedger, prefix: string, url: string, extra: Partial<NotifyOptions> = {}) =>
    startNotifier({
      redis,
      ledger,
      prefix,
      options: options(url, extra),
      logger: createLogger('test', { level: 'silent' }),
    });

  const waitFor = async (ok: () => Promise<boolean> | boolean, ms = 20_000) => {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error('condition not reached');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  it("keeps each link's order while one of its events is retried, and lets other links go on", async () => {
    const prefix = '{o3}';
    const ledger = new MigrationLedger(redis, prefix, { outbox: true });
    await ledger.openRun('r');
    const [a, b] = await ledger.register('r', 'u1', 1, [conn('a'), conn('b')]);
    const ra = await ledger.transition(a!, { state: 'imported', linkId: 'mk_a' });
    await ledger.recordReconnect(ra, 5000);
    await ledger.transition(b!, { state: 'imported', linkId: 'mk_b' });
    let refusedA = 0;
    const ep = await endpoint((e) => {
      if (e.data.source_connection_id !== 'a' || e.type !== 'connection.imported' || refusedA >= 5) return 204;
      refusedA++;
      return 503;
    });
    const notifier = notifierFor(ledger, prefix, ep.url);
    try {
      await waitFor(() => ep.received.length >= 3);
      expect(ep.received.map((e) => `${e.type} ${String(e.data.source_connection_id)}`)).toEqual([
        'connection.imported b',
        'connection.imported a',
        'link.reconnected a',
      ]);
      expect(refusedA).toBe(5);
      await waitFor(async () => (await new EventOutbox(ledger).backlog('r')).pending === 0);
    } finally {
      await notifier.close();
      await ep.close();
    }
  });

  it("delivers a run spread over shards: every event, each link's in order, run.completed once", async () => {
    const prefix = '{o6}';
    const ledger = new MigrationLedger(redis, prefix, { outbox: true, shards: 3 });
    const outbox = new EventOutbox(ledger);
    await ledger.openRun('r', { status: 'enqueued' });
    const users = 24;
    for (let i = 0; i < users; i++) {
      const [a] = await ledger.register('r', `user-${i}`, i + 1, [conn('a')]);
      const imported = await ledger.transition(a!, { state: 'imported', linkId: `mk_${i}` });
      await ledger.recordReconnect(imported, 5000 + i);
    }
    const streams = await Promise.all([0, 1, 2].map(async (n) => (await outbox.read('r', n, 1000)).length));
    expect(streams.reduce((a, b) => a + b, 0)).toBe(2 * users);
    for (const n of streams) expect(n).toBeGreaterThan(0);
    // every other first attempt refused: retries in every shard
    const tried = new Set<string>();
    const ep = await endpoint((e) =>
      tried.has(e.id) || Number(e.data.reconnected_at_ms ?? 0) % 2 ? 204 : (tried.add(e.id), 503),
    );
    const notifier = notifierFor(ledger, prefix, ep.url);
    try {
      await waitFor(() => ep.received.filter((e) => e.type === 'run.completed').length === 1);
      await waitFor(async () => (await outbox.backlog('r')).pending === 0);
      for (let i = 0; i < users; i++)
        expect(ep.received.filter((e) => e.data.source_user_id === `user-${i}`).map((e) => e.type)).toEqual([
          'connection.imported',
          'link.reconnected',
        ]);
      expect(ep.received).toHaveLength(2 * users + 1);
      expect(await outbox.rederive('r')).toBe(2 * users + 1);
    } finally {
      await notifier.close();
      await ep.close();
    }
  });

  it('dead-letters what is refused for too long, and resends it with the same key', async () => {
    const prefix = '{o4}';
    const ledger = new MigrationLedger(redis, prefix, { outbox: true });
    const outbox = new EventOutbox(ledger);
    await ledger.openRun('r', { status: 'enqueued' });
    const [a] = await ledger.register('r', 'u1', 1, [conn('a')]);
    await ledger.transition(a!, { state: 'imported', linkId: 'mk_a' });
    let down = true;
    const ep = await endpoint(() => (down ? 500 : 204));
    let notifier = notifierFor(ledger, prefix, ep.url, { giveUpAfterMs: 300 });
    try {
      // connection.imported and run.completed (nothing open, producer done) both end as dead letters
      await waitFor(async () => (await outbox.backlog('r')).dead === 2);
      expect((await outbox.backlog('r')).pending).toBe(0);
      const dead = [];
      for await (const d of outbox.deadLetters('r')) dead.push(d);
      expect(dead.map((d) => d.type).sort()).toEqual(['connection.imported', 'run.completed']);
      expect(dead[0]!.why).toMatch(/HTTP 500 after \d+ attempts/);
      await notifier.close();

      down = false;
      expect(await outbox.resendDeadLetters('r')).toBe(2);
      notifier = notifierFor(ledger, prefix, ep.url);
      await waitFor(() => ep.received.length === 2);
      expect(ep.received.map((e) => e.id).sort()).toEqual(dead.map((d) => eventOf(d).id).sort());
      await waitFor(async () => (await outbox.backlog('r')).pending === 0);
      expect((await outbox.backlog('r')).dead).toBe(0);
      // run.completed is written once per round, however often the notifier looks
      await new Promise((r) => setTimeout(r, 1500));
      expect(ep.received.filter((e) => e.type === 'run.completed')).toHaveLength(1);
    } finally {
      await notifier.close();
      await ep.close();
    }
  });

  it("has one deliverer at a time: a second notifier waits for the first one's lease", async () => {
    const prefix = '{o5}';
    const ledger = new MigrationLedger(redis, prefix, { outbox: true });
    const ep = await endpoint(() => 204);
    const first = notifierFor(ledger, prefix, ep.url);
    await waitFor(() => first.delivering());
    const second = notifierFor(ledger, prefix, ep.url);
    await new Promise((r) => setTimeout(r, 800));
    expect(second.delivering()).toBe(false);
    await first.close(); // gives the lease up
    await waitFor(() => second.delivering());
    await second.close();
    await ep.close();
  });
});
