/**
 * Imports one source connection exactly once, resumable at every step. The ledger is written before each
 * non-idempotent call (`importing`, `batchInFlight`) and after it, so whatever instant a worker dies at, the
 * next attempt knows whether to look before it leaps. And it always looks before an import call: MoneyKit
 * keeps what the ledger may have lost (Redis restarted without AOF, restored from an older snapshot), so a link
 * an earlier attempt created is adopted, never created twice.
 */
import type { Link, ImportConnection, ImportTransaction, Product } from '@mk/shared';
import { planImport, PRODUCTS } from '@mk/shared';
import type { ConnectionRecord, MigrationLedger } from '@mk/ledger';
import { connectionField } from '@mk/ledger';
import { isMoneyKitError } from '@mk/moneykit-client';
import { recordImport } from '@mk/telemetry';
import { decideImportFailure } from './decide';
import { findEarlierLink, type LinkLookup } from './reconcile';
import type { LinkSink } from './link-sink';
import type { ImportRateLimiter } from './rate-limiter';

export interface ImportApi extends LinkLookup {
  importLink(request: ImportConnection['request']): Promise<Link>;
  importTransactions(linkId: string, body: { transactions: ImportTransaction[] }): Promise<Link>;
  /** Our transaction ids (`original_id`) already on the link, among `candidates` (dated within `window`, YYYY-MM-DD). */
  landedTransactionIds(
    linkId: string,
    candidates: string[],
    window: { startDate: string; endDate: string },
  ): Promise<Set<string>>;
  /** Resolves when MoneyKit gives us a token: how a queue paused for refused credentials learns they work again. */
  verifyCredentials?(): Promise<void>;
}

export interface ImportDeps {
  api: ImportApi;
  ledger: MigrationLedger;
  limiter: ImportRateLimiter;
  sink: LinkSink;
  /** Consecutive 429s on one call before we give the job back to the queue. */
  max429s?: number;
  /**
   * How long after an uncertain call we wait before looking for its effect: a request we gave up on may still be
   * running on MoneyKit's side (imports take up to ~10 s) and commit later. Looking too early finds nothing and
   * imports a second link.
   */
  upstreamWaitMs: number;
}

/** Waits until `upstreamWaitMs` after `since`, so that an earlier call still in flight upstream has finished. */
export async function waitForUpstream(deps: ImportDeps, since: number | undefined): Promise<void> {
  const waitMs = (since ?? 0) + deps.upstreamWaitMs - Date.now();
  if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
}

/** For the run page's 429 chart: a Redis hiccup here must not fail the import. */
const noteRateLimited = (deps: ImportDeps, runId: string) => deps.ledger.noteRateLimited(runId).catch(() => undefined);

/** A failed read is tried again in place this many times, after 100, 200, 400 ms…: it changes nothing upstream. */
const READ_RETRIES = 3;
const READ_RETRY_BASE_MS = 100;

/**
 * A read (the look-ups before an import, the checks of a lost batch): never under the import limiter, whose
 * slots are for imports only. A 429 (MoneyKit's read limits) waits its Retry-After; a network error or 5xx is
 * retried in place a few times. Neither costs the job an attempt, so the extra look-up before every import
 * does not make a flaky network exhaust attempts any sooner.
 */
export async function read<T>(deps: ImportDeps, runId: string, call: () => Promise<T>): Promise<T> {
  const max429s = deps.max429s ?? 100;
  for (let limited = 0, failed = 0; ;) {
    try {
      return await call();
    } catch (err) {
      const d = decideImportFailure(err, {
        lastAttempt: false,
        holdsLeft: max429s - limited,
        read: { retriesLeft: READ_RETRIES - failed, delayMs: READ_RETRY_BASE_MS * 2 ** failed },
      });
      if (d.kind === 'hold') {
        limited++;
        await noteRateLimited(deps, runId);
      } else if (d.kind === 'again') failed++;
      else throw err;
      await new Promise((r) => setTimeout(r, d.delayMs));
    }
  }
}

/** Sends one import call under the shared rate limit; a 429 holds every worker back and costs no attempt. */
export async function limited<T>(deps: ImportDeps, runId: string, call: () => Promise<T>): Promise<T> {
  const max429s = deps.max429s ?? 100;
  for (let seen = 0; ; seen++) {
    await deps.limiter.acquire();
    try {
      return await call();
    } catch (err) {
      const d = decideImportFailure(err, { lastAttempt: false, holdsLeft: max429s - seen });
      if (d.kind !== 'hold') throw err;
      await noteRateLimited(deps, runId);
      await deps.limiter.holdFor(d.delayMs);
    }
  }
}

const grantedProducts = (link: Link): Product[] => PRODUCTS.filter((p) => p in link.products);

export async function importConnection(
  deps: ImportDeps,
  record: ConnectionRecord,
  connection: ImportConnection,
): Promise<ConnectionRecord> {
  const { api, ledger } = deps;
  const { request } = connection;
  if (record.state === 'imported' || record.state === 'failed') return record;
  const plan = planImport(request);
  const field = connectionField(record.sourceUserId, record.connectionId);
  const accountIds = request.accounts.map((a) => a.account_id);
  // Written only when the customer user is not the source user: verify reads the user's links with it.
  const customerUserId = request.customer_user.id !== record.sourceUserId ? request.customer_user.id : undefined;
  let link: Link | undefined;

  // Look before every import call, not only after one whose outcome is unknown: the ledger may have lost what an
  // earlier attempt created (Redis without AOF restarted, a restore), MoneyKit has not. One read per import.
  if (record.state === 'pending' || record.state === 'importing') {
    // `uncertain` is set together with `importing` and cleared once the outcome is known; it survives a
    // failed → pending re-drive. Such a call may still be running upstream: let it finish before looking.
    if (record.uncertain === true) await waitForUpstream(deps, record.sentAt);
    const owner = async (linkId: string) => ((await ledger.linkOwner(record.runId, linkId)) ?? field) !== field;
    const earlier = await read(deps, record.runId, () => findEarlierLink(api, request, owner));
    if (earlier) {
      link = earlier;
      // After an unknown import none of the batches went; after a lost ledger any number may have: MoneyKit
      // says which (a read per batch, and only heavy users have batches).
      const batchesDone = await landedBatches(deps, record.runId, earlier.link_id, plan.batches);
      const batchTransactions = plan.batches.slice(0, batchesDone).reduce((n, b) => n + b.length, 0);
      await ledger.noteLanded(
        record.runId,
        field,
        [...plan.importBody.transactions, ...plan.batches.slice(0, batchesDone).flat()],
        accountIds,
      );
      record = await ledger.transitionFrom(record, {
        customerUserId,
        state: 'linked',
        linkId: earlier.link_id,
        adopted: true,
        uncertain: null,
        batchesDone,
        batchInFlight: null,
        transactionsImported: plan.importBody.transactions.length + batchTransactions,
        batchesTotal: plan.batches.length,
      });
      recordImport('adopted');
    }
  }

  if (record.state === 'pending' || record.state === 'importing') {
    link = await limited(deps, record.runId, async () => {
      record = await ledger.transitionFrom(
        record,
        { state: 'importing', uncertain: true, sentAt: Date.now() },
        { countAttempt: true },
      );
      try {
        return await api.importLink(plan.importBody);
      } catch (err) {
        // Known not to have reached MoneyKit: the next attempt need not wait for it before looking.
        if (isMoneyKitError(err) && !err.mayHaveTakenEffect)
          record = await ledger.transitionFrom(record, { uncertain: false });
        throw err;
      }
    });
    // What landed is recorded before the record says so: a crash in between is looked up again (and adopted).
    await ledger.noteLanded(record.runId, field, plan.importBody.transactions, accountIds);
    record = await ledger.transitionFrom(record, {
      customerUserId,
      state: 'linked',
      linkId: link.link_id,
      uncertain: null,
      lastError: null,
      batchesDone: 0,
      batchInFlight: null,
      transactionsImported: plan.importBody.transactions.length,
      batchesTotal: plan.batches.length,
    });
  }

  const linkId = record.linkId!;
  for (let i = record.batchesDone; i < plan.batches.length; i++) {
    const batch = plan.batches[i]!;
    if (
      record.batchInFlight === i &&
      (await waitForUpstream(deps, record.sentAt), await batchLanded(deps, record.runId, linkId, batch))
    ) {
      await ledger.noteLanded(record.runId, field, batch);
      record = await ledger.transitionFrom(record, {
        batchesDone: i + 1,
        batchInFlight: null,
        transactionsImported: record.transactionsImported + batch.length,
      });
      continue;
    }
    link = await limited(deps, record.runId, async () => {
      record = await ledger.transitionFrom(record, { batchInFlight: i, sentAt: Date.now() });
      return api.importTransactions(linkId, { transactions: batch });
    });
    await ledger.noteLanded(record.runId, field, batch);
    record = await ledger.transitionFrom(record, {
      batchesDone: i + 1,
      batchInFlight: null,
      transactionsImported: record.transactionsImported + batch.length,
    });
  }

  // Hand over before marking done: a crash in between only repeats an idempotent hand-over.
  link ??= await api.getUserLinks(request.customer_user.id).then((links) => links[linkId]);
  await deps.sink.linkImported({
    runId: record.runId,
    linkId,
    grantedProducts: link ? grantedProducts(link) : [],
    connected: link?.state === 'connected',
    ...(link?.error_code ? { linkErrorCode: link.error_code } : {}),
  });
  record = await ledger.transitionFrom(record, { state: 'imported', lastError: null });
  if (!record.adopted) recordImport('imported');
  return record;
}

/** Did a batch whose response was lost land? Its transactions carry our ids, so we ask for them back. */
export async function batchLanded(
  deps: ImportDeps,
  runId: string,
  linkId: string,
  batch: ImportTransaction[],
): Promise<boolean> {
  const ids = batch.map((t) => t.transaction_id).filter((id): id is string => Boolean(id));
  if (ids.length === 0) return false;
  const days = batch.map((t) => t.date.slice(0, 10)).sort();
  const window = { startDate: days[0]!, endDate: days[days.length - 1]! };
  const landed = await read(deps, runId, () =>
    deps.api.landedTransactionIds(linkId, [ids[0]!, ids[ids.length - 1]!], window),
  );
  return landed.size > 0;
}

/**
 * How many of an adopted link's batches already landed. Batches go one after the other, each only once the one
 * before it is known to have landed, so the first one missing ends the count.
 */
async function landedBatches(
  deps: ImportDeps,
  runId: string,
  linkId: string,
  batches: ImportTransaction[][],
): Promise<number> {
  let done = 0;
  while (done < batches.length && (await batchLanded(deps, runId, linkId, batches[done]!))) done++;
  return done;
}
