/**
 * MX Platform API. A record is one MX user with what the list endpoints returned for them:
 *   { "source": "mx", "user": <UserResponse> (+ optional "phone", "phone_country"),
 *     "members": [<MemberResponse>], "accounts": [<AccountResponse>], "transactions": [<TransactionResponse>] }
 * Accounts join members on `member_guid`, transactions join accounts on `account_guid`.
 * MX amounts are unsigned: the sign comes from `type` (CREDIT +, DEBIT −).
 */
import type { ImportAccount } from '@mk/shared';
import { mxAccountType } from '../account-types';
import { type ConnectionBuilder, UserBuilder, customerUser } from '../builder';
import { mxCategory } from '../categories';
import { absDecimal, negateDecimal } from '../decimal';
import {
  arr,
  decimal,
  fail,
  id,
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

export function convertMx(record: Json, opts: ConvertOptions): ConvertedUser {
  const u = obj(record.user, 'user');
  // MX's `id` is the partner's own user id; `guid` is MX's. The company's id is the one to keep.
  const userId = u.id !== undefined && u.id !== null ? id(u.id, 'user.id') : id(u.guid, 'user.guid');
  const contact = {
    id: userId,
    email: optStr(u.email, 'user.email'),
    phone: optStr(u.phone, 'user.phone'),
    phoneCountry: optStr(u.phone_country, 'user.phone_country'),
  };
  const user = new UserBuilder(userId, customerUser(contact, 'user'), opts);

  const members = new Map<string, ConnectionBuilder>();
  arr(record.members, 'members').forEach((raw, i) => {
    const p = `members[${i}]`;
    const m = obj(raw, p);
    const guid = id(m.guid, `${p}.guid`);
    const institution = id(m.institution_code, `${p}.institution_code`);
    members.set(
      guid,
      user.connection({ connectionId: `mx:${guid}`, provider: 'mx', institutionId: `mx.${institution}` }, p),
    );
  });

  const accountMember = new Map<string, ConnectionBuilder>();
  optArr(record.accounts, 'accounts').forEach((raw, j) =>
    user.row((at) => {
      const ap = `accounts[${j}]`;
      const a = obj(raw, ap);
      const memberGuid = id(a.member_guid, `${ap}.member_guid`);
      const conn = members.get(memberGuid) ?? fail(`${ap}.member_guid`, `'${memberGuid}' is not a member of this user`);
      at.connectionId = conn.connectionId;
      const guid = id(a.guid, `${ap}.guid`);
      const typeRaw = str(a.type, `${ap}.type`);
      const subtype = optStr(a.subtype, `${ap}.subtype`);
      const mapped = mxAccountType(typeRaw, subtype);
      if (!mapped.known) user.unknownAccountType(typeRaw);
      const name = optStr(a.name, `${ap}.name`);
      const nickname = optStr(a.nickname, `${ap}.nickname`);
      const account: ImportAccount = {
        account_id: guid,
        name: name ?? nickname ?? '',
        type: mapped.type,
        balances: {},
      };
      if (nickname && nickname !== account.name) account.nickname = nickname;
      const mask = lastFour(a.account_number);
      if (mask) account.mask = mask;
      const currency = optStr(a.currency_code, `${ap}.currency_code`);
      if (currency) account.balances.currency = currency;
      const available = optBalance(a.available_balance, `${ap}.available_balance`);
      if (available !== undefined) account.balances.available = available;
      const current = optBalance(a.balance, `${ap}.balance`);
      if (current !== undefined) account.balances.current = current;
      const limit = optBalance(a.credit_limit, `${ap}.credit_limit`);
      if (limit !== undefined) account.balances.limit = limit;
      const updated = optDateTime(a.updated_at, `${ap}.updated_at`);
      if (updated) account.balances.balance_date = updated;
      conn.account(account, ap);
      accountMember.set(guid, conn);
    }),
  );

  optArr(record.transactions, 'transactions').forEach((raw, k) =>
    user.row((at) => {
      const tp = `transactions[${k}]`;
      const t = obj(raw, tp);
      const accountGuid = id(t.account_guid, `${tp}.account_guid`);
      const conn =
        accountMember.get(accountGuid) ?? fail(`${tp}.account_guid`, `'${accountGuid}' is not an account of this user`);
      at.connectionId = conn.connectionId;
      const direction = str(t.type, `${tp}.type`);
      const unsigned = absDecimal(decimal(t.amount, `${tp}.amount`));
      let amount: string;
      if (direction === 'CREDIT') amount = unsigned;
      else if (direction === 'DEBIT') amount = negateDecimal(unsigned);
      else fail(`${tp}.type`, 'is not CREDIT or DEBIT');
      // MX's own `date` prefers the transaction date; the posted date is `posted_at`.
      const posted = t.posted_at ?? t.date ?? t.transacted_at;
      const category = mxCategory(
        optStr(t.top_level_category, `${tp}.top_level_category`),
        optStr(t.category, `${tp}.category`),
      );
      if (category && !category.known) user.unknownCategory(category.raw);
      conn.transaction(
        {
          account_id: accountGuid,
          transaction_id: id(t.guid, `${tp}.guid`),
          amount,
          date: isoDate(
            posted,
            `${tp}.${t.posted_at != null ? 'posted_at' : t.date != null ? 'date' : 'transacted_at'}`,
          ),
          description:
            optStr(t.description, `${tp}.description`) ?? optStr(t.original_description, `${tp}.original_description`),
          type: category?.type,
          pending: t.status === 'PENDING',
        },
        tp,
      );
    }),
  );
  for (const conn of members.values()) conn.finish();
  return user.finish();
}
