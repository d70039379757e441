/** `plan`: a dry run. Reads and converts the whole dump, enqueues nothing, says what a run would do. */
import type { ConvertOptions } from '@mk/converters';
import { usersOf } from '../dump-source';
import { RejectsWriter } from '../dump';

export interface PlanSummary {
  users: number;
  connections: number;
  accounts: number;
  transactions: number;
  pendingSkipped: number;
  rejects: number;
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

export async function plan(dump: string, opts: ConvertOptions & { ratePerMinute: number; rejectsPath?: string }): Promise<PlanSummary> {
  const s: PlanSummary = {
    users: 0, connections: 0, accounts: 0, transactions: 0, pendingSkipped: 0, rejects: 0, oversizedConnections: 0,
    transactionBatches: 0, apiCalls: 0, unknownAccountTypes: 0, unknownCategories: 0, estimatedHours: 0,
    ratePerMinute: opts.ratePerMinute, dumpBytes: 0,
  };
  const unknownTypes = new Set<string>();
  const unknownCategories = new Set<string>();
  const rejects = opts.rejectsPath ? new RejectsWriter(opts.rejectsPath) : undefined;
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
    s.users++;
    s.connections += user.connections.length;
    s.accounts += user.accounts;
    s.transactions += user.transactions;
    s.pendingSkipped += user.pendingSkipped;
    for (const c of user.connections) {
      if (c.batches > 0) s.oversizedConnections++;
      s.transactionBatches += c.batches;
    }
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
  const duration = s.estimatedHours >= 48 ? `${(s.estimatedHours / 24).toFixed(1)} days` : `${s.estimatedHours.toFixed(2)} hours`;
  return [
    `users ${s.users}, connections ${s.connections}, accounts ${s.accounts}, transactions ${s.transactions}`,
    `rejected records/connections ${s.rejects}; pending rows skipped ${s.pendingSkipped}`,
    `unknown account types ${s.unknownAccountTypes}, unknown categories ${s.unknownCategories} (imported as free text)`,
    `over 1 MB: ${s.oversizedConnections} connections → ${s.transactionBatches} extra /import/transactions calls of ≤ 1 MB`,
    `API calls ${s.apiCalls} at ${s.ratePerMinute}/min → about ${duration}`,
  ].join('\n');
}
