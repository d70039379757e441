/**
 * docker-compose.yml and the KEDA manifests agree with the code: the `cluster` profile is a real 3 + 3 Redis Cluster
 * the apps reach through REDIS_CLUSTER_NODES only, and each KEDA file watches the wait lists the queues really use.
 */
import fs from 'node:fs';
import path from 'node:path';
import { load, loadAll } from 'js-yaml';
import { DEFAULT_PREFIX, QUEUES, queuePrefix } from '@mk/shared';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  profiles?: string[];
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  networks?: string[] | Record<string, { ipv4_address?: string } | null>;
  volumes?: string[];
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
  volumes: Record<string, unknown>;
}

describe('docker-compose.yml', () => {
  const compose = load(read('docker-compose.yml')) as Compose;
  const { services } = compose;
  const nodes = Object.keys(services).filter((name) => /^redis-node-\d+$/.test(name));
  const addressOf = (name: string) => {
    const networks = services[name]!.networks as Record<string, { ipv4_address: string }>;
    return `${networks['redis-cluster']!.ipv4_address}:6379`;
  };

  it('keeps the one-Redis stack as it was: no profile, REDIS_URL only', () => {
    for (const name of ['redis', 'sandbox', 'worker', 'dashboard']) expect(services[name]!.profiles).toBeUndefined();
    for (const name of ['worker', 'dashboard', 'producer']) {
      expect(services[name]!.environment!.REDIS_URL).toBe('redis://redis:6379');
      expect(services[name]!.environment!.REDIS_CLUSTER_NODES).toBeUndefined();
    }
  });

  it('has six cluster nodes, on fixed addresses of their own network, persisting like the one Redis', () => {
    expect(nodes).toHaveLength(6);
    const subnet = compose.networks['redis-cluster']!.ipam.config[0]!.subnet;
    const addresses = nodes.map(addressOf);
    expect(new Set(addresses).size).toBe(6);
    for (const name of nodes) {
      const node = services[name]!;
      expect(node.profiles).toEqual(['cluster']);
      expect(node.command).toEqual(expect.arrayContaining(['/usr/local/etc/redis/redis.conf', '--cluster-enabled']));
      expect(node.volumes).toContain('./infra/redis/redis.conf:/usr/local/etc/redis/redis.conf:ro');
      expect(node.volumes).toContain(`${name}:/data`);
      expect(compose.volumes).toHaveProperty(name);
      expect(addressOf(name).startsWith(subnet.split('.').slice(0, 3).join('.') + '.')).toBe(true);
    }
  });

  it('creates the cluster once, from every node, a replica per master', () => {
    const create = services['redis-cluster-create']!;
    expect(create.profiles).toEqual(['cluster']);
    for (const name of nodes) expect(create.depends_on![name]).toEqual({ condition: 'service_healthy' });
    const script = create.command!.join('\n');
    expect(script).toMatch(/--cluster create/);
    expect(script).toMatch(/--cluster-replicas 1 --cluster-yes/);
    for (const name of nodes) expect(script).toContain(addressOf(name));
    // idempotent: a later `up` finds the cluster made
    expect(script).toMatch(/if ! redis-cli .*cluster_state:ok/);
  });

  it('points the cluster apps at REDIS_CLUSTER_NODES (seeds that are nodes), with the rest of their settings', () => {
    for (const [clustered, single] of [
      ['worker-cluster', 'worker'],
      ['dashboard-cluster', 'dashboard'],
      ['producer-cluster', 'producer'],
    ] as const) {
      const app = services[clustered]!;
      expect(app.profiles).toEqual(['cluster']);
      expect(app.depends_on).toEqual({ 'redis-cluster-create': { condition: 'service_completed_successfully' } });
      expect(app.networks).toEqual(expect.arrayContaining(['default', 'redis-cluster']));
      const env = app.environment!;
      // an empty REDIS_URL is unset (both set is refused at start)
      expect(env.REDIS_URL).toBe('');
      const seeds = env.REDIS_CLUSTER_NODES!.split(',');
      expect(seeds.length).toBeGreaterThanOrEqual(3);
      for (const seed of seeds) expect(nodes.map(addressOf)).toContain(seed);
      expect(env.REDIS_PREFIX ?? DEFAULT_PREFIX).toMatch(/\{.+\}/);
      const { REDIS_URL: _a, REDIS_CLUSTER_NODES: _b, ...rest } = env;
      const { REDIS_URL: _c, ...singleRest } = services[single]!.environment!;
      expect(rest).toEqual(singleRest);
    }
  });
});

interface KedaObject {
  kind: string;
  metadata: { name: string };
  spec: {
    scaleTargetRef?: { name: string };
    triggers?: { type: string; metadata: { listName: string }; authenticationRef: { name: string } }[];
    secretTargetRef?: { parameter: string; key: string }[];
  };
}

describe('infra/k8s KEDA scalers', () => {
  const waitList = (spread: boolean, queue: string) => `${queuePrefix(DEFAULT_PREFIX, queue, spread)}:${queue}:wait`;
  const scaled = (file: string) => loadAll(read(file)) as KedaObject[];
  const triggersOf = (objects: KedaObject[]) =>
    Object.fromEntries(
      objects.filter((o) => o.kind === 'ScaledObject').map((o) => [o.spec.scaleTargetRef!.name, o.spec.triggers![0]!]),
    );

  it('one Redis: the redis scaler on {mk}:<queue>:wait; a cluster: redis-cluster on each queue’s own tag', () => {
    const single = triggersOf(scaled('infra/k8s/keda-scaledobjects.yaml'));
    const cluster = triggersOf(scaled('infra/k8s/keda-scaledobjects-cluster.yaml'));
    expect(Object.keys(cluster).sort()).toEqual(Object.keys(single).sort());
    for (const [deployment, queue] of [
      ['mk-worker-import', QUEUES.import],
      ['mk-worker-refresh', QUEUES.refresh],
    ] as const) {
      expect(single[deployment]).toMatchObject({ type: 'redis', metadata: { listName: waitList(false, queue) } });
      expect(cluster[deployment]).toMatchObject({
        type: 'redis-cluster',
        metadata: { listName: waitList(true, queue) },
      });
    }
    const auth = scaled('infra/k8s/keda-scaledobjects-cluster.yaml').find((o) => o.kind === 'TriggerAuthentication')!;
    expect(auth.spec.secretTargetRef!.map((r) => r.parameter).sort()).toEqual(['addresses', 'password']);
    for (const t of Object.values(cluster)) expect(t.authenticationRef.name).toBe(auth.metadata.name);
  });

  it('applies exactly one of the two with kustomize', () => {
    const resources = (load(read('infra/k8s/kustomization.yaml')) as { resources: string[] }).resources;
    expect(resources.filter((r) => r.startsWith('keda-scaledobjects'))).toHaveLength(1);
  });
});
