import {
  ConfigError,
  JOBS,
  QUEUES,
  UnknownJobError,
  importJob,
  refreshBatchJob,
  refreshJob,
  routeJobs,
} from '@mk/shared';

describe('job catalog', () => {
  it('puts every job on a known queue, under a name unique on that queue', () => {
    const queues = new Set<string>(Object.values(QUEUES));
    for (const job of JOBS) expect(queues.has(job.queue)).toBe(true);
    const keys = JOBS.map((j) => `${j.queue}/${j.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('validates payloads with the job schema', () => {
    expect(refreshJob.payload.safeParse({ linkId: 'mk_1', products: ['transactions'], dueAt: 1 }).success).toBe(true);
    expect(refreshBatchJob.payload.safeParse({ links: [] }).success).toBe(false);
    expect(importJob.payload.safeParse({ runId: 'r', sourceUserId: 'u', connections: [] }).success).toBe(false);
  });

  it('derives the refresh options from the refresh settings', () => {
    expect(refreshJob.options({ attempts: 3, backoffMs: 250 })).toMatchObject({
      attempts: 3,
      backoff: { type: 'exponential', delay: 250 },
      removeOnFail: true,
    });
    expect(refreshJob.id({ linkId: 'mk_1', products: ['accounts', 'transactions'] })).toBe(
      'mk_1-accounts+transactions',
    );
    // one dispatch of its first link: a link is leased to one dispatch at a time
    expect(refreshBatchJob.id({ linkId: 'mk_1', handOverUntil: 1700000000000 })).toBe('batch-mk_1-1700000000000');
  });
});

describe('routeJobs', () => {
  it('refuses to build a worker that lacks a handler for a job of its queue, naming the job', () => {
    const build = () => routeJobs(QUEUES.import, {});
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/job import .*has no handler.*mk-import/);
  });

  it('sends each job to its handler by name', async () => {
    const seen: string[] = [];
    const route = routeJobs<typeof QUEUES.refresh, { name: string; data: string }>(QUEUES.refresh, {
      refresh: async (job) => void seen.push(`refresh ${job.data}`),
      'refresh-batch': async (job) => void seen.push(`batch ${job.data}`),
      'refresh-check': async (job) => void seen.push(`check ${job.data}`),
    });
    await route({ name: 'refresh', data: 'a' });
    await route({ name: 'refresh-check', data: 'b' });
    await route({ name: 'refresh-batch', data: 'c' });
    expect(seen).toEqual(['refresh a', 'check b', 'batch c']);
  });

  it('fails a job whose name its queue does not carry', () => {
    const route = routeJobs<typeof QUEUES.import, { name: string }>(QUEUES.import, {
      import: async () => 1,
      topup: async () => 2,
    });
    expect(() => route({ name: 'refresh' })).toThrow(UnknownJobError);
  });
});
