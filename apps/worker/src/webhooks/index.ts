export { startWebhookReceiver, type WebhookReceiverOptions, type RunningWebhookReceiver } from './receiver';
export {
  webhookRoutes,
  registerWebhookRoute,
  DEFAULT_WEBHOOK_PATH,
  DEFAULT_WEBHOOK_BODY_LIMIT,
  type WebhookRouteOptions,
} from './route';
export {
  WebhookVerifier,
  WebhookSignatureError,
  jwksFromClient,
  jwksFromUrl,
  type SignatureFailure,
  type WebhookVerifierOptions,
} from './verify';
export {
  WebhookDedupe,
  DEFAULT_DEDUPE_TTL_MS,
  DEFAULT_PROCESSING_LEASE_MS,
  type DedupeClaim,
  type DeliveryState,
} from './dedupe';
export { applyWebhook, type WebhookEffect } from './handle';
export { webhookEnvSchema, webhookOptionsFromConfig, webhookOptionsFromEnv, type WebhookEnv } from './options';
