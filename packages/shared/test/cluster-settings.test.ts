import {
  ConfigError,
  commonEnvSchema,
  describeRedisTarget,
  hashTagOf,
  keys,
  loadConfig,
  parseClusterSeeds,
  queuePrefix,
  redisTargetOf,
  requireClusterPrefix,
  unrecoverableRedisError,
  withHashTag,
} from '../src';

describe('REDIS_CLUSTER_NODES', () => {
  it('reads host:port seeds, and a URL entry gives the password and TLS for every node', () => {
    expect(parseClusterSeeds('10.0.0.1:7000, 10.0.0.2:7001')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      tls: false,
    });
    expect(parseClusterSeeds('rediss://:s3cret@a.example:6380,b.example:6380')).toEqual({
      nodes: [
        { host: 'a.example', port: 6380 },
        { host: 'b.example', port: 6380 },
      ],
      password: 's3cret',
      tls: true,
    });
  });

  it('names what is wrong in an entry, without its password', () => {
    expect(() => parseClusterSeeds('')).toThrow(/at least one host:port/);
    expect(() => parseClusterSeeds('http://a:1')).toThrow(/must start with redis:\/\/ or rediss:\/\//);
    expect(() => parseClusterSeeds('redis://:one@a:1,redis://:two@b:2')).toThrow(/different passwords/);
    expect(() => parseClusterSeeds('redis://a:1,rediss://b:2')).toThrow(/mix redis:\/\/ and rediss:\/\//);
    const err = (() => {
      try {
        parseClusterSeeds('ftp://:hunter2@a:1');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).not.toMatch(/hunter2/);
  });

  it('is a setting of every app: a bad value is a ConfigError naming it', () => {
    expect(() => loadConfig(commonEnvSchema, { REDIS_CLUSTER_NODES: 'a:99999' })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(
      loadConfig(commonEnvSchema, { REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_URL: '' }).REDIS_URL,
    ).toBeUndefined();
  });

  it('and REDIS_URL are exclusive; one of them is required where Redis is', () => {
    const seeds = parseClusterSeeds('127.0.0.1:7000');
    expect(() => redisTargetOf({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: seeds })).toThrow(
      /REDIS_CLUSTER_NODES and REDIS_URL are both set/,
    );
    expect(() => redisTargetOf({}, true)).toThrow(ConfigError);
    expect(redisTargetOf({})).toBeUndefined();
    expect(redisTargetOf({ REDIS_CLUSTER_NODES: seeds })).toBe(seeds);
    expect(describeRedisTarget(parseClusterSeeds('redis://:pw@a:1,b:2'))).toBe('redis cluster a:1,b:2');
    expect(describeRedisTarget('redis://:pw@a:1')).toBe('redis://:***@a:1');
  });
});

describe('hash tags', () => {
  it('are read as Redis Cluster reads them', () => {
    expect(hashTagOf('{mk}')).toBe('mk');
    expect(hashTagOf('app-{mk}-x')).toBe('mk');
    expect(hashTagOf('mk')).toBeUndefined();
    expect(hashTagOf('{}mk')).toBeUndefined();
    expect(withHashTag('{mk}', 'import')).toBe('{mk:import}');
    expect(withHashTag('stg-{mk}', 'r3')).toBe('stg-{mk:r3}');
  });

  it("give each queue its own on a cluster, and keep today's layout on one Redis", () => {
    expect(queuePrefix('{mk}', 'mk-import', true)).toBe('{mk:import}');
    expect(queuePrefix('{mk}', 'mk-refresh', true)).toBe('{mk:refresh}');
    expect(queuePrefix('{mk}', 'mk-import', false)).toBe('{mk}');
    // the pause mark shares its queue's slot (operator-paused.lua reads both)
    expect(keys('{mk}', true).queuePause('mk-import')).toBe('{mk:import}:pause:mk-import');
    expect(keys('{mk}').queuePause('mk-import')).toBe('{mk}:pause:mk-import');
  });

  it('are required of REDIS_PREFIX on a cluster, with a message naming it', () => {
    expect(() => requireClusterPrefix('mk')).toThrow(/REDIS_PREFIX \("mk"\) has no hash tag.*e\.g\. \{mk\}/);
    expect(() => requireClusterPrefix('{mk}')).not.toThrow();
  });
});

describe('unrecoverable Redis errors', () => {
  it('are told from the ones a retry cures', () => {
    expect(unrecoverableRedisError(new Error("CROSSSLOT Keys in request don't hash to the same slot"))).toMatch(
      /REDIS_PREFIX needs a hash tag/,
    );
    expect(unrecoverableRedisError(new Error('MOVED 8379 127.0.0.1:7001'))).toMatch(/REDIS_CLUSTER_NODES/);
    expect(unrecoverableRedisError(new Error('WRONGPASS invalid username-password pair'))).toMatch(/credentials/);
    for (const retryable of [
      "READONLY You can't write against a read only replica.",
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'CLUSTERDOWN The cluster is down',
      'CLUSTERDOWN Hash slot not served',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
      'LOADING Redis is loading the dataset in memory',
      'Too many Cluster redirections. Last error: Error: Connection is closed.',
      'Failed to refresh slots cache.',
      'None of startup nodes is available',
      'NOREPLICAS Not enough good replicas to write.',
      'Connection is closed.',
      'BUSY Redis is busy running a script',
    ]) {
      expect(unrecoverableRedisError(new Error(retryable))).toBeUndefined();
    }
  });
});
