/**
 * The whole pipeline on a real Redis Cluster (3 masters, 3 replicas, loopback): producer, import workers, refresh
 * workers and the webhook receiver all given REDIS_CLUSTER_NODES only. Mid-run a worker is SIGKILLed, the import
 * queue's slot is moved to another master, that master is SIGKILLed (unplanned: its replica is promoted by the cluster
 * itself, and writes it had not replicated yet are lost), a second worker is SIGKILLed, and the master holding the
 * refresh queue hands over to its replica (CLUSTER FAILOVER) and is then SIGKILLed. At the end: every
 * connection imported once, every reconnected link refreshed, 0 quota violations, no stuck job, and keys on every
 * master. Settings that would mix slots or use the wrong client are refused at start, naming the setting.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { fixtures } from '@mk/converters';
import { connectionField, landedBuckets, landedConnectionId, landedConnectionsIn, MigrationLedger } from '@mk/ledger';
import { EXIT, plan } from '@mk/producer';
import { RefreshRegistry } from '@mk/refresh';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { QUEUES, checkRedisServer, createRedis, parseClusterSeeds, queuePrefixOn, type Redis } from '@mk/shared';
import {
  freePort,
  loadRequested,
  startApp,
  startCpuLoad,
  startRedisCluster,
  trackSlowdown,
  type AppProcess,
  type CpuLoad,
  type PrivateRedisCluster,
} from '@mk/testkit';

const PREFIX = '{cl}';
const RUN = 'cluster';
const TIME_SCALE = 3600;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-cluster-'));
let cluster: PrivateRedisCluster;
let redis: Redis;
let sandbox: RunningSandbox | undefined;
const processes: AppProcess[] = [];
const slowdown = trackSlowdown();
// MK_TEST_CPU_LOAD=1: every core kept busy by other processes for the whole suite (deadlines stretch, verdicts don't).
let load: CpuLoad | undefined;

beforeAll(async () => {
  if (loadRequested()) load = startCpuLoad();
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, aof: true });
  redis = createRedis(parseClusterSeeds(cluster.nodes), 'worker');
}, 120_000);
afterAll(async () => {
  slowdown.stop();
  await load?.stop();
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  redis?.disconnect();
  await sandbox?.close();
  await cluster?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for a condition, never a fixed time; the deadline stretches with the measured slowdown. */
async function until(
  what: string,
  check: () => Promise<boolean>,
  baseMs: number,
  diagnose: () => string | Promise<string> = () => '',
): Promise<void> {
  const started = Date.now();
  while (
    !(await check().catch((err: Error) => (err.message.startsWith('a worker exited') ? Promise.reject(err) : false)))
  ) {
    if (Date.now() - started > baseMs * Math.max(1, slowdown.worst))
      throw new Error(`timed out waiting for ${what}\n${await diagnose()}`);
    await sleep(100);
  }
}

const clusterEnv = (extra: Record<string, string> = {}) => ({
  REDIS_URL: '',
  REDIS_CLUSTER_NODES: cluster.nodes,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'error',
  TIME_SCALE: String(TIME_SCALE),
  ...extra,
});

describe('on a Redis Cluster', () => {
  it('refuses a prefix without a hash tag at start, naming REDIS_PREFIX, instead of looping on CROSSSLOT', async () => {
    const worker = startApp(
      'apps/worker/src/main.ts',
      clusterEnv({ REDIS_PREFIX: 'mk', WORKER_ROLES: 'refresh', OPS_PORT: '0' }),
    );
    processes.push(worker);
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/REDIS_PREFIX \("mk"\) has no hash tag/);
    const producer = startApp('apps/producer/src/main.ts', clusterEnv({ REDIS_PREFIX: 'mk' }), ['runs']);
    processes.push(producer);
    expect(await producer.exited).not.toBe(0);
    expect(producer.output()).toMatch(/REDIS_PREFIX/);
  }, 60_000);

  it('refuses REDIS_URL pointed at a cluster node, and both settings at once, naming them', async () => {
    const single = startApp('apps/worker/src/main.ts', {
      REDIS_URL: `redis://127.0.0.1:${cluster.ports[0]}`,
      REDIS_PREFIX: PREFIX,
      WORKER_ROLES: 'refresh',
      OPS_PORT: '0',
      LOG_LEVEL: 'error',
    });
    processes.push(single);
    expect(await single.exited).toBe(1);
    expect(single.output()).toMatch(/REDIS_URL points at a Redis Cluster node.*REDIS_CLUSTER_NODES/);
    const both = startApp(
      'apps/worker/src/main.ts',
      clusterEnv({ REDIS_URL: `redis://127.0.0.1:${cluster.ports[0]}`, WORKER_ROLES: 'refresh' }),
    );
    processes.push(both);
    expect(await both.exited).toBe(1);
    expect(both.output()).toMatch(/REDIS_CLUSTER_NODES and REDIS_URL are both set/);
  }, 60_000);

  it(
    'imports and refreshes through worker SIGKILLs, a slot migration, a primary SIGKILLed and a planned failover: 0 lost, 0 duplicates, 0 quota violations, keys on every master',
    async () => {
      const dump = path.join(dir, 'users.ndjson');
      await fixtures.writeDumpFile(dump, { users: 150, format: 'mixed', txPerAccount: 4, heavyShare: 0, seed: 11 });
      const expected = await plan(dump, { ratePerMinute: 60 });
      const webhookPort = await freePort();
      sandbox = await startSandbox({
        latency: { baseMs: 10, perKbMs: 0.02, maxMs: 100 },
        importRatePerMinute: 1_000_000,
        timeScale: TIME_SCALE,
        logLevel: 'silent',
        refreshCompletionDelayMs: 50,
        linkHistory: true,
        webhookRetryDelaysMs: [1, 2, 5, 10].map((s) => s * 1000 * TIME_SCALE),
        webhookUrl: `http://127.0.0.1:${webhookPort}/webhooks/moneykit`,
      });
      const env = clusterEnv({
        MONEYKIT_BASE_URL: sandbox.url,
        MONEYKIT_CLIENT_ID: sandbox.clientId,
        MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
        IMPORT_RATE_PER_MIN: '1200',
        IMPORT_CONCURRENCY: '8',
        IMPORT_SETTLE_MS: '1000',
        IMPORT_LOCK_MS: '5000',
        REFRESH_LOCK_MS: '5000',
        IMPORT_BACKOFF_BASE_MS: '50',
        IMPORT_BACKOFF_MAX_MS: '1000',
        MONEYKIT_IMPORT_TIMEOUT_MS: '5000',
        MONEYKIT_TIMEOUT_MS: '2000',
        REFRESH_IN_FLIGHT_MS: '20000',
        REFRESH_PRODUCTS: 'accounts,transactions',
        OPS_PORT: '0',
      });
      const start = (roles: string, extra: Record<string, string> = {}) => {
        const p = startApp('apps/worker/src/main.ts', { ...env, WORKER_ROLES: roles, WEBHOOK_PORT: '0', ...extra });
        processes.push(p);
        return p;
      };
      const workers = [
        start('import,refresh'),
        start('import,refresh'),
        start('webhooks', { WEBHOOK_PORT: String(webhookPort), WEBHOOK_HOST: '127.0.0.1' }),
      ];
      const tail = () => workers.map((w) => w.output().split('\n').slice(-15).join('\n')).join('\n-----\n');
      // A worker that stopped (a setting, a Redis error no retry cures) fails the test at once, not at a deadline.
      const alive = async () => {
        const dead = workers.find((w) => w.child.exitCode !== null);
        if (dead) throw new Error(`a worker exited ${dead.child.exitCode}:\n${dead.output().slice(-3000)}`);
      };

      const producer = startApp('apps/producer/src/main.ts', env, [
        'run',
        dump,
        '--run',
        RUN,
        '--rejects',
        path.join(dir, 'rejects.ndjson'),
      ]);
      processes.push(producer);
      const code = await producer.exited;
      if (code !== EXIT.inProgress && code !== EXIT.success)
        throw new Error(`producer exited ${code}:\n${producer.output()}`);

      const ledger = new MigrationLedger(redis, PREFIX);
      const settled = async () => {
        await alive();
        const c = await ledger.counts(RUN);
        return c.imported + c.failed === expected.connections;
      };
      // Topology changes while imports run. A worker dies without a word (its jobs stall, another takes them)...
      await until(
        'a third imported',
        async () => (await alive(), await ledger.counts(RUN)).imported >= expected.connections / 3,
        120_000,
        tail,
      );
      await workers[0]!.kill('SIGKILL');
      workers[0] = start('import,refresh');
      // ...the import queue's slot moves to another master...
      const importSlot = await cluster.slotOf(`${queuePrefixOn(redis, PREFIX, QUEUES.import)}:x`);
      const importOwner = await cluster.ownerOf(importSlot);
      const masters = (await cluster.topology()).filter((n) => n.role === 'master');
      const target = masters.find((m) => m.port !== importOwner.port)!;
      await cluster.migrateSlot(importSlot, target.port);
      expect((await cluster.ownerOf(importSlot)).port).toBe(target.port);
      // ...the master now holding the import queue is SIGKILLed mid-run, and the cluster promotes its replica on its
      // own (no CLUSTER FAILOVER: writes it acknowledged but had not yet replicated are lost, as in production)...
      const importReplica = (await cluster.topology()).find((n) => n.masterId === target.id)!;
      const importedAtKill = (await ledger.counts(RUN)).imported;
      await cluster.kill(target.port);
      // A process starting now still sees the dead master in its client's node list: its start-up check waits for
      // the promotion instead of stopping on "Connection is closed." (the replacement workers below start then too).
      const check = await checkRedisServer(redis, 60_000 * Math.max(1, slowdown.worst));
      expect(check.problems).toEqual([]);
      await until(
        "the import queue master's replica promoted after its SIGKILL",
        async () => (await cluster.ownerOf(importSlot)).port === importReplica.port,
        30_000,
        async () => JSON.stringify(await cluster.topology().catch((e: Error) => e.message)),
      );
      await cluster.waitHealthy(60_000 * Math.max(1, slowdown.worst));
      process.stdout.write(
        `SIGKILLed master ${target.port} with ${importedAtKill}/${expected.connections} imported; replica ${importReplica.port} promoted\n`,
      );
      // ...another worker dies while the cluster settles...
      await workers[1]!.kill('SIGKILL');
      workers[1] = start('import,refresh');
      // ...and the master holding the refresh queue hands over to its replica (planned: CLUSTER FAILOVER), then dies.
      const refreshSlot = await cluster.slotOf(`${queuePrefixOn(redis, PREFIX, QUEUES.refresh)}:x`);
      const refreshOwner = await cluster.ownerOf(refreshSlot);
      const replica = (await cluster.topology()).find((n) => n.masterId === refreshOwner.id);
      if (!replica)
        throw new Error(`the refresh queue's master ${refreshOwner.port} has no live replica to hand over to`);
      cluster.cli(replica.port, ['cluster', 'failover']);
      await until(
        'the replica promoted',
        async () => (await cluster.ownerOf(refreshSlot)).port === replica.port,
        30_000,
      );
      await cluster.kill(refreshOwner.port);
      await cluster.waitHealthy(60_000 * Math.max(1, slowdown.worst));

      await until('every connection settled', settled, 180_000, tail);
      const counts = await ledger.counts(RUN);
      expect(counts).toMatchObject({ imported: expected.connections, failed: 0 });

      // Every end user reconnects: the webhooks resume the links, the refresh pipeline refreshes each once.
      const linkIds: string[] = [];
      for await (const r of ledger.scan(RUN)) if (r.linkId) linkIds.push(r.linkId);
      expect(linkIds.length).toBe(expected.connections);
      for (const id of linkIds) sandbox.state.reconnect(id);
      const refreshed = () =>
        linkIds.filter((id) => (sandbox!.state.counters().refreshCalls[id]?.transactions ?? 0) > 0).length;
      await until(
        'every reconnected link refreshed',
        async () => (await alive(), refreshed() === linkIds.length),
        120_000,
        () => `${refreshed()}/${linkIds.length} refreshed\n${tail()}`,
      );

      const sb = sandbox.state.counters();
      // Re-done work (a stalled job re-run, a lost write redone) shows as import calls beyond the links: never as a duplicate.
      process.stdout.write(`import calls: ${sb.importCalls} for ${sb.linksCreated} links created\n`);
      expect(sb.duplicateLinks).toBe(0);
      expect(sb.duplicateTransactions).toBe(0);
      const violated = Object.keys(sb.quotaViolations);
      if (violated.length > 0)
        process.stdout.write(
          `quota violations: ${JSON.stringify(sb.quotaViolations)}\n${violated
            .slice(0, 3)
            .map((id) => `${id}: ${JSON.stringify(sandbox!.state.history(id))}`)
            .join('\n')}\n`,
        );
      expect(sb.quotaViolationsAttempted).toBe(0);
      expect(sb.liveLinks).toBe(expected.connections);

      // No job left behind, in either queue.
      for (const name of [QUEUES.import, QUEUES.refresh]) {
        const queue = new Queue(name, { connection: redis, prefix: queuePrefixOn(redis, PREFIX, name) });
        await until(`${name} drained of active jobs`, async () => (await queue.getActiveCount()) === 0, 30_000);
        await queue.close();
      }

      // Keys landed on every master: each queue on its own tag, the registry over its shards.
      const registry = await RefreshRegistry.open(redis, PREFIX);
      expect(registry.shards).toBe(3 * 4);
      expect((await registry.stats()).registered).toBe(expected.connections);
      const byMaster = await cluster.keysByMaster();
      const perMaster = [...byMaster.values()].map((ks) => ks.filter((k) => k.startsWith('{cl')).length);
      process.stdout.write(
        `keys per master: ${[...byMaster].map(([port, ks]) => `${port}: ${ks.length}`).join(', ')}\n`,
      );
      expect(perMaster).toHaveLength(3);
      for (const n of perMaster) expect(n).toBeGreaterThan(0);
      const registryKeysPerMaster = [...byMaster.values()].map(
        (ks) => ks.filter((k) => /^\{cl:r\d+\}:refresh:/.test(k)).length,
      );
      for (const n of registryKeysPerMaster) expect(n).toBeGreaterThan(0);
      // ...and the run's landed records over the run's shards, each connection's where the ledger reads it.
      expect((await ledger.getRun(RUN))?.shards).toBe(3 * 4);
      const landedKeysPerMaster = [...byMaster.values()].map(
        (ks) => ks.filter((k) => /^\{cl:l\d+\}:run:cluster:landed$/.test(k)).length,
      );
      for (const n of landedKeysPerMaster) expect(n).toBeGreaterThan(0);
      const landedKeys = await ledger.landedKeys(RUN);
      expect(landedKeys).toHaveLength(3 * 4);
      const found = new Map<string, string>();
      for (const key of landedKeys)
        for (const value of landedBuckets(await redis.hgetallBuffer(key)).values())
          for (const id of landedConnectionsIn(value)) found.set(id.toString('hex'), key);
      for await (const r of ledger.scan(RUN)) {
        const id = landedConnectionId(connectionField(r.sourceUserId, r.connectionId));
        expect(found.get(id.toString('hex'))).toBe((await ledger.keysOf(RUN, r.sourceUserId)).landed);
      }
      expect(found.size).toBe(expected.connections);
    },
    15 * 60_000,
  );
});
