/**
 * Has the end user reconnected this link? Then MoneyKit's provider sync has taken over its transactions, and a
 * top-up leaves it alone (unless `--include-reconnected`).
 *
 * The one place that answers it. Today the answer comes from the refresh registry: an imported link is registered
 * parked (`auth_expired`) and resumed only by the `link.state_changed` → connected webhook (apps/worker/src/webhooks/
 * handle.ts), so an active link is a reconnected one. A link with no product to refresh is not registered and reads
 * as not reconnected. The ledger also keeps the first reconnect per link (`reconnectedAt`, from the same webhook;
 * the report and `reconnects` read it). The two can differ for a link reconnected and broken again since, or one
 * with nothing to refresh: both read here as not reconnected.
 */
import type { RefreshRegistry } from '@mk/refresh';

export type ReconnectedCheck = (linkId: string) => Promise<boolean>;

export function reconnectedFromRegistry(registry: RefreshRegistry): ReconnectedCheck {
  return async (linkId) => (await registry.get(linkId))?.mode === 'active';
}
