/**
 * A user's connections on several lines of the dump, and the run state's signals, against a real Redis and real
 * BullMQ queues (no MoneyKit: no import worker runs here; the end-to-end import is in migration.serial.test.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { Queue, Worker } from 'bullmq';
import { importJob, keys, QUEUES, type ImportJob, type SealedImportJob } from '@mk/shared';
import { MigrationLedger, readRunState } from '@mk/ledger';
import { startPrivateRedis, type PrivateRedis, TEST_PAYLOAD_KEYS, testSealer, until } from '@mk/testkit';
import { EXIT, main, plan, runStatus } from '../src';
import { spreadDump, type SpreadDump } from './support/spread-dump';

const PREFIX = '{spread}';
let server: PrivateRedis;
let redis: IORedis;
let queue: Queue;
let ledger: MigrationLedger;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-spread-'));
const env = () => ({
  REDIS_URL: server.url,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
});

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
  ledger = new MigrationLedger(redis, PREFIX);
});
afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  return main(args, env(), { out: (s) => out.push(s), err: (s) => err.push(s) }).then((code) => ({
    code,
    out: out.join('\n'),
    err: err.join('\n'),
  }));
}

/** The payload a job carries, opened as the worker opens it. */
const payloadOf = (job: { data: SealedImportJob }) => testSealer().open(job.data.sealed, job.data.runId) as ImportJob;
const queuedJobs = async () => queue.getJobs(['wait', 'waiting', 'prioritized', 'delayed', 'active', 'failed'], 0, -1);

describe('one user, many lines', () => {
  let dump: string;
  let spread: SpreadDump;

  beforeAll(() => {
    spread = spreadDump({ users: 40, seed: 3 });
    dump = path.join(dir, 'spread.ndjson');
    fs.writeFileSync(dump, spread.lines.join('\n') + '\n');
  });

  it('plan counts users spread over several lines and rejects a connection read twice, naming both lines', async () => {
    const rejectsPath = path.join(dir, 'plan.rejects.ndjson');
    const summary = await plan(dump, { ratePerMinute: 60, rejectsPath });
    expect(spread.usersOnSeveralLines).toBeGreaterThan(5);
    expect(summary).toMatchObject({
      users: spread.users,
      usersOnSeveralLines: spread.usersOnSeveralLines,
      duplicateConnections: 2,
      connections: spread.connections,
      userRecords: spread.lines.length - 1,
      rejects: 2,
    });
    const rows = fs
      .readFileSync(rejectsPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; sourceId: string; reason: string });
    expect(rows).toEqual(
      spread.duplicates.map((d) => ({
        line: d.line,
        sourceId: d.connectionId,
        reason: `duplicate connection ${d.connectionId} of source user ${d.userId}: first read at line ${d.firstLine} (kept), again at line ${d.line}`,
      })),
    );
    const { out } = await cli(['plan', dump]);
    expect(out).toContain(`users spread over several lines ${spread.usersOnSeveralLines}`);
    expect(out).toContain('duplicate connections rejected 2');
  });

  it('enqueues one job per line, each connection in exactly one job; a re-run adds nothing and skips nobody', async () => {
    const rejectsPath = path.join(dir, 'run.rejects.ndjson');
    const first = await cli(['run', dump, '--run', 'spread', '--rejects', rejectsPath]);
    expect(first.code).toBe(EXIT.success); // enqueued: run without --wait did its job
    expect(first.out).toContain('rejected 2 (2 duplicate connections)');

    const jobs = await queuedJobs();
    expect(jobs).toHaveLength(spread.lines.length - 1); // the exact copy of a line has nothing left to import
    const carried = jobs.flatMap((j) =>
      payloadOf(j).connections.map((c) => `${payloadOf(j).sourceUserId}\t${c.connectionId}`),
    );
    expect(carried).toHaveLength(spread.connections);
    expect(new Set(carried).size).toBe(spread.connections);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    for (const job of jobs)
      expect(job.id).toBe(importJob.id('spread', payloadOf(job).sourceUserId, payloadOf(job).line!));

    expect(await ledger.counts('spread')).toMatchObject({ pending: spread.connections });
    const rows = fs
      .readFileSync(rejectsPath, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    expect(rows.map((r) => r.line)).toEqual(spread.duplicates.map((d) => d.line));
    expect(
      rows.every((r, i) => r.reason.includes(`first read at line ${spread.duplicates[i]!.firstLine} (kept)`)),
    ).toBe(true);
    expect((await ledger.getRun('spread'))!.rejects).toBe(2);
    expect((await ledger.recentRejects('spread')).map((r) => r.line).sort((a, b) => a - b)).toEqual(
      spread.duplicates.map((d) => d.line),
    );

    // After a crash, the same command: every job is found again, nothing is added, nobody is left out.
    const again = await cli(['run', dump, '--run', 'spread', '--rejects', rejectsPath]);
    expect(again.code).toBe(EXIT.success);
    expect(again.out).toContain(`enqueued 0, already queued ${jobs.length}, already done 0`);
    expect(await queuedJobs()).toHaveLength(jobs.length);
    expect(await ledger.counts('spread')).toMatchObject({ pending: spread.connections });
  });

  it('status says why nothing moves: no worker, a paused queue and by whom, connections with no job (and a re-run fixes that)', async () => {
    const status = await cli(['status', 'spread']);
    expect(status.code).toBe(EXIT.stalled);
    expect(status.out).toContain('run spread: stalled: no import worker alive');

    const workerConnection = new IORedis(server.url, { maxRetriesPerRequest: null });
    await queue.pause();
    const worker = new Worker(QUEUES.import, async () => undefined, { connection: workerConnection, prefix: PREFIX });
    try {
      await worker.waitUntilReady();
      while ((await queue.getWorkersCount()) === 0) await new Promise((r) => setTimeout(r, 50));
      const paused = await runStatus(ledger, 'spread', queue);
      expect(paused.state.stalled.map((r) => r.kind)).toEqual(['queue_paused']);
      expect(paused.state.summary).toBe('stalled: import queue paused by an operator: resume it in Bull Board');

      await redis.hset(keys(PREFIX).queuePause(QUEUES.import), {
        by: 'worker host-a/123',
        reason: 'MoneyKit refused our credentials',
        at: String(Date.UTC(2027, 3, 1, 9, 0)),
      });
      expect((await runStatus(ledger, 'spread', queue)).state.summary).toBe(
        'stalled: import queue paused by worker host-a/123 (MoneyKit refused our credentials) since 2027-04-01 09:00 UTC',
      );
      await redis.del(keys(PREFIX).queuePause(QUEUES.import));

      // A job removed by hand: its connections have no job now.
      const [victim] = await queuedJobs();
      const carried = payloadOf(victim!).connections.length;
      await victim!.remove();
      const orphaned = await runStatus(ledger, 'spread', queue);
      expect(orphaned.state.stalled).toEqual([
        { kind: 'queue_paused', by: 'an operator' },
        { kind: 'connections_without_job', connections: carried },
      ]);
      expect(orphaned.state.summary).toContain(
        `${carried} connection${carried === 1 ? '' : 's'} pending with no import job`,
      );

      // `run --wait` waits through a paused queue, but not for connections no job will import.
      const waitErr: string[] = [];
      const waiting = main(
        ['run', dump, '--run', 'spread', '--rejects', path.join(dir, 'wait.rejects.ndjson'), '--wait'],
        env(),
        { out: () => undefined, err: (s) => waitErr.push(s) },
      );
      await until('the waiting line', () =>
        waitErr.some((l) => /^\S+Z stalled: import queue paused by an operator/.test(l)),
      );
      expect(await queuedJobs()).toHaveLength(spread.lines.length - 1); // the re-run put it back
      await (await queue.getJob(victim!.id!))!.remove();
      expect(await waiting).toBe(EXIT.stalled);
      expect(waitErr.join('\n')).toMatch(/giving up the wait: stalled: .*pending with no import job/);

      // `retry` re-drives connections left without a job, as well as failed ones.
      const retried = await cli(['retry', 'spread', '--rejects', path.join(dir, 'retry.rejects.ndjson')]);
      expect(retried.out).toContain('0 failed connections re-driven (1 lines enqueued)');
      expect((await runStatus(ledger, 'spread', queue)).state.stalled.map((r) => r.kind)).toEqual(['queue_paused']);
    } finally {
      await worker.close();
      workerConnection.disconnect();
      await queue.resume();
    }
  });
});

describe('run state signals from the ledger', () => {
  const conn = (connectionId: string) => ({ connectionId, accounts: 1, transactions: 1, batchesTotal: 0 });

  it('MoneyKit unreachable: retryable errors recorded by the worker and nothing imported for minutes', async () => {
    await ledger.openRun('down', { createdAt: Date.now() - 10 * 60_000, status: 'enqueued' });
    const records = await ledger.register('down', 'u1', 1, [conn('c1'), conn('c2'), conn('c3')], { job: 'down-u1-L1' });
    await queue.add(importJob.name, {}, { jobId: 'down-u1-L1' });
    for (const r of records)
      await ledger.transition(r, {
        lastError: { errorClass: 'retryable', status: 503, message: 'MoneyKit import answered HTTP 503' },
      });
    const { state } = await readRunState(ledger, (await ledger.getRun('down'))!, {
      queueSignals: { paused: false, workers: 2 },
      queue,
    });
    expect(state.stalled).toEqual([
      { kind: 'upstream_unreachable', errors: 3, lastError: 'MoneyKit import answered HTTP 503' },
    ]);
    expect(state.summary).toBe(
      'stalled: MoneyKit unreachable: 3 errors in the last 5 min, nothing imported yet (last: MoneyKit import answered HTTP 503)',
    );
  });

  it('producer stopped mid-dump: silent beat, or the reason it gave up', async () => {
    await ledger.openRun('cut');
    await ledger.register('cut', 'u1', 1, [conn('c1')], { job: 'cut-u1-L1' });
    await ledger.beat('cut', { at: Date.now() - 2 * 60_000, line: 1 });
    const read = async () =>
      (
        await readRunState(ledger, (await ledger.getRun('cut'))!, {
          queueSignals: { paused: false, workers: 1 },
          queue,
        })
      ).state;
    expect((await read()).stalled).toEqual([
      expect.objectContaining({ kind: 'producer_stopped', line: 1 }),
      { kind: 'connections_without_job', connections: 1 },
    ]);
    await ledger.beat('cut', {
      at: Date.now(),
      line: 1,
      stopped: 'cannot read dump after line 1: gzip data is corrupt or truncated',
    });
    expect((await read()).summary).toMatch(
      /^stalled: the producer stopped at dump line 1 \(cannot read dump after line 1: gzip data is corrupt or truncated\): run the same command again/,
    );
  });
});
