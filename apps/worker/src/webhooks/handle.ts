/** What each MoneyKit webhook does to the refresh schedule. */
import type { WebhookBody } from '@mk/shared';
import type { LinkActionResult, RefreshRegistry } from '@mk/refresh';

export type WebhookEffect = LinkActionResult | 'ignored';

export async function applyWebhook(event: WebhookBody, registry: RefreshRegistry): Promise<WebhookEffect> {
  switch (event.webhook_event) {
    case 'link.state_changed': {
      // the event's own time orders retried deliveries; a missing/unparseable one is treated as "now"
      const at = Date.parse(event.webhook_timestamp);
      const eventAt = Number.isNaN(at) ? Date.now() : at;
      switch (event.state) {
        case 'connected':
          // reconnected by the end user: refresh at once
          return registry.linkAction(event.link_id, 'resume', 'none', eventAt);
        case 'error':
          return registry.linkAction(event.link_id, 'park', event.error ?? 'other', eventAt);
        case 'deleted':
          return registry.linkAction(event.link_id, 'remove', 'deleted', eventAt);
        default:
          // connecting / awaiting_token_exchange: the user is mid-way; nothing to do until it settles
          return 'ignored';
      }
    }
    case 'link.product_refresh':
      return registry.recordProductRefresh(event.link_id, event.product, event.state, event.error_message);
    default:
      return 'ignored';
  }
}
