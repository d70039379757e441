/**
 * Finicity (Mastercard Open Banking). A record is one customer with what the customer-level endpoints returned:
 *   { "customer": <Customer>, "accounts": [<CustomerAccount>], "transactions": [<Transaction>] }
 * (a leading "source": "finicity" is allowed). Accounts group into connections by `institutionLoginId`;
 * transactions join accounts on `accountId`. Amounts are signed already (deposits +); dates are Unix epoch
 * seconds, read as UTC dates. Finicity does not document the sign of debt balances: a liability's balance is
 * imported as its absolute value (owed), as MoneyKit reads it.
 */
import type { ImportAccount } from '@mk/shared';
import { finicityAccountType } from '../account-types';
import { type ConnectionBuilder, UserBuilder, customerUser } from '../builder';
import { finicityCategory } from '../categories';
import { absDecimal } from '../decimal';
import {
  arr,
  decimal,
  epochDate,
  epochIso,
  fail,
  id,
  lastFour,
  obj,
  optArr,
  optDecimal,
  optObj,
  optStr,
  str,
  type Json,
} from '../read';
import type { ConvertOptions, ConvertedUser } from '../types';

export function convertFinicity(record: Json, opts: ConvertOptions): ConvertedUser {
  const c = obj(record.customer, 'customer');
  // `username` is the partner's own id for the customer; `id` is Finicity's.
  const userId =
    c.username !== undefined && c.username !== null ? id(c.username, 'customer.username') : id(c.id, 'customer.id');
  const contact = {
    id: userId,
    email: optStr(c.email, 'customer.email'),
    phone: optStr(c.phone, 'customer.phone'),
    phoneCountry: optStr(c.phone_country, 'customer.phone_country'),
  };
  const user = new UserBuilder(userId, customerUser(contact, 'customer'), opts);

  const logins = new Map<string, ConnectionBuilder>();
  const accountConn = new Map<string, ConnectionBuilder>();
  arr(record.accounts, 'accounts').forEach((raw, j) =>
    user.row((at) => {
      const ap = `accounts[${j}]`;
      const a = obj(raw, ap);
      const loginId = id(a.institutionLoginId, `${ap}.institutionLoginId`);
      let conn = logins.get(loginId);
      if (!conn) {
        const institution = id(a.institutionId, `${ap}.institutionId`);
        conn = user.connection(
          { connectionId: `finicity:${loginId}`, provider: 'finicity', institutionId: `finicity.${institution}` },
          ap,
        );
        logins.set(loginId, conn);
      }
      at.connectionId = conn.connectionId;
      const accountId = id(a.id, `${ap}.id`);
      const typeRaw = str(a.type, `${ap}.type`);
      const mapped = finicityAccountType(typeRaw);
      if (!mapped.known) user.unknownAccountType(typeRaw);
      const name = optStr(a.name, `${ap}.name`);
      const nickname = optStr(a.accountNickname, `${ap}.accountNickname`);
      const account: ImportAccount = {
        account_id: accountId,
        name: name ?? nickname ?? '',
        type: mapped.type,
        balances: {},
      };
      if (nickname && nickname !== account.name) account.nickname = nickname;
      // Some institutions give no display mask, only a partly masked `number` ("xxxxxx1234").
      const mask = lastFour(a.accountNumberDisplay) ?? lastFour(a.realAccountNumberLast4) ?? lastFour(a.number);
      if (mask) account.mask = mask;
      const currency = optStr(a.currency, `${ap}.currency`);
      if (currency) account.balances.currency = currency;
      const balance = optDecimal(a.balance, `${ap}.balance`);
      if (balance !== undefined) account.balances.current = Number(mapped.liability ? absDecimal(balance) : balance);
      const detail = optObj(a.detail, `${ap}.detail`);
      const available = optDecimal(
        detail?.availableBalanceAmount ?? detail?.creditAvailableAmount,
        `${ap}.detail.availableBalanceAmount`,
      );
      if (available !== undefined) account.balances.available = Number(available);
      const limit = optDecimal(detail?.creditMaxAmount, `${ap}.detail.creditMaxAmount`);
      if (limit !== undefined) account.balances.limit = Number(limit);
      if (a.balanceDate !== undefined && a.balanceDate !== null)
        account.balances.balance_date = epochIso(a.balanceDate, `${ap}.balanceDate`);
      conn.account(account, ap);
      accountConn.set(accountId, conn);
    }),
  );

  optArr(record.transactions, 'transactions').forEach((raw, k) =>
    user.row((at) => {
      const tp = `transactions[${k}]`;
      const t = obj(raw, tp);
      const accountId = id(t.accountId, `${tp}.accountId`);
      const conn =
        accountConn.get(accountId) ?? fail(`${tp}.accountId`, `'${accountId}' is not an account of this customer`);
      at.connectionId = conn.connectionId;
      const dateField = t.postedDate != null && t.postedDate !== 0 ? 'postedDate' : 'transactionDate';
      const categorization = optObj(t.categorization, `${tp}.categorization`);
      const category = finicityCategory(
        categorization ? optStr(categorization.category, `${tp}.categorization.category`) : undefined,
      );
      if (category && !category.known) user.unknownCategory(category.raw);
      conn.transaction(
        {
          account_id: accountId,
          transaction_id: id(t.id, `${tp}.id`),
          amount: decimal(t.amount, `${tp}.amount`),
          date: epochDate(t[dateField], `${tp}.${dateField}`),
          description: optStr(t.description, `${tp}.description`) ?? optStr(t.memo, `${tp}.memo`),
          type: category?.type,
          pending: typeof t.status === 'string' && t.status.toLowerCase() === 'pending',
        },
        tp,
      );
    }),
  );
  for (const conn of logins.values()) conn.finish();
  return user.finish();
}
