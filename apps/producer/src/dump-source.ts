/** What every command reading a dump needs: the records, each checked against the 1 MB rule. */
import { planImport, type ImportConnection } from '@mk/shared';
import type { ConvertOptions } from '@mk/converters';
import type { NewConnection, RejectRecord } from '@mk/ledger';
import { readDump, type InputLayout } from './dump';

export interface DumpUser {
  line: number;
  bytes: number;
  sourceUserId: string;
  /** `rowsSkipped`: unreadable rows left out of the connection (each one also in `rejects`). */
  connections: (ImportConnection & { batches: number; rowsSkipped: number })[];
  accounts: number;
  transactions: number;
  unknownAccountTypes: string[];
  unknownCategories: string[];
  pendingSkipped: number;
  rowsSkipped: number;
}

/** A connection of the dump as the ledger registers it: its counts, not its data. */
export const ledgerConnection = (c: DumpUser['connections'][number]): NewConnection => ({
  connectionId: c.connectionId,
  accounts: c.request.accounts.length,
  transactions: c.request.transactions.length,
  batchesTotal: c.batches,
  rowsSkipped: c.rowsSkipped,
});

export type DumpItem =
  | { ok: true; user: DumpUser; inputBytes: number; rejects: RejectRecord[] }
  | { ok: false; line: number; bytes: number; inputBytes: number; reject: RejectRecord };

/** A connection read again at another line: rejected at the later line, naming both (the first occurrence is kept). */
export function duplicateConnection(
  user: Pick<DumpUser, 'line' | 'sourceUserId'>,
  connectionId: string,
  firstLine: number,
): RejectRecord {
  return {
    line: user.line,
    sourceId: connectionId,
    reason: `duplicate connection ${connectionId} of source user ${user.sourceUserId}: first read at line ${firstLine} (kept), again at line ${user.line}`,
  };
}

/** Streams users from a dump; connections that can never fit the 1 MB rule are rejected, the rest go on. */
export async function* usersOf(
  dump: string,
  opts: ConvertOptions & { layout?: InputLayout; query?: string },
): AsyncGenerator<DumpItem> {
  for await (const item of readDump(dump, opts)) {
    const { line, bytes, inputBytes, result } = item;
    if (!result.ok) {
      yield {
        ok: false,
        line,
        bytes,
        inputBytes,
        reject: { line, reason: result.reason, ...(result.sourceId ? { sourceId: result.sourceId } : {}) },
      };
      continue;
    }
    const { user } = result;
    const rejects: RejectRecord[] = user.stats.skippedConnections.map((s) => ({
      line,
      sourceId: s.connectionId,
      reason: s.reason,
    }));
    const rowsSkipped = new Map<string, number>();
    for (const row of user.stats.badRows) {
      rejects.push({
        line,
        sourceId: user.sourceUserId,
        ...(row.connectionId !== undefined && { connection: row.connectionId }),
        field: row.field,
        reason: row.reason,
      });
      if (row.connectionId !== undefined)
        rowsSkipped.set(row.connectionId, (rowsSkipped.get(row.connectionId) ?? 0) + 1);
    }
    const connections: DumpUser['connections'] = [];
    for (const c of user.connections) {
      try {
        connections.push({
          ...c,
          batches: planImport(c.request).batches.length,
          rowsSkipped: rowsSkipped.get(c.connectionId) ?? 0,
        });
      } catch (err) {
        rejects.push({ line, sourceId: c.connectionId, reason: (err as Error).message });
      }
    }
    if (connections.length === 0) {
      yield {
        ok: false,
        line,
        bytes,
        inputBytes,
        reject: { line, sourceId: user.sourceUserId, reason: rejects[0]?.reason ?? 'no importable connection' },
      };
      continue;
    }
    yield {
      ok: true,
      inputBytes,
      rejects,
      user: {
        line,
        bytes,
        sourceUserId: user.sourceUserId,
        connections,
        accounts: connections.reduce((n, c) => n + c.request.accounts.length, 0),
        transactions: connections.reduce((n, c) => n + c.request.transactions.length, 0),
        unknownAccountTypes: user.stats.unknownAccountTypes,
        unknownCategories: user.stats.unknownCategories,
        pendingSkipped: user.stats.pendingSkipped,
        rowsSkipped: user.stats.badRows.length,
      },
    };
  }
}
