import { Queue, Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { createRedis, importJob, QUEUES, refreshJob, type Redis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';
import { API_ENDPOINTS, recordApiCall, recordImport, recordQuotaDeferral } from '@mk/telemetry';
import { createDashboard } from '@mk/dashboard';
import { InMemoryRefreshSource, InMemoryRunSource, sampleRefresh, sampleRun } from './fakes';
import { find, parsePrometheus } from './prometheus';

const PREFIX = '{mk-metrics-test}';

describe('dashboard /metrics', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let app: FastifyInstance;
  const queues: Queue[] = [];

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = createRedis(server.url, 'worker');
    const imports = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    const refresh = new Queue(QUEUES.refresh, { connection: redis, prefix: PREFIX });
    queues.push(imports, refresh);
    // One job of each kind of outcome: completed, failed, then some waiting and a delayed one.
    await imports.add(importJob.name, { ok: true }, { jobId: 'r1-u1' });
    await imports.add(importJob.name, { ok: false }, { jobId: 'r1-u2' });
    const workerConnection = createRedis(server.url, 'worker');
    const worker = new Worker(
      QUEUES.import,
      async (job) => {
        if (!job.data.ok) throw new Error('upstream said no');
      },
      { connection: workerConnection, prefix: PREFIX },
    );
    await new Promise<void>((resolve) => {
      let settled = 0;
      const done = () => ++settled === 2 && resolve();
      worker.on('completed', done);
      worker.on('failed', done);
    });
    await worker.close();
    workerConnection.disconnect();
    await imports.add(importJob.name, {}, { jobId: 'r1-u3' });
    await imports.add(importJob.name, {}, { jobId: 'r1-u4' });
    await imports.add(importJob.name, {}, { jobId: 'r1-u5', delay: 3_600_000 });
    await refresh.add(refreshJob.name, {}, { jobId: 'link-1-transactions' });
    await refresh.pause();

    recordApiCall({ endpoint: 'import_link', status: 200, durationMs: 2400 });
    recordApiCall({ endpoint: 'import_link', status: 429, durationMs: 12, errorClass: 'rate_limited' });
    recordApiCall({ endpoint: 'refresh_products', status: 202, durationMs: 35 });
    recordImport('imported');
    recordQuotaDeferral();

    const runs = new InMemoryRunSource([
      sampleRun(),
      sampleRun({ runId: 'stalled-run', importQueue: { paused: false, workers: 0 } }),
    ]);
    app = await createDashboard({
      redis,
      prefix: PREFIX,
      auth: { mode: 'none' },
      runs,
      refresh: new InMemoryRefreshSource(sampleRefresh),
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app.close();
    await Promise.all(queues.map((q) => q.close()));
    redis.disconnect();
    await server.stop();
  });

  async function scrape() {
    const address = app.server.address();
    const res = await fetch(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    return parsePrometheus(await res.text());
  }

  it('exports queue depths by state, read from Redis at scrape time', async () => {
    const { samples, types } = await scrape();
    expect(types.get('mk_queue_jobs')).toBe('gauge');
    const jobs = (queue: string, state: string) => find(samples, 'mk_queue_jobs', { queue, state })?.value;
    expect(jobs(QUEUES.import, 'completed')).toBe(1);
    expect(jobs(QUEUES.import, 'failed')).toBe(1);
    expect(jobs(QUEUES.import, 'wait')).toBe(2);
    expect(jobs(QUEUES.import, 'delayed')).toBe(1);
    expect(jobs(QUEUES.import, 'active')).toBe(0);
    expect(jobs(QUEUES.refresh, 'wait')).toBe(1);
    for (const state of ['prioritized', 'waiting-children']) expect(jobs(QUEUES.refresh, state)).toBe(0);
    expect(find(samples, 'mk_queue_paused', { queue: QUEUES.refresh })?.value).toBe(1);
    expect(find(samples, 'mk_queue_paused', { queue: QUEUES.import })?.value).toBe(0);
  });

  it('exports the ledger per run and the refresh pipeline health', async () => {
    const { samples, types } = await scrape();
    const run = 'plaid-2026-11-20';
    for (const [state, n] of Object.entries(sampleRun().counts)) {
      expect(find(samples, 'mk_ledger_connections', { run, state })?.value).toBe(n);
    }
    expect(find(samples, 'mk_run_rejects', { run })?.value).toBe(7);
    expect(find(samples, 'mk_run_throughput_per_minute', { run })?.value).toBe(59.5);
    expect(find(samples, 'mk_run_parked_links', { run })?.value).toBe(2780);
    expect(types.get('mk_run_state')).toBe('gauge');
    for (const state of ['running', 'stalled', 'completed', 'completed_with_failures']) {
      expect(find(samples, 'mk_run_state', { run, state })?.value).toBe(state === 'running' ? 1 : 0);
    }
    expect(find(samples, 'mk_run_eta_seconds', { run })?.value).toBe(Math.ceil((1200 / 59.5) * 60));
    const stalledRun = 'stalled-run';
    expect(find(samples, 'mk_run_state', { run: stalledRun, state: 'stalled' })?.value).toBe(1);
    expect(find(samples, 'mk_run_stalled', { run: stalledRun, reason: 'no_worker' })?.value).toBe(1);
    expect(find(samples, 'mk_run_stalled', { run: stalledRun, reason: 'queue_paused' })?.value).toBe(0);
    expect(find(samples, 'mk_run_eta_seconds', { run: stalledRun })).toBeUndefined();
    expect(find(samples, 'mk_refresh_links', { state: 'registered' })?.value).toBe(sampleRefresh.registered);
    expect(find(samples, 'mk_refresh_links', { state: 'due' })?.value).toBe(sampleRefresh.dueNow);
    expect(find(samples, 'mk_refresh_links', { state: 'overdue' })?.value).toBe(sampleRefresh.overdue);
    expect(find(samples, 'mk_redis_used_memory_bytes', {})?.value).toBeGreaterThan(100_000); // a real redis-server's INFO
    expect(find(samples, 'mk_redis_maxmemory_bytes', {})?.value).toBeGreaterThanOrEqual(0);
    expect(find(samples, 'mk_refresh_links', { state: 'parked' })?.value).toBe(sampleRefresh.parked);
    expect(find(samples, 'mk_refresh_quota_deferrals')?.value).toBe(sampleRefresh.quotaDeferrals);
    expect(find(samples, 'mk_refresh_buckets_not_listpack_ratio')?.value).toBe(sampleRefresh.nonListpackShare);
  });

  it("includes the process's own metrics from @mk/telemetry, with their labels", async () => {
    const { samples, types } = await scrape();
    expect(types.get('mk_import_request_duration_seconds')).toBe('histogram');
    expect(types.get('mk_refresh_request_duration_seconds')).toBe('histogram');
    expect(types.get('mk_api_calls_total')).toBe('counter');
    expect(find(samples, 'mk_import_request_duration_seconds_count', { endpoint: 'import_link' })?.value).toBe(2);
    expect(
      find(samples, 'mk_import_request_duration_seconds_bucket', { endpoint: 'import_link', le: '3' })?.value,
    ).toBe(2);
    expect(find(samples, 'mk_refresh_request_duration_seconds_count')?.value).toBe(1);
    expect(find(samples, 'mk_api_calls_total', { endpoint: 'import_link', outcome: 'ok' })?.value).toBe(1);
    expect(find(samples, 'mk_api_calls_total', { endpoint: 'import_link', outcome: 'rate_limited' })?.value).toBe(1);
    for (const endpoint of API_ENDPOINTS)
      expect(find(samples, 'mk_api_rate_limited_total', { endpoint })).toBeDefined();
    expect(find(samples, 'mk_api_rate_limited_total', { endpoint: 'import_link' })?.value).toBe(1);
    expect(find(samples, 'mk_refresh_quota_deferrals_total')?.value).toBe(1);
    expect(find(samples, 'mk_imports_total', { outcome: 'imported' })?.value).toBe(1);
    for (const outcome of ['adopted', 'failed']) expect(find(samples, 'mk_imports_total', { outcome })?.value).toBe(0);
    expect(find(samples, 'process_cpu_user_seconds_total')).toBeDefined();
    expect(find(samples, 'process_resident_memory_bytes')).toBeDefined();
    expect(find(samples, 'nodejs_eventloop_lag_seconds')).toBeDefined();
  });

  it('keeps per-run series in step with the source (a run that disappears is dropped)', async () => {
    const runs = new InMemoryRunSource([sampleRun({ runId: 'a' })]);
    const other = await createDashboard({ redis, prefix: PREFIX, auth: { mode: 'none' }, runs });
    await other.listen({ port: 0, host: '127.0.0.1' });
    const address = other.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metrics`;
    try {
      expect(
        find(parsePrometheus(await (await fetch(url)).text()).samples, 'mk_run_rejects', { run: 'a' }),
      ).toBeDefined();
      runs.runs.clear();
      const { samples } = parsePrometheus(await (await fetch(url)).text());
      expect(find(samples, 'mk_run_rejects', { run: 'a' })).toBeUndefined();
      expect(find(samples, 'mk_refresh_links')).toBeUndefined(); // no refresh source wired
    } finally {
      await other.close();
    }
  });
});
