/**
 * A private Redis Cluster on free loopback ports, for tests and rehearsals: `masters` primaries with
 * `replicasPerMaster` replicas each, created with `redis-cli --cluster create`. Every node is a tracked child in
 * its own temp dir, so nothing outlives the suite; a cluster we did not start is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { tracked } from './children';
import { freePort } from './ports';
import { redisServerBinary } from './redis-server';

export interface PrivateRedisClusterOptions {
  masters?: number;
  replicasPerMaster?: number;
  /** AOF on (appendfsync everysec) on every node, as production runs it. */
  aof?: boolean;
  /** How long the whole cluster may take to reach cluster_state:ok. */
  timeoutMs?: number;
}

export interface ClusterNodeInfo {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The master this replica follows. */
  masterId?: string;
  /** Slot ranges a master owns, [from, to] inclusive. */
  slots: [number, number][];
}

export interface PrivateRedisCluster {
  /** Seed nodes, `127.0.0.1:port,...` as REDIS_CLUSTER_NODES takes them. */
  nodes: string;
  ports: number[];
  /** The cluster's current view (CLUSTER NODES from any live node). */
  topology(): Promise<ClusterNodeInfo[]>;
  /** Key count of each master (DBSIZE), by port. */
  keysPerMaster(): Promise<Map<number, number>>;
  /** The keys each master holds matching `pattern` (SCAN on that master), by port. */
  keysByMaster(pattern?: string): Promise<Map<number, string[]>>;
  /** The slot of a key (CLUSTER KEYSLOT: its hash tag's, when it has one). */
  slotOf(key: string): Promise<number>;
  /** The master that owns `slot` now. */
  ownerOf(slot: number): Promise<ClusterNodeInfo>;
  /**
   * Moves one slot, keys and all, to the master on `toPort` the way `redis-cli --cluster reshard` does (IMPORTING /
   * MIGRATING, MIGRATE in batches, SETSLOT NODE everywhere): clients see ASK and then MOVED meanwhile.
   */
  migrateSlot(slot: number, toPort: number): Promise<void>;
  /** SIGKILLs the node on `port` (a primary's replica is then promoted by the cluster). */
  kill(port: number): Promise<void>;
  /** Runs a redis-cli command against the node on `port`, e.g. ['cluster', 'failover']. */
  cli(port: number, args: string[]): string;
  /** Waits until every node still alive says cluster_state:ok. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function redisCliBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-cli'], { encoding: 'utf8' }).stdout.trim();
  if (!found)
    throw new Error('redis-cli not found on PATH: install it (apt-get install -y redis-server, or redis-tools)');
  return found;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const got = await probe();
      if (got !== undefined) return got;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function withNode<T>(port: number, fn: (c: IORedis) => Promise<T>): Promise<T> {
  const client = new IORedis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    client.disconnect();
  }
}

/** CLUSTER NODES text → the live nodes (those flagged fail are left out). */
export function parseClusterNodes(text: string): ClusterNodeInfo[] {
  const out: ClusterNodeInfo[] = [];
  for (const line of text.trim().split('\n').filter(Boolean)) {
    const [id = '', addr = '', flags = '', masterId = '-', , , , , ...slotSpecs] = line.split(' ');
    if (/\bfail\b/.test(flags)) continue;
    const port = Number(addr.split('@')[0]!.split(':').pop());
    const role = flags.includes('master') ? 'master' : 'replica';
    // Slots being migrated show as [slot->-id]: they are still the source's.
    const slots = slotSpecs
      .filter((s) => !s.startsWith('['))
      .map((s): [number, number] => {
        const [from, to = from] = s.split('-');
        return [Number(from), Number(to)];
      });
    out.push({ id, port, role, ...(role === 'replica' && masterId !== '-' && { masterId }), slots });
  }
  return out;
}

export async function startRedisCluster(opts: PrivateRedisClusterOptions = {}): Promise<PrivateRedisCluster> {
  const masters = opts.masters ?? 3;
  const replicas = opts.replicasPerMaster ?? 1;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const server = redisServerBinary();
  const cli = redisCliBinary();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-redis-cluster-'));
  const ports: number[] = [];
  const children = new Map<number, ChildProcess>();
  // freePort hands out one port at a time: the bus port (port + 10000) must be free too.
  while (ports.length < masters * (1 + replicas)) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || ports.includes(port)) continue;
    ports.push(port);
  }
  const alive = () => ports.filter((p) => children.get(p)?.exitCode === null && children.get(p)?.signalCode === null);
  const stopAll = () => {
    for (const c of children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.once('exit', stopAll);
  try {
    for (const port of ports) {
      const dir = path.join(root, String(port));
      fs.mkdirSync(dir);
      const child = tracked(
        spawn(
          server,
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--dir',
            dir,
            '--save',
            '',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(dir, 'nodes.conf'),
            '--cluster-node-timeout',
            '2000',
            '--appendonly',
            opts.aof ? 'yes' : 'no',
            '--appendfsync',
            'everysec',
            '--maxmemory-policy',
            'noeviction',
            '--daemonize',
            'no',
            '--protected-mode',
            'yes',
            '--loglevel',
            'warning',
          ],
          { stdio: 'ignore' },
        ),
      );
      children.set(port, child);
    }
    for (const port of ports)
      await until(`redis-server on ${port} did not answer`, timeoutMs, () =>
        withNode(port, async (c) => ((await c.ping()) === 'PONG' ? true : undefined)),
      );
    const created = spawnSync(
      cli,
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        String(replicas),
        '--cluster-yes',
      ],
      {
        encoding: 'utf8',
        timeout: timeoutMs,
      },
    );
    if (created.status !== 0)
      throw new Error(
        `redis-cli --cluster create failed (${created.status}): ${created.stdout.slice(-500)} ${created.stderr.slice(-500)}`,
      );
  } catch (err) {
    stopAll();
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const topology = () =>
    until('no live node answered CLUSTER NODES', 10_000, async () => {
      for (const port of alive()) {
        const text = await withNode(port, (c) => c.call('CLUSTER', 'NODES') as Promise<string>).catch(() => undefined);
        if (text) return parseClusterNodes(text);
      }
      return undefined;
    });

  const waitHealthy = async (ms = timeoutMs) => {
    await until('the cluster did not reach cluster_state:ok on every node', ms, async () => {
      for (const port of alive()) {
        const info = await withNode(port, (c) => c.call('CLUSTER', 'INFO') as Promise<string>);
        if (!/cluster_state:ok/.test(info)) return undefined;
      }
      const masterCount = (await topology()).filter((n) => n.role === 'master' && n.slots.length > 0).length;
      return masterCount >= masters ? true : undefined;
    });
  };

  const cluster: PrivateRedisCluster = {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(','),
    ports,
    topology,
    async keysPerMaster() {
      const out = new Map<number, number>();
      for (const node of (await topology()).filter((n) => n.role === 'master'))
        out.set(node.port, await withNode(node.port, (c) => c.dbsize()));
      return out;
    },
    async keysByMaster(pattern = '*') {
      const out = new Map<number, string[]>();
      for (const node of (await topology()).filter((n) => n.role === 'master')) {
        const found: string[] = [];
        await withNode(node.port, async (c) => {
          let cursor = '0';
          do {
            const [next, batch] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
            cursor = next;
            found.push(...batch);
          } while (cursor !== '0');
        });
        out.set(node.port, found);
      }
      return out;
    },
    slotOf: (key) => withNode(alive()[0]!, async (c) => Number(await c.call('CLUSTER', 'KEYSLOT', key))),
    async ownerOf(slot) {
      const owner = (await topology()).find(
        (n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b),
      );
      if (!owner) throw new Error(`no master owns slot ${slot}`);
      return owner;
    },
    async migrateSlot(slot, toPort) {
      const from = await cluster.ownerOf(slot);
      const to = (await topology()).find((n) => n.port === toPort && n.role === 'master');
      if (!to) throw new Error(`no master on port ${toPort}`);
      if (from.port === to.port) return;
      await withNode(to.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id));
      await withNode(from.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id));
      await withNode(from.port, async (c) => {
        for (;;) {
          const batch = (await c.call('CLUSTER', 'GETKEYSINSLOT', slot, 100)) as string[];
          if (batch.length === 0) break;
          await c.call('MIGRATE', '127.0.0.1', to.port, '', 0, 10_000, 'REPLACE', 'KEYS', ...batch);
        }
      });
      // The new owner first, then the old one, then everyone else (redis-cli's order).
      const masters = (await topology()).filter((n) => n.role === 'master');
      for (const node of [to, from, ...masters.filter((m) => m.port !== to.port && m.port !== from.port)]) {
        await withNode(node.port, (c) => c.call('CLUSTER', 'SETSLOT', slot, 'NODE', to.id)).catch(() => undefined);
      }
    },
    async kill(port) {
      const child = children.get(port);
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
    cli(port, args) {
      const res = spawnSync(cli, ['-p', String(port), ...args], { encoding: 'utf8', timeout: timeoutMs });
      if (res.status !== 0)
        throw new Error(`redis-cli -p ${port} ${args.join(' ')} failed: ${res.stderr || res.stdout}`);
      return res.stdout;
    },
    waitHealthy,
    async stop() {
      process.removeListener('exit', stopAll);
      await Promise.all(
        [...children.values()].map(async (c) => {
          if (c.exitCode !== null || c.signalCode !== null) return;
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM');
          await exited;
        }),
      );
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  try {
    await waitHealthy();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
