/**
 * Assembles one user's connections the same way for every source: the rules that do not depend on
 * the source (duplicate accounts, orphan transactions, pending policy, counting) live here once.
 */
import type { CustomerUser, ImportAccount, ImportLinkRequest, ImportTransaction, Provider } from '@mk/shared';
import { fail } from './read';
import {
  RecordError,
  type BadRowPolicy,
  type ConvertOptions,
  type ConvertedUser,
  type ConvertStats,
  type PendingPolicy,
} from './types';

const PHONE_COUNTRIES = new Set(['US', 'GB', 'CA']);

export interface UserContact {
  id: string;
  email?: string;
  phone?: string;
  /** Only when the source states it; MoneyKit accepts US, GB or CA. */
  phoneCountry?: string;
}

/** MoneyKit's customer user: id 4–150 characters; contact details only when well-formed (they are optional). */
export function customerUser(c: UserContact, path: string): CustomerUser {
  if (c.id.length < 4 || c.id.length > 150)
    fail(path, `user id must be 4–150 characters for MoneyKit, got ${c.id.length}`);
  const user: CustomerUser = { id: c.id };
  const email = c.email?.trim();
  if (email && email.length >= 4 && email.length <= 254 && email.includes('@')) user.email = { address: email };
  const phone = c.phone?.trim();
  if (phone && phone.length >= 4 && phone.length <= 30) {
    const country = c.phoneCountry?.trim().toUpperCase();
    user.phone =
      country && PHONE_COUNTRIES.has(country)
        ? { number: phone, country: country as 'US' | 'GB' | 'CA' }
        : { number: phone };
  }
  return user;
}

export interface ConnectionInput {
  connectionId: string;
  provider: Provider;
  institutionId: string;
}

/** What a row reader learns before it fails: the connection its row belongs to, for the report. */
export interface RowContext {
  connectionId?: string;
}

/** A transaction as a source converter reads it, before the shared rules apply. */
export interface SourceTransaction extends ImportTransaction {
  pending: boolean;
}

export class UserBuilder {
  private readonly stats: ConvertStats = {
    accounts: 0,
    transactions: 0,
    pendingSkipped: 0,
    unknownAccountTypes: [],
    unknownCategories: [],
    skippedConnections: [],
    badRows: [],
  };
  private readonly unknownTypes = new Set<string>();
  private readonly unknownCats = new Set<string>();
  private readonly connections: ConvertedUser['connections'] = [];
  private readonly connectionIds = new Set<string>();

  private readonly pending: PendingPolicy;
  private readonly badRowPolicy: BadRowPolicy;

  constructor(
    readonly sourceUserId: string,
    private readonly customer: CustomerUser,
    opts: ConvertOptions,
  ) {
    this.pending = opts.pending ?? 'skip';
    this.badRowPolicy = opts.onBadRow ?? 'skip';
  }

  /**
   * Reads one account or transaction row. Under the 'skip' policy a row that cannot be read is left out and
   * reported (where and why); under 'reject' its error rejects the whole user. A reader adds its row last, so a
   * failing one adds nothing.
   */
  row(read: (at: RowContext) => void): void {
    const at: RowContext = {};
    if (this.badRowPolicy === 'reject') return read(at);
    try {
      read(at);
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      this.stats.badRows.push({
        ...(at.connectionId !== undefined && { connectionId: at.connectionId }),
        field: e.field ?? '',
        reason: e.reason,
      });
    }
  }

  unknownAccountType(raw: string): void {
    this.unknownTypes.add(raw);
  }

  unknownCategory(raw: string): void {
    this.unknownCats.add(raw);
  }

  /** Starts a connection; `path` locates it in the record for error messages. */
  connection(input: ConnectionInput, path: string): ConnectionBuilder {
    if (this.connectionIds.has(input.connectionId)) fail(path, `duplicate connection '${input.connectionId}'`);
    this.connectionIds.add(input.connectionId);
    return new ConnectionBuilder(this, input);
  }

  /** @internal called by ConnectionBuilder.finish */
  add(
    input: ConnectionInput,
    accounts: ImportAccount[],
    transactions: ImportTransaction[],
    pendingSkipped: number,
  ): void {
    this.stats.pendingSkipped += pendingSkipped;
    if (accounts.length === 0) {
      this.stats.skippedConnections.push({ connectionId: input.connectionId, reason: 'no accounts' });
      return;
    }
    const request: ImportLinkRequest = {
      customer_user: this.customer,
      provider: input.provider,
      institution_id: input.institutionId,
      accounts,
      transactions,
    };
    this.stats.accounts += accounts.length;
    this.stats.transactions += transactions.length;
    this.connections.push({ connectionId: input.connectionId, request });
  }

  get pendingPolicy(): PendingPolicy {
    return this.pending;
  }

  finish(): ConvertedUser {
    if (this.connections.length === 0) {
      const why = this.stats.skippedConnections.length ? 'no connection has any account' : 'no connections';
      // Its skipped rows are why, and would be lost with the user: the first one is named.
      const first = this.stats.badRows[0];
      const rows = first ? ` (${this.stats.badRows.length} unreadable rows skipped, the first ${first.reason})` : '';
      throw new RecordError(
        `user '${this.sourceUserId}' has nothing to import: ${why}${rows}`,
        undefined,
        first?.field,
      );
    }
    this.stats.unknownAccountTypes = [...this.unknownTypes];
    this.stats.unknownCategories = [...this.unknownCats];
    return { sourceUserId: this.sourceUserId, connections: this.connections, stats: this.stats };
  }
}

export class ConnectionBuilder {
  private readonly accounts: ImportAccount[] = [];
  private readonly accountIds = new Set<string>();
  private readonly transactions: ImportTransaction[] = [];
  private readonly transactionIds = new Set<string>();
  private pendingSkipped = 0;

  constructor(
    private readonly user: UserBuilder,
    private readonly input: ConnectionInput,
  ) {}

  get connectionId(): string {
    return this.input.connectionId;
  }

  account(a: ImportAccount, path: string): void {
    if (this.accountIds.has(a.account_id))
      fail(path, `duplicate account id '${a.account_id}' in connection '${this.input.connectionId}'`);
    this.accountIds.add(a.account_id);
    this.accounts.push(a);
  }

  hasAccount(accountId: string): boolean {
    return this.accountIds.has(accountId);
  }

  transaction(t: SourceTransaction, path: string): void {
    if (!this.accountIds.has(t.account_id))
      fail(path, `account '${t.account_id}' is not an account of connection '${this.input.connectionId}'`);
    if (t.pending && this.user.pendingPolicy === 'skip') {
      this.pendingSkipped++;
      return;
    }
    if (t.transaction_id !== undefined) {
      if (this.transactionIds.has(t.transaction_id)) fail(path, `duplicate transaction id '${t.transaction_id}'`);
      this.transactionIds.add(t.transaction_id);
    }
    const out: ImportTransaction = { account_id: t.account_id, amount: t.amount, date: t.date };
    if (t.transaction_id !== undefined) out.transaction_id = t.transaction_id;
    if (t.description !== undefined) out.description = t.description;
    if (t.type !== undefined) out.type = t.type;
    this.transactions.push(out);
  }

  finish(): void {
    this.user.add(this.input, this.accounts, this.transactions, this.pendingSkipped);
  }
}
