/**
 * The ops endpoints every long-running app exposes: `/healthz` (the process answers), `/readyz` (its
 * dependencies answer: Redis, …) and `/metrics` (Prometheus text). Kubernetes probes and Prometheus scrape these.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Redis } from '@mk/shared';
import { registry } from './metrics';

export interface OpsServerOptions {
  port: number;
  host?: string;
  /** True when the app can do its work; a throw or a slow answer counts as not ready. */
  ready: () => Promise<boolean> | boolean;
  /** Prometheus text; default: this process's registry. */
  metrics?: () => Promise<string>;
  /** How long `ready` may take before the probe answers 503. */
  readyTimeoutMs?: number;
}

export interface OpsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Adds the three ops routes to an existing fastify instance (the dashboard serves them next to its pages). */
export function registerOpsRoutes(app: FastifyInstance, opts: Omit<OpsServerOptions, 'port' | 'host'>): void {
  const metrics = opts.metrics ?? (() => registry.metrics());
  const readyTimeoutMs = opts.readyTimeoutMs ?? 2000;

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const ready = await withTimeout(Promise.resolve().then(opts.ready), readyTimeoutMs).catch(() => false);
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const app = Fastify({ logger: false });
  registerOpsRoutes(app, opts);
  await app.listen({ port: opts.port, host: opts.host ?? '0.0.0.0' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close: () => (closing ??= app.close()),
  };
}

/** A readiness check for a Redis connection: it answers PING. */
export function redisReady(redis: Redis): () => Promise<boolean> {
  return async () => redis.status === 'ready' && (await redis.ping()) === 'PONG';
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
