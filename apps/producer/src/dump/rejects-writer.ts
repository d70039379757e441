/**
 * Rejected records as NDJSON (`{"line":12,"sourceId":"u-1","reason":"..."}`): the file a migration fixes and replays.
 * The file (and its folder) is created at the first reject: a clean dump leaves none behind.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { RejectRecord } from '@mk/ledger';

export class RejectsWriter {
  private out: WriteStream | undefined;
  private closed = false;
  count = 0;

  /** `row` when the input is a PostgreSQL query: the row number stands where a dump's line number does. */
  private readonly position: 'line' | 'row';

  constructor(
    readonly path: string,
    private readonly opts: { append?: boolean; position?: 'line' | 'row' } = {},
  ) {
    this.position = opts.position ?? 'line';
  }

  private open(): WriteStream {
    mkdirSync(path.dirname(this.path), { recursive: true });
    this.out = createWriteStream(this.path, { flags: this.opts.append ? 'a' : 'w' });
    return this.out;
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
    const out = this.out ?? this.open();
    if (!out.write(JSON.stringify(row) + '\n')) await once(out, 'drain');
  }

  /** Flushes and closes; safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.out) return;
    this.out.end();
    await once(this.out, 'close');
  }
}
