/**
 * Plaid. A record is one user of the company with the Plaid items it stored:
 *   { "source": "plaid", "user": { "id", "email"?, "phone"?, "phone_country"? },
 *     "items": [ { "item": <Item from /item/get>, "accounts": [<AccountBase>], "transactions": [<Transaction>] } ] }
 * `transactions` is what /transactions/get returned (or the accumulated `added` of /transactions/sync).
 * Plaid amounts are positive for money out: negated.
 */
import type { ImportAccount } from '@mk/shared';
import { plaidAccountType } from '../account-types';
import { UserBuilder, customerUser } from '../builder';
import { plaidCategory } from '../categories';
import { negateDecimal } from '../decimal';
import {
  arr,
  decimal,
  id,
  isoDate,
  lastFour,
  obj,
  optArr,
  optBalance,
  optObj,
  optDateTime,
  optStr,
  str,
  type Json,
} from '../read';
import type { ConvertOptions, ConvertedUser } from '../types';
import { readUserContact } from './user';

export function convertPlaid(record: Json, opts: ConvertOptions): ConvertedUser {
  const contact = readUserContact(record.user, 'user');
  const user = new UserBuilder(contact.id, customerUser(contact, 'user'), opts);
  arr(record.items, 'items').forEach((rawItem, i) => {
    const p = `items[${i}]`;
    const entry = obj(rawItem, p);
    const item = obj(entry.item, `${p}.item`);
    const itemId = id(item.item_id, `${p}.item.item_id`);
    const institution = id(item.institution_id, `${p}.item.institution_id`);
    const conn = user.connection(
      { connectionId: `plaid:${itemId}`, provider: 'plaid', institutionId: `plaid.${institution}` },
      p,
    );

    optArr(entry.accounts, `${p}.accounts`).forEach((rawAccount, j) =>
      user.row((at) => {
        at.connectionId = conn.connectionId;
        const ap = `${p}.accounts[${j}]`;
        const a = obj(rawAccount, ap);
        const accountId = id(a.account_id, `${ap}.account_id`);
        const typeRaw = str(a.type, `${ap}.type`);
        const subtype = optStr(a.subtype, `${ap}.subtype`);
        const mapped = plaidAccountType(typeRaw, subtype);
        if (!mapped.known) user.unknownAccountType(subtype ? `${typeRaw}.${subtype}` : typeRaw);
        const name = optStr(a.name, `${ap}.name`);
        const official = optStr(a.official_name, `${ap}.official_name`);
        const b = optObj(a.balances, `${ap}.balances`) ?? {};
        // Plaid's `name` is what apps show (user- or bank-assigned); `official_name` is the product's full name.
        const account: ImportAccount = {
          account_id: accountId,
          name: name ?? official ?? '',
          type: mapped.type,
          balances: {},
        };
        const mask = lastFour(a.mask);
        if (mask) account.mask = mask;
        const currency =
          optStr(b.iso_currency_code, `${ap}.balances.iso_currency_code`) ??
          optStr(b.unofficial_currency_code, `${ap}.balances.unofficial_currency_code`);
        if (currency) account.balances.currency = currency;
        const available = optBalance(b.available, `${ap}.balances.available`);
        if (available !== undefined) account.balances.available = available;
        const current = optBalance(b.current, `${ap}.balances.current`);
        if (current !== undefined) account.balances.current = current;
        const limit = optBalance(b.limit, `${ap}.balances.limit`);
        if (limit !== undefined) account.balances.limit = limit;
        const updated = optDateTime(b.last_updated_datetime, `${ap}.balances.last_updated_datetime`);
        if (updated) account.balances.balance_date = updated;
        conn.account(account, ap);
      }),
    );

    const txKey = entry.transactions !== undefined ? 'transactions' : 'added';
    optArr(entry[txKey], `${p}.${txKey}`).forEach((rawTx, k) =>
      user.row((at) => {
        at.connectionId = conn.connectionId;
        const tp = `${p}.${txKey}[${k}]`;
        const t = obj(rawTx, tp);
        const pfc = optObj(t.personal_finance_category, `${tp}.personal_finance_category`);
        const legacy =
          t.category === undefined || t.category === null
            ? undefined
            : arr(t.category, `${tp}.category`).map((c, n) => str(c, `${tp}.category[${n}]`));
        const category = plaidCategory(
          pfc ? optStr(pfc.primary, `${tp}.personal_finance_category.primary`) : undefined,
          pfc ? optStr(pfc.detailed, `${tp}.personal_finance_category.detailed`) : undefined,
          legacy,
        );
        if (category && !category.known) user.unknownCategory(category.raw);
        conn.transaction(
          {
            account_id: id(t.account_id, `${tp}.account_id`),
            transaction_id: id(t.transaction_id, `${tp}.transaction_id`),
            amount: negateDecimal(decimal(t.amount, `${tp}.amount`)),
            date: isoDate(t.date, `${tp}.date`),
            description:
              optStr(t.name, `${tp}.name`) ??
              optStr(t.merchant_name, `${tp}.merchant_name`) ??
              optStr(t.original_description, `${tp}.original_description`),
            type: category?.type,
            pending: t.pending === true,
          },
          tp,
        );
      }),
    );
    conn.finish();
  });
  return user.finish();
}
