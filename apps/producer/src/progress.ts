/** A progress bar on a terminal; a line every few seconds in logs otherwise (CI, containers). */
import fs from 'node:fs';
import cliProgress from 'cli-progress';
import type { EnqueueProgress } from './commands/run';

export function progressReporter(dump: string): { update(p: EnqueueProgress): void; stop(): void } {
  const total = dump !== '-' && fs.statSync(dump, { throwIfNoEntry: false })?.isFile() ? fs.statSync(dump).size : 0;
  if (!process.stderr.isTTY || total === 0) {
    let last = 0;
    return {
      update(p) {
        if (Date.now() - last < 5000) return;
        last = Date.now();
        process.stderr.write(
          `read ${(p.bytes / 1e6).toFixed(1)} MB, users ${p.users}, enqueued ${p.enqueued}, already queued ${p.alreadyQueued}, already done ${p.skipped}, rejects ${p.rejects}\n`,
        );
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      format:
        'dump {bar} {percentage}% | users {users} | enqueued {enqueued} | done before {skipped} | rejects {rejects} | ETA {eta_formatted}',
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { users: 0, enqueued: 0, skipped: 0, rejects: 0 });
  return {
    update: (p) =>
      bar.update(Math.min(total, p.bytes), {
        users: p.users,
        enqueued: p.enqueued,
        skipped: p.skipped,
        rejects: p.rejects,
      }),
    stop: () => bar.stop(),
  };
}

/** `verify`'s bar on a terminal (connections checked of the run's, mismatches so far); nothing off a terminal. */
export function verifyProgress(): {
  update(p: { done: number; total: number; mismatches: number }): void;
  stop(): void;
} {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: 'verify {bar} {value}/{total} connections | mismatches {mismatches} | ETA {eta_formatted}',
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) bar.start(p.total, 0, { mismatches: 0 });
      started = true;
      bar.update(p.done, { mismatches: p.mismatches });
    },
    stop: () => started && bar.stop(),
  };
}
