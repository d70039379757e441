import { readFileSync } from 'fs';
import { join } from 'path';
import { importLinkRequestSchema } from '@mk/shared';
import { convertRecord, parseJsonPreservingNumbers, RecordError, type ConvertOptions } from '../src';

/** Public sample files, kept in the repository (samples/README.md names their sources and licences). */
export const SAMPLES = join(__dirname, 'samples');

export function sample<T = Record<string, any>>(name: string): T {
  return JSON.parse(readFileSync(join(SAMPLES, name), 'utf8')) as T;
}

/** Converts a record given as JSON text (so number literals are read exactly) and checks every request against the API schema. */
export function convertText(text: string, opts?: ConvertOptions) {
  const user = convertRecord(parseJsonPreservingNumbers(text), opts);
  for (const c of user.connections) {
    const parsed = importLinkRequestSchema.safeParse(c.request);
    if (!parsed.success) throw new Error(`${c.connectionId}: ${JSON.stringify(parsed.error.issues[0])}`);
  }
  return user;
}

export function convert(record: unknown, opts?: ConvertOptions) {
  return convertText(JSON.stringify(record), opts);
}

/** The error that rejects the whole record (strict: a bad row rejects its user too). */
export function rejection(record: unknown, opts?: ConvertOptions): RecordError {
  try {
    convertText(typeof record === 'string' ? record : JSON.stringify(record), { onBadRow: 'reject', ...opts });
  } catch (e) {
    if (e instanceof RecordError) return e;
    throw e;
  }
  throw new Error('expected the record to be rejected');
}
