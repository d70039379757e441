/** The CLI's views of the refresh pipeline: per link, overall, and as columns of the run report. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { MigrationLedger } from '@mk/ledger';
import { RefreshRegistry } from '@mk/refresh';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { EXIT, main } from '../src';

const PREFIX = '{views}';
let server: PrivateRedis;
let redis: IORedis;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  const registry = await RefreshRegistry.open(redis, PREFIX);
  await registry.register([
    { linkId: 'mk_active', products: ['accounts', 'transactions'], runId: 'r1' },
    { linkId: 'mk_parked', products: ['transactions'], parked: { reason: 'auth_expired' }, runId: 'r1' },
  ]);
  const ledger = new MigrationLedger(redis, PREFIX);
  await ledger.openRun('r1');
  await ledger.updateRun('r1', { status: 'enqueued' });
  for (const [user, link] of [
    ['u1', 'mk_active'],
    ['u2', 'mk_parked'],
  ] as const) {
    const [record] = await ledger.register('r1', user, 1, [
      { connectionId: `c-${user}`, accounts: 1, transactions: 1, batchesTotal: 0 },
    ]);
    await ledger.transition(record!, { state: 'imported', linkId: link });
  }
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const env = () => ({ REDIS_URL: server.url, REDIS_PREFIX: PREFIX, LOG_LEVEL: 'silent' });
async function cli(args: string[]) {
  const out: string[] = [];
  const code = await main(args, env(), { out: (s) => out.push(s), err: () => undefined });
  return { code, out: out.join('\n') };
}

describe('refresh views of the CLI', () => {
  it("shows a link's refresh state, parked and why, and says when a link is unknown", async () => {
    const { code, out } = await cli(['links', 'mk_active', 'mk_parked', 'mk_unknown']);
    expect(code).toBe(EXIT.partial);
    expect(out).toMatch(/mk_active: active, next dispatch/);
    expect(out).toMatch(/accounts\s+\S+\s+last/);
    expect(out).toMatch(/mk_parked: parked \(parked: auth_expired\)/);
    expect(out).toMatch(/mk_unknown: not registered for refresh/);
  });

  it('tells the latest steps of a link the workers trace', async () => {
    const traced = await RefreshRegistry.open(redis, PREFIX, { traceSample: 1, firstDueSpreadMs: 0 });
    await traced.register([{ linkId: 'mk_traced', products: ['accounts'] }]);
    await traced.linkAction('mk_traced', 'trigger');
    const { out } = await cli(['links', 'mk_traced']);
    expect(out).toMatch(/latest steps:\n.*registered accounts.*\n.*action trigger → due/);
    const { out: json } = await cli(['links', 'mk_traced', '--json']);
    expect(JSON.parse(json)[0].trace.map((e: { step: string }) => e.step)).toEqual(['registered', 'action']);
  });

  it('sums up the pipeline', async () => {
    const { out } = await cli(['refresh', '--json']);
    expect(JSON.parse(out)).toMatchObject({ registered: 3, active: 2, parked: 1 });
  });

  it("adds each link's refresh state to the run report", async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mk-report-')), 'r1.json');
    const { code } = await cli(['report', 'r1', '--format', 'json', '--out', file]);
    expect(code).toBe(EXIT.success);
    const rows = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>[];
    const byLink = Object.fromEntries(rows.map((r) => [r.link_id, r]));
    expect(byLink.mk_active).toMatchObject({ refresh: 'active', refresh_reason: '' });
    expect(byLink.mk_active!.next_refresh_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(byLink.mk_parked).toMatchObject({ refresh: 'parked', refresh_reason: 'auth_expired', next_refresh_at: '' });
  });
});
