/** The hand-over from imports to refresh: the run's products (or the default), only what was granted, parked until reconnected. */
import IORedis from 'ioredis';
import { MigrationLedger } from '@mk/ledger';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { RefreshRegistry } from '@mk/refresh';
import { refreshHandOver } from '../src';

const PREFIX = '{ho}';
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

describe('refresh hand-over', () => {
  it("registers imported links parked, for the run's products or the default, never for what was not granted", async () => {
    const registry = await RefreshRegistry.open(redis, PREFIX, { defaultProducts: ['accounts', 'transactions'] });
    const ledger = new MigrationLedger(redis, PREFIX);
    await ledger.openRun('with-products', { products: 'transactions,identity' });
    await ledger.openRun('default-products');
    const sink = refreshHandOver(registry, ledger);

    await sink.linkImported({
      runId: 'with-products',
      linkId: 'mk_a',
      grantedProducts: ['accounts', 'transactions'],
      connected: false,
      linkErrorCode: 'auth_expired',
    });
    await sink.linkImported({
      runId: 'default-products',
      linkId: 'mk_b',
      grantedProducts: ['accounts', 'identity'],
      connected: false,
    });
    await sink.linkImported({
      runId: 'default-products',
      linkId: 'mk_c',
      grantedProducts: ['identity'],
      connected: true,
    });
    // a retried job hands the same link over again: nothing changes
    await sink.linkImported({
      runId: 'with-products',
      linkId: 'mk_a',
      grantedProducts: ['accounts', 'transactions'],
      connected: false,
      linkErrorCode: 'auth_expired',
    });

    const a = await registry.get('mk_a');
    expect(a?.mode).toBe('parked');
    expect(a?.parked?.reason).toBe('auth_expired');
    expect(a?.products.map((p) => p.product)).toEqual(['transactions']);
    const b = await registry.get('mk_b');
    expect(b?.products.map((p) => p.product)).toEqual(['accounts']);
    expect(await registry.get('mk_c')).toBeNull(); // nothing wanted was granted
    expect((await registry.stats()).registered).toBe(2);
  });
});
