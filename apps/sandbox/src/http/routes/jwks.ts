/** GET /.well-known/jwks.json: the public keys that verify MoneyKit-Signature. */
import type { FastifyInstance } from 'fastify';
import type { WebhookSigner } from '../../webhooks/signer';

export function jwksRoutes(app: FastifyInstance, signer: WebhookSigner): void {
  app.get('/.well-known/jwks.json', async () => signer.jwks());
}
