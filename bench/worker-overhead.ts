/**
 * What the import worker costs per job over BullMQ itself: imports/s through the whole worker (BullMQ job →
 * ledger → rate limiter → client → sandbox with zero latency and no effective rate limit) vs no-op BullMQ jobs
 * carrying the same payloads, on the same Redis, at the same concurrency, in the same run.
 *   node --import tsx bench/worker-overhead.ts [--quick] [--jobs 5000] [--concurrency 16]
 */
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { MigrationLedger } from '@mk/ledger';
import { importJob, jobId, type ImportJob } from '@mk/shared';
import { usersOf } from '../apps/producer/src/dump-source';
import { positive, runAsScript, say, sleep, type BenchResult } from './lib/bench';
import { REALISTIC, cachedDump } from './lib/dumps';
import { PREFIX, clientFor, enqueueDump, startBenchRedis, startWorker } from './lib/pipeline';
import type { Figure } from './lib/report';
import { startSandboxProcess } from './lib/sandbox-process';

export interface WorkerOverheadOptions {
  quick?: boolean;
  /** Jobs (source users) per side (default 5000; --quick 500). */
  jobs?: number;
  concurrency?: number;
}

// The limiter spaces calls by ceil(60000 / rate) ms: 1 ms is the least it can do, so this caps at 1,000 calls/s.
const UNLIMITED_PER_MINUTE = 60_000_000;

interface Timed {
  jobs: number;
  seconds: number;
  /** CPU of this process (worker side) per job, ms. */
  cpuMsPerJob: number;
}

function timer() {
  const wall = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  return (jobs: number): Timed => {
    const used = process.cpuUsage(cpu);
    return {
      jobs,
      seconds: Number(process.hrtime.bigint() - wall) / 1e9,
      cpuMsPerJob: (used.user + used.system) / 1000 / jobs,
    };
  };
}

/** The same job payloads the producer enqueues, processed by a worker that returns at once. */
async function noopJobs(redis: Redis, dump: string, concurrency: number): Promise<Timed> {
  const queue = new Queue('bench-noop', { connection: redis, prefix: PREFIX });
  let jobs = 0;
  let chunk: { name: string; data: ImportJob; opts: object }[] = [];
  for await (const item of usersOf(dump, {})) {
    if (!item.ok) continue;
    const { user } = item;
    const data: ImportJob = {
      runId: 'noop',
      sourceUserId: user.sourceUserId,
      line: user.line,
      connections: user.connections.map(({ connectionId, request }) => ({ connectionId, request })),
    };
    chunk.push({ name: importJob.name, data, opts: { ...importJob.options, jobId: jobId('noop', user.sourceUserId) } });
    jobs++;
    if (chunk.length === 100) await queue.addBulk(chunk.splice(0));
  }
  if (chunk.length) await queue.addBulk(chunk);
  chunk = [];

  say('worker-overhead', `no-op BullMQ worker: ${jobs} jobs`);
  let completed = 0;
  let allDone!: () => void;
  const done = new Promise<void>((r) => (allDone = r));
  const stop = timer();
  const worker = new Worker('bench-noop', async () => undefined, { connection: redis, prefix: PREFIX, concurrency });
  worker.on('completed', () => {
    if (++completed === jobs) allDone();
  });
  await done;
  const timed = stop(jobs);
  await worker.close();
  await queue.close();
  return timed;
}

async function importJobs(
  redis: Redis,
  dump: string,
  concurrency: number,
): Promise<Timed & { connections: number; failed: number; importCalls: number }> {
  const sandbox = await startSandboxProcess({ latency: 'none', importRatePerMinute: UNLIMITED_PER_MINUTE });
  const client = clientFor(sandbox, concurrency);
  try {
    const { users, connections } = await enqueueDump(redis, dump, 'overhead');
    await client.getUserLinks('warm-up'); // the first token is fetched outside the timing
    say('worker-overhead', `import worker: ${users} jobs, ${connections} connections`);
    const ledger = new MigrationLedger(redis, PREFIX);
    const stop = timer();
    const worker = startWorker(redis, client, { ratePerMinute: UNLIMITED_PER_MINUTE, concurrency });
    let counts = await ledger.counts('overhead');
    while (counts.imported + counts.failed < connections) {
      await sleep(50);
      counts = await ledger.counts('overhead');
    }
    const timed = stop(users);
    await worker.close();
    const c = await sandbox.counters();
    return { ...timed, connections, failed: counts.failed, importCalls: c.importCalls + c.importTransactionsCalls };
  } finally {
    client.close();
    await sandbox.close();
  }
}

export async function run(opts: WorkerOverheadOptions = {}): Promise<BenchResult> {
  const jobs = opts.jobs ?? (opts.quick ? 500 : 5000);
  const concurrency = opts.concurrency ?? 16;
  const dump = await cachedDump({ ...REALISTIC, heavyShare: 0, badShare: 0, users: jobs, gzip: false });
  const redis = await startBenchRedis();
  try {
    const noop = await noopJobs(redis.redis, dump.path, concurrency);
    const ours = await importJobs(redis.redis, dump.path, concurrency);
    const baselineName = 'no-op BullMQ worker, same payloads';
    const figures: Figure[] = [
      {
        name: 'jobs (source users) per second',
        unit: 'jobs/s',
        value: ours.jobs / ours.seconds,
        baseline: noop.jobs / noop.seconds,
        baselineName,
        higherIsBetter: true,
      },
      {
        name: 'connections imported per second',
        unit: 'imports/s',
        value: ours.connections / ours.seconds,
        higherIsBetter: true,
      },
      {
        name: 'worker-process CPU per job',
        unit: 'ms',
        value: ours.cpuMsPerJob,
        baseline: noop.cpuMsPerJob,
        baselineName,
        higherIsBetter: false,
      },
    ];
    const notes = [
      `${ours.jobs} jobs of realistic payloads (${(dump.summary.bytes / ours.jobs / 1000).toFixed(0)} KB per user on average, ${ours.connections} connections, mixed formats), concurrency ${concurrency}, one private Redis.`,
      `The import worker's path per connection: ledger read, shared rate limiter (one Redis script), a ledger write before the call (marks it uncertain until answered), POST /links/import to the sandbox (own process, zero latency), ledger writes after it (link id, imported), hand-over to the link sink; ${ours.importCalls} import calls, ${ours.failed} connections failed.`,
      "The sandbox parses and stores every import on the same 2 cores, so this ratio is an upper bound on the worker's own overhead; MoneyKit's real latency (hundreds of ms per call) hides it entirely at 60 calls/min.",
      'The limiter cannot space calls closer than 1 ms (1,000 calls/s): above the figures measured here.',
    ];
    return { title: 'Import worker overhead vs BullMQ alone', figures, notes };
  } finally {
    await redis.close();
  }
}

if (require.main === module) {
  runAsScript(() => {
    const { values: v } = parseArgs({
      options: { quick: { type: 'boolean' }, jobs: { type: 'string' }, concurrency: { type: 'string' } },
    });
    return run({
      quick: v.quick,
      jobs: v.jobs === undefined ? undefined : Math.round(positive('jobs', v.jobs, 5000)),
      concurrency: v.concurrency === undefined ? undefined : positive('concurrency', v.concurrency, 16),
    });
  });
}
