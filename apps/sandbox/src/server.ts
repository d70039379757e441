/** Builds and starts one sandbox: a fastify app over one in-memory SandboxState. */
import { createLogger, MAX_REQUEST_BYTES, type Logger } from '@mk/shared';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import './http/fastify-types';
import { apiGuard, delayGuard } from './http/api-guard';
import { ApiProblem, errorHandler, sendProblem } from './http/problems';
import { authRoutes } from './http/routes/auth';
import { controlRoutes } from './http/routes/control';
import { importRoutes } from './http/routes/import';
import { jwksRoutes } from './http/routes/jwks';
import { linkRoutes } from './http/routes/links';
import { refreshRoutes } from './http/routes/refresh';
import { TokenStore } from './http/tokens';
import { resolveOptions, type SandboxOptions } from './options';
import { SandboxState } from './state';
import { Timers } from './util/timers';
import { WebhookSigner } from './webhooks/signer';

export interface RunningSandbox {
  url: string;
  port: number;
  clientId: string;
  clientSecret: string;
  state: SandboxState;
  close(): Promise<void>;
}

function defaultLogger(level?: string): Logger {
  return createLogger('sandbox', {
    level: level ?? (process.env.NODE_ENV === 'test' ? 'warn' : (process.env.LOG_LEVEL ?? 'info')),
  });
}

export function buildApp(
  state: SandboxState,
  tokens: TokenStore,
  signer: WebhookSigner,
  timers: Timers,
  logger: Logger,
): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Per-request lines come from our own onResponse hook at debug level (2,000+ calls/s in benchmarks).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_REQUEST_BYTES,
    // close() must not wait for calls parked by a timeout fault or a slow import.
    forceCloseConnections: true,
    return503OnClosing: false,
    keepAliveTimeout: 65_000,
  });

  const defaultJson = app.getDefaultJsonParser('error', 'ignore');
  app.decorateRequest('bodyBytes', 0);
  app.decorateRequest('faultDelayMs', 0);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    request.bodyBytes = Buffer.byteLength(body as string, 'utf8');
    void defaultJson(request, body as string, done);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.setErrorHandler(errorHandler(MAX_REQUEST_BYTES));
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      new ApiProblem(404, 'api_error.not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
  app.addHook('onRequest', apiGuard(state, tokens));
  app.addHook('preHandler', delayGuard(timers));
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      {
        method: request.method,
        route: request.routeOptions.url,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
  });

  authRoutes(app, state, tokens);
  jwksRoutes(app, signer);
  importRoutes(app, state, timers);
  refreshRoutes(app, state);
  linkRoutes(app, state);
  controlRoutes(app, state);
  return app;
}

export async function startSandbox(opts: Partial<SandboxOptions> = {}): Promise<RunningSandbox> {
  const options = resolveOptions(opts);
  const logger = options.logger ?? defaultLogger(options.logLevel);
  const timers = new Timers();
  const tokens = new TokenStore(options.clientId, options.clientSecret, options.tokenTtlSeconds);
  const signer = await WebhookSigner.create();
  const state = new SandboxState(options, tokens, signer, timers, logger);
  const app = buildApp(state, tokens, signer, timers, logger);

  await app.listen({ port: options.port, host: options.host });
  const { port } = app.server.address() as { port: number };
  const hostForUrl =
    options.host === '0.0.0.0' || options.host === '::'
      ? '127.0.0.1'
      : options.host.includes(':')
        ? `[${options.host}]`
        : options.host;
  const url = `http://${hostForUrl}:${port}`;
  logger.info({ url }, 'sandbox listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    state,
    close() {
      closing ??= (async () => {
        timers.close();
        await app.close();
      })();
      return closing;
    },
  };
}
