import { z } from 'zod';

export const PRODUCTS = [
  'accounts',
  'account_numbers',
  'identity',
  'transactions',
  'investments',
  'enrichment',
] as const;
export type Product = (typeof PRODUCTS)[number];
export const productSchema = z.enum(PRODUCTS);

const HOUR = 3600;
const DAY = 24 * HOUR;

/**
 * Minimum seconds between two refreshes of one product on one link (MoneyKit's per-link quota).
 * investments and enrichment have no documented quota: they get the conservative daily default.
 */
export type RefreshQuotaTable = Record<Product, number>;
export const DEFAULT_REFRESH_QUOTAS: RefreshQuotaTable = {
  accounts: HOUR,
  transactions: HOUR,
  account_numbers: DAY,
  identity: DAY,
  investments: DAY,
  enrichment: DAY,
};

/** Parses overrides such as `transactions=86400,identity=86400` on top of the defaults. */
export function parseQuotaTable(
  spec: string | undefined,
  base: RefreshQuotaTable = DEFAULT_REFRESH_QUOTAS,
): RefreshQuotaTable {
  const table = { ...base };
  if (!spec) return table;
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, seconds] = part.split('=');
    const product = productSchema.safeParse(name?.trim());
    const value = Number(seconds);
    if (!product.success) throw new Error(`unknown product "${name}" (expected one of ${PRODUCTS.join(', ')})`);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`quota for ${name} must be a positive number of seconds, got "${seconds}"`);
    table[product.data] = value;
  }
  return table;
}

/**
 * Tests and rehearsals run "days" in seconds: every quota window and cadence is divided by the time scale.
 * The sandbox and the service must be given the same scale.
 */
export function windowMs(seconds: number, timeScale = 1): number {
  return Math.max(1, Math.round((seconds * 1000) / timeScale));
}
