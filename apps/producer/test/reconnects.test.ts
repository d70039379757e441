/** `mk-migrate reconnects` against a real Redis: the links still waiting for their user, streamed as CSV or JSON. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { MigrationLedger } from '@mk/ledger';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { EXIT, main } from '../src';
import { parseAge } from '../src/commands/reconnects';

const PREFIX = '{rc}';
let server: PrivateRedis;
let redis: IORedis;
let ledger: MigrationLedger;
let dir: string;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  ledger = new MigrationLedger(redis, PREFIX);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-reconnects-'));
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    args,
    { REDIS_URL: server.url, REDIS_PREFIX: PREFIX, LOG_LEVEL: 'silent' },
    { out: (s) => out.push(s), err: (s) => err.push(s) },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** `n` imported connections of user `user`, links mk_<user>_<i>. */
async function imported(runId: string, user: string, n: number) {
  const records = await ledger.register(
    runId,
    user,
    1,
    Array.from({ length: n }, (_, i) => ({ connectionId: `c${i}`, accounts: 1, transactions: 1, batchesTotal: 0 })),
  );
  return Promise.all(records.map((r, i) => ledger.transition(r, { state: 'imported', linkId: `mk_${user}_${i}` })));
}

describe('mk-migrate reconnects', () => {
  it('lists every imported link not reconnected yet, across scan batches, and leaves out reconnected and deleted ones', async () => {
    await ledger.openRun('spring');
    const early = await imported('spring', 'early', 1200);
    await new Promise((r) => setTimeout(r, 1200));
    await imported('spring', 'late', 5);
    // a failed connection has no link to reconnect
    const [failed] = await ledger.register('spring', 'f', 1, [
      { connectionId: 'c0', accounts: 1, transactions: 1, batchesTotal: 0 },
    ]);
    await ledger.transition(failed!, { state: 'failed', lastError: { errorClass: 'terminal', message: 'no' } });
    for (const r of early.slice(0, 100)) await ledger.recordReconnect(r, Date.now());
    await ledger.recordReconnect(early[0]!, Date.now()); // twice: counted once
    await ledger.recordAttention(early[100]!, 'deleted', Date.now());

    const csv = path.join(dir, 'waiting.csv');
    const all = await cli(['reconnects', 'spring', '--out', csv]);
    expect(all.code).toBe(EXIT.success);
    expect(all.err).toContain('run spring: 1104 links waiting for their user, 100 reconnected, 1 deleted');
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('source_user_id,source_connection_id,link_id,imported_at,waiting_for,waiting_seconds');
    expect(lines).toHaveLength(1 + 1104);
    expect(lines.some((l) => l.startsWith('early,c100,'))).toBe(false);
    expect(lines.some((l) => l.startsWith('early,c5,'))).toBe(false);
    expect(lines.find((l) => l.startsWith('early,c500,'))).toMatch(
      /^early,c500,mk_early_500,\d{4}-\d\d-\d\dT[\d:.]+Z,\d+ s,\d+$/,
    );

    const json = path.join(dir, 'old.json');
    const old = await cli(['reconnects', 'spring', '--format', 'json', '--waiting-longer-than', '1s', '--out', json]);
    expect(old.code).toBe(EXIT.success);
    const rows = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      source_user_id: string;
      link_id: string;
      waiting_seconds: number;
    }[];
    expect(rows).toHaveLength(1099); // the 5 late ones have waited less than a second
    expect(rows.every((r) => r.source_user_id === 'early' && r.waiting_seconds >= 1)).toBe(true);
    expect(old.err).toContain('1099 waiting longer than 1 s listed');
  });

  it('reads ages with a unit and refuses the rest; an unknown run is an error', async () => {
    expect(parseAge('7d')).toBe(7 * 86_400_000);
    expect(parseAge('12h')).toBe(12 * 3_600_000);
    expect(parseAge('2w')).toBe(14 * 86_400_000);
    expect(() => parseAge('7')).toThrow(/unit/);
    expect((await cli(['reconnects', 'spring', '--waiting-longer-than', 'soon'])).code).toBe(EXIT.error);
    const missing = await cli(['reconnects', 'nope']);
    expect(missing.code).toBe(EXIT.error);
    expect(missing.err).toContain('run nope does not exist');
  });

  it("notify resend queues the run's events again from the ledger, and notify status counts them", async () => {
    await ledger.openRun('autumn');
    await imported('autumn', 'u', 3);
    expect((await cli(['notify', 'status', 'autumn'])).out).toBe(
      'run autumn: 0 events waiting for delivery, 0 dead letters',
    );
    expect((await cli(['notify', 'resend', 'autumn'])).out).toBe('run autumn: 3 events queued again for delivery');
    expect((await cli(['notify', 'status', 'autumn'])).out).toBe(
      'run autumn: 3 events waiting for delivery, 0 dead letters',
    );
    expect((await cli(['notify', 'resend', 'autumn', '--dead-letters'])).out).toBe(
      'run autumn: 0 dead-lettered events queued again for delivery',
    );
  });
});
