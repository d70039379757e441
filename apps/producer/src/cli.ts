/**
 * The producer CLI: plan (dry run), run (enqueue, resumable), status, runs, report, retry. Returns an exit code
 * (see exit-codes.ts) instead of exiting, so tests drive it in-process.
 */
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Queue } from 'bullmq';
import { z } from 'zod';
import {
  ConfigError,
  wantsHelp,
  PayloadSealer,
  PRODUCTS,
  requirePayloadKeys,
  createLogger,
  importJob,
  connectRedis,
  productSchema,
  checkRedisServer,
  queuePrefixOn,
  SANDBOX_UPSTREAM,
  type Product,
  type Redis,
} from '@mk/shared';
import { MigrationLedger, NEEDS_PRODUCER } from '@mk/ledger';
import {
  BAD_ROW_POLICIES,
  SOURCE_FORMATS,
  type BadRowPolicy,
  type SourceFormat,
  type PendingPolicy,
} from '@mk/converters';
import { loadProducerConfig, requireRedisTarget, type ProducerConfig } from './config';
import { EXIT, type ExitCode } from './exit-codes';
import { INPUT_LAYOUTS, redactUrl, type InputLayout } from './dump';
import { writeReportToPostgres } from './commands/report-postgres';
import { plan, formatPlan } from './commands/plan';
import { enqueueRun } from './commands/run';
import { retryFailed } from './commands/retry';
import { purgeRun, RunNotFinishedError } from './commands/purge';
import { exitCodeOf, formatStatus, openOutput, runStatus, writeReport } from './commands/report';
import { formatRuns, listRuns } from './commands/runs';
import { formatReconnectSummary, parseAge, writeReconnects } from './commands/reconnects';
import { notifyBacklog, resendEvents } from './commands/notify';
import { progressReporter } from './progress';
import { waitReporter } from './wait-reporter';
import { formatLinkState, formatRefreshStats } from './commands/refresh';
import { RefreshRegistry } from '@mk/refresh';
import { queueTelemetry } from '@mk/telemetry';
import { createClientFromEnv } from '@mk/moneykit-client';
import { formatTopup, topup, waitForTopup, topupOutcome } from './commands/topup';
import { formatVerify, verifyRun } from './commands/verify';
import { reconnectedFromRegistry } from './topup/reconnected';
import { ReadLimiter } from './verify/read-limiter';
import { verifyProgress } from './progress';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Raw text for the wait's progress (no newline added); default: `err` line by line, as off a terminal. */
  progress?: { tty: boolean; write: (s: string) => void };
}

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive whole number');
  return n;
};

const productList = (v: string) => {
  const parsed = z
    .array(productSchema)
    .min(1)
    .safeParse(
      v
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    );
  if (!parsed.success) throw new InvalidArgumentError(`must be products from ${PRODUCTS.join(', ')}, comma-separated`);
  return parsed.data;
};

const formatOption = () =>
  new Option('--format <format>', 'source format (detected per record when omitted)').choices([...SOURCE_FORMATS]);
const layoutOption = () =>
  new Option(
    '--layout <layout>',
    'ndjson: a dump file or stdin; responses: a folder of saved API responses, <dir>/<source>/<user>/[<connection>/]<endpoint>[.<page>].json',
  )
    .choices([...INPUT_LAYOUTS])
    .default('ndjson');
/** The input: a dump (file, stdin, folder) or `--from postgres://… --query …`, never both. */
function inputOf(dump: string | undefined, o: { from?: string; query?: string }): { dump: string; query?: string } {
  if (o.from !== undefined) {
    if (dump !== undefined) throw new InvalidArgumentError('give a dump or --from, not both');
    if (!o.query) throw new InvalidArgumentError('--from needs --query "select … as record from …"');
    return { dump: o.from, query: o.query };
  }
  if (o.query !== undefined) throw new InvalidArgumentError('--query goes with --from postgres://…');
  if (dump === undefined)
    throw new InvalidArgumentError(
      'missing the dump: a file, - for stdin, a folder with --layout responses, or --from postgres://… --query …',
    );
  return { dump };
}
const badRowOption = () =>
  new Option(
    '--on-bad-row <policy>',
    'an unreadable account or transaction row: skip it (reported in the rejects file) or reject its whole user',
  )
    .choices([...BAD_ROW_POLICIES])
    .default('skip');
const strictOption = () =>
  new Option('--strict', 'reject the whole user for one unreadable row (same as --on-bad-row reject)');
/** `--strict` wins over `--on-bad-row`. */
const badRowPolicy = (o: { onBadRow: BadRowPolicy; strict?: boolean }): BadRowPolicy =>
  o.strict ? 'reject' : o.onBadRow;
const pendingOption = () =>
  new Option('--pending <policy>', 'pending transactions: skip (default) or include')
    .choices(['skip', 'include'])
    .default('skip');

async function withRedis<T>(
  config: ProducerConfig,
  fn: (ctx: { redis: Redis; ledger: MigrationLedger; queue: Queue }) => Promise<T>,
): Promise<T> {
  const redis = await connectRedis(requireRedisTarget(config), 'producer', {
    timeoutMs: config.REDIS_CONNECT_TIMEOUT_MS,
  });
  try {
    // with tracing on (tracing.ts), each enqueue starts the trace its import continues in the worker
    const queue = new Queue(importJob.queue, {
      connection: redis,
      prefix: queuePrefixOn(redis, config.REDIS_PREFIX, importJob.queue),
      ...queueTelemetry(),
    });
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

/** Commands that enqueue imports seal their payloads: without PAYLOAD_KEYS they stop with a ConfigError. */
const payloadSealer = (config: ProducerConfig) => new PayloadSealer(requirePayloadKeys(config));

/**
 * Polls the run's state until it is completed, or stalled for a reason only a new `run` can clear (connections
 * with no import job): nothing would ever end that wait. Through the other stalls (queue paused, no worker,
 * MoneyKit unreachable: an operator or MoneyKit clears them) it keeps waiting and says why (wait-reporter.ts).
 */
async function waitForRun(ledger: MigrationLedger, queue: Queue, runId: string, io: Io): Promise<ExitCode> {
  const reporter = waitReporter(io.progress ?? { tty: false, write: (s) => io.err(s.trimEnd()) });
  try {
    for (;;) {
      const status = await runStatus(ledger, runId, queue);
      const { state } = status;
      if (state.state === 'completed' || state.state === 'completed_with_failures') return exitCodeOf(status);
      if (state.stalled.some((r) => NEEDS_PRODUCER.includes(r.kind))) {
        reporter.stop();
        io.err(`giving up the wait: ${state.summary}`);
        return EXIT.stalled;
      }
      reporter.update(status);
      await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    }
  } finally {
    reporter.stop();
  }
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  progress: { tty: Boolean(process.stderr.isTTY), write: (s) => process.stderr.write(s) },
};

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: Io = defaultIo,
): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.success;
  let config: ProducerConfig;
  try {
    config = loadProducerConfig(env);
  } catch (err) {
    io.err((err as Error).message);
    // help needs no setting: show it anyway, after saying what is wrong
    if (!wantsHelp(argv)) return EXIT.error;
    config = loadProducerConfig({});
  }
  const logger = createLogger('producer', { level: config.LOG_LEVEL });
  /** The refresh registry the workers share (its timing from the same settings: TIME_SCALE, REFRESH_*). */
  const openRegistry = (redis: Redis) => RefreshRegistry.open(redis, config.REDIS_PREFIX, config.refresh);
  const program = new Command('mk-migrate')
    .description(
      'Migrate users from another aggregator to MoneyKit: plan, run, status, runs, report, retry, purge; the cutover: topup, verify, reconnects, notify.',
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('plan')
    .description('dry run: read and convert the dump, enqueue nothing, print what a run would do')
    .argument('[dump]', 'NDJSON dump, gzipped or not; - for stdin; or a folder with --layout responses')
    .addOption(layoutOption())
    .option('--from <url>', 'read the records from PostgreSQL (postgres://…) instead of a dump, with --query')
    .option(
      '--query <sql>',
      'with --from: select … as record from …, one record per row (ORDER BY something stable to resume)',
    )
    .addOption(formatOption())
    .addOption(pendingOption())
    .addOption(badRowOption())
    .addOption(strictOption())
    .option('--rejects <file>', 'write rejected records here')
    .option('--json', 'print the plan as JSON')
    .option(
      '--topup-of <run>',
      "plan a top-up of this run from a newer dump instead (reads the run's ledger: needs REDIS_URL): transactions, calls and duration at the import limit",
    )
    .option('--include-reconnected', 'with --topup-of: count links whose user reconnected too')
    .action(
      async (
        dumpArg: string | undefined,
        o: {
          layout: InputLayout;
          from?: string;
          query?: string;
          format?: SourceFormat;
          pending: PendingPolicy;
          onBadRow: BadRowPolicy;
          strict?: boolean;
          rejects?: string;
          json?: boolean;
          topupOf?: string;
          includeReconnected?: boolean;
        },
      ) => {
        const { dump, query } = inputOf(dumpArg, o);
        if (o.topupOf !== undefined) {
          const runId = o.topupOf;
          await withRedis(config, async ({ redis, ledger }) => {
            const summary = await topup(ledger, {
              runId,
              dump,
              layout: o.layout,
              topupId: 'plan',
              outDir: path.join(os.tmpdir(), 'mk-topup-plan'),
              includeReconnected: o.includeReconnected === true,
              reconnected: reconnectedFromRegistry(await openRegistry(redis)),
              ratePerMinute: config.IMPORT_RATE_PER_MIN,
            });
            io.out(o.json ? JSON.stringify(summary, null, 2) : formatTopup(summary, true));
            exitCode = summary.rejects > 0 ? EXIT.partial : EXIT.success;
          });
          return;
        }
        const summary = await plan(dump, {
          layout: o.layout,
          ...(query !== undefined && { query }),
          ...(o.format && { format: o.format }),
          pending: o.pending,
          onBadRow: badRowPolicy(o),
          ratePerMinute: config.IMPORT_RATE_PER_MIN,
          ...(o.rejects && { rejectsPath: o.rejects }),
        });
        io.out(o.json ? JSON.stringify(summary, null, 2) : formatPlan(summary));
        exitCode = summary.rejects > 0 ? EXIT.partial : EXIT.success;
      },
    );

  program
    .command('run')
    .description('enqueue one import job per dump line; run it again to resume after a crash')
    .argument('[dump]', 'NDJSON dump, gzipped or not; - for stdin; or a folder with --layout responses')
    .requiredOption('--run <id>', 'run id: the same id resumes the same migration')
    .addOption(layoutOption())
    .option('--from <url>', 'read the records from PostgreSQL (postgres://…) instead of a dump, with --query')
    .option(
      '--query <sql>',
      'with --from: select … as record from …, one record per row (ORDER BY something stable to resume)',
    )
    .addOption(formatOption())
    .addOption(pendingOption())
    .addOption(badRowOption())
    .addOption(strictOption())
    .option(
      '--rejects <file>',
      'rejected records file (default <out-dir>/<run>.rejects.ndjson, written only when a record is rejected)',
    )
    .option('--out-dir <dir>', 'folder of the rejects file (default PRODUCER_OUT_DIR: ./mk-out)')
    .option('--max-waiting <n>', 'import jobs allowed to wait in the queue', positiveInt)
    .option(
      '--refresh-products <list>',
      "products to keep fresh for this run's links, e.g. accounts,transactions (default: the workers' REFRESH_PRODUCTS)",
      productList,
    )
    .option(
      '--wait',
      'wait until every connection is imported or failed, then exit with the outcome (5 when stalled with connections no job will import); without it, exit 0 once enqueued',
    )
    .action(
      async (
        dumpArg: string | undefined,
        o: {
          run: string;
          layout: InputLayout;
          from?: string;
          query?: string;
          format?: SourceFormat;
          pending: PendingPolicy;
          onBadRow: BadRowPolicy;
          strict?: boolean;
          rejects?: string;
          outDir?: string;
          maxWaiting?: number;
          refreshProducts?: Product[];
          wait?: boolean;
        },
      ) => {
        const { dump, query } = inputOf(dumpArg, o);
        await withRedis(config, async ({ redis, ledger, queue }) => {
          const check = await checkRedisServer(redis);
          check.problems.forEach((p) => io.err(`warning: ${p}`));
          const bar = progressReporter(dump);
          const rejectsPath = o.rejects ?? path.join(o.outDir ?? config.PRODUCER_OUT_DIR, `${o.run}.rejects.ndjson`);
          const progress = await enqueueRun(queue, ledger, {
            runId: o.run,
            dump,
            layout: o.layout,
            ...(query !== undefined && { query }),
            rejectsPath,
            maxWaiting: o.maxWaiting ?? config.PRODUCER_MAX_WAITING,
            ...(o.format && { format: o.format }),
            pending: o.pending,
            onBadRow: badRowPolicy(o),
            onProgress: (p) => bar.update(p),
            logger,
            ...(o.refreshProducts && { refreshProducts: o.refreshProducts }),
            sealer: payloadSealer(config),
          }).finally(() => bar.stop());
          const duplicates = progress.duplicateConnections
            ? ` (${progress.duplicateConnections} duplicate connections)`
            : '';
          const queued = progress.alreadyQueued ? `, already queued ${progress.alreadyQueued}` : '';
          io.out(
            `run ${o.run}: read ${progress.users} users, enqueued ${progress.enqueued}${queued}, already done ${progress.skipped}, rejected ${progress.rejects}${duplicates}`,
          );
          if (progress.rejects > 0) io.err(`rejected records: ${rejectsPath}`);
          // Enqueued is what `run` alone is asked to do; --wait asks for the outcome.
          exitCode = o.wait ? await waitForRun(ledger, queue, o.run, io) : EXIT.success;
          if (o.wait) io.out(formatStatus(await runStatus(ledger, o.run, queue)));
        });
      },
    );

  program
    .command('topup')
    .description(
      "the cutover's top-up: import a newer dump's transactions not on the run's links yet (links whose user reconnected are left alone), and its new connections as `run` would",
    )
    .argument('<dump>', 'the newer NDJSON dump, gzipped or not; or a folder with --layout responses')
    .requiredOption('--run <id>', 'the run whose links to top up')
    .addOption(layoutOption())
    .option(
      '--topup-id <id>',
      'names this top-up (default: derived from the dump file: the same dump resumes the same top-up)',
    )
    .option(
      '--include-reconnected',
      'top up links whose user has reconnected too (MoneyKit deduplicates provider rows against imported ones, "small discrepancies can still occur")',
    )
    .option(
      '--out-dir <dir>',
      'folder of the changed-rows report and the rejects file (default PRODUCER_OUT_DIR: ./mk-out)',
    )
    .option('--max-waiting <n>', 'jobs allowed to wait in the import queue', positiveInt)
    .option('--wait', 'wait until every job of the top-up is done; exits 2 when a connection could not be topped up')
    .action(
      async (
        dump: string,
        o: {
          run: string;
          layout: InputLayout;
          topupId?: string;
          includeReconnected?: boolean;
          outDir?: string;
          maxWaiting?: number;
          wait?: boolean;
        },
      ) => {
        await withRedis(config, async ({ redis, ledger, queue }) => {
          const jobIds: string[] = [];
          const summary = await topup(ledger, {
            runId: o.run,
            dump,
            layout: o.layout,
            ...(o.topupId && { topupId: o.topupId }),
            outDir: o.outDir ?? config.PRODUCER_OUT_DIR,
            includeReconnected: o.includeReconnected === true,
            reconnected: reconnectedFromRegistry(await openRegistry(redis)),
            ratePerMinute: config.IMPORT_RATE_PER_MIN,
            logger,
            enqueue: {
              queue,
              sealer: payloadSealer(config),
              maxWaiting: o.maxWaiting ?? config.PRODUCER_MAX_WAITING,
              jobIds,
            },
          });
          io.out(formatTopup(summary, false));
          exitCode = EXIT.success;
          if (!o.wait) return;
          await waitForTopup(queue, jobIds, WAIT_POLL_MS);
          const outcome = await topupOutcome(ledger, o.run, summary.topupId);
          io.out(
            `top-up ${summary.topupId} done: ${outcome.done} connections topped up with ${outcome.added} transactions, ${outcome.failed} could not be${outcome.failed ? ` (first: ${outcome.firstError})` : ''}`,
          );
          exitCode = outcome.failed > 0 ? EXIT.partial : EXIT.success;
        });
      },
    );

  program
    .command('verify')
    .description(
      'proof of landing: read every link of the run back from MoneyKit, compare with what the run imported, find extra links; writes a reconciliation report (CSV and JSON, mismatches first); exits 0 only when everything matches',
    )
    .argument('<run>', 'run id')
    .option('--delete-duplicates', 'delete the extra links found (a dry run that lists them unless --yes)')
    .option('--yes', "with --delete-duplicates: delete them (only links holding the connection's own accounts)")
    .option('--out-dir <dir>', 'folder of the report (default PRODUCER_OUT_DIR: ./mk-out)')
    .option('--concurrency <n>', 'reads in flight at once (default VERIFY_CONCURRENCY)', positiveInt)
    .action(
      async (
        runId: string,
        o: { deleteDuplicates?: boolean; yes?: boolean; outDir?: string; concurrency?: number },
      ) => {
        await withRedis(config, async ({ redis, ledger }) => {
          const client = createClientFromEnv(config, { ...SANDBOX_UPSTREAM, logger });
          const bar = verifyProgress();
          try {
            const opts = {
              runId,
              outDir: o.outDir ?? config.PRODUCER_OUT_DIR,
              concurrency: o.concurrency ?? config.VERIFY_CONCURRENCY,
              deleteDuplicates: o.deleteDuplicates === true,
              yes: o.yes === true,
            };
            const summary = await verifyRun(
              ledger,
              client,
              new ReadLimiter(redis, config.REDIS_PREFIX, config.VERIFY_READS_PER_MIN),
              { ...opts, onProgress: (p) => bar.update(p) },
            ).finally(() => bar.stop());
            io.out(formatVerify(summary, opts));
            exitCode = summary.mismatches + summary.notImported === 0 ? EXIT.success : EXIT.partial;
          } finally {
            client.close();
          }
        });
      },
    );

  program
    .command('status')
    .description(
      "a run's state (running, stalled and why, completed, completed with failures), counts, throughput, ETA",
    )
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
    .description(
      "per source connection: MoneyKit link_id, outcome, counts, errors (CSV or JSON); exits 0 once written, whatever the run's state (`status` tells that)",
    )
    .argument('<run>', 'run id')
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'))
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--to <url>', 'upsert the mapping into PostgreSQL (postgres://…) instead, with --table')
    .option('--table <name>', 'with --to: the table (created when missing), e.g. migration_links')
    .action(async (runId: string, o: { format: 'csv' | 'json'; out?: string; to?: string; table?: string }) => {
      await withRedis(config, async ({ redis, ledger, queue }) => {
        const status = await runStatus(ledger, runId, queue);
        if (o.to !== undefined) {
          if (!o.table) throw new InvalidArgumentError('--to needs --table, e.g. --table migration_links');
          const rows = await writeReportToPostgres(ledger, runId, o.to, o.table);
          io.err(`${rows} rows upserted into ${o.table} at ${redactUrl(o.to)} (run ${status.state.summary})`);
          exitCode = EXIT.success; // written: the run's outcome is status's to tell
          return;
        }
        const out = openOutput(o.out);
        const rows = await writeReport(ledger, runId, o.format, out, await openRegistry(redis));
        await out.done();
        if (o.out) io.err(`${rows} rows written to ${o.out} (run ${status.state.summary})`);
        exitCode = EXIT.success;
      });
    });

  program
    .command('reconnects')
    .description(
      'the links of a run still waiting for their user to reconnect them (customer user, connection, link id, imported at, waiting for), CSV or JSON',
    )
    .argument('<run>', 'run id')
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'))
    .option(
      '--waiting-longer-than <age>',
      'only links waiting longer than this since their import, e.g. 7d, 12h',
      parseAge,
    )
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (runId: string, o: { format: 'csv' | 'json'; waitingLongerThan?: number; out?: string }) => {
      await withRedis(config, async ({ ledger }) => {
        const out = openOutput(o.out);
        const summary = await writeReconnects(ledger, runId, o.format, out, {
          ...(o.waitingLongerThan !== undefined && { longerThanMs: o.waitingLongerThan }),
        });
        await out.done();
        io.err(
          `${formatReconnectSummary(runId, summary, o.waitingLongerThan)}${o.out ? ` (written to ${o.out})` : ''}`,
        );
        exitCode = EXIT.success;
      });
    });

  const notify = program
    .command('notify')
    .description("the events for the team's backend (NOTIFY_URL, delivered by the workers)");
  notify
    .command('resend')
    .description(
      "queue a run's events again for the workers to deliver, with their original idempotency keys: all of them, re-derived from the ledger, or only the dead letters",
    )
    .argument('<run>', 'run id')
    .option('--dead-letters', 'only the events the workers gave up on (NOTIFY_GIVE_UP_AFTER_HOURS)')
    .action(async (runId: string, o: { deadLetters?: boolean }) => {
      await withRedis(config, async ({ ledger }) => {
        const queued = await resendEvents(ledger, runId, { deadLetters: o.deadLetters === true });
        io.out(`run ${runId}: ${queued} ${o.deadLetters ? 'dead-lettered ' : ''}events queued again for delivery`);
      });
    });
  notify
    .command('status')
    .description('events of a run waiting for delivery, and given up on')
    .argument('<run>', 'run id')
    .action(async (runId: string) => {
      await withRedis(config, async ({ ledger }) => {
        const { pending, dead } = await notifyBacklog(ledger, runId);
        io.out(`run ${runId}: ${pending} events waiting for delivery, ${dead} dead letters`);
        if (dead > 0) exitCode = EXIT.partial;
      });
    });

  program
    .command('links')
    .description(
      'refresh state of links: products, last refreshed, next due, parked and why, and the latest steps of traced links',
    )
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
            ? JSON.stringify(
                states.map((st, i) => (st && stories[i]!.length ? { ...st, trace: stories[i] } : st)),
                null,
                2,
              )
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
    .addOption(badRowOption())
    .addOption(strictOption())
    .option(
      '--rejects <file>',
      'rejected records file of this pass (default <out-dir>/<run>.retry.rejects.ndjson, written only when a record is rejected)',
    )
    .option('--out-dir <dir>', 'folder of the rejects file (default PRODUCER_OUT_DIR: ./mk-out)')
    .option('--wait', 'wait until done, then exit with the outcome; without it, exit 0 once re-driven')
    .action(
      async (
        runId: string,
        o: {
          dump?: string;
          pending: PendingPolicy;
          onBadRow: BadRowPolicy;
          strict?: boolean;
          rejects?: string;
          outDir?: string;
          wait?: boolean;
        },
      ) => {
        await withRedis(config, async ({ ledger, queue }) => {
          const progress = await retryFailed(queue, ledger, {
            runId,
            ...(o.dump && { dump: o.dump }),
            rejectsPath: o.rejects ?? path.join(o.outDir ?? config.PRODUCER_OUT_DIR, `${runId}.retry.rejects.ndjson`),
            maxWaiting: config.PRODUCER_MAX_WAITING,
            pending: o.pending,
            onBadRow: badRowPolicy(o),
            logger,
            sealer: payloadSealer(config),
          });
          const waiting = progress.waitingForTheirJob
            ? `; ${progress.waitingForTheirJob} left for their job, still running, to finish first`
            : '';
          io.out(
            `run ${runId}: ${progress.connectionsReset} failed connections re-driven (${progress.enqueued} lines enqueued)${waiting}`,
          );
          exitCode = o.wait ? await waitForRun(ledger, queue, runId, io) : EXIT.success;
        });
      },
    );

  program
    .command('purge')
    .description(
      "remove a finished run's import jobs and their sealed payloads from Redis; the ledger (mapping, outcomes) stays",
    )
    .argument('<run>', 'run id')
    .action(async (runId: string) => {
      await withRedis(config, async ({ ledger, queue }) => {
        try {
          const { removed } = await purgeRun(queue, ledger, runId);
          io.out(`run ${runId}: ${removed} import jobs and their payloads removed; the ledger is kept`);
        } catch (err) {
          if (!(err instanceof RunNotFinishedError)) throw err;
          io.err(err.message);
          exitCode = EXIT.inProgress;
        }
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
