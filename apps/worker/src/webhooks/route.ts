/**
 * The webhook route: raw body in, signature verified on the exact bytes, then parsed, deduplicated and
 * applied. Answers: 200 processed / duplicate / ignored; 400 malformed; 401 bad signature; 413 too big;
 * 415 not JSON; 503 when we could not process it, or another delivery of the same event is being applied
 * (`in_progress`, with Retry-After): MoneyKit retries, and only a delivery that was applied is ever a duplicate
 * (dedupe.ts). 200 is sent only after the event is applied, so a receiver killed mid-request loses nothing.
 */
import { WEBHOOK_EVENTS, WEBHOOK_SIGNATURE_HEADER, webhookBodySchema, type Logger } from '@mk/shared';
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import type { RefreshRegistry } from '@mk/refresh';
import type { WebhookDedupe } from './dedupe';
import { applyWebhook, type WebhookEffect } from './handle';
import type { LinkEvents } from '../link-events';
import { WebhookSignatureError, type WebhookVerifier } from './verify';

export const DEFAULT_WEBHOOK_PATH = '/webhooks/moneykit';
/** MoneyKit's webhooks are small JSON objects; anything near this is not one. */
export const DEFAULT_WEBHOOK_BODY_LIMIT = 64 * 1024;

export interface WebhookRouteOptions {
  verifier: WebhookVerifier;
  registry: RefreshRegistry;
  dedupe: WebhookDedupe;
  /** The migration ledger's side of state changes (reconnects, links needing attention). */
  links?: LinkEvents;
  path?: string;
  bodyLimit?: number;
  logger?: Logger;
}

function problem(reply: FastifyReply, status: number, error: string, message: string) {
  return reply.code(status).send({ error, message });
}

/** A fastify plugin: register it with `app.register(webhookRoutes, opts)` or `registerWebhookRoute(app, opts)`. */
export const webhookRoutes: FastifyPluginAsync<WebhookRouteOptions> = async (scope, opts) => {
  const { verifier, registry, dedupe, logger } = opts;
  const bodyLimit = opts.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT;

  // The signature covers the exact bytes: keep them raw, parse only after verifying.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (_req, body, done) =>
    done(null, body),
  );

  scope.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return problem(reply, 413, 'body_too_large', `webhook bodies are limited to ${bodyLimit} bytes`);
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return problem(reply, 415, 'unsupported_media_type', 'webhooks must be sent as application/json');
    if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return problem(reply, 400, 'empty_body', 'webhook body is empty');
    if ((err.statusCode ?? 500) < 500) return problem(reply, err.statusCode!, 'bad_request', err.message);
    logger?.error({ err }, 'webhook processing failed');
    return problem(reply, 503, 'unavailable', 'could not process the webhook now; retry later');
  });

  scope.post(opts.path ?? DEFAULT_WEBHOOK_PATH, { bodyLimit }, async (request, reply) => {
    const raw = request.body;
    if (!Buffer.isBuffer(raw) || raw.length === 0) return problem(reply, 400, 'empty_body', 'webhook body is empty');
    const header = request.headers[WEBHOOK_SIGNATURE_HEADER];
    try {
      await verifier.verify(raw, Array.isArray(header) ? header[0] : header);
    } catch (err) {
      if (err instanceof WebhookSignatureError) {
        logger?.warn({ reason: err.reason }, 'webhook refused: signature');
        return problem(reply, 401, `signature_${err.reason}`, err.message);
      }
      throw err;
    }

    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return problem(reply, 400, 'malformed_json', 'webhook body is not valid JSON');
    }
    const event = webhookBodySchema.safeParse(json);
    if (!event.success) {
      // a genuine event of a kind we do not know: acknowledge, or MoneyKit retries it for hours
      const kind = (json as { webhook_event?: unknown } | null)?.webhook_event;
      if (typeof kind === 'string' && !(WEBHOOK_EVENTS as readonly string[]).includes(kind))
        return reply.code(200).send({ status: 'ignored', event: kind });
      const where = event.error.issues[0];
      return problem(
        reply,
        400,
        'invalid_event',
        `webhook body does not match the event schema${where ? ` at ${where.path.join('.') || '(root)'}: ${where.message}` : ''}`,
      );
    }

    const key = event.data.webhook_idempotency_key;
    const claim = await dedupe.claim(key);
    if (claim.kind === 'done') return reply.code(200).send({ status: 'duplicate' });
    if (claim.kind === 'busy') {
      reply.header('retry-after', String(Math.max(1, Math.ceil(claim.retryAfterMs / 1000))));
      return problem(reply, 503, 'in_progress', 'this delivery is being processed; retry later');
    }
    let effect: WebhookEffect;
    try {
      effect = await applyWebhook(event.data, registry, opts.links);
    } catch (err) {
      await dedupe.release(key, claim).catch(() => undefined);
      throw err;
    }
    // Applied: 200 even if the mark fails, so MoneyKit stops (only a replay after the lease could apply it again).
    await dedupe
      .done(key)
      .catch((err: unknown) =>
        logger?.warn({ err, linkId: event.data.link_id }, 'webhook applied but not marked done'),
      );
    logger?.debug({ event: event.data.webhook_event, linkId: event.data.link_id, effect }, 'webhook applied');
    return reply.code(200).send({ status: 'processed', effect });
  });
};

export function registerWebhookRoute(app: FastifyInstance, opts: WebhookRouteOptions) {
  return app.register(webhookRoutes, opts);
}
