/**
 * The packed per-link refresh state: one short string per link, small enough (≤ 64 bytes for 4 products)
 * that Redis keeps the bucket hashes holding it listpack-encoded. The Lua scripts (lua/lib.lua) read and
 * write the same format; this module decodes it for get() and encodes test fixtures.
 *
 *   <mode><reason>,<product><status><time>,<product><status><time>,...
 *
 * mode: '.' active (in the due index) | 'p' parked | 'x' removed (a tombstone: never refreshed again)
 * reason: one base-36 char, an index into REASONS ('0' = none)
 * product: one char (PRODUCT_CODES); status: one char (STATUS); time: the product's quota reference in ms
 * since STATE_EPOCH_MS, base 36, empty when never refreshed. The quota reference is the latest moment
 * MoneyKit may have received a refresh of that product: the next one may be claimed `allowMs` after it.
 */
import { LINK_ERRORS, PRODUCTS, type Product } from '@mk/shared';

export const STATE_EPOCH_MS = Date.UTC(2025, 0, 1);

export const PRODUCT_CODES: Record<Product, string> = {
  accounts: 'a',
  account_numbers: 'n',
  identity: 'i',
  transactions: 't',
  investments: 'v',
  enrichment: 'e',
};
const PRODUCT_BY_CODE = Object.fromEntries(Object.entries(PRODUCT_CODES).map(([p, c]) => [c, p as Product])) as Record<
  string,
  Product
>;

export function productCode(product: Product): string {
  return PRODUCT_CODES[product];
}
export function productFromCode(code: string): Product {
  const product = PRODUCT_BY_CODE[code];
  if (!product) throw new Error(`unknown product code "${code}"`);
  return product;
}
/** Products in a canonical order (the job id and the call body use it). */
export function sortProducts(products: Iterable<Product>): Product[] {
  const set = new Set(products);
  return PRODUCTS.filter((p) => set.has(p));
}

/** Why a link is parked or removed, or a product stopped. Unknown upstream codes become 'other'. */
export const REASONS = [
  'none',
  'manual',
  ...LINK_ERRORS,
  'bad_state',
  'not_found',
  'deleted',
  'forbidden',
  'not_granted',
  'terminal',
  'other',
] as const;
export type Reason = (typeof REASONS)[number];
const REASON_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
if (REASONS.length > REASON_DIGITS.length) throw new Error('too many reasons for one base-36 digit');

export function reasonCode(reason: string): string {
  const i = (REASONS as readonly string[]).indexOf(reason);
  return REASON_DIGITS[i >= 0 ? i : REASONS.indexOf('other')]!;
}
export function reasonFromCode(code: string): Reason {
  return REASONS[REASON_DIGITS.indexOf(code)] ?? 'other';
}

export const STATUS = {
  idle: '-',
  inFlight: 'i',
  accepted: 'q',
  completed: 'c',
  failed: 'f',
  /** The outcome of the last attempt is unknown: refresh again as soon as the quota allows. */
  retry: 'r',
  forbidden: 'x',
  notGranted: 'g',
} as const;
export type ProductStatus = keyof typeof STATUS;
const STATUS_BY_CODE = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k as ProductStatus])) as Record<
  string,
  ProductStatus
>;
export const STOPPED_STATUSES: ReadonlySet<ProductStatus> = new Set(['forbidden', 'notGranted']);

export type LinkMode = 'active' | 'parked' | 'removed';
const MODE_CODES: Record<LinkMode, string> = { active: '.', parked: 'p', removed: 'x' };
const MODE_BY_CODE = Object.fromEntries(Object.entries(MODE_CODES).map(([k, v]) => [v, k as LinkMode])) as Record<
  string,
  LinkMode
>;

export interface PackedProduct {
  product: Product;
  status: ProductStatus;
  /** Quota reference, epoch ms; undefined = never refreshed by us. */
  refAt?: number;
}

export interface PackedLink {
  mode: LinkMode;
  reason: Reason;
  products: PackedProduct[];
}

export function encodeTime(ms: number): string {
  return Math.max(0, Math.round(ms - STATE_EPOCH_MS)).toString(36);
}
export function decodeTime(s: string): number {
  return parseInt(s, 36) + STATE_EPOCH_MS;
}

export function decodeLink(packed: string): PackedLink {
  const [head = '', ...entries] = packed.split(',');
  const mode = MODE_BY_CODE[head[0] ?? ''];
  if (!mode) throw new Error(`corrupt refresh state "${packed}"`);
  return {
    mode,
    reason: reasonFromCode(head[1] ?? '0'),
    products: entries.map((e) => {
      const status = STATUS_BY_CODE[e[1] ?? ''];
      if (!status) throw new Error(`corrupt refresh state "${packed}"`);
      const time = e.slice(2);
      return { product: productFromCode(e[0]!), status, ...(time && { refAt: decodeTime(time) }) };
    }),
  };
}

export function encodeLink(link: PackedLink): string {
  const head = `${MODE_CODES[link.mode]}${reasonCode(link.reason)}`;
  const entries = link.products.map(
    (p) => `${productCode(p.product)}${STATUS[p.status]}${p.refAt === undefined ? '' : encodeTime(p.refAt)}`,
  );
  return [head, ...entries].join(',');
}
