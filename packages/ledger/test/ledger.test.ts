import IORedis from 'ioredis';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { LedgerConflictError, LedgerStateError, MigrationLedger } from '@mk/ledger';

let server: PrivateRedis;
let redis: IORedis;
let ledger: MigrationLedger;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  ledger = new MigrationLedger(redis, '{test}');
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

const conn = (connectionId: string) => ({ connectionId, accounts: 2, transactions: 10, batchesTotal: 0 });

describe('MigrationLedger', () => {
  it('opens a run once and resumes it unchanged', async () => {
    const first = await ledger.openRun('r1', { dump: 'a.ndjson' });
    const again = await ledger.openRun('r1', { dump: 'other.ndjson' });
    expect(again).toEqual(first);
    expect((await ledger.listRuns()).map((r) => r.runId)).toContain('r1');
  });

  it('registers connections idempotently and counts them once', async () => {
    await ledger.register('r2', 'u1', 3, [conn('c1'), conn('c2')]);
    const records = await ledger.register('r2', 'u1', 3, [conn('c1'), conn('c2')]);
    expect(records.map((r) => r.state)).toEqual(['pending', 'pending']);
    expect((await ledger.counts('r2')).pending).toBe(2);
  });

  it('moves records through states atomically with counts, attempts, link owners and throughput', async () => {
    const [rec] = await ledger.register('r3', 'u1', 1, [conn('c1')]);
    const importing = await ledger.transition(rec!, { state: 'importing', uncertain: true }, { countAttempt: true });
    expect(importing.attempts).toBe(1);
    const done = await ledger.transition(rec!, {
      state: 'imported',
      linkId: 'mk_1',
      uncertain: null,
      transactionsImported: 10,
    });
    expect(done).toMatchObject({ state: 'imported', linkId: 'mk_1', attempts: 1, transactionsImported: 10 });
    expect(done.uncertain).toBeUndefined();
    expect(await ledger.counts('r3')).toMatchObject({ pending: 0, importing: 0, imported: 1 });
    expect(await ledger.linkOwner('r3', 'mk_1')).toBe('u1\tc1');
    const activity = await ledger.activity('r3');
    expect([...activity.imported.values()].reduce((a, b) => a + b, 0)).toBe(1);
    expect(activity.lastImportAt).toBe(done.updatedAt);
  });

  it('counts retryable errors per minute (what a worker records on a failed attempt), not terminal ones', async () => {
    const [a, b] = await ledger.register('r7', 'u1', 1, [conn('c1'), conn('c2')]);
    await ledger.transition(a!, {
      lastError: { errorClass: 'retryable', status: 503, message: 'MoneyKit import answered HTTP 503' },
    });
    await ledger.transition(a!, {
      state: 'importing',
      lastError: { errorClass: 'retryable', message: 'connect ECONNREFUSED' },
    });
    await ledger.transition(b!, {
      state: 'failed',
      lastError: { errorClass: 'terminal', status: 400, message: 'bad request' },
    });
    const activity = await ledger.activity('r7');
    expect([...activity.errors.values()].reduce((x, y) => x + y, 0)).toBe(2);
    expect(activity.lastError).toBe('connect ECONNREFUSED');
    expect(activity.lastErrorAt).toBeGreaterThan(0);
  });

  it('keeps the open records and their job: registered with it, moved to a new job, dropped once settled, back on a retry', async () => {
    const open = async (runId: string) => {
      const list = [];
      for await (const c of ledger.openConnections(runId)) list.push(c);
      return list.sort((x, y) => x.connectionId.localeCompare(y.connectionId));
    };
    const [a, b] = await ledger.register('r8', 'u1', 4, [conn('c1'), conn('c2')], { job: 'r8-u1-4' });
    expect(a!.job).toBe('r8-u1-4');
    expect(await open('r8')).toEqual([
      { sourceUserId: 'u1', connectionId: 'c1', job: 'r8-u1-4' },
      { sourceUserId: 'u1', connectionId: 'c2', job: 'r8-u1-4' },
    ]);
    await ledger.transition(a!, { state: 'imported', linkId: 'mk_8' });
    await ledger.transition(b!, { state: 'failed', lastError: { errorClass: 'terminal', message: 'no' } });
    expect(await open('r8')).toEqual([]);
    // retry: failed → pending, then registered again with the retry round's job
    await ledger.transition(b!, { state: 'pending' }, { expect: ['failed'] });
    expect(await open('r8')).toEqual([{ sourceUserId: 'u1', connectionId: 'c2', job: 'r8-u1-4' }]);
    const again = await ledger.register('r8', 'u1', 4, [conn('c1'), conn('c2')], { job: 'r8-u1-4-retry1' });
    expect(again.map((r) => [r.state, r.job])).toEqual([
      ['imported', 'r8-u1-4'],
      ['pending', 'r8-u1-4-retry1'],
    ]);
    expect(await open('r8')).toEqual([{ sourceUserId: 'u1', connectionId: 'c2', job: 'r8-u1-4-retry1' }]);
    expect((await ledger.counts('r8')).pending).toBe(1);
  });

  it('keeps the producer beat beside the meta, and reads why a process paused a queue', async () => {
    await ledger.openRun('r9');
    await ledger.beat('r9', { at: 1000, line: 42 });
    await ledger.updateRun('r9', { status: 'enqueued' });
    expect(await ledger.producerBeat('r9')).toEqual({ at: 1000, line: 42 });
    expect((await ledger.getRun('r9'))!.status).toBe('enqueued');
    expect(await ledger.queuePause('mk-import')).toBeUndefined();
    await redis.hset('{test}:pause:mk-import', { by: 'worker-1', reason: 'credentials refused', at: '1700000000000' });
    expect(await ledger.queuePause('mk-import')).toEqual({
      by: 'worker-1',
      reason: 'credentials refused',
      at: 1700000000000,
    });
  });

  it('refuses a transition from an unexpected state', async () => {
    const [rec] = await ledger.register('r4', 'u1', 1, [conn('c1')]);
    await ledger.transition(rec!, { state: 'imported', linkId: 'mk_2' });
    await expect(
      ledger.transition(rec!, { state: 'importing' }, { expect: ['pending', 'importing'] }),
    ).rejects.toBeInstanceOf(LedgerStateError);
  });

  it("fences a worker's changes: a change from a record someone else changed since is refused and writes nothing", async () => {
    const [read] = await ledger.register('r6', 'u1', 1, [conn('c1')]);
    // worker A took the connection, then lost its job; worker B finished it
    const a = await ledger.transitionFrom(read!, { state: 'importing', uncertain: true }, { countAttempt: true });
    const b = await ledger.transitionFrom(a, { state: 'imported', linkId: 'mk_b', uncertain: null });
    expect(b.rev).toBe(a.rev! + 1);
    // A, still running on its stale copy, cannot undo it
    await expect(ledger.transitionFrom(a, { state: 'importing', uncertain: true })).rejects.toBeInstanceOf(
      LedgerConflictError,
    );
    await expect(ledger.transitionFrom(read!, { state: 'failed' })).rejects.toBeInstanceOf(LedgerConflictError);
    expect(await ledger.get('r6', 'u1', 'c1')).toMatchObject({ state: 'imported', linkId: 'mk_b', rev: b.rev });
    expect(await ledger.counts('r6')).toMatchObject({ pending: 0, importing: 0, imported: 1, failed: 0 });
  });

  it('streams every record of a large run', async () => {
    for (let u = 0; u < 50; u++) await ledger.register('r5', `user-${u}`, u, [conn('a'), conn('b')]);
    const seen = [];
    for await (const r of ledger.scan('r5', 7)) seen.push(r);
    expect(seen).toHaveLength(100);
  });

  it('keeps the recent rejects', async () => {
    await ledger.addRejects('r6', [{ line: 4, sourceId: 'x', reason: 'bad amount' }]);
    expect(await ledger.recentRejects('r6')).toEqual([{ line: 4, sourceId: 'x', reason: 'bad amount' }]);
  });

  it('keeps imports, retryable errors and 429s minute by minute for the run page, from the minute the run opened', async () => {
    const now = Date.UTC(2026, 11, 1, 12, 30, 20);
    await ledger.openRun('r-history', { createdAt: now - 3 * 60_000 });
    const [record] = await ledger.register('r-history', 'u1', 1, [conn('c1')]);
    await ledger.transition(record!, {
      lastError: { errorClass: 'retryable', status: 503, message: '503 Service Unavailable' },
    });
    await ledger.transition(record!, { state: 'imported', linkId: 'mk_1' });
    await ledger.noteRateLimited('r-history', now - 2 * 60_000);
    await ledger.noteRateLimited('r-history', now - 2 * 60_000 + 5_000);
    const history = await ledger.history('r-history', { minutes: 60, createdAt: now - 3 * 60_000, now });
    expect(history.minutes).toEqual([3, 2, 1, 0].map((ago) => (Math.floor(now / 60_000) - ago) * 60_000));
    expect(history.rateLimited).toEqual([0, 2, 0, 0]);
    // the transitions were written at the real clock's minute: the last minutes of a window ending now
    const live = await ledger.history('r-history', { minutes: 2 });
    expect(live.imported.reduce((a, b) => a + b, 0)).toBe(1);
    expect(live.errors.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
