/**
 * Canonical: records already in MoneyKit's import shape, for companies that pre-converted their data.
 *   { "source"?: "canonical", "user_id": "u-1", "connections": [ { "connection_id": "c-1", "request": <ImportLinkRequest> } ] }
 * Amounts may be decimal strings or JSON numbers (normalised exactly); everything else is validated against
 * the import schema. `connection_id` is kept as given: it is already the company's own stable id.
 */
import { importLinkRequestSchema, type ImportLinkRequest } from '@mk/shared';
import { toDecimal, DecimalError } from '../decimal';
import { arr, fail, id, isObject, obj, type Json } from '../read';
import type { ConvertOptions, ConvertedUser, ConvertStats } from '../types';

export function convertCanonical(record: Json, _opts: ConvertOptions): ConvertedUser {
  const userId = id(record.user_id, 'user_id');
  const stats: ConvertStats = { accounts: 0, transactions: 0, pendingSkipped: 0, unknownAccountTypes: [], unknownCategories: [], skippedConnections: [] };
  const seen = new Set<string>();
  const connections = arr(record.connections, 'connections').map((raw, i) => {
    const p = `connections[${i}]`;
    const c = obj(raw, p);
    const connectionId = id(c.connection_id, `${p}.connection_id`);
    if (seen.has(connectionId)) fail(`${p}.connection_id`, `duplicate connection '${connectionId}'`);
    seen.add(connectionId);
    const request = obj(c.request, `${p}.request`);
    normaliseAmounts(request, `${p}.request`);
    const parsed = importLinkRequestSchema.safeParse(request);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
      fail(`${p}.request${where}`, issue.message);
    }
    const req: ImportLinkRequest = parsed.data;
    if (req.customer_user.id !== userId) fail(`${p}.request.customer_user.id`, `does not match user_id '${userId}'`);
    stats.accounts += req.accounts.length;
    stats.transactions += req.transactions.length;
    return { connectionId, request: req };
  });
  if (connections.length === 0) fail('connections', 'is empty');
  return { sourceUserId: userId, connections, stats };
}

function normaliseAmounts(request: Json, path: string): void {
  if (!Array.isArray(request.transactions)) return;
  request.transactions.forEach((t, k) => {
    if (!isObject(t) || t.amount === undefined) return;
    try {
      t.amount = toDecimal(t.amount);
    } catch (e) {
      if (e instanceof DecimalError) fail(`${path}.transactions[${k}].amount`, e.reason);
      throw e;
    }
  });
}
