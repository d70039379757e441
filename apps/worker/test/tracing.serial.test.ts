/**
 * OpenTelemetry: one import is one trace, from the producer's enqueue (one process) through the worker's
 * processing of the job (another process) to the MoneyKit calls it makes. A tiny OTLP/HTTP receiver collects
 * what both processes export; the spans must share one traceId and hang together by parent ids.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import IORedis from 'ioredis';
import { Queue } from 'bullmq';
import { QUEUES } from '@mk/shared';
import { fixtures } from '@mk/converters';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import { startApp, startPrivateRedis, type AppProcess, type PrivateRedis } from '@mk/testkit';

interface CollectedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

type AnyValue = { stringValue?: string };
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: AnyValue }[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number }[] }[];
  }[];
}

/** OTLP/HTTP with JSON bodies, as @opentelemetry/exporter-trace-otlp-http sends them. */
function startReceiver(): Promise<{ url: string; spans: CollectedSpan[]; close(): Promise<void> }> {
  const spans: CollectedSpan[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const data = JSON.parse(body) as OtlpExport;
        for (const rs of data.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? [])
              spans.push({
                service,
                traceId: s.traceId,
                spanId: s.spanId,
                ...(s.parentSpanId && { parentSpanId: s.parentSpanId }),
                name: s.name,
                kind: s.kind,
              });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        spans,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

const PREFIX = '{traces}';
let redisServer: PrivateRedis;
let redis: IORedis;
let sandbox: RunningSandbox;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let worker: AppProcess | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-traces-'));

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  redis = new IORedis(redisServer.url, { maxRetriesPerRequest: null });
  sandbox = await startSandbox({ latency: { baseMs: 10, perKbMs: 0, maxMs: 10 }, seed: 9, logLevel: 'silent' });
  receiver = await startReceiver();
});
afterAll(async () => {
  await worker?.kill('SIGKILL');
  await sandbox.close();
  redis.disconnect();
  await redisServer.stop();
  await receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('OpenTelemetry traces', () => {
  it('follow one import from the enqueue through the worker to the MoneyKit call', async () => {
    const env = {
      REDIS_URL: redisServer.url,
      REDIS_PREFIX: PREFIX,
      LOG_LEVEL: 'error',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    };
    worker = startApp('apps/worker/src/main.ts', {
      ...env,
      WORKER_ROLES: 'import',
      OPS_PORT: '0',
      WEBHOOK_PORT: '0',
      IMPORT_SETTLE_MS: '100',
      MONEYKIT_BASE_URL: sandbox.url,
      MONEYKIT_CLIENT_ID: sandbox.clientId,
      MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
    });
    const queue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    for (let i = 0; i < 1200 && (await queue.getWorkersCount()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await queue.close();

    const dump = path.join(dir, 'one.ndjson');
    await fixtures.writeDumpFile(dump, { users: 1, format: 'plaid', txPerAccount: 3, seed: 2 });
    const producer = startApp('apps/producer/src/main.ts', env, [
      'run',
      dump,
      '--run',
      'traced',
      '--wait',
      '--out-dir',
      dir,
    ]);
    expect(await producer.exited).toBe(0);
    // SIGTERM: the worker finishes and flushes its spans before it exits
    await worker.kill('SIGTERM');
    worker = undefined;

    const spans = receiver.spans;
    const calls = spans.filter((s) => s.service === 'mk-worker' && s.name === 'moneykit import_link');
    expect(calls).toHaveLength(1);
    const traceId = calls[0]!.traceId;
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const enqueue = inTrace.filter((s) => s.service === 'mk-producer');
    const processing = inTrace.filter((s) => s.service === 'mk-worker' && s.kind === 5); // SpanKind.CONSUMER
    expect(enqueue.length).toBeGreaterThan(0);
    expect(processing.length).toBeGreaterThan(0);
    // the chain: the MoneyKit call's ancestors reach the producer's span, within the trace
    const byId = new Map(inTrace.map((s) => [s.spanId, s]));
    const ancestors: CollectedSpan[] = [];
    for (let s = byId.get(calls[0]!.parentSpanId ?? ''); s; s = byId.get(s.parentSpanId ?? '')) ancestors.push(s);
    expect(ancestors.some((s) => s.service === 'mk-worker' && s.kind === 5)).toBe(true);
    expect(ancestors.some((s) => s.service === 'mk-producer')).toBe(true);
    // the look-up before the import belongs to the same trace
    expect(inTrace.some((s) => s.name === 'moneykit get_user_links')).toBe(true);
  }, 180_000);
});
