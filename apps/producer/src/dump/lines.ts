/**
 * Splits a byte stream into lines without ever holding more than one line (bounded by `maxLineBytes`):
 * a longer line is skipped to its end and reported, never buffered.
 */
import type { Readable } from 'stream';

export type RawLine =
  /** `bytes`: the line's bytes in the (decompressed) dump, its newline included. */
  { line: number; bytes: number; text: string } | { line: number; bytes: number; tooLong: true };

const NEWLINE = 10;

export async function* splitLines(stream: Readable, maxLineBytes: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let pending = 0; // bytes of the current line seen so far
  let skipping = false;
  let line = 0;

  const emit = (last: Buffer, start: number, end: number, newline: number): RawLine => {
    line++;
    const content = pending + (end - start);
    const bytes = content + newline;
    let out: RawLine;
    if (skipping || content > maxLineBytes) out = { line, bytes, tooLong: true };
    else if (parts.length === 0) out = { line, bytes, text: last.toString('utf8', start, end) };
    else out = { line, bytes, text: Buffer.concat([...parts, last.subarray(start, end)]).toString('utf8') };
    parts = [];
    pending = 0;
    skipping = false;
    return out;
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl === -1) {
        pending += chunk.length - start;
        if (!skipping && pending > maxLineBytes) {
          skipping = true;
          parts = [];
        }
        if (!skipping) parts.push(chunk.subarray(start));
        break;
      }
      yield emit(chunk, start, nl, 1);
      start = nl + 1;
    }
  }
  if (pending > 0) yield emit(Buffer.alloc(0), 0, 0, 0);
}
