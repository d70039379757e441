/**
 * The producer CLI: plan (dry run), run (enqueue, resumable), status, runs, report, retry. Returns an exit code
 * (see exit-codes.ts) instead of exiting, so tests drive it in-process.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { Queue } from 'bullmq';
import { z } from 'zod';
import { ConfigError, PRODUCTS, createLogger, importJob, connectRedis, productSchema, checkRedisServer, type Product, type Redis } from '@mk/shared';
import { MigrationLedger, NEEDS_PRODUCER } from '@mk/ledger';
import { SOURCE_FORMATS, type SourceFormat, type PendingPolicy } from '@mk/converters';
import { loadProducerConfig, requireRedisUrl, type ProducerConfig } from './config';
import { EXIT, type ExitCode } from './exit-codes';
import { plan, formatPlan } from './commands/plan';
import { enqueueRun } from './commands/run';
import { retryFailed } from './commands/retry';
import { exitCodeOf, formatStatus, openOutput, runStatus, writeReport } from './commands/report';
import { formatRuns, listRuns } from './commands/runs';
import { progressReporter } from './progress';
import { formatLinkState, formatRefreshStats } from './commands/refresh';
import { RefreshRegistry } from '@mk/refresh';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};

const productList = (v: string) => {
  const parsed = z.array(productSchema).min(1).safeParse(v.split(',').map((p) => p.trim()).filter(Boolean));
  if (!parsed.success) throw new InvalidArgumentError(`must be products from ${PRODUCTS.join(', ')}, comma-separated`);
  return parsed.data;
};

const formatOption = () => new Option('--format <format>', 'source format (detected per record when omitted)').choices([...SOURCE_FORMATS]);
const pendingOption = () => new Option('--pending <policy>', 'pending transactions: skip (default) or include').choices(['skip', 'include']).default('skip');

async function withRedis<T>(config: ProducerConfig, fn: (ctx: { redis: Redis; ledger: MigrationLedger; queue: Queue }) => Promise<T>): Promise<T> {
  const redis = await connectRedis(requireRedisUrl(config), 'producer', { timeoutMs: config.REDIS_CONNECT_TIMEOUT_MS });
  try {
    const queue = new Queue(importJob.queue, { connection: redis, prefix: config.REDIS_PREFIX });
    try {
      return await fn({ redis, ledger: new MigrationLedger(redis, config.REDIS_PREFIX), queue });
    } finally {
      await queue.close();
    }
  } finally {
    redis.disconnect();
  }
}

const WAIT_POLL_MS = 1000;

/**
 * Polls the run's state until it is completed, or stalled for a reason only a new `run` can clear (connections
 * with no import job): nothing would ever end that wait. Through the other stalls (queue paused, no worker,
 * MoneyKit unreachable: an operator or MoneyKit clears them) it keeps waiting and says why, once per change.
 */
async function waitForRun(ledger: MigrationLedger, queue: Queue, runId: string, io: Io, timeoutMs = Infinity): Promise<ExitCode> {
  const started = Date.now();
  let lastLine = '';
  for (;;) {
    const status = await runStatus(ledger, runId, queue);
    const { state } = status;
    if (state.state === 'completed' || state.state === 'completed_with_failures') return exitCodeOf(status);
    if (state.stalled.some((r) => NEEDS_PRODUCER.includes(r.kind))) {
      io.err(`giving up the wait: ${state.summary}`);
      return EXIT.stalled;
    }
    const line = state.state === 'stalled'
      ? `waiting, ${state.summary}`
      : `waiting: imported ${status.counts.imported}/${status.total}, failed ${status.counts.failed}, ${state.throughputPerMin.toFixed(1)}/min`;
    if (line !== lastLine) io.err(line);
    lastLine = line;
    if (Date.now() - started > timeoutMs) return exitCodeOf(status);
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) }): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.success;
  let config: ProducerConfig;
  try {
    config = loadProducerConfig(env);
  } catch (err) {
    io.err((err as Error).message);
    return EXIT.error;
  }
  const logger = createLogger('producer', { level: config.LOG_LEVEL });
  /** The refresh registry the workers share (its timing from the same settings: TIME_SCALE, REFRESH_*). */
  const openRegistry = (redis: Redis) => RefreshRegistry.open(redis, config.REDIS_PREFIX, config.refresh);
  const program = new Command('mk-migrate')
    .description('Migrate users from another aggregator to MoneyKit: plan, run, status, runs, report, retry.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('plan')
    .description('dry run: read and convert the dump, enqueue nothing, print what a run would do')
    .argument('<dump>', 'NDJSON dump, gzipped or not; - for stdin')
    .addOption(formatOption())
    .addOption(pendingOption())
    .option('--rejects <file>', 'write rejected records here')
    .option('--json', 'print the plan as JSON')
    .action(async (dump: string, o: { format?: SourceFormat; pending: PendingPolicy; rejects?: string; json?: boolean }) => {
      const summary = await plan(dump, { ...(o.format && { format: o.format }), pending: o.pending, ratePerMinute: config.IMPORT_RATE_PER_MIN, ...(o.rejects && { rejectsPath: o.rejects }) });
      io.out(o.json ? JSON.stringify(summary, null, 2) : formatPlan(summary));
      exitCode = summary.rejects > 0 ? EXIT.partial : EXIT.success;
    });

  program
    .command('run')
    .description('enqueue one import job per dump line; run it again to resume after a crash')
    .argument('<dump>', 'NDJSON dump, gzipped or not; - for stdin')
    .requiredOption('--run <id>', 'run id: the same id resumes the same migration')
    .addOption(formatOption())
    .addOption(pendingOption())
    .option('--rejects <file>', 'rejected records file (default <run>.rejects.ndjson)')
    .option('--max-waiting <n>', 'import jobs allowed to wait in the queue', positiveInt)
    .option('--refresh-products <list>', 'products to keep fresh for this run\'s links, e.g. accounts,transactions (default: the workers\' REFRESH_PRODUCTS)', productList)
    .option('--wait', 'wait until every connection is imported or failed, then exit with the outcome (5 when stalled with connections no job will import)')
    .action(async (dump: string, o: { run: string; format?: SourceFormat; pending: PendingPolicy; rejects?: string; maxWaiting?: number; refreshProducts?: Product[]; wait?: boolean }) => {
      await withRedis(config, async ({ redis, ledger, queue }) => {
        const check = await checkRedisServer(redis);
        check.problems.forEach((p) => io.err(`warning: ${p}`));
        const bar = progressReporter(dump);
        const progress = await enqueueRun(queue, ledger, {
          runId: o.run, dump, rejectsPath: o.rejects ?? `${o.run}.rejects.ndjson`, maxWaiting: o.maxWaiting ?? config.PRODUCER_MAX_WAITING,
          ...(o.format && { format: o.format }), pending: o.pending, onProgress: (p) => bar.update(p), logger,
          ...(o.refreshProducts && { refreshProducts: o.refreshProducts }),
        }).finally(() => bar.stop());
        const duplicates = progress.duplicateConnections ? ` (${progress.duplicateConnections} duplicate connections)` : '';
        const queued = progress.alreadyQueued ? `, already queued ${progress.alreadyQueued}` : '';
        io.out(`run ${o.run}: read ${progress.users} users, enqueued ${progress.enqueued}${queued}, already done ${progress.skipped}, rejected ${progress.rejects}${duplicates}`);
        exitCode = o.wait ? await waitForRun(ledger, queue, o.run, io) : EXIT.inProgress;
        if (o.wait) io.out(formatStatus(await runStatus(ledger, o.run, queue)));
      });
    });

  program
    .command('status')
    .description("a run's state (running, stalled and why, completed, completed with failures), counts, throughput, ETA")
    .argument('[run]', 'run id (all runs when omitted)')
    .option('--json', 'print as JSON')
    .action(async (runId: string | undefined, o: { json?: boolean }) => {
      await withRedis(config, async ({ ledger, queue }) => {
        const ids = runId ? [runId] : (await ledger.listRuns()).map((r) => r.runId);
        const statuses = await Promise.all(ids.map((id) => runStatus(ledger, id, queue)));
        io.out(o.json ? JSON.stringify(statuses, null, 2) : statuses.map(formatStatus).join('\n\n') || 'no runs yet');
        if (runId) exitCode = exitCodeOf(statuses[0]!);
      });
    });

  program
    .command('runs')
    .description('every run: state, imported, failed, pending and rejected counts, total, age, last activity')
    .addOption(new Option('--format <format>', 'table or json').choices(['table', 'json']).default('table'))
    .action(async (o: { format: 'table' | 'json' }) => {
      await withRedis(config, async ({ ledger, queue }) => {
        const now = Date.now();
        const runs = await listRuns(ledger, queue, now);
        io.out(o.format === 'json' ? JSON.stringify(runs, null, 2) : formatRuns(runs, now));
      });
    });

  program
    .command('report')
    .description('per source connection: MoneyKit link_id, outcome, counts, errors (CSV or JSON)')
    .argument('<run>', 'run id')
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (runId: string, o: { format: 'csv' | 'json'; out?: string }) => {
      await withRedis(config, async ({ redis, ledger, queue }) => {
        const status = await runStatus(ledger, runId, queue);
        const out = openOutput(o.out);
        const rows = await writeReport(ledger, runId, o.format, out, await openRegistry(redis));
        await out.done();
        if (o.out) io.err(`${rows} rows written to ${o.out}`);
        exitCode = exitCodeOf(status);
      });
    });

  program
    .command('links')
    .description("refresh state of links: products, last refreshed, next due, parked and why, and the latest steps of traced links")
    .argument('<link...>', 'MoneyKit link ids')
    .option('--json', 'print as JSON')
    .action(async (linkIds: string[], o: { json?: boolean }) => {
      await withRedis(config, async ({ redis }) => {
        const registry = await openRegistry(redis);
        const states = await Promise.all(linkIds.map((id) => registry.get(id)));
        // a link traced by the workers (REFRESH_TRACE_SAMPLE) keeps its latest steps whatever this process's setting
        const stories = await Promise.all(linkIds.map((id) => registry.trace.story(id)));
        io.out(
          o.json
            ? JSON.stringify(states.map((st, i) => (st && stories[i]!.length ? { ...st, trace: stories[i] } : st)), null, 2)
            : linkIds.map((id, i) => formatLinkState(id, states[i]!, stories[i]!)).join('\n'),
        );
        if (states.some((s) => s === null)) exitCode = EXIT.partial;
      });
    });

  program
    .command('refresh')
    .description("the refresh pipeline's health: links active and parked, due, overdue, quota deferrals")
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      await withRedis(config, async ({ redis }) => {
        const stats = await (await openRegistry(redis)).stats();
        io.out(o.json ? JSON.stringify(stats, null, 2) : formatRefreshStats(stats));
      });
    });

  program
    .command('retry')
    .description("re-drive a run's failed connections")
    .argument('<run>', 'run id')
    .option('--dump <file>', 'the dump (default: the one the run was started from)')
    .addOption(pendingOption())
    .option('--rejects <file>', 'rejected records file of this pass')
    .option('--wait', 'wait until done, then exit with the outcome')
    .action(async (runId: string, o: { dump?: string; pending: PendingPolicy; rejects?: string; wait?: boolean }) => {
      await withRedis(config, async ({ ledger, queue }) => {
        const progress = await retryFailed(queue, ledger, {
          runId, ...(o.dump && { dump: o.dump }), rejectsPath: o.rejects ?? `${runId}.retry.rejects.ndjson`, maxWaiting: config.PRODUCER_MAX_WAITING, pending: o.pending, logger,
        });
        const waiting = progress.waitingForTheirJob ? `; ${progress.waitingForTheirJob} left for their job, still running, to finish first` : '';
        io.out(`run ${runId}: ${progress.connectionsReset} failed connections re-driven (${progress.enqueued} lines enqueued)${waiting}`);
        exitCode = o.wait ? await waitForRun(ledger, queue, runId, io) : EXIT.inProgress;
      });
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.success;
    if (e.code?.startsWith('commander.')) return EXIT.error; // commander already printed the usage error
    io.err(err instanceof ConfigError ? e.message : `error: ${e.message}`);
    return EXIT.error;
  }
}
