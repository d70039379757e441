/**
 * Which source a parsed record comes from: its `source` field when present, else the shape of its
 * top-level keys (each envelope has one key no other has). Cheap: a few property lookups per record.
 */
import { isObject } from './read';
import { SOURCE_FORMATS, type SourceFormat } from './types';

const BY_NAME = new Set<string>(SOURCE_FORMATS);

export function detectFormat(record: unknown): SourceFormat | undefined {
  if (!isObject(record)) return undefined;
  const declared = record.source ?? record.format;
  if (typeof declared === 'string') {
    const name = declared.toLowerCase();
    return BY_NAME.has(name) ? (name as SourceFormat) : undefined;
  }
  if (Array.isArray(record.connections) && record.user_id !== undefined) return 'canonical';
  if (Array.isArray(record.items)) return 'plaid';
  if (Array.isArray(record.members)) return 'mx';
  if (Array.isArray(record.providerAccount)) return 'yodlee';
  if (isObject(record.customer) && Array.isArray(record.accounts)) return 'finicity';
  if (Array.isArray(record.providers)) return 'akoya';
  return undefined;
}
