import {
  startOpsServer,
  startTracing,
  queueTelemetry,
  recordApiCall,
  recordImport,
  recordQuotaDeferral,
  recordRefreshLag,
  timeApiCall,
  processMetrics,
  redisReady,
} from '@mk/telemetry';
import { createRedis } from '@mk/shared';
import { startPrivateRedis, type PrivateRedis } from '@mk/testkit';

/** The value of one sample line of the Prometheus text, e.g. `mk_imports_total{outcome="adopted"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('@mk/telemetry metrics', () => {
  it('records API calls by endpoint and outcome, 429s, latency, imports and quota deferrals', async () => {
    recordApiCall({ endpoint: 'import_link', status: 200, durationMs: 1200 });
    recordApiCall({ endpoint: 'import_link', status: 429, durationMs: 30, errorClass: 'rate_limited' });
    recordApiCall({ endpoint: 'refresh_products', status: 202, durationMs: 40 });
    recordApiCall({ endpoint: 'refresh_products', status: 422, durationMs: 20, errorClass: 'needs_reconnect' });
    recordImport('imported');
    recordImport('adopted');
    recordQuotaDeferral(3);
    recordRefreshLag(80);
    recordRefreshLag(4_000);
    recordRefreshLag(-5); // a clock a little ahead: on time

    const text = await processMetrics();
    expect(sample(text, 'mk_refresh_lag_seconds_count')).toBe(3);
    expect(sample(text, 'mk_refresh_lag_seconds_bucket{le="0.1"}')).toBe(2);
    expect(sample(text, 'mk_refresh_lag_seconds_bucket{le="5"}')).toBe(3);
    expect(sample(text, 'mk_api_calls_total{endpoint="import_link",outcome="ok"}')).toBe(1);
    expect(sample(text, 'mk_api_calls_total{endpoint="import_link",outcome="rate_limited"}')).toBe(1);
    expect(sample(text, 'mk_api_calls_total{endpoint="refresh_products",outcome="needs_reconnect"}')).toBe(1);
    expect(sample(text, 'mk_api_rate_limited_total{endpoint="import_link"}')).toBe(1);
    expect(sample(text, 'mk_api_rate_limited_total{endpoint="refresh_products"}')).toBe(0);
    expect(sample(text, 'mk_import_request_duration_seconds_count{endpoint="import_link"}')).toBe(2);
    expect(sample(text, 'mk_import_request_duration_seconds_bucket{le="2",endpoint="import_link"}')).toBe(2);
    expect(sample(text, 'mk_import_request_duration_seconds_bucket{le="1",endpoint="import_link"}')).toBe(1);
    expect(sample(text, 'mk_refresh_request_duration_seconds_count')).toBe(2);
    expect(sample(text, 'mk_imports_total{outcome="imported"}')).toBe(1);
    expect(sample(text, 'mk_imports_total{outcome="adopted"}')).toBe(1);
    expect(sample(text, 'mk_imports_total{outcome="failed"}')).toBe(0);
    expect(sample(text, 'mk_refresh_quota_deferrals_total')).toBe(3);
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('timeApiCall records success, classified failures and unclassified throws, and rethrows unchanged', async () => {
    await expect(timeApiCall('get_user_links', async () => 'links')).resolves.toBe('links');
    const classified = Object.assign(new Error('upstream 503'), { errorClass: 'retryable', status: 503 });
    await expect(timeApiCall('get_user_links', async () => Promise.reject(classified))).rejects.toBe(classified);
    await expect(timeApiCall('get_user_links', async () => Promise.reject(new TypeError('bug')))).rejects.toThrow(
      'bug',
    );

    const text = await processMetrics();
    expect(sample(text, 'mk_api_calls_total{endpoint="get_user_links",outcome="ok"}')).toBe(1);
    expect(sample(text, 'mk_api_calls_total{endpoint="get_user_links",outcome="retryable"}')).toBe(1);
    expect(sample(text, 'mk_api_calls_total{endpoint="get_user_links",outcome="unclassified"}')).toBe(1);
    expect(sample(text, 'mk_import_request_duration_seconds_count{endpoint="get_user_links"}')).toBe(3);
  });
});

describe('startOpsServer', () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await startPrivateRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('serves /healthz, /readyz from a Redis check (503 when Redis is gone) and /metrics', async () => {
    const client = createRedis(redis.url, 'producer', { retryStrategy: () => null });
    await new Promise((r) => client.once('ready', r));
    const ops = await startOpsServer({ port: 0, host: '127.0.0.1', ready: redisReady(client), readyTimeoutMs: 500 });
    try {
      expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${ops.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ ready: true });

      const metrics = await fetch(`${ops.url}/metrics`);
      expect(metrics.headers.get('content-type')).toContain('text/plain');
      expect(await metrics.text()).toContain('mk_api_calls_total');

      client.disconnect();
      const notReady = await fetch(`${ops.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect((await fetch(`${ops.url}/healthz`)).status).toBe(200);
    } finally {
      client.disconnect();
      await ops.close();
    }
  });

  it('answers 503 when the readiness check throws or hangs, and uses a custom metrics source', async () => {
    let mode: 'throw' | 'hang' = 'throw';
    const ops = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      readyTimeoutMs: 100,
      ready: () => (mode === 'throw' ? Promise.reject(new Error('down')) : new Promise<boolean>(() => undefined)),
      metrics: async () => 'custom_metric 1\n',
    });
    try {
      expect((await fetch(`${ops.url}/readyz`)).status).toBe(503);
      mode = 'hang';
      expect((await fetch(`${ops.url}/readyz`)).status).toBe(503);
      expect(await (await fetch(`${ops.url}/metrics`)).text()).toBe('custom_metric 1\n');
    } finally {
      await ops.close();
      await ops.close(); // idempotent
    }
  });

  it('traces nothing unless asked, and names a bad tracing setting', () => {
    expect(startTracing('mk-test', {}).enabled).toBe(false);
    expect(queueTelemetry()).toEqual({});
    expect(() => startTracing('mk-test', { MK_TRACING: 'yes' })).toThrow(/MK_TRACING/);
    expect(() => startTracing('mk-test', { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });
});
