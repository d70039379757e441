/** The import worker's view of MoneyKit, served by the typed client. */
import type { MoneyKitClient } from '@mk/moneykit-client';
import type { ImportApi } from './import-connection';

const PAGE_SIZE = 1000;

export function importApiFromClient(client: MoneyKitClient): ImportApi {
  return {
    importLink: (request) => client.importLink(request),
    importTransactions: (linkId, body) => client.importTransactions(linkId, body),
    getUserLinks: (customerUserId) => client.getUserLinks(customerUserId),
    getLinkAccounts: async (linkId) => (await client.getLinkAccounts(linkId)).accounts,
    verifyCredentials: () => client.verifyCredentials(),
    async landedTransactionIds(linkId, candidates, window) {
      const wanted = new Set(candidates);
      const found = new Set<string>();
      for (let page = 1; ; page++) {
        // The window matters: without one MoneyKit lists only the last 90 days.
        const res = await client.getLinkTransactions(linkId, { page, size: PAGE_SIZE, ...window });
        for (const t of res.transactions) if (t.original_id && wanted.has(t.original_id)) found.add(t.original_id);
        if (found.size === wanted.size || page * PAGE_SIZE >= res.total || res.transactions.length === 0) return found;
      }
    },
  };
}
