/**
 * Canonical: records already in MoneyKit's import shape, for companies that pre-converted their data.
 *   { "source"?: "canonical", "user_id": "u-1", "connections": [ { "connection_id": "c-1", "request": <ImportLinkRequest> } ] }
 * Amounts may be decimal strings or JSON numbers (normalised exactly); everything else is validated against
 * the import schema. `connection_id` is kept as given: it is already the company's own stable id.
 */
import { importLinkRequestSchema, type ImportLinkRequest, type ImportTransaction } from '@mk/shared';
import { arr, decimal, fail, id, isCalendarDate, obj, optDateTime, str, type Json } from '../read';
import type { ConvertOptions, ConvertedUser, ConvertStats } from '../types';

export function convertCanonical(record: Json, _opts: ConvertOptions): ConvertedUser {
  const userId = id(record.user_id, 'user_id');
  const stats: ConvertStats = {
    accounts: 0,
    transactions: 0,
    pendingSkipped: 0,
    unknownAccountTypes: [],
    unknownCategories: [],
    skippedConnections: [],
    badRows: [],
  };
  const seen = new Set<string>();
  const connections = arr(record.connections, 'connections').map((raw, i) => {
    const p = `connections[${i}]`;
    const c = obj(raw, p);
    const connectionId = id(c.connection_id, `${p}.connection_id`);
    if (seen.has(connectionId)) fail(`${p}.connection_id`, `duplicate connection '${connectionId}'`);
    seen.add(connectionId);
    const request = obj(c.request, `${p}.request`);
    // zod checks the request's head; the (possibly thousands of) transactions get an equivalent hand check,
    // ~10x faster on heavy users.
    const rawTransactions = request.transactions;
    const parsed = importLinkRequestSchema.safeParse({ ...request, transactions: [] });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
      fail(`${p}.request${where}`, issue.message);
    }
    const req: ImportLinkRequest = parsed.data;
    req.accounts.forEach((a, j) =>
      optDateTime(a.balances.balance_date, `${p}.request.accounts[${j}].balances.balance_date`),
    );
    const accountIds = new Set(req.accounts.map((a) => a.account_id));
    const transactionIds = new Set<string>();
    req.transactions = arr(rawTransactions, `${p}.request.transactions`).map((t, k) =>
      transaction(t, accountIds, transactionIds, `${p}.request.transactions[${k}]`),
    );
    if (req.customer_user.id !== userId) fail(`${p}.request.customer_user.id`, `does not match user_id '${userId}'`);
    stats.accounts += req.accounts.length;
    stats.transactions += req.transactions.length;
    return { connectionId, request: req };
  });
  if (connections.length === 0) fail('connections', 'is empty');
  return { sourceUserId: userId, connections, stats };
}

const DATE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/; // as importTransactionSchema

/** The same rules as importTransactionSchema (+ exact amount normalisation), without zod's per-row cost. */
function transaction(
  raw: unknown,
  accountIds: Set<string>,
  transactionIds: Set<string>,
  path: string,
): ImportTransaction {
  const t = obj(raw, path);
  const accountId = str(t.account_id, `${path}.account_id`);
  if (!accountIds.has(accountId))
    fail(`${path}.account_id`, `'${accountId}' does not match any account of the request`);
  const date = str(t.date, `${path}.date`);
  if (!DATE.test(date) || !isCalendarDate(date)) fail(`${path}.date`, 'is not YYYY-MM-DD or an ISO-8601 date-time');
  const out: ImportTransaction = { account_id: accountId, amount: decimal(t.amount, `${path}.amount`), date };
  if (t.transaction_id !== undefined) {
    // Same rule as every other source (builder.ts): a repeated id would import one row twice or hide one.
    const transactionId = str(t.transaction_id, `${path}.transaction_id`);
    if (transactionIds.has(transactionId))
      fail(`${path}.transaction_id`, `duplicate transaction id '${transactionId}'`);
    transactionIds.add(transactionId);
    out.transaction_id = transactionId;
  }
  if (t.description !== undefined) out.description = str(t.description, `${path}.description`);
  if (t.type !== undefined) out.type = str(t.type, `${path}.type`);
  return out;
}
