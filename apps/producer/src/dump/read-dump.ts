/**
 * Streams a dump (NDJSON, gzip or not, file or stdin) into converted users, one result per non-blank line.
 * A bad line becomes a rejected result naming its line and reason; reading goes on. Only an unreadable
 * input (missing file, corrupt gzip) ends the iteration, with a DumpReadError saying where.
 */
import {
  DEFAULT_MAX_DEPTH,
  JsonInputError,
  RecordError,
  convertRecord,
  parseJsonPreservingNumbers,
  sourceIdOf,
  type BadRowPolicy,
  type ConvertedUser,
  type PendingPolicy,
  type SourceFormat,
} from '@mk/converters';
import { splitLines } from './lines';
import { DumpReadError, describeSource, openInput, type DumpSource } from './open-input';
import { emptyInput, wrongInput } from './wrong-input';
import { readResponsesFolder } from './responses-folder';
import { readPostgres } from './postgres-source';

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** How the input is laid out: an NDJSON dump, or a folder of saved API responses (responses-folder.ts). */
export const INPUT_LAYOUTS = ['ndjson', 'responses'] as const;
export type InputLayout = (typeof INPUT_LAYOUTS)[number];

export interface ReadDumpOptions {
  /** Force one format for every record instead of detecting it per record. */
  format?: SourceFormat;
  pending?: PendingPolicy;
  onBadRow?: BadRowPolicy;
  layout?: InputLayout;
  /** With a postgres:// source: the query whose `record` column holds one record per row. */
  query?: string;
  /** Longest accepted line (bytes); longer lines are skipped and rejected without being buffered. */
  maxLineBytes?: number;
  /** Deepest accepted JSON nesting. */
  maxDepth?: number;
  /** Lines up to and including this one are counted but not parsed (resuming a run). */
  startAfterLine?: number;
}

export type DumpResult =
  { ok: true; user: ConvertedUser; format: SourceFormat } | { ok: false; reason: string; sourceId?: string };

export interface DumpEntry {
  /** 1-based line number in the (decompressed) dump. */
  line: number;
  /** Bytes of the line, newline included. */
  bytes: number;
  /** Raw input bytes consumed so far (compressed bytes for gzip): progress against the file size. */
  inputBytes: number;
  result: DumpResult;
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 0xfeff) return false;
  }
  return true;
}

/** Converts one dump line; never throws for bad content. */
export function convertLine(text: string, opts: ReadDumpOptions = {}): DumpResult {
  let record: unknown;
  try {
    record = parseJsonPreservingNumbers(text, { maxDepth: opts.maxDepth ?? DEFAULT_MAX_DEPTH });
  } catch (e) {
    if (e instanceof JsonInputError) return { ok: false, reason: e.reason };
    throw e;
  }
  return convertParsed(record, opts);
}

/** Converts one parsed record; never throws for bad content. */
export function convertParsed(record: unknown, opts: ReadDumpOptions = {}): DumpResult {
  try {
    const { format, ...user } = convertRecord(record, {
      format: opts.format,
      pending: opts.pending,
      onBadRow: opts.onBadRow,
    });
    return { ok: true, user, format };
  } catch (e) {
    if (e instanceof RecordError)
      return e.sourceId === undefined
        ? { ok: false, reason: e.reason }
        : { ok: false, reason: e.reason, sourceId: e.sourceId };
    // A converter bug must not pass silently as a rejected record, but must not kill the run either.
    const sourceId = sourceIdOf(record);
    const reason = `internal converter error: ${(e as Error).message}`;
    return sourceId === undefined ? { ok: false, reason } : { ok: false, reason, sourceId };
  }
}

export async function* readDump(source: DumpSource, opts: ReadDumpOptions = {}): AsyncGenerator<DumpEntry> {
  if (opts.query !== undefined) {
    if (typeof source !== 'string') throw new DumpReadError('--query reads from a postgres:// URL (--from)');
    yield* readPostgres(source, opts.query, opts);
    return;
  }
  if (opts.layout === 'responses') {
    if (typeof source !== 'string' || source === '-')
      throw new DumpReadError('--layout responses reads a folder: give its path, not stdin');
    yield* readResponsesFolder(source, opts);
    return;
  }
  const maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const skipUntil = opts.startAfterLine ?? 0;
  const input = await openInput(source);
  const where = `dump ${describeSource(source)}`;
  let lastLine = 0;
  /** The first record line waits for the next one: alone, a JSON array or an unclosed document is the whole input. */
  let first: { entry: () => DumpEntry; text: string } | undefined;
  let records = 0;
  try {
    for await (const raw of splitLines(input.stream, maxLineBytes)) {
      lastLine = raw.line;
      if (raw.line <= skipUntil) continue;
      if ('tooLong' in raw) {
        records++;
        if (first) yield first.entry();
        first = undefined;
        yield {
          line: raw.line,
          bytes: raw.bytes,
          inputBytes: input.inputBytes(),
          result: { ok: false, reason: `line is ${raw.bytes} bytes, over the ${maxLineBytes}-byte limit` },
        };
        continue;
      }
      let text = raw.text;
      if (raw.line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
      if (text.length === 0 || isBlank(text)) continue;
      const entry = (line = raw.line, bytes = raw.bytes, t = text): DumpEntry => ({
        line,
        bytes,
        inputBytes: input.inputBytes(),
        result: convertLine(t, opts),
      });
      if (skipUntil === 0 && ++records <= 2) {
        if (records === 1) {
          const wrong = wrongInput(where, text, false);
          if (wrong) throw wrong;
          const { line, bytes } = raw;
          first = { entry: () => entry(line, bytes, text), text };
          continue;
        }
        if (first) yield first.entry();
        first = undefined;
      }
      yield entry();
    }
    if (first) {
      const wrong = wrongInput(where, first.text, true);
      if (wrong) throw wrong;
      yield first.entry();
    }
    if (skipUntil === 0 && records === 0) throw emptyInput(where);
  } catch (e) {
    if (e instanceof DumpReadError) throw e;
    const what = input.gzip ? 'gzip data is corrupt or truncated' : 'read failed';
    throw new DumpReadError(`cannot read dump after line ${lastLine}: ${what} (${(e as Error).message})`);
  }
}
