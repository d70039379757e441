/**
 * `topup <newer dump> --run RUN` and `plan --topup-of RUN <newer dump>`: a newer dump of the run's users against
 * what landed on their links (the ledger's landed records). Per connection of the newer dump:
 * - linked by the run: the transactions not on the link yet go to a top-up job (the import workers send them under
 *   the app-wide import limit, exactly once: apps/worker/src/import/topup.ts); a transaction whose amount or date
 *   changed under the same source id is written to the changed report, never sent twice (MoneyKit has no update
 *   for imported rows); rows on accounts the link does not have wait for the user's reconnect;
 * - reconnected by its user: left alone (MoneyKit's provider sync has taken over), unless `includeReconnected`;
 * - not known to the run: imported as `run` would, by an import job;
 * - known but not imported (still importing, or failed): left to the run (`retry` re-drives failures).
 * The run's pending policy and format apply. Running the same top-up again finds its jobs (ids carry the top-up id)
 * and sends nothing that landed.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Queue } from 'bullmq';
import {
  importJob,
  topupJob,
  sealImportJob,
  transactionBatches,
  type ImportConnection,
  type Logger,
  type PayloadSealer,
} from '@mk/shared';
import {
  connectionField,
  diffLanded,
  jobWillRun,
  jobsWillRun,
  type ConnectionRecord,
  type MigrationLedger,
  type RunMeta,
} from '@mk/ledger';
import type { PendingPolicy, SourceFormat } from '@mk/converters';
import { ledgerConnection, usersOf, type DumpUser } from '../dump-source';
import { RejectsWriter, type InputLayout } from '../dump';
import type { ReconnectedCheck } from '../topup/reconnected';
import { csvCell } from './report';
import { waitForRoom } from './run';

export interface TopupSummary {
  topupId: string;
  /** Dump lines read that hold a user. */
  users: number;
  /** Linked connections with transactions not on their link yet (each gets them in a top-up job). */
  connectionsToTopUp: number;
  /** Linked connections with nothing new. */
  upToDate: number;
  transactionsNew: number;
  /** Same source id, another amount or date: reported in `changedFile`, not imported. */
  transactionsChanged: number;
  transactionsAlreadyThere: number;
  /** On accounts the link does not have (opened since the first dump): they come with the user's reconnect. */
  transactionsOnOtherAccounts: number;
  /**
   * Of `connectionsToTopUp`, links found again at MoneyKit (adopted: a lost response, or Redis lost its data and
   * `run` was re-run): their landed records come from the dump, so the worker reads back what the link holds before
   * sending; `transactionsNew` may count rows an earlier top-up landed there, which are then not sent.
   */
  readBack: number;
  /** `/import/transactions` calls the top-up batches take (≤ 1 MB each). */
  topupCalls: number;
  /** Links whose user reconnected, left alone (`--include-reconnected` tops them up too). */
  skippedReconnected: number;
  /** Known to the run but not imported (still importing, or failed: `retry` first). */
  notImported: number;
  /** Linked before landed records were kept: what is on them is unknown here, so they are not topped up. */
  unrecorded: number;
  /** Connections the run does not know, imported as in `run`, and their calls (import + batches). */
  newConnections: number;
  newConnectionTransactions: number;
  newConnectionCalls: number;
  rejects: number;
  /** Jobs added now, and jobs of this top-up found still queued or running (a re-run). */
  enqueued: number;
  alreadyQueued: number;
  ratePerMinute: number;
  /** (topupCalls + newConnectionCalls) at the import limit. */
  estimatedHours: number;
  changedFile?: string;
  rejectsFile?: string;
}

export interface TopupOptions {
  runId: string;
  dump: string;
  layout?: InputLayout;
  /** Default: derived from the dump file (path, size, modification time): the same dump resumes the same top-up. */
  topupId?: string;
  outDir: string;
  includeReconnected: boolean;
  reconnected: ReconnectedCheck;
  ratePerMinute: number;
  logger?: Logger;
  /** Absent: a dry run (`plan --topup-of`), nothing enqueued. */
  enqueue?: {
    queue: Queue;
    sealer: PayloadSealer;
    maxWaiting: number;
    /** Filled with the top-up's job ids, for the wait. */ jobIds?: string[];
  };
  onProgress?: (s: TopupSummary) => void;
}

/** The same dump file gives the same top-up id; stdin and folders need `--topup-id`. */
export function topupIdOf(dump: string): string {
  const stat = fs.statSync(dump, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new Error('give --topup-id for a dump that is not a file (stdin, a folder)');
  return createHash('sha256')
    .update(`${path.resolve(dump)}\t${stat.size}\t${stat.mtimeMs}`)
    .digest('hex')
    .slice(0, 10);
}

const CHANGED_COLUMNS = ['source_user_id', 'source_connection_id', 'account_id', 'transaction_id', 'change'] as const;

export async function topup(ledger: MigrationLedger, opts: TopupOptions): Promise<TopupSummary> {
  const run = await ledger.getRun(opts.runId);
  if (!run)
    throw new Error(
      `run ${opts.runId} does not exist (see \`runs\`). If Redis lost its data, the run's ledger and landed records went with it: ` +
        `re-run \`run <first dump> --run ${opts.runId}\` first (every link is found again at MoneyKit, none created twice), ` +
        'then this top-up: each link found again is read back before anything is sent to it',
    );
  const topupId = opts.topupId ?? topupIdOf(opts.dump);
  const s: TopupSummary = {
    topupId,
    users: 0,
    connectionsToTopUp: 0,
    upToDate: 0,
    transactionsNew: 0,
    transactionsChanged: 0,
    transactionsAlreadyThere: 0,
    transactionsOnOtherAccounts: 0,
    readBack: 0,
    topupCalls: 0,
    skippedReconnected: 0,
    notImported: 0,
    unrecorded: 0,
    newConnections: 0,
    newConnectionTransactions: 0,
    newConnectionCalls: 0,
    rejects: 0,
    enqueued: 0,
    alreadyQueued: 0,
    ratePerMinute: opts.ratePerMinute,
    estimatedHours: 0,
  };
  const base = path.join(opts.outDir, `${opts.runId}.topup-${topupId}`);
  const rejects = new RejectsWriter(`${base}.rejects.ndjson`);
  let changed: fs.WriteStream | undefined;
  const writeChanged = (user: DumpUser, connectionId: string, t: { account_id: string; transaction_id?: string }) => {
    if (!changed) {
      fs.mkdirSync(opts.outDir, { recursive: true });
      changed = fs.createWriteStream(`${base}.changed.csv`);
      changed.write(`${CHANGED_COLUMNS.join(',')}\n`);
      s.changedFile = `${base}.changed.csv`;
    }
    // Ids only: amounts and dates stay out of files.
    changed.write(
      `${[user.sourceUserId, connectionId, t.account_id, t.transaction_id ?? '', 'amount or date differs from the imported row'].map(csvCell).join(',')}\n`,
    );
  };

  try {
    for await (const item of usersOf(opts.dump, {
      ...(run.format && { format: run.format as SourceFormat }),
      pending: (run.pendingPolicy ?? 'skip') as PendingPolicy,
      ...(opts.layout && { layout: opts.layout }),
    })) {
      if (!item.ok) {
        s.rejects++;
        await rejects.write(item.reject);
        continue;
      }
      for (const r of item.rejects) await rejects.write(r);
      s.rejects += item.rejects.length;
      const { user } = item;
      s.users++;
      const records = await ledger.getMany(
        opts.runId,
        user.sourceUserId,
        user.connections.map((c) => c.connectionId),
      );
      const toTopUp: ImportConnection[] = [];
      const fresh: DumpUser['connections'] = [];
      // A connection this top-up registered as new, its import not over (this is the top-up run again): still new
      // here, so its import job is waited for, or added again if it was lost.
      const importedHere = topupJob.importId(opts.runId, user.sourceUserId, user.line, topupId);
      for (const [i, c] of user.connections.entries()) {
        const record = records[i];
        if (!record || (record.job === importedHere && record.state !== 'imported' && record.state !== 'failed')) {
          fresh.push(c);
          continue;
        }
        const connection = await topupOf(ledger, opts, s, record, c, (t) => writeChanged(user, c.connectionId, t));
        if (connection) toTopUp.push(connection);
      }
      s.newConnections += fresh.length;
      for (const c of fresh) {
        s.newConnectionTransactions += c.request.transactions.length;
        s.newConnectionCalls += 1 + c.batches;
      }
      if (opts.enqueue) await enqueueUser(ledger, run, opts.enqueue, topupId, user, toTopUp, fresh, s);
      if (s.users % 500 === 0) opts.onProgress?.(s);
    }
  } finally {
    await rejects.close();
    await new Promise<void>((r) => (changed ? changed.end(r) : r()));
  }
  if (s.rejects > 0) s.rejectsFile = `${base}.rejects.ndjson`;
  s.estimatedHours = (s.topupCalls + s.newConnectionCalls) / opts.ratePerMinute / 60;
  opts.onProgress?.(s);
  return s;
}

/** One known connection of the newer dump: what its top-up would carry (undefined: nothing to send). */
async function topupOf(
  ledger: MigrationLedger,
  opts: TopupOptions,
  s: TopupSummary,
  record: ConnectionRecord,
  c: DumpUser['connections'][number],
  reportChanged: (t: { account_id: string; transaction_id?: string }) => void,
): Promise<ImportConnection | undefined> {
  if (record.state !== 'imported' || !record.linkId) {
    s.notImported++;
    return undefined;
  }
  if (!opts.includeReconnected && (await opts.reconnected(record.linkId))) {
    s.skippedReconnected++;
    return undefined;
  }
  const field = connectionField(record.sourceUserId, record.connectionId);
  const accountIds = [
    ...new Set([...c.request.accounts.map((a) => a.account_id), ...c.request.transactions.map((t) => t.account_id)]),
  ];
  const diff = diffLanded(await ledger.landed(record.runId, field, accountIds), c.request.transactions);
  if (diff.unrecorded) {
    s.unrecorded++;
    return undefined;
  }
  s.transactionsChanged += diff.changed.length;
  diff.changed.forEach(reportChanged);
  s.transactionsAlreadyThere += diff.same;
  s.transactionsOnOtherAccounts += diff.otherAccount.length;
  if (diff.fresh.length === 0) {
    s.upToDate++;
    return undefined;
  }
  s.connectionsToTopUp++;
  if (record.adopted) s.readBack++;
  s.transactionsNew += diff.fresh.length;
  s.topupCalls += transactionBatches(diff.fresh).batches.length;
  return { connectionId: c.connectionId, request: { ...c.request, transactions: diff.fresh } };
}

/** A top-up job for the user's linked connections, an import job for the new ones; a job still live is left to run. */
async function enqueueUser(
  ledger: MigrationLedger,
  run: RunMeta,
  e: NonNullable<TopupOptions['enqueue']>,
  topupId: string,
  user: DumpUser,
  toTopUp: ImportConnection[],
  fresh: DumpUser['connections'],
  s: TopupSummary,
): Promise<void> {
  const add = async (name: string, id: string, payload: Parameters<typeof sealImportJob>[1]) => {
    e.jobIds?.push(id);
    if (await jobWillRun(e.queue, id)) {
      s.alreadyQueued++;
      return;
    }
    await waitForRoom(e.queue, e.maxWaiting);
    const existing = await e.queue.getJob(id);
    if (existing && (await existing.isFailed())) await existing.retry('failed');
    else await e.queue.add(name, sealImportJob(e.sealer, payload), { ...importJob.options, jobId: id });
    s.enqueued++;
  };
  const base = { runId: run.runId, sourceUserId: user.sourceUserId, line: user.line };
  if (toTopUp.length > 0)
    await add(topupJob.name, topupJob.id(run.runId, user.sourceUserId, user.line, topupId), {
      ...base,
      topupId,
      connections: toTopUp,
    });
  if (fresh.length > 0) {
    const id = topupJob.importId(run.runId, user.sourceUserId, user.line, topupId);
    const records = await ledger.register(run.runId, user.sourceUserId, user.line, fresh.map(ledgerConnection), {
      job: id,
    });
    if (records.some((r) => r.state !== 'imported' && r.state !== 'failed')) {
      await add(importJob.name, id, {
        ...base,
        connections: fresh.map(({ connectionId, request }) => ({ connectionId, request })),
      });
    }
  }
}

/** Waits until none of the top-up's jobs is queued or running (the jobs it enqueued or found live). */
export async function waitForTopup(queue: Queue, jobIds: string[], pollMs = 1000): Promise<void> {
  let live = jobIds;
  while (live.length > 0) {
    const states = await jobsWillRun(queue, live);
    live = live.filter((_, i) => states[i]);
    if (live.length > 0) await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function formatTopup(s: TopupSummary, dryRun: boolean): string {
  const hours =
    s.estimatedHours >= 48 ? `${(s.estimatedHours / 24).toFixed(1)} days` : `${s.estimatedHours.toFixed(2)} hours`;
  return [
    `top-up ${s.topupId}${dryRun ? ' (plan)' : ''}: ${s.users} users read; ${s.connectionsToTopUp} linked connections to top up with ${s.transactionsNew} transactions, ${s.upToDate} up to date`,
    ...(s.readBack
      ? [
          `  found again at MoneyKit ${s.readBack} of them (adopted): each link is read back first, what it holds already is not sent`,
        ]
      : []),
    `  changed under the same source id ${s.transactionsChanged} (reported, not imported)${s.changedFile ? `: ${s.changedFile}` : ''}; already on the link ${s.transactionsAlreadyThere}; on accounts the link does not have ${s.transactionsOnOtherAccounts}`,
    `  left alone: reconnected by their users ${s.skippedReconnected} (MoneyKit's provider sync has taken over; --include-reconnected tops them up), not imported by the run ${s.notImported}, without landed records ${s.unrecorded}`,
    `  new connections ${s.newConnections} (${s.newConnectionTransactions} transactions), imported as in run`,
    `  API calls ${s.topupCalls + s.newConnectionCalls} (${s.topupCalls} top-up batches of ≤ 1 MB, ${s.newConnectionCalls} for new connections) at ${s.ratePerMinute}/min → about ${hours}`,
    ...(dryRun ? [] : [`  enqueued ${s.enqueued} jobs, already queued ${s.alreadyQueued}`]),
    ...(s.rejects ? [`  rejected records ${s.rejects}: ${s.rejectsFile}`] : []),
  ].join('\n');
}

/** What a finished top-up did, from the ledger records it worked on (every record of the run scanned). */
export async function topupOutcome(
  ledger: MigrationLedger,
  runId: string,
  topupId: string,
): Promise<{ done: number; added: number; failed: number; firstError?: string }> {
  const out: { done: number; added: number; failed: number; firstError?: string } = { done: 0, added: 0, failed: 0 };
  for await (const r of ledger.scan(runId)) {
    if (r.topupId !== topupId || !r.topupDone) continue;
    if (r.topupError) {
      out.failed++;
      out.firstError ??= r.topupError;
    } else out.done++;
    out.added += r.transactionsToppedUp ?? 0;
  }
  return out;
}
