/**
 * The migration's hand-over to the refresh pipeline: each imported link is registered, parked until its user
 * reconnects. Products: the run's own list when the producer was given one, else the registry's default; never a
 * product the end user did not grant (MoneyKit would answer 403).
 */
import { PRODUCTS, type Product } from '@mk/shared';
import type { MigrationLedger } from '@mk/ledger';
import type { RefreshRegistry } from '@mk/refresh';
import type { LinkSink } from './import';

export function refreshHandOver(registry: RefreshRegistry, ledger: MigrationLedger): LinkSink {
  const defaults = new Set<Product>(registry.options.defaultProducts);
  const perRun = new Map<string, Promise<Set<Product>>>();
  const wantedFor = (runId: string) => {
    let wanted = perRun.get(runId);
    if (!wanted) {
      wanted = ledger.getRun(runId).then((run) => {
        const listed = run?.products
          ?.split(',')
          .filter((p): p is Product => (PRODUCTS as readonly string[]).includes(p));
        return listed?.length ? new Set(listed) : defaults;
      });
      perRun.set(runId, wanted);
    }
    return wanted;
  };
  return {
    async linkImported(link) {
      const wanted = await wantedFor(link.runId);
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
