/** A stand-alone webhook receiver process part: fastify + the route, over one Redis connection. */
import { DEFAULT_PREFIX, createLogger, createRedis, type Logger, type Redis, type RedisTarget } from '@mk/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { refreshKeys } from '@mk/refresh';
import { RefreshRegistry, type RegistryOptions } from '@mk/refresh';
import { WebhookDedupe, DEFAULT_DEDUPE_TTL_MS, DEFAULT_PROCESSING_LEASE_MS } from './dedupe';
import { DEFAULT_WEBHOOK_BODY_LIMIT, DEFAULT_WEBHOOK_PATH, registerWebhookRoute } from './route';
import type { Jwks } from '@mk/moneykit-client';
import { WebhookVerifier, jwksFromUrl } from './verify';
import type { LinkEvents } from '../link-events';

export interface WebhookReceiverOptions {
  port: number;
  host?: string;
  /** A Redis connection to use, or a URL to open one (closed by close()). */
  redis?: Redis;
  redisUrl?: RedisTarget;
  prefix?: string;
  registry?: RefreshRegistry;
  registryOptions?: RegistryOptions;
  /** JWKS source: a function (e.g. jwksFromClient(client)), or the MoneyKit base URL. */
  fetchJwks?: () => Promise<Jwks>;
  moneykitBaseUrl?: string;
  leewayMs?: number;
  minJwksRefetchMs?: number;
  issuer?: string;
  path?: string;
  bodyLimit?: number;
  dedupeTtlMs?: number;
  /** How long a delivery being applied holds its idempotency key (dedupe.ts). */
  processingLeaseMs?: number;
  /** Records reconnects and links needing attention in the migration ledger (ledgerLinkEvents). */
  links?: LinkEvents;
  logger?: Logger;
}

export interface RunningWebhookReceiver {
  url: string;
  port: number;
  app: FastifyInstance;
  registry: RefreshRegistry;
  verifier: WebhookVerifier;
  /** Where each delivery stands (`state(idempotencyKey)`: 'done' once its event was applied). */
  dedupe: WebhookDedupe;
  close(): Promise<void>;
}

export async function startWebhookReceiver(opts: WebhookReceiverOptions): Promise<RunningWebhookReceiver> {
  const logger = opts.logger ?? createLogger('webhooks');
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const ownRedis = !opts.redis;
  if (!opts.redis && !opts.redisUrl && !opts.registry)
    throw new Error('startWebhookReceiver needs redis, redisUrl or registry');
  const redis = opts.redis ?? opts.registry?.redis ?? createRedis(opts.redisUrl!, 'worker');
  const registry = opts.registry ?? (await RefreshRegistry.open(redis, prefix, opts.registryOptions));
  const fetchJwks = opts.fetchJwks ?? (opts.moneykitBaseUrl ? jwksFromUrl(opts.moneykitBaseUrl) : undefined);
  if (!fetchJwks) throw new Error('startWebhookReceiver needs fetchJwks or moneykitBaseUrl to verify signatures');
  const verifier = new WebhookVerifier({
    fetchJwks,
    ...(opts.leewayMs !== undefined && { leewayMs: opts.leewayMs }),
    ...(opts.minJwksRefetchMs !== undefined && { minRefetchIntervalMs: opts.minJwksRefetchMs }),
    ...(opts.issuer !== undefined && { issuer: opts.issuer }),
  });
  const dedupe = new WebhookDedupe(
    registry.redis,
    refreshKeys(registry.prefix).webhookSeen,
    opts.dedupeTtlMs ?? DEFAULT_DEDUPE_TTL_MS,
    opts.processingLeaseMs ?? DEFAULT_PROCESSING_LEASE_MS,
  );
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await registerWebhookRoute(app, {
    verifier,
    registry,
    dedupe,
    logger,
    ...(opts.links && { links: opts.links }),
    path: opts.path ?? DEFAULT_WEBHOOK_PATH,
    bodyLimit: opts.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT,
  });
  await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  let closed = false;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}${opts.path ?? DEFAULT_WEBHOOK_PATH}`,
    port,
    app,
    registry,
    verifier,
    dedupe,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      if (ownRedis && !opts.registry) redis.disconnect();
    },
  };
}
