/**
 * The sandbox's links and what landed in them. Only what the API can show back is kept: no email or
 * phone of the customer user.
 */
import type { ImportLinkRequest, ImportTransaction, LinkErrorCode, LinkState, Product, Provider } from '@mk/shared';
import { randomId } from './ids';
import { institutionName, institutionProvider, normalizeAccountType } from './institutions';

export interface AccountRecord {
  id: string;
  originalId: string;
  name: string;
  nickname?: string;
  type: string;
  mask?: string;
  balances: { currency?: string; available?: number; current?: number; limit?: number; balance_date?: string };
}

export interface TransactionRecord {
  id: string;
  originalId?: string;
  accountId: string;
  /** Always non-negative; the sign of the imported amount becomes `direction`. */
  amount: string;
  direction: 'credit' | 'debit';
  currency: string;
  date: string;
  datetime: string | null;
  description?: string;
  category?: string;
}

export interface ProductStatus {
  refreshedAt?: Date;
  lastAttemptedAt?: Date;
  errorCode?: string;
  errorMessage?: string;
}

export interface LinkRecord {
  id: string;
  customerUserId: string;
  institutionId: string;
  institutionName: string;
  provider: Provider;
  state: LinkState;
  errorCode: LinkErrorCode | null;
  tags: string[];
  /** Per-link webhook URL (PATCH /links/{id}); null = the sandbox-wide one. */
  webhook: string | null;
  granted: Set<Product>;
  denied: Set<Product>;
  products: Map<Product, ProductStatus>;
  /** When each product's last accepted refresh happened (ms): the per-link quota ledger. */
  lastRefreshAcceptedAt: Map<Product, number>;
  accounts: AccountRecord[];
  accountsByOriginalId: Map<string, AccountRecord>;
  transactions: TransactionRecord[];
  transactionOriginalIds: Set<string>;
  createdAt: Date;
  deletedAt: Date | null;
  duplicateKey: string;
}

export interface CreateResult {
  link: LinkRecord;
  /** A live link with the same user, institution and accounts already existed. */
  duplicate: boolean;
}

export interface AppendResult {
  added: number;
  /** Transactions whose transaction_id the link already had (a retried batch). */
  duplicates: number;
}

/** What an un-reconciled retry reproduces exactly: same user, same institution, same account ids. */
function duplicateKey(req: ImportLinkRequest): string {
  const ids = req.accounts.map((a) => a.account_id).sort();
  return JSON.stringify([req.customer_user.id, req.institution_id, ids]);
}

function isoDateTime(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export class LinkStore {
  private links = new Map<string, LinkRecord>();
  private liveByUser = new Map<string, Set<string>>();
  private liveByDuplicateKey = new Map<string, Set<string>>();

  get(id: string): LinkRecord | undefined {
    return this.links.get(id);
  }

  all(): LinkRecord[] {
    return [...this.links.values()];
  }

  liveCount(): number {
    let n = 0;
    for (const ids of this.liveByUser.values()) n += ids.size;
    return n;
  }

  liveLinksOfUser(customerUserId: string): LinkRecord[] {
    return [...(this.liveByUser.get(customerUserId) ?? [])].map((id) => this.links.get(id)!);
  }

  liveLinksByUser(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [user, ids] of this.liveByUser) out[user] = ids.size;
    return out;
  }

  create(req: ImportLinkRequest, granted: readonly Product[], now = new Date()): CreateResult {
    const key = duplicateKey(req);
    const duplicate = (this.liveByDuplicateKey.get(key)?.size ?? 0) > 0;
    const accounts: AccountRecord[] = req.accounts.map((a) => ({
      id: randomId('acc'),
      originalId: a.account_id,
      name: a.name,
      nickname: a.nickname,
      type: normalizeAccountType(a.type),
      mask: a.mask,
      balances: { ...a.balances, balance_date: isoDateTime(a.balances.balance_date) },
    }));
    const products = new Map<Product, ProductStatus>();
    for (const p of granted) products.set(p, {});
    // The imported data is there from the start: accounts and transactions count as fetched at import.
    for (const p of ['accounts', 'transactions'] as const)
      if (products.has(p)) products.set(p, { refreshedAt: now, lastAttemptedAt: now });
    const link: LinkRecord = {
      id: randomId('mk'),
      customerUserId: req.customer_user.id,
      institutionId: req.institution_id,
      institutionName: institutionName(req.institution_id),
      provider: institutionProvider(req.institution_id, req.provider),
      // Documented: imported links start disconnected with auth_expired until the end user reconnects.
      state: 'error',
      errorCode: 'auth_expired',
      tags: [],
      webhook: null,
      granted: new Set(granted),
      denied: new Set(),
      products,
      lastRefreshAcceptedAt: new Map(),
      accounts,
      accountsByOriginalId: new Map(accounts.map((a) => [a.originalId, a])),
      transactions: [],
      transactionOriginalIds: new Set(),
      createdAt: now,
      deletedAt: null,
      duplicateKey: key,
    };
    this.appendTransactions(link, req.transactions);
    this.links.set(link.id, link);
    addTo(this.liveByUser, link.customerUserId, link.id);
    addTo(this.liveByDuplicateKey, key, link.id);
    return { link, duplicate };
  }

  /** Caller has checked that every transaction's account_id belongs to the link. */
  appendTransactions(link: LinkRecord, transactions: ImportTransaction[]): AppendResult {
    let duplicates = 0;
    for (const t of transactions) {
      const account = link.accountsByOriginalId.get(t.account_id)!;
      const negative = t.amount.startsWith('-');
      const hasTime = t.date.length > 10;
      if (t.transaction_id !== undefined) {
        if (link.transactionOriginalIds.has(t.transaction_id)) duplicates += 1;
        link.transactionOriginalIds.add(t.transaction_id);
      }
      link.transactions.push({
        id: randomId('txn'),
        originalId: t.transaction_id,
        accountId: account.id,
        amount: negative ? t.amount.slice(1) : t.amount,
        direction: negative ? 'debit' : 'credit',
        currency: account.balances.currency ?? 'USD',
        date: t.date.slice(0, 10),
        datetime: hasTime ? (isoDateTime(t.date) ?? null) : null,
        description: t.description,
        category: t.type,
      });
    }
    return { added: transactions.length, duplicates };
  }

  delete(link: LinkRecord, now = new Date()): void {
    link.state = 'deleted';
    link.errorCode = null;
    link.deletedAt = now;
    removeFrom(this.liveByUser, link.customerUserId, link.id);
    removeFrom(this.liveByDuplicateKey, link.duplicateKey, link.id);
  }

  clear(): void {
    this.links.clear();
    this.liveByUser.clear();
    this.liveByDuplicateKey.clear();
  }
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}
