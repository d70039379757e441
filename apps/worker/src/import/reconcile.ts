/**
 * Imports are not idempotent: when an earlier attempt may have created a link (lost response, timeout, 5xx after
 * commit), we look for that link among the customer user's links and adopt it instead of importing again.
 * A link is ours when it is at the same institution, not deleted, not owned by another connection of the run,
 * and holds exactly our accounts (MoneyKit returns our account ids as `original_id`).
 */
import type { ImportLinkRequest, Link } from '@mk/shared';

export interface LinkLookup {
  getUserLinks(customerUserId: string): Promise<Record<string, Link>>;
  getLinkAccounts(linkId: string): Promise<{ original_id?: string | null }[]>;
}

export async function findEarlierLink(
  lookup: LinkLookup,
  request: ImportLinkRequest,
  isOwnedByAnother: (linkId: string) => Promise<boolean>,
): Promise<Link | undefined> {
  const links = Object.values(await lookup.getUserLinks(request.customer_user.id));
  const wanted = new Set(request.accounts.map((a) => a.account_id));
  for (const link of links) {
    if (link.institution_id !== request.institution_id || link.state === 'deleted') continue;
    if (await isOwnedByAnother(link.link_id)) continue;
    const accounts = await lookup.getLinkAccounts(link.link_id);
    const found = new Set(accounts.map((a) => a.original_id));
    if (found.size === wanted.size && [...wanted].every((id) => found.has(id))) return link;
  }
  return undefined;
}
