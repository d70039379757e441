/** The migration's hand-over to the refresh pipeline: each imported link is registered, parked until reconnected. */
import type { Product } from '@mk/shared';
import type { RefreshRegistry } from './refresh';
import type { LinkSink } from './import';

export function refreshHandOver(registry: RefreshRegistry): LinkSink {
  const wanted = new Set<Product>(registry.options.defaultProducts);
  return {
    async linkImported(link) {
      // Never ask for a product the end user did not grant (MoneyKit would answer 403).
      const products = link.grantedProducts.filter((p) => wanted.has(p));
      if (products.length === 0) return;
      await registry.register([
        {
          linkId: link.linkId,
          products,
          runId: link.runId,
          ...(!link.connected && { parked: { reason: link.linkErrorCode ?? 'auth_expired' } }),
        },
      ]);
    },
  };
}
