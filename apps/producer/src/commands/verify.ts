/**
 * `verify RUN`: proof of landing. Reads every link of the run back from MoneyKit (the customer user's live links,
 * the link's accounts, every page of its transactions with explicit dates — the list defaults to the last 90
 * days), compares each with what the run recorded as landed (compare.ts), and finds, per customer user, live links
 * at the same institution that no ledger record of any run owns (duplicates). Writes a reconciliation report (CSV
 * and JSON, one row per connection, mismatches first) into the out dir.
 *
 * Reads are paced by a limiter shared in Redis (MoneyKit's per-link read limits, and VERIFY_READS_PER_MIN overall),
 * at most `concurrency` at once (p-limit); a 429 still answered waits its Retry-After. Resumable: each checked row is
 * appended to `<run>.verify.progress.ndjson` in the out dir (nothing in Redis), and a verify interrupted and run
 * again skips what it holds; a verify that finishes removes it, so the next one reads everything afresh.
 * `deleteDuplicates` with `yes` deletes the extra links it found — only those whose accounts are the connection's
 * own (same `original_id`s), so a link the user made themselves is never deleted; without `yes`, a dry run.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import pLimit from 'p-limit';
import { connectionField, type ConnectionRecord, type MigrationLedger } from '@mk/ledger';
import { DEFAULT_RETRY_AFTER_MS, isMoneyKitError, type MoneyKitClient, type EndpointName } from '@mk/moneykit-client';
import { compareLink, VERIFY_COLUMNS, type FoundTransaction, type VerifyRow } from '../verify/compare';
import type { ReadLimiter } from '../verify/read-limiter';
import { csvCell } from './report';

export interface VerifyOptions {
  runId: string;
  outDir: string;
  concurrency: number;
  deleteDuplicates: boolean;
  /** With deleteDuplicates: act (without it, a dry run that lists what it would delete). */
  yes: boolean;
  onProgress?: (p: { done: number; total: number; mismatches: number }) => void;
}

export interface VerifySummary {
  connections: number;
  ok: number;
  mismatches: number;
  notImported: number;
  /** Rows read from an interrupted verify's progress file instead of MoneyKit. */
  resumed: number;
  duplicateLinks: number;
  duplicatesDeleted: number;
  reads: number;
  rateLimited: number;
  csv: string;
  json: string;
}

const PAGE_SIZE = 1000;
/** Every transaction the link may hold: MoneyKit lists only the last 90 days unless told otherwise. */
const WINDOW_START = '1900-01-01';
const windowEnd = () => new Date(Date.now() + 366 * 86_400_000).toISOString().slice(0, 10);
const READ_ATTEMPTS = 5;

export async function verifyRun(
  ledger: MigrationLedger,
  client: MoneyKitClient,
  limiter: ReadLimiter,
  opts: VerifyOptions,
): Promise<VerifySummary> {
  const run = await ledger.getRun(opts.runId);
  if (!run) throw new Error(`run ${opts.runId} does not exist (see \`runs\`)`);
  fs.mkdirSync(opts.outDir, { recursive: true });
  const base = path.join(opts.outDir, `${opts.runId}.verify`);
  const progressFile = `${base}.progress.ndjson`;
  const s: VerifySummary = {
    connections: 0,
    ok: 0,
    mismatches: 0,
    notImported: 0,
    resumed: 0,
    duplicateLinks: 0,
    duplicatesDeleted: 0,
    reads: 0,
    rateLimited: 0,
    csv: `${base}.csv`,
    json: `${base}.json`,
  };

  const done = await readProgress(progressFile);
  s.resumed = done.size;
  const progress = fs.createWriteStream(progressFile, { flags: 'a' });
  const runs = (await ledger.listRuns()).map((r) => r.runId);
  const deleted = new Set<string>();

  /** One read: paced, and a 429 or a network hiccup waited out (classified once, in the client). */
  const read = async <T>(endpoint: EndpointName, linkId: string | undefined, call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      await limiter.acquire(endpoint, linkId);
      s.reads++;
      try {
        return await call();
      } catch (err) {
        if (!isMoneyKitError(err) || attempt >= READ_ATTEMPTS) throw err;
        if (err.errorClass === 'rate_limited') {
          s.rateLimited++;
          await sleep(err.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
        } else if (err.errorClass === 'retryable') await sleep(200 * 2 ** attempt);
        else throw err;
      }
    }
  };
  const ownedByAnyRun = async (linkId: string) =>
    (await Promise.all(runs.map((r) => ledger.linkOwner(r, linkId)))).some(Boolean);

  const check = async (record: ConnectionRecord): Promise<VerifyRow> => {
    if (record.state !== 'imported' || !record.linkId)
      return compareLink({ record, landed: new Map(), duplicates: [] });
    const linkId = record.linkId;
    const links = await read('get_user_links', undefined, () =>
      client.getUserLinks(record.customerUserId ?? record.sourceUserId),
    );
    const ours = links[linkId];
    if (!ours) return compareLink({ record, landed: new Map(), duplicates: [] });
    const { accounts } = await read('get_link_accounts', linkId, () => client.getLinkAccounts(linkId));
    const transactions: FoundTransaction[] = [];
    for (let page = 1; ; page++) {
      const res = await read('get_link_transactions', linkId, () =>
        client.getLinkTransactions(linkId, { page, size: PAGE_SIZE, startDate: WINDOW_START, endDate: windowEnd() }),
      );
      transactions.push(...res.transactions);
      if (page * PAGE_SIZE >= res.total || res.transactions.length === 0) break;
    }
    const originals = accounts.map((a) => a.original_id ?? '');
    const landed = await ledger.landed(
      record.runId,
      connectionField(record.sourceUserId, record.connectionId),
      originals,
    );
    const duplicates: string[] = [];
    for (const other of Object.values(links)) {
      if (other.link_id === linkId || other.institution_id !== ours.institution_id || other.state === 'deleted')
        continue;
      if (!(await ownedByAnyRun(other.link_id))) duplicates.push(other.link_id);
    }
    const removed = opts.deleteDuplicates && opts.yes ? await deleteOwnDuplicates(duplicates, new Set(originals)) : [];
    return compareLink({ record, found: { accounts, transactions }, landed, duplicates, deleted: removed });
  };

  /** Deletes the duplicates that hold this connection's own accounts (never a link the user made themselves). */
  const deleteOwnDuplicates = async (duplicates: string[], ownAccounts: Set<string>): Promise<string[]> => {
    const removed: string[] = [];
    for (const id of duplicates) {
      if (deleted.has(id)) {
        removed.push(id);
        continue;
      }
      const { accounts } = await read('get_link_accounts', id, () => client.getLinkAccounts(id));
      if (accounts.length === 0 || !accounts.every((a) => ownAccounts.has(a.original_id ?? ''))) continue;
      await read('delete_link', id, () => client.deleteLink(id));
      deleted.add(id);
      removed.push(id);
    }
    return removed;
  };

  const total = await ledger.counts(opts.runId);
  const totalConnections = Object.values(total).reduce((a, b) => a + b, 0);
  const limit = pLimit(opts.concurrency);
  const pending = new Set<Promise<void>>();
  const duplicatesSeen = new Set<string>();
  const tally = (row: VerifyRow) => {
    s.connections++;
    if (row.status === 'ok') s.ok++;
    else if (row.status === 'not_imported') s.notImported++;
    else s.mismatches++;
    row.duplicate_links
      .split(';')
      .filter(Boolean)
      .forEach((d) => duplicatesSeen.add(d));
    opts.onProgress?.({ done: s.connections, total: totalConnections, mismatches: s.mismatches + s.notImported });
  };
  for (const row of done.values()) tally(row);
  try {
    for await (const record of ledger.scan(opts.runId)) {
      if (done.has(connectionField(record.sourceUserId, record.connectionId))) continue;
      const task = limit(async () => {
        const row = await check(record);
        progress.write(`${JSON.stringify(row)}\n`);
        tally(row);
      }).finally(() => pending.delete(task));
      pending.add(task);
      // Bounded: the scan waits for room instead of queueing a million tasks.
      if (pending.size >= opts.concurrency * 4) await Promise.race(pending);
    }
    await Promise.all(pending);
  } finally {
    await new Promise<void>((r) => progress.end(r));
  }
  s.duplicateLinks = duplicatesSeen.size;
  s.duplicatesDeleted = deleted.size;
  await writeReports(progressFile, s);
  fs.rmSync(progressFile, { force: true });
  return s;
}

/** The rows an interrupted verify already checked (a torn last line is ignored: that row is read again). */
async function readProgress(file: string): Promise<Map<string, VerifyRow>> {
  const rows = new Map<string, VerifyRow>();
  if (!fs.existsSync(file)) return rows;
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    try {
      const row = JSON.parse(line) as VerifyRow;
      if (typeof row.field === 'string') rows.set(row.field, row);
    } catch {
      // torn write
    }
  }
  return rows;
}

/** CSV and JSON, mismatches first: two passes over the progress file (flat memory for a million rows). */
async function writeReports(progressFile: string, s: VerifySummary): Promise<void> {
  const csv = fs.createWriteStream(s.csv);
  const json = fs.createWriteStream(s.json);
  const write = (out: fs.WriteStream, text: string) =>
    new Promise<void>((r) => (out.write(text) ? r() : out.once('drain', r)));
  await write(csv, `${VERIFY_COLUMNS.join(',')}\n`);
  await write(json, '[');
  let n = 0;
  const seen = new Set<string>();
  for (const pass of ['problems', 'ok'] as const) {
    const lines = readline.createInterface({ input: fs.createReadStream(progressFile), crlfDelay: Infinity });
    for await (const line of lines) {
      let row: VerifyRow;
      try {
        row = JSON.parse(line) as VerifyRow;
      } catch {
        continue;
      }
      if ((row.status === 'ok') !== (pass === 'ok')) continue;
      // A row checked twice (interrupted between its check and the next): the later one stands; first seen is kept here.
      if (seen.has(row.field)) continue;
      seen.add(row.field);
      const { field: _field, ...out } = row;
      await write(csv, `${VERIFY_COLUMNS.map((c) => csvCell(out[c])).join(',')}\n`);
      await write(json, `${n++ ? ',' : ''}\n${JSON.stringify(out)}`);
    }
  }
  await write(json, '\n]\n');
  await Promise.all([new Promise<void>((r) => csv.end(r)), new Promise<void>((r) => json.end(r))]);
}

export function formatVerify(s: VerifySummary, opts: Pick<VerifyOptions, 'deleteDuplicates' | 'yes'>): string {
  const dupes = s.duplicateLinks
    ? opts.deleteDuplicates && opts.yes
      ? `; extra links ${s.duplicateLinks}, deleted ${s.duplicatesDeleted}`
      : `; extra links ${s.duplicateLinks}${opts.deleteDuplicates ? " (dry run: --yes deletes those holding the connection's own accounts)" : ' (--delete-duplicates lists and removes them)'}`
    : '';
  return [
    `verify: ${s.connections} connections, ${s.ok} match, ${s.mismatches} mismatch, ${s.notImported} not imported${dupes}`,
    `  ${s.reads} reads of MoneyKit (${s.rateLimited} answered 429 and waited out)${s.resumed ? `, ${s.resumed} rows resumed from an interrupted verify` : ''}`,
    `  report: ${s.csv} and ${s.json}`,
  ].join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
