import type { ImportLinkRequest } from '@mk/shared';

export const SOURCE_FORMATS = ['canonical', 'plaid', 'mx', 'yodlee', 'finicity', 'akoya'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/**
 * What to do with pending rows. Default 'skip': the import has no pending flag, and a posted Plaid row
 * points at its pending twin, so importing both double-counts. Skipped rows are counted.
 */
export type PendingPolicy = 'skip' | 'include';

export interface ConvertOptions {
  /** Force a format instead of detecting it per record. */
  format?: SourceFormat;
  pending?: PendingPolicy;
}

export interface ConvertStats {
  accounts: number;
  transactions: number;
  pendingSkipped: number;
  /** Raw source account types with no mapping (imported as `other.<raw>`), one entry per distinct value. */
  unknownAccountTypes: string[];
  /** Raw source categories with no mapping (imported as lower_snake free text), one entry per distinct value. */
  unknownCategories: string[];
  /** Connections that cannot become a link (no accounts): left out of `connections`, said here. */
  skippedConnections: { connectionId: string; reason: string }[];
}

export interface ConvertedConnection {
  /** Stable id of the source connection, prefixed with the source (`plaid:<item_id>`): unique across a mixed dump. */
  connectionId: string;
  request: ImportLinkRequest;
}

export interface ConvertedUser {
  sourceUserId: string;
  connections: ConvertedConnection[];
  stats: ConvertStats;
}

/** A record that cannot be converted; `reason` says exactly where and why (never contains PII values). */
export class RecordError extends Error {
  constructor(
    readonly reason: string,
    readonly sourceId?: string,
  ) {
    super(reason);
    this.name = 'RecordError';
  }
}
