/** Rejected records as NDJSON (`{"line":12,"sourceId":"u-1","reason":"..."}`): the file a migration fixes and replays. */
import { once } from 'events';
import { createWriteStream, type WriteStream } from 'fs';
import type { RejectRecord } from '@mk/ledger';

export class RejectsWriter {
  private readonly out: WriteStream;
  private closed = false;
  count = 0;

  constructor(readonly path: string, opts: { append?: boolean } = {}) {
    this.out = createWriteStream(path, { flags: opts.append ? 'a' : 'w' });
  }

  /** Resolves at once unless the file is behind, then when it has drained. */
  async write(reject: RejectRecord): Promise<void> {
    if (this.closed) throw new Error('RejectsWriter is closed');
    this.count++;
    const row = reject.sourceId === undefined ? { line: reject.line, reason: reject.reason } : { line: reject.line, sourceId: reject.sourceId, reason: reject.reason };
    if (!this.out.write(JSON.stringify(row) + '\n')) await once(this.out, 'drain');
  }

  /** Flushes and closes; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.out.end();
    await once(this.out, 'close');
  }
}
