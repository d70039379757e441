/**
 * A table of users for the PostgreSQL source's tests and bench, built by the server itself (generate_series), so
 * neither holds the table in memory: one Plaid user per row in a jsonb `record` column, one item, one account, two
 * transactions. Every `badRowEvery`-th user has one unreadable transaction amount; every `notARecordEvery`-th row
 * holds a JSON string instead of a record.
 */
import { escapeIdentifier, type Client } from 'pg';

export interface UsersTableOptions {
  badRowEvery?: number;
  notARecordEvery?: number;
}

export async function createPlaidUsersTable(
  client: Client,
  table: string,
  users: number,
  opts: UsersTableOptions = {},
): Promise<void> {
  const bad = opts.badRowEvery ?? 0;
  const notRecord = opts.notARecordEvery ?? 0;
  const badAmount =
    bad > 0 ? `case when i % ${bad} = 0 then to_jsonb('x'::text) else to_jsonb(-2500.5) end` : 'to_jsonb(-2500.5)';
  const record = `jsonb_build_object(
    'source', 'plaid', 'user', jsonb_build_object('id', 'user-' || lpad(i::text, 7, '0'), 'email', 'u' || i || '@example.com'),
    'items', jsonb_build_array(jsonb_build_object(
      'item', jsonb_build_object('item_id', 'item-' || i, 'institution_id', 'ins_3'),
      'accounts', jsonb_build_array(jsonb_build_object('account_id', 'a-' || i, 'name', 'Checking', 'type', 'depository', 'subtype', 'checking',
        'balances', jsonb_build_object('current', 110.25, 'iso_currency_code', 'USD'))),
      'transactions', jsonb_build_array(
        jsonb_build_object('transaction_id', 't1-' || i, 'account_id', 'a-' || i, 'amount', 12.34, 'date', '2025-06-01', 'name', 'Shop', 'pending', false),
        jsonb_build_object('transaction_id', 't2-' || i, 'account_id', 'a-' || i, 'amount', ${badAmount}, 'date', '2025-06-02', 'name', 'Payroll', 'pending', false)))))`;
  const value =
    notRecord > 0 ? `case when i % ${notRecord} = 0 then to_jsonb('not a record'::text) else ${record} end` : record;
  await client.query(
    `create table ${escapeIdentifier(table)} as select i as id, ${value} as record from generate_series(1, ${Math.floor(users)}) as i`,
  );
  await client.query(`alter table ${escapeIdentifier(table)} add primary key (id)`);
}
