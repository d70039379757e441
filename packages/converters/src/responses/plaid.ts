/**
 * Plaid: `plaid/<user>/<item>/` holds `item_get.json`, `accounts_get.json`, `auth_get.json`, `identity_get.json`,
 * `transactions_get[.N].json` pages and/or `transactions_sync.N.json` pages. Sync pages are applied in page order,
 * which is cursor order (page N+1 was requested with page N's `next_cursor`): `added` and `modified` set a
 * transaction, `removed` deletes it. The mask comes from `/auth/get`'s account number when an account has none.
 */
import { fail, isObject, lastFour, type Json } from '../read';
import { concatPages, single, type Pages, type SavedUser } from './index';

function primaryOf(list: unknown): string | undefined {
  if (!Array.isArray(list)) return undefined;
  const entries = list.filter(isObject);
  const chosen = entries.find((e) => e.primary === true) ?? entries[0];
  return typeof chosen?.data === 'string' ? chosen.data : undefined;
}

/** The account-number masks `/auth/get` gives (ACH, EFT, international, BACS), by account id. */
function authMasks(auth: Json | undefined): Map<string, string> {
  const masks = new Map<string, string>();
  const numbers = isObject(auth?.numbers) ? auth.numbers : {};
  for (const kind of ['ach', 'eft', 'international', 'bacs']) {
    for (const n of Array.isArray(numbers[kind]) ? numbers[kind] : []) {
      if (!isObject(n) || typeof n.account_id !== 'string') continue;
      const mask = lastFour(n.account ?? n.iban);
      if (mask && !masks.has(n.account_id)) masks.set(n.account_id, mask);
    }
  }
  return masks;
}

function transactionsOf(pages: Pages, where: string): unknown[] {
  const sync = pages.get('transactions_sync');
  if (sync && pages.has('transactions_get'))
    fail(where, 'holds both transactions_get and transactions_sync pages: keep one');
  if (!sync) return concatPages(pages, 'transactions_get', 'transactions');
  const byId = new Map<string, unknown>();
  for (const { file, body } of sync) {
    if (!isObject(body)) fail(file, 'expected a JSON object (the response as returned)');
    for (const key of ['added', 'modified'] as const) {
      for (const [i, t] of (Array.isArray(body[key]) ? body[key] : []).entries()) {
        if (!isObject(t) || typeof t.transaction_id !== 'string')
          fail(`${file}: ${key}[${i}].transaction_id`, 'is missing');
        byId.set(t.transaction_id, t); // a modified row keeps its place, with its latest content
      }
    }
    for (const r of Array.isArray(body.removed) ? body.removed : [])
      if (isObject(r) && typeof r.transaction_id === 'string') byId.delete(r.transaction_id);
  }
  return [...byId.values()];
}

export function assemblePlaid(u: SavedUser): Json {
  let email: string | undefined;
  let phone: string | undefined;
  const items = [...u.connections].map(([folder, pages]) => {
    const where = `plaid/${u.id}/${folder}`;
    const itemGet = single(pages, 'item_get')?.body;
    const accountsGet = single(pages, 'accounts_get')?.body;
    const auth = single(pages, 'auth_get')?.body;
    const identity = single(pages, 'identity_get')?.body;
    const firstGet = pages.get('transactions_get')?.[0]?.body as Json | undefined;
    const item = [itemGet, accountsGet, firstGet, auth, identity].map((b) => b?.item).find(isObject);
    if (!item)
      fail(
        where,
        'no item: expected item_get.json (or an accounts_get / transactions_get / auth_get response, which carry the item)',
      );
    const accountList = [accountsGet, firstGet, auth, identity].map((b) => b?.accounts).find(Array.isArray) ?? [];
    const masks = authMasks(auth);
    const accounts = accountList.map((a) =>
      isObject(a) && !a.mask && typeof a.account_id === 'string' && masks.has(a.account_id)
        ? { ...a, mask: masks.get(a.account_id) }
        : a,
    );
    for (const a of Array.isArray(identity?.accounts) ? identity.accounts : []) {
      for (const owner of isObject(a) && Array.isArray(a.owners) ? a.owners : []) {
        if (!isObject(owner)) continue;
        email ??= primaryOf(owner.emails);
        phone ??= primaryOf(owner.phone_numbers);
      }
    }
    return { item, accounts, transactions: transactionsOf(pages, where) };
  });
  return { source: 'plaid', user: { id: u.id, ...(email && { email }), ...(phone && { phone }) }, items };
}
