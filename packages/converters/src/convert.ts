import { fail, isObject } from './read';
import { detectFormat } from './detect';
import { convertAkoya } from './sources/akoya';
import { convertCanonical } from './sources/canonical';
import { convertFinicity } from './sources/finicity';
import { convertMx } from './sources/mx';
import { convertPlaid } from './sources/plaid';
import { convertYodlee } from './sources/yodlee';
import { RecordError, type ConvertOptions, type ConvertedUser, type SourceFormat } from './types';
import type { Json } from './read';

const CONVERTERS: Record<SourceFormat, (record: Json, opts: ConvertOptions) => ConvertedUser> = {
  canonical: convertCanonical,
  plaid: convertPlaid,
  mx: convertMx,
  yodlee: convertYodlee,
  finicity: convertFinicity,
  akoya: convertAkoya,
};

/** Best-effort id of the record's user, for reject reports (read before conversion, never throws). */
export function sourceIdOf(record: unknown): string | undefined {
  if (!isObject(record)) return undefined;
  const pick = (v: unknown): string | undefined =>
    typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined;
  const nested = (k: string, f: string): string | undefined =>
    isObject(record[k]) ? pick((record[k] as Json)[f]) : undefined;
  return (
    pick(record.user_id) ??
    nested('user', 'id') ??
    nested('user', 'loginName') ??
    nested('customer', 'username') ??
    nested('customer', 'id') ??
    nested('user', 'guid')
  );
}

/**
 * Converts one parsed dump record into a user with one import request per connection.
 * Throws RecordError (with `sourceId` when it can be read) if the record cannot be converted.
 */
export function convertRecord(record: unknown, opts: ConvertOptions = {}): ConvertedUser & { format: SourceFormat } {
  try {
    if (!isObject(record))
      fail(
        '',
        `a record must be a JSON object, got ${record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record}`,
      );
    const format = opts.format ?? detectFormat(record);
    if (!format) fail('', 'unrecognised record format (no known "source" field or envelope keys)');
    return { ...CONVERTERS[format](record, opts), format };
  } catch (e) {
    if (e instanceof RecordError && e.sourceId === undefined)
      throw new RecordError(e.reason, sourceIdOf(record), e.field);
    throw e;
  }
}
