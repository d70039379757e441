/** Rejected records as NDJSON (`{"line":12,"sourceId":"u-1","reason":"..."}`): the file a migration fixes and replays. */
import { once } from 'events';
import { createWriteStream, type WriteStream } from 'fs';

export interface RejectRecord {
  line: number;
  sourceId?: string;
  /** A skipped row's connection and field (`--on-bad-row skip`). */
  connection?: string;
  field?: string;
  reason: string;
}

export class RejectsWriter {
  private readonly out: WriteStream;
  private closed = false;
  count = 0;

  /** `row` when the input is a PostgreSQL query: the row number stands where a dump's line number does. */
  private readonly position: 'line' | 'row';

  constructor(readonly path: string, opts: { append?: boolean; position?: 'line' | 'row' } = {}) {
    this.out = createWriteStream(path, { flags: opts.append ? 'a' : 'w' });
    this.position = opts.position ?? 'line';
  }

  /** Resolves at once unless the file is behind, then when it has drained. */
  async write(reject: RejectRecord): Promise<void> {
    if (this.closed) throw new Error('RejectsWriter is closed');
    this.count++;
    const row = {
      [this.position]: reject.line,
      ...(reject.sourceId !== undefined && { sourceId: reject.sourceId }),
      ...(reject.connection !== undefined && { connection: reject.connection }),
      ...(reject.field !== undefined && { field: reject.field }),
      reason: reject.reason,
    };
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
