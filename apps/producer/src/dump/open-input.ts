/**
 * Opens a dump for streaming: a file path, '-' for stdin, or any Readable. Gzip is recognised by its
 * magic bytes (1f 8b), not by the file name, so `dump.ndjson` that is really gzipped still reads.
 */
import { createReadStream, statSync } from 'fs';
import { PassThrough, Readable, Transform, pipeline } from 'stream';
import { createGunzip } from 'zlib';

export class DumpReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DumpReadError';
  }
}

export type DumpSource = string | Readable;

export interface OpenedInput {
  /** Decompressed bytes. */
  stream: Readable;
  gzip: boolean;
  /** Raw (possibly compressed) bytes consumed so far, for progress against the file size. */
  inputBytes(): number;
}

const CHUNK_BYTES = 1 << 20;

export function describeSource(source: DumpSource): string {
  return typeof source === 'string' ? (source === '-' ? 'stdin' : `'${source}'`) : 'the input stream';
}

async function firstChunk(raw: Readable, source: DumpSource): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const onReadable = (): void => {
      const chunk = raw.read() as Buffer | null;
      if (chunk === null && !raw.readableEnded) return; // not yet
      cleanup();
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new DumpReadError(`cannot read dump ${describeSource(source)}: ${e.message}`));
    };
    const cleanup = (): void => {
      raw.off('readable', onReadable);
      raw.off('end', onEnd);
      raw.off('error', onError);
    };
    raw.on('readable', onReadable);
    raw.on('end', onEnd);
    raw.on('error', onError);
  });
}

export async function openInput(source: DumpSource): Promise<OpenedInput> {
  if (typeof source === 'string' && source !== '-' && statSync(source, { throwIfNoEntry: false })?.isDirectory()) {
    throw new DumpReadError(
      `${describeSource(source)} is a folder, expected an NDJSON dump file; for a folder of saved API responses add --layout responses`,
    );
  }
  const raw: Readable =
    typeof source !== 'string'
      ? source
      : source === '-'
        ? process.stdin
        : createReadStream(source, { highWaterMark: CHUNK_BYTES });
  const head = await firstChunk(raw, source);
  if (head === null) return { stream: Readable.from([]), gzip: false, inputBytes: () => 0 };
  raw.unshift(head);
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (!gzip) {
    let read = 0;
    const counted = new PassThrough({ highWaterMark: CHUNK_BYTES });
    raw.on('data', (c: Buffer) => (read += c.length));
    pipeline(raw, counted, () => undefined); // errors surface on `counted`
    return { stream: counted, gzip: false, inputBytes: () => read };
  }
  let read = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      read += chunk.length;
      done(null, chunk);
    },
  });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  pipeline(raw, counter, gunzip, () => undefined); // errors surface on `gunzip`
  return { stream: gunzip, gzip: true, inputBytes: () => read };
}
