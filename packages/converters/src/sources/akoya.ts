/**
 * Akoya (FDX). A record is one user of the company with, per data provider they connected, what
 * Akoya's accounts and transactions endpoints returned:
 *   { "source": "akoya", "user": { "id", "email"?, "phone"?, "phone_country"? },
 *     "providers": [ { "providerId": "mikomo", "accounts": [...], "transactions": [...] } ] }
 * Accounts and transactions may be FDX-wrapped (`{ "depositAccount": {...} }`, `{ "locTransaction": {...} }`)
 * or bare. A connection is user + provider (`akoya:<user id>:<providerId>`). FDX's docs contradict
 * themselves on signed amounts, so the sign comes from `debitCreditMemo` (DEBIT −, CREDIT +) over |amount|.
 */
import type { ImportAccount } from '@mk/shared';
import { akoyaAccountType } from '../account-types';
import { UserBuilder, customerUser } from '../builder';
import { mccCategory } from '../categories';
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
  optId,
  optDateTime,
  optStr,
  type Json,
} from '../read';
import type { ConvertOptions, ConvertedUser } from '../types';
import { readUserContact } from './user';

const PENDING_STATUSES = new Set(['PENDING', 'MEMO', 'AUTHORIZATION']);

/** FDX wraps each item in a one-key object naming its family: `{ "depositAccount": {...} }`. */
function unwrap(
  v: unknown,
  suffix: 'Account' | 'Transaction',
  path: string,
): { item: Json; family?: string; path: string } {
  const o = obj(v, path);
  const keys = Object.keys(o);
  if (keys.length === 1 && keys[0]!.endsWith(suffix) && isObject(o[keys[0]!])) {
    const k = keys[0]!;
    return { item: o[k] as Json, family: k.slice(0, -suffix.length), path: `${path}.${k}` };
  }
  return { item: o, path };
}

export function convertAkoya(record: Json, opts: ConvertOptions): ConvertedUser {
  const contact = readUserContact(record.user, 'user');
  const user = new UserBuilder(contact.id, customerUser(contact, 'user'), opts);
  arr(record.providers, 'providers').forEach((raw, i) => {
    const p = `providers[${i}]`;
    const entry = obj(raw, p);
    const providerId = id(entry.providerId, `${p}.providerId`);
    const conn = user.connection(
      { connectionId: `akoya:${contact.id}:${providerId}`, provider: 'akoya', institutionId: `akoya.${providerId}` },
      p,
    );

    optArr(entry.accounts, `${p}.accounts`).forEach((rawAccount, j) =>
      user.row((at) => {
        at.connectionId = conn.connectionId;
        const { item: a, family, path: ap } = unwrap(rawAccount, 'Account', `${p}.accounts[${j}]`);
        const accountId = id(a.accountId, `${ap}.accountId`);
        const accountType = optStr(a.accountType, `${ap}.accountType`);
        const mapped = akoyaAccountType(accountType, family);
        if (!mapped.known) user.unknownAccountType(accountType ?? family ?? 'unknown');
        const nickname = optStr(a.nickname, `${ap}.nickname`);
        const productName = optStr(a.productName, `${ap}.productName`);
        const account: ImportAccount = {
          account_id: accountId,
          name: productName ?? nickname ?? '',
          type: mapped.type,
          balances: {},
        };
        if (nickname && nickname !== account.name) account.nickname = nickname;
        const mask = lastFour(a.accountNumberDisplay);
        if (mask) account.mask = mask;
        const currency = isObject(a.currency)
          ? optStr(a.currency.currencyCode, `${ap}.currency.currencyCode`)
          : optStr(a.currency, `${ap}.currency`);
        if (currency) account.balances.currency = currency;
        // Investment accounts carry their balance as `currentValue` (FDX InvestmentAccount) or `marketValue`.
        const currentField =
          ['currentBalance', 'principalBalance', 'currentValue', 'marketValue'].find((f) => a[f] != null) ??
          'currentBalance';
        const current = optBalance(a[currentField], `${ap}.${currentField}`);
        if (current !== undefined) account.balances.current = current;
        const availableField =
          ['availableBalance', 'availableCredit', 'availableCashBalance'].find((f) => a[f] != null) ??
          'availableBalance';
        const available = optBalance(a[availableField], `${ap}.${availableField}`);
        if (available !== undefined) account.balances.available = available;
        const limit = optBalance(a.creditLine, `${ap}.creditLine`);
        if (limit !== undefined) account.balances.limit = limit;
        const asOf = optDateTime(a.balanceAsOf, `${ap}.balanceAsOf`);
        if (asOf) account.balances.balance_date = asOf;
        conn.account(account, ap);
      }),
    );

    optArr(entry.transactions, `${p}.transactions`).forEach((rawTx, k) =>
      user.row((at) => {
        at.connectionId = conn.connectionId;
        const { item: t, path: tp } = unwrap(rawTx, 'Transaction', `${p}.transactions[${k}]`);
        const dcm = optStr(t.debitCreditMemo, `${tp}.debitCreditMemo`);
        const value = decimal(t.amount, `${tp}.amount`);
        let amount: string;
        if (dcm === 'DEBIT') amount = negateDecimal(absDecimal(value));
        else if (dcm === 'CREDIT') amount = absDecimal(value);
        else if (dcm === undefined || dcm === 'MEMO') amount = value;
        else fail(`${tp}.debitCreditMemo`, 'is not DEBIT, CREDIT or MEMO');
        const dateField = t.postedTimestamp != null ? 'postedTimestamp' : 'transactionTimestamp';
        const mcc = optId(t.merchantCategoryCode ?? t.mcc ?? t.sicCode, `${tp}.merchantCategoryCode`);
        const category = mccCategory(mcc);
        if (category && !category.known) user.unknownCategory(category.raw);
        const status = optStr(t.status, `${tp}.status`);
        conn.transaction(
          {
            account_id: id(t.accountId, `${tp}.accountId`),
            transaction_id: id(t.transactionId, `${tp}.transactionId`),
            amount,
            date: isoDate(t[dateField], `${tp}.${dateField}`),
            description: optStr(t.description, `${tp}.description`) ?? optStr(t.memo, `${tp}.memo`),
            type: category?.type,
            pending: status !== undefined && PENDING_STATUSES.has(status),
          },
          tp,
        );
      }),
    );
    conn.finish();
  });
  return user.finish();
}
