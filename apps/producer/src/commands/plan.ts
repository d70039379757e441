/**
 * `plan`: a dry run. Reads and converts the whole dump, enqueues nothing, says what a run would do, `run`'s rules
 * included: a user may be spread over several lines, and a connection read again at another line is rejected.
 * To know that, it keeps every source user and connection id it has read (~100 B each, e.g. ~200 MB for a
 * million users with 1.2 million connections); a run asks the ledger instead.
 */
import type { ConvertOptions } from '@mk/converters';
import type { InputLayout } from '../dump';
import { connectionField } from '@mk/ledger';
import { duplicateConnection, usersOf } from '../dump-source';
import { RejectsWriter } from '../dump';

export interface PlanSummary {
  /** Distinct source users. */
  users: number;
  /** Dump lines that hold a user (more than `users` when some are spread over several lines). */
  userRecords: number;
  /** Users whose connections are on more than one line (each line is imported as its own job). */
  usersOnSeveralLines: number;
  /** Connections read again at another line: rejected (counted in `rejects`), the first occurrence kept. */
  duplicateConnections: number;
  /** Connections to import. */
  connections: number;
  accounts: number;
  transactions: number;
  pendingSkipped: number;
  rejects: number;
  /** Of `rejects`: unreadable rows left out of users imported without them (`--on-bad-row skip`). */
  rowsSkipped: number;
  /** Connections whose import body exceeds 1 MB, and the extra calls their transactions take. */
  oversizedConnections: number;
  transactionBatches: number;
  apiCalls: number;
  unknownAccountTypes: number;
  unknownCategories: number;
  estimatedHours: number;
  ratePerMinute: number;
  dumpBytes: number;
}

export async function plan(
  dump: string,
  opts: ConvertOptions & { layout?: InputLayout; query?: string; ratePerMinute: number; rejectsPath?: string },
): Promise<PlanSummary> {
  const s: PlanSummary = {
    users: 0,
    userRecords: 0,
    usersOnSeveralLines: 0,
    duplicateConnections: 0,
    connections: 0,
    accounts: 0,
    transactions: 0,
    pendingSkipped: 0,
    rejects: 0,
    rowsSkipped: 0,
    oversizedConnections: 0,
    transactionBatches: 0,
    apiCalls: 0,
    unknownAccountTypes: 0,
    unknownCategories: 0,
    estimatedHours: 0,
    ratePerMinute: opts.ratePerMinute,
    dumpBytes: 0,
  };
  const unknownTypes = new Set<string>();
  const unknownCategories = new Set<string>();
  const rejects = opts.rejectsPath
    ? new RejectsWriter(opts.rejectsPath, { position: opts.query !== undefined ? 'row' : 'line' })
    : undefined;
  /** Source user → the first line holding it, or -1 once seen on a second line. */
  const userLines = new Map<string, number>();
  /** user⇥connection → the line that holds it. */
  const connectionLines = new Map<string, number>();
  for await (const item of usersOf(dump, opts)) {
    s.dumpBytes += item.ok ? item.user.bytes : item.bytes;
    if (!item.ok) {
      s.rejects++;
      await rejects?.write(item.reject);
      continue;
    }
    const { user } = item;
    s.rejects += item.rejects.length;
    for (const r of item.rejects) await rejects?.write(r);
    const connections = [];
    for (const c of user.connections) {
      const field = connectionField(user.sourceUserId, c.connectionId);
      const first = connectionLines.get(field);
      if (first === undefined) {
        connectionLines.set(field, user.line);
        connections.push(c);
        continue;
      }
      s.duplicateConnections++;
      s.rejects++;
      await rejects?.write(duplicateConnection(user, c.connectionId, first));
    }
    if (connections.length === 0) continue;
    const seenAt = userLines.get(user.sourceUserId);
    if (seenAt === undefined) {
      userLines.set(user.sourceUserId, user.line);
      s.users++;
    } else if (seenAt !== -1) {
      userLines.set(user.sourceUserId, -1);
      s.usersOnSeveralLines++;
    }
    s.userRecords++;
    s.connections += connections.length;
    for (const c of connections) {
      s.accounts += c.request.accounts.length;
      s.transactions += c.request.transactions.length;
      if (c.batches > 0) s.oversizedConnections++;
      s.transactionBatches += c.batches;
    }
    s.pendingSkipped += user.pendingSkipped;
    s.rowsSkipped += user.rowsSkipped;
    user.unknownAccountTypes.forEach((t) => unknownTypes.add(t));
    user.unknownCategories.forEach((c) => unknownCategories.add(c));
  }
  await rejects?.close();
  s.unknownAccountTypes = unknownTypes.size;
  s.unknownCategories = unknownCategories.size;
  s.apiCalls = s.connections + s.transactionBatches;
  s.estimatedHours = s.apiCalls / opts.ratePerMinute / 60;
  return s;
}

export function formatPlan(s: PlanSummary): string {
  const duration =
    s.estimatedHours >= 48 ? `${(s.estimatedHours / 24).toFixed(1)} days` : `${s.estimatedHours.toFixed(2)} hours`;
  return [
    `users ${s.users}, connections ${s.connections}, accounts ${s.accounts}, transactions ${s.transactions}`,
    `users spread over several lines ${s.usersOnSeveralLines} (${s.userRecords} lines, one import job each); duplicate connections rejected ${s.duplicateConnections}`,
    `rejected records/connections/rows ${s.rejects} (unreadable rows left out of imported users ${s.rowsSkipped}); pending rows skipped ${s.pendingSkipped}`,
    `unknown account types ${s.unknownAccountTypes}, unknown categories ${s.unknownCategories} (imported as free text)`,
    `over 1 MB: ${s.oversizedConnections} connections → ${s.transactionBatches} extra /import/transactions calls of ≤ 1 MB`,
    `API calls ${s.apiCalls} at ${s.ratePerMinute}/min → about ${duration}`,
  ].join('\n');
}
