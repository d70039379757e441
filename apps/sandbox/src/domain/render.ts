/**
 * Records → the API's response shapes. Optional fields are omitted rather than null: the contract types
 * them as plain strings/enums.
 */
import type { Link, Product } from '@mk/shared';
import { institutionAvatar } from './institutions';
import type { AccountRecord, LinkRecord, ProductStatus, TransactionRecord } from './links';

export interface AccountResponse {
  account_id: string;
  account_type: string;
  name: string;
  nickname?: string;
  account_mask?: string;
  balances: AccountRecord['balances'];
  original_id: string;
}

export interface TransactionResponse {
  transaction_id: string;
  account_id: string;
  amount: string;
  type: 'credit' | 'debit';
  currency: string;
  date: string;
  datetime: string | null;
  description?: string;
  raw_description?: string;
  pending: boolean;
  category?: string;
  original_id?: string;
}

function renderProduct(product: Product, status: ProductStatus): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (status.refreshedAt) out.refreshed_at = status.refreshedAt.toISOString();
  if (status.lastAttemptedAt) out.last_attempted_at = status.lastAttemptedAt.toISOString();
  if (status.errorCode) out.error_code = status.errorCode;
  if (status.errorMessage) out.error_message = status.errorMessage;
  if (product === 'transactions') out.has_history = true;
  return out;
}

export function renderLink(link: LinkRecord, defaultWebhook: string | null): Link {
  const products: Record<string, Record<string, unknown>> = {};
  for (const [product, status] of link.products) {
    products[product] = link.denied.has(product)
      ? {
          ...renderProduct(product, status),
          error_code: 'no_permission',
          error_message: 'The user did not grant access to this data.',
        }
      : renderProduct(product, status);
  }
  const out: Link = {
    link_id: link.id,
    institution_id: link.institutionId,
    institution_name: link.institutionName,
    institution_avatar: institutionAvatar(link.institutionId),
    state: link.state,
    provider: link.provider,
    link_tags: [...link.tags],
    products,
    available_products: availableProducts(link),
  };
  if (link.errorCode) out.error_code = link.errorCode;
  const webhook = link.webhook ?? defaultWebhook;
  if (webhook) out.webhook = webhook;
  return out;
}

/** What may be refreshed: granted at link time and not withdrawn since. */
export function availableProducts(link: LinkRecord): Product[] {
  return [...link.granted].filter((p) => !link.denied.has(p));
}

export function renderAccount(a: AccountRecord): AccountResponse {
  const out: AccountResponse = {
    account_id: a.id,
    account_type: a.type,
    name: a.name,
    balances: stripUndefined(a.balances),
    original_id: a.originalId,
  };
  if (a.nickname !== undefined) out.nickname = a.nickname;
  if (a.mask !== undefined) out.account_mask = a.mask;
  return out;
}

export function renderTransaction(t: TransactionRecord): TransactionResponse {
  const out: TransactionResponse = {
    transaction_id: t.id,
    account_id: t.accountId,
    amount: t.amount,
    type: t.direction,
    currency: t.currency,
    date: t.date,
    datetime: t.datetime,
    pending: false,
  };
  if (t.description !== undefined) {
    out.description = t.description;
    out.raw_description = t.description;
  }
  if (t.category !== undefined) out.category = t.category;
  if (t.originalId !== undefined) out.original_id = t.originalId;
  return out;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
