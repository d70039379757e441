/**
 * Yodlee. A record is one element of `GET dataExtracts/userData` → `userData[]`:
 *   { "user": { "loginName", "email"?, "phone"?, "phone_country"? }, "providerAccount": [...], "account": [...], "transaction": [...] }
 * (a leading "source": "yodlee" is allowed). Accounts join provider accounts on `providerAccountId`,
 * transactions join accounts on `accountId`. Transaction ids are unique only with the CONTAINER, so the
 * imported id is `<CONTAINER>:<id>`. The sign comes from `baseType` (CREDIT +, DEBIT −).
 *
 * Variants read as well (public examples they come from in packages/converters/README.md, "Real-world variants"):
 *   - older response shape: a date as an object `{ "date": "2014-02-05", "format": "yyyy-MM-dd" }`, or a date-time
 *     with an offset `2014-02-01T00:00:00-0800` (the date as written);
 *   - older response shape: `category` as an object `{ "categoryName": "Restaurants/Dining" }`;
 *   - category names with punctuation (`Restaurants/Dining`, `Service Charges/Fees`): each part is tried.
 */
import type { ImportAccount } from '@mk/shared';
import { yodleeAccountType } from '../account-types';
import { type ConnectionBuilder, UserBuilder, customerUser } from '../builder';
import { yodleeCategory } from '../categories';
import { absDecimal, negateDecimal } from '../decimal';
import {
  arr,
  decimal,
  fail,
  id,
  isObject,
  isoDate,
  lastFour,
  obj,
  optArr,
  optBalance,
  optDateTime,
  optStr,
  str,
  type Json,
} from '../read';
import type { ConvertOptions, ConvertedUser } from '../types';

/** Which Money fields hold current / available / limit, per container (positive debt = owed, as MoneyKit). */
const BALANCE_FIELDS: Record<string, { current: string[]; available: string[]; limit: string[] }> = {
  bank: { current: ['currentBalance', 'balance'], available: ['availableBalance'], limit: [] },
  creditCard: { current: ['runningBalance', 'balance'], available: ['availableCredit'], limit: ['totalCreditLine'] },
  loan: { current: ['principalBalance', 'balance'], available: [], limit: [] },
};
const DEFAULT_BALANCE_FIELDS = { current: ['balance', 'currentBalance'], available: ['availableBalance'], limit: [] };

export function convertYodlee(record: Json, opts: ConvertOptions): ConvertedUser {
  const u = obj(record.user, 'user');
  const userId =
    u.loginName !== undefined && u.loginName !== null ? id(u.loginName, 'user.loginName') : id(u.id, 'user.id');
  const contact = {
    id: userId,
    email: optStr(u.email, 'user.email'),
    phone: optStr(u.phone, 'user.phone'),
    phoneCountry: optStr(u.phone_country, 'user.phone_country'),
  };
  const user = new UserBuilder(userId, customerUser(contact, 'user'), opts);

  const providerAccounts = new Map<string, ConnectionBuilder>();
  arr(record.providerAccount, 'providerAccount').forEach((raw, i) => {
    const p = `providerAccount[${i}]`;
    const pa = obj(raw, p);
    const paId = id(pa.id, `${p}.id`);
    const providerId = id(pa.providerId, `${p}.providerId`);
    providerAccounts.set(
      paId,
      user.connection({ connectionId: `yodlee:${paId}`, provider: 'yodlee', institutionId: `yodlee.${providerId}` }, p),
    );
  });

  const accountConn = new Map<string, ConnectionBuilder>();
  optArr(record.account, 'account').forEach((raw, j) =>
    user.row((at) => {
      const ap = `account[${j}]`;
      const a = obj(raw, ap);
      const paId = id(a.providerAccountId, `${ap}.providerAccountId`);
      const conn =
        providerAccounts.get(paId) ??
        fail(`${ap}.providerAccountId`, `'${paId}' is not a providerAccount of this user`);
      at.connectionId = conn.connectionId;
      const accountId = id(a.id, `${ap}.id`);
      const container = str(a.CONTAINER, `${ap}.CONTAINER`);
      const accountType = optStr(a.accountType, `${ap}.accountType`);
      const mapped = yodleeAccountType(container, accountType);
      if (!mapped.known) user.unknownAccountType(accountType ? `${container}.${accountType}` : container);
      const name = optStr(a.accountName, `${ap}.accountName`);
      const nickname = optStr(a.nickname, `${ap}.nickname`);
      const account: ImportAccount = {
        account_id: accountId,
        name: name ?? nickname ?? '',
        type: mapped.type,
        balances: {},
      };
      if (nickname && nickname !== account.name) account.nickname = nickname;
      const mask = lastFour(a.accountNumber);
      if (mask) account.mask = mask;
      const fields = BALANCE_FIELDS[container] ?? DEFAULT_BALANCE_FIELDS;
      const current = money(a, fields.current, ap);
      const available = money(a, fields.available, ap);
      const limit = money(a, fields.limit, ap);
      const currency = current?.currency ?? available?.currency ?? limit?.currency;
      if (currency) account.balances.currency = currency;
      if (current) account.balances.current = current.amount;
      if (available) account.balances.available = available.amount;
      if (limit) account.balances.limit = limit.amount;
      const updated = optDateTime(a.lastUpdated, `${ap}.lastUpdated`);
      if (updated) account.balances.balance_date = updated;
      conn.account(account, ap);
      accountConn.set(accountId, conn);
    }),
  );

  optArr(record.transaction, 'transaction').forEach((raw, k) =>
    user.row((at) => {
      const tp = `transaction[${k}]`;
      const t = obj(raw, tp);
      const accountId = id(t.accountId, `${tp}.accountId`);
      const conn =
        accountConn.get(accountId) ?? fail(`${tp}.accountId`, `'${accountId}' is not an account of this user`);
      at.connectionId = conn.connectionId;
      const container = str(t.CONTAINER, `${tp}.CONTAINER`);
      const m = obj(t.amount, `${tp}.amount`);
      const unsigned = absDecimal(decimal(m.amount, `${tp}.amount.amount`));
      const baseType = str(t.baseType, `${tp}.baseType`);
      let amount: string;
      if (baseType === 'CREDIT') amount = unsigned;
      else if (baseType === 'DEBIT') amount = negateDecimal(unsigned);
      else fail(`${tp}.baseType`, 'is not CREDIT or DEBIT');
      const dateField = t.postDate != null ? 'postDate' : t.date != null ? 'date' : 'transactionDate';
      const d = isObject(t.description) ? t.description : undefined;
      const description = d
        ? (optStr(d.simple, `${tp}.description.simple`) ??
          optStr(d.original, `${tp}.description.original`) ??
          optStr(d.consumer, `${tp}.description.consumer`))
        : optStr(t.description, `${tp}.description`);
      const categoryName = isObject(t.category)
        ? optStr(t.category.categoryName, `${tp}.category.categoryName`)
        : optStr(t.category, `${tp}.category`);
      const category = yodleeCategory(optStr(t.categoryType, `${tp}.categoryType`), categoryName);
      if (category && !category.known) user.unknownCategory(category.raw);
      conn.transaction(
        {
          account_id: accountId,
          transaction_id: `${container}:${id(t.id, `${tp}.id`)}`,
          amount,
          date: yodleeDate(t[dateField], `${tp}.${dateField}`),
          description,
          type: category?.type,
          pending: t.status === 'PENDING',
        },
        tp,
      );
    }),
  );
  for (const conn of providerAccounts.values()) conn.finish();
  return user.finish();
}

/** A date as text, or as the older shape's object `{ date, format }` (`format` is always yyyy-MM-dd in Yodlee's examples). */
function yodleeDate(v: unknown, path: string): string {
  return isObject(v) ? isoDate(v.date, `${path}.date`) : isoDate(v, path);
}

/** The first present Yodlee Money object `{ amount, currency }` among `fields`. */
function money(a: Json, fields: string[], path: string): { amount: number; currency?: string } | undefined {
  for (const f of fields) {
    const v = a[f];
    if (v === undefined || v === null) continue;
    const m = obj(v, `${path}.${f}`);
    const amount = optBalance(m.amount, `${path}.${f}.amount`);
    if (amount === undefined) continue;
    const currency = optStr(m.currency, `${path}.${f}.currency`) ?? optStr(m.currencyCode, `${path}.${f}.currencyCode`); // older shape: currencyCode
    return currency ? { amount, currency } : { amount };
  }
  return undefined;
}
