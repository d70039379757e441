/**
 * The control surface, /_sandbox/*: what a test or a rehearsal needs to play the end user, the network
 * and the operator. No auth, never hit by faults, kept apart from the API's paths.
 */
import { LINK_ERRORS, productSchema } from '@mk/shared';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { faultSettingsSchema } from '../../faults/faults';
import type { SandboxState } from '../../state';
import { ApiProblem, validationProblem } from '../problems';

type IdParams = { Params: { id: string } };

const productsBody = z.object({ products: z.array(productSchema).min(1) });
const disconnectBody = z.object({ error_code: z.enum(LINK_ERRORS).default('auth_expired') });
const credentialsBody = z.object({ client_secret: z.string().min(1) }).strict();
const webhookBody = z.object({ url: z.string().url().nullable() });

function parse<T extends z.ZodTypeAny>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationProblem(parsed.error);
  return parsed.data;
}

export function controlRoutes(app: FastifyInstance, state: SandboxState): void {
  app.post<IdParams>('/_sandbox/links/:id/reconnect', async (request) =>
    state.render(state.reconnect(request.params.id)),
  );

  app.post<IdParams>('/_sandbox/links/:id/disconnect', async (request) => {
    const { error_code } = parse(disconnectBody, request.body);
    return state.render(state.disconnect(request.params.id, error_code));
  });

  app.post<IdParams>('/_sandbox/links/:id/deny', async (request) => {
    const { products } = parse(productsBody, request.body);
    return state.render(state.denyProducts(request.params.id, products));
  });

  app.post<IdParams>('/_sandbox/links/:id/allow', async (request) => {
    const { products } = parse(productsBody, request.body);
    return state.render(state.allowProducts(request.params.id, products));
  });

  app.get('/_sandbox/faults', async () => state.faults.current);
  app.put('/_sandbox/faults', async (request) => state.setFaults(parse(faultSettingsSchema, request.body)));
  app.delete('/_sandbox/faults', async () => state.setFaults({}));

  app.get('/_sandbox/counters', async () => state.counters());

  app.post('/_sandbox/reset', async () => {
    state.reset();
    return { reset: true };
  });

  app.post('/_sandbox/tokens/expire', async () => ({ expired: state.expireTokens() }));

  app.put('/_sandbox/credentials', async (request) => {
    const { client_secret } = parse(credentialsBody, request.body);
    state.rotateClientSecret(client_secret);
    return { rotated: true };
  });

  app.put('/_sandbox/webhook', async (request) => {
    const { url } = parse(webhookBody, request.body);
    state.setWebhookUrl(url);
    return { url };
  });

  app.get('/_sandbox/webhooks', async () => ({ deliveries: state.webhooks.deliveries() }));

  app.post('/_sandbox/webhooks/rotate-key', async () => ({ kid: await state.rotateSigningKey() }));

  app.post('/_sandbox/webhooks/replay-last', async () => {
    const replayed = await state.replayLastWebhook();
    if (!replayed) throw new ApiProblem(409, 'sandbox.no_webhook_delivered', 'No webhook has been delivered yet');
    return replayed;
  });

  app.post('/_sandbox/webhooks/idle', async () => {
    await state.webhooks.idle();
    return { idle: true };
  });
}
