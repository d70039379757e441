/**
 * Will an import job still run? `jobsWillRun` answers from three O(1) reads per job and must agree with BullMQ's own
 * getJobState (which searches the wait list) in every state a job can be in, against a real Redis.
 */
import IORedis from 'ioredis';
import { Queue, Worker, type Job } from 'bullmq';
import { jobsWillRun, jobWillRun } from '@mk/ledger';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';

const PREFIX = '{live}';
const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];
let server: PrivateRedis;
let redis: IORedis;
let queue: Queue;
let worker: Worker;
let workerRedis: IORedis;

beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new IORedis(server.url, { maxRetriesPerRequest: null });
  queue = new Queue('import', { connection: redis, prefix: PREFIX });
  // No processor: jobs are taken and finished by hand, so each stays in the state the test puts it in.
  workerRedis = redis.duplicate();
  worker = new Worker('import', null, { connection: workerRedis, prefix: PREFIX });
});
afterAll(async () => {
  await worker.close();
  await queue.close();
  // A connection we gave BullMQ is ours to close: left open, it retries the stopped server and jest never exits.
  workerRedis.disconnect();
  redis.disconnect();
  await server.stop();
});

it('agrees with BullMQ on waiting, prioritized, delayed, active, completed, failed, removed and unknown jobs', async () => {
  const token = 'test-token';
  const take = async (): Promise<Job> => (await worker.getNextJob(token, { block: false }))!;
  await queue.add('import', {}, { jobId: 'job-completed' });
  await take().then((j) => j.moveToCompleted('ok', token, false));
  await queue.add('import', {}, { jobId: 'job-failed', attempts: 1 });
  await take().then((j) => j.moveToFailed(new Error('no'), token, false));
  await queue.add('import', {}, { jobId: 'job-active' });
  await take();
  await queue.add('import', {}, { jobId: 'job-removed' });
  await queue.remove('job-removed');
  await queue.add('import', {}, { jobId: 'job-waiting' });
  await queue.add('import', {}, { jobId: 'job-prioritized', priority: 5 });
  await queue.add('import', {}, { jobId: 'job-delayed', delay: 60_000 });

  // (An id named like a state would share its key with BullMQ's set of that name.)
  const ids = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'removed', 'never-added'].map(
    (s) => `job-${s}`,
  );
  const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
  expect(states).toEqual(['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed', 'unknown', 'unknown']);
  expect(await jobsWillRun(queue, ids)).toEqual(states.map((s) => LIVE_STATES.includes(s)));
  expect(await jobWillRun(queue, 'job-delayed')).toBe(true);
  expect(await jobWillRun(queue, 'job-failed')).toBe(false);
  expect(await jobsWillRun(queue, [])).toEqual([]);
});

it('answers for thousands of queued jobs in one round trip of the pipeline', async () => {
  const ids = Array.from({ length: 5000 }, (_, i) => `bulk-${i}`);
  await queue.addBulk(ids.map((jobId) => ({ name: 'import', data: {}, opts: { jobId } })));
  const live = await jobsWillRun(queue, [...ids, 'bulk-missing']);
  expect(live.slice(0, -1).every(Boolean)).toBe(true);
  expect(live.at(-1)).toBe(false);
});
