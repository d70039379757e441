/** What each MoneyKit webhook does to the refresh schedule. */
import type { WebhookBody } from '@mk/shared';
import type { LinkActionResult, RefreshRegistry } from '@mk/refresh';
import type { LinkEvents } from '../link-events';

export type WebhookEffect = LinkActionResult | 'ignored';

/** The refresh schedule first, then the migration's record of it (`links`): a retried delivery repeats neither. */
export async function applyWebhook(
  event: WebhookBody,
  registry: RefreshRegistry,
  links?: LinkEvents,
): Promise<WebhookEffect> {
  switch (event.webhook_event) {
    case 'link.state_changed': {
      // the event's own time orders retried deliveries; a missing/unparseable one is treated as "now"
      const at = Date.parse(event.webhook_timestamp);
      const eventAt = Number.isNaN(at) ? Date.now() : at;
      switch (event.state) {
        case 'connected': {
          // reconnected by the end user: refresh at once
          const effect = await registry.linkAction(event.link_id, 'resume', 'none', eventAt);
          await links?.reconnected(event.link_id, eventAt);
          return effect;
        }
        case 'error': {
          const effect = await registry.linkAction(event.link_id, 'park', event.error ?? 'other', eventAt);
          if (effect !== 'stale') await links?.needsAttention(event.link_id, event.error ?? 'error', eventAt);
          return effect;
        }
        case 'deleted': {
          const effect = await registry.linkAction(event.link_id, 'remove', 'deleted', eventAt);
          if (effect !== 'stale') await links?.needsAttention(event.link_id, 'deleted', eventAt);
          return effect;
        }
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
