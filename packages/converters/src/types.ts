import type { ImportLinkRequest } from '@mk/shared';

export const SOURCE_FORMATS = ['canonical', 'plaid', 'mx', 'yodlee', 'finicity', 'akoya'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/**
 * What to do with pending rows. Default 'skip': the import has no pending flag, and a posted Plaid row
 * points at its pending twin, so importing both double-counts. Skipped rows are counted.
 */
export type PendingPolicy = 'skip' | 'include';

/**
 * What an unreadable account or transaction row costs. Default 'skip': the user is imported without it and the
 * row is reported (one bad field must not lose a user's whole history); 'reject' (`--strict`) rejects the user.
 */
export const BAD_ROW_POLICIES = ['skip', 'reject'] as const;
export type BadRowPolicy = (typeof BAD_ROW_POLICIES)[number];

/** A row left out under the 'skip' policy. */
export interface BadRow {
  /** The connection the row belongs to, when it could be told. */
  connectionId?: string;
  /** Path of the field at fault ("transaction[3].postDate"). */
  field: string;
  reason: string;
}

export interface ConvertOptions {
  /** Force a format instead of detecting it per record. */
  format?: SourceFormat;
  pending?: PendingPolicy;
  onBadRow?: BadRowPolicy;
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
  /** Rows left out under `onBadRow: 'skip'`, each with where and why. */
  badRows: BadRow[];
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

/** A record that cannot be converted; `reason` says exactly where and why (never quotes a value). */
export class RecordError extends Error {
  constructor(
    readonly reason: string,
    readonly sourceId?: string,
    /** Path of the field at fault ("transaction[3].postDate"), when one is. */
    readonly field?: string,
  ) {
    super(reason);
    this.name = 'RecordError';
  }
}
