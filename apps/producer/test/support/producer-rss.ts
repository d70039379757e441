/**
 * The producer CLI in a process of its own, so that its peak RSS is its own: runs `main(argv)` like
 * apps/producer/src/main.ts, then prints its CPU time (`cpu-ms`) and `max-rss <bytes>` (resourceUsage().maxRSS) as
 * its last lines; with --expose-gc also `heap-used <bytes>` after a full GC (what the run still holds).
 *   node --import tsx apps/producer/test/support/producer-rss.ts <mk-migrate arguments…>
 */
import { main } from '../../src/cli';

main(process.argv.slice(2)).then(
  (code) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.(); // with --expose-gc: what the run still holds once its garbage is gone
    if (gc) process.stdout.write(`\nheap-used ${process.memoryUsage().heapUsed}`);
    const usage = process.resourceUsage();
    process.stdout.write(`\ncpu-ms ${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)}`);
    process.stdout.write(`\nmax-rss ${usage.maxRSS * 1024}\n`);
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`producer-rss: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
