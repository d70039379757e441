/**
 * Yodlee, MX, Finicity and Akoya saved responses → their envelopes. Pages of a list endpoint are concatenated in
 * page order; ids and contact details come from the user-level response when there is one, else the folder name.
 */
import { fail, isObject, type Json } from '../read';
import { concatPages, single, type SavedUser } from './index';

/** Yodlee: `GET /user` (`user.json`), `GET /accounts`, `GET /transactions` pages, optionally `GET /providerAccounts`. */
export function assembleYodlee(u: SavedUser): Json {
  const user = single(u.endpoints, 'user')?.body.user;
  const account = concatPages(u.endpoints, 'accounts', 'account');
  let providerAccount = concatPages(u.endpoints, 'provider_accounts', 'providerAccount');
  if (providerAccount.length === 0) {
    // Each account names its provider account and provider: enough for the connection without GET /providerAccounts.
    const seen = new Map<string, Json>();
    for (const a of account) {
      if (isObject(a) && a.providerAccountId != null && !seen.has(String(a.providerAccountId)))
        seen.set(String(a.providerAccountId), { id: a.providerAccountId, providerId: a.providerId });
    }
    providerAccount = [...seen.values()];
  }
  const contact = isObject(user) ? user : {};
  return {
    source: 'yodlee',
    user: { ...contact, loginName: contact.loginName ?? u.id },
    providerAccount,
    account,
    transaction: concatPages(u.endpoints, 'transactions', 'transaction'),
  };
}

/** MX: `user.json` (`{ user }`), `members`, `accounts` and `transactions` list pages (with `pagination`). */
export function assembleMx(u: SavedUser): Json {
  const user = single(u.endpoints, 'user')?.body.user;
  return {
    source: 'mx',
    user: isObject(user) ? { ...user, id: user.id ?? u.id } : { id: u.id },
    members: concatPages(u.endpoints, 'members', 'members'),
    accounts: concatPages(u.endpoints, 'accounts', 'accounts'),
    transactions: concatPages(u.endpoints, 'transactions', 'transactions'),
  };
}

/** Finicity: `customer.json` (the Customer), customer `accounts`, `transactions` pages (`{ found, …, transactions }`). */
export function assembleFinicity(u: SavedUser): Json {
  const customer = single(u.endpoints, 'customer')?.body ?? { username: u.id };
  return {
    source: 'finicity',
    customer,
    accounts: concatPages(u.endpoints, 'accounts', 'accounts'),
    transactions: concatPages(u.endpoints, 'transactions', 'transactions'),
  };
}

/** The FDX item inside its family wrapper (`{ depositAccount: {...} }`) or bare. */
function fdxItem(v: unknown): Json | undefined {
  if (!isObject(v)) return undefined;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0]!.endsWith('Account') && isObject(v[keys[0]!]) ? (v[keys[0]!] as Json) : v;
}

/** Akoya: `akoya/<user>/<providerId>/` holds `accounts`, `balances` and `transactions` pages; `user.json` optional. */
export function assembleAkoya(u: SavedUser): Json {
  const user = single(u.endpoints, 'user')?.body;
  const providers = [...u.connections].map(([providerId, pages]) => {
    const accounts = concatPages(pages, 'accounts', 'accounts');
    // Balances come from their own endpoint: merged into the account with the same accountId.
    const balances = new Map<string, Json>();
    for (const b of concatPages(pages, 'balances', 'accounts')) {
      const item = fdxItem(b);
      if (item && item.accountId != null) balances.set(String(item.accountId), item);
    }
    const merged = accounts.map((a) => {
      const item = fdxItem(a);
      const balance = item && item.accountId != null ? balances.get(String(item.accountId)) : undefined;
      if (!item || !balance) return a;
      const full = { ...balance, ...item };
      return item === a ? full : { [Object.keys(a as Json)[0]!]: full };
    });
    if (merged.length === 0 && balances.size === 0)
      fail(
        `akoya/${u.id}/${providerId}`,
        'no accounts: expected accounts.json (and balances.json, transactions pages)',
      );
    return { providerId, accounts: merged, transactions: concatPages(pages, 'transactions', 'transactions') };
  });
  return {
    source: 'akoya',
    user: { ...(isObject(user) ? user : {}), id: (isObject(user) && user.id) || u.id },
    providers,
  };
}
