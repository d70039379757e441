/** Webhook bodies, shaped as the contract's AppLinkStateChangedWebhook / ProductStateChangedWebhook. */
import { randomUUID } from 'node:crypto';
import type { Product } from '@mk/shared';
import type { LinkRecord } from '../domain/links';

type ProductRefreshState = 'pending' | 'in_progress' | 'completed' | 'failed';

function common(link: LinkRecord, event: string) {
  return {
    webhook_major_version: 1,
    webhook_minor_version: 0,
    webhook_idempotency_key: randomUUID(),
    webhook_timestamp: new Date().toISOString(),
    link_id: link.id,
    link_tags: [...link.tags],
    webhook_event: event,
  };
}

export type WebhookPayload = ReturnType<typeof common> & Record<string, unknown>;

export function linkStateChanged(link: LinkRecord): WebhookPayload {
  const body: WebhookPayload = { ...common(link, 'link.state_changed'), state: link.state };
  if (link.errorCode) {
    body.error = link.errorCode;
    body.error_message = `The link needs attention: ${link.errorCode}`;
  }
  return body;
}

export function productRefresh(
  link: LinkRecord,
  product: Product,
  state: ProductRefreshState,
  at: Date,
): WebhookPayload {
  return { ...common(link, 'link.product_refresh'), product, state, state_changed_at: at.toISOString() };
}
