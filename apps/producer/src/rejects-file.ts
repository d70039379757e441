import fs from 'node:fs';
import path from 'node:path';

/** Rejected records, one JSON line each: {line, sourceId, reason}. Each pass re-reads the whole dump, so it rewrites the file. */
export class RejectsFile {
  private readonly stream: fs.WriteStream;
  count = 0;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.stream = fs.createWriteStream(file, { flags: 'w' });
  }

  write(entry: { line: number; sourceId?: string; reason: string }): void {
    this.count++;
    this.stream.write(`${JSON.stringify(entry)}\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}
