/**
 * A top-up job (`mk-migrate topup`): a newer dump's transactions that are not on a user's links yet, sent through
 * `POST /links/{id}/import/transactions` in ≤ 1 MB batches under the same app-wide import limit as the first
 * import, exactly once. Before each batch the worker asks what landed (the ledger's landed record, written when a
 * call is known to have landed), and before re-sending after a call whose outcome is unknown (`topupInFlight`) it
 * waits for that call to settle upstream and asks MoneyKit whether it landed — the first import's rules for batches.
 * Changes to the ledger record are fenced on its revision: two workers on one connection never both send.
 * A link found again at MoneyKit (`adopted`: after a lost response, or after Redis lost its data and `run` was
 * re-run) has landed records rebuilt from the dump that `run` read, not from our own writes: what an earlier top-up
 * put on it is missing from them. So before its first batch the worker reads back which of the rows it is about to
 * send the link holds already (GET /links/{id}/transactions over their dates) and records those as landed.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import { topupJobSchema, transactionBatches, type ImportConnection, type TopupJob } from '@mk/shared';
import { connectionField, diffLanded, LedgerConflictError, type ConnectionRecord } from '@mk/ledger';
import { decideImportFailure } from './decide';
import { batchLanded, limited, read, waitForUpstream, type ImportDeps } from './import-connection';
import { openImportPayload } from './payload';
import { CredentialsRefusedError, RetryLaterError, type ImportProcessorDeps } from './processor';

export type TopupOutcome = 'topped_up' | 'not_imported' | 'failed';

/** Tops up one connection; returns its record as it now stands (unchanged when the first import has not finished). */
export async function topupConnection(
  deps: ImportDeps,
  topupId: string,
  record: ConnectionRecord,
  connection: ImportConnection,
): Promise<ConnectionRecord> {
  const { ledger, api } = deps;
  if (record.state !== 'imported' || !record.linkId) return record;
  if (record.topupId === topupId && record.topupDone) return record;
  const linkId = record.linkId;
  const field = connectionField(record.sourceUserId, record.connectionId);
  const { transactions } = connection.request;
  // Every account of the link has a landed record (empty ones too): an account without one is not on the link.
  const accountIds = [
    ...new Set([...connection.request.accounts.map((a) => a.account_id), ...transactions.map((t) => t.account_id)]),
  ];
  if (record.topupId !== topupId) {
    // Read back before the record names this top-up: a crash in between reads back again, which changes nothing.
    if (record.adopted) await readBackLanded(deps, record, field, transactions, accountIds);
    record = await ledger.transitionFrom(record, {
      topupId,
      topupDone: false,
      topupError: null,
      transactionsToppedUp: 0,
    });
  }

  for (;;) {
    // What landed is re-read before each batch: written before the record says a call landed, so it is never behind.
    const diff = diffLanded(await ledger.landed(record.runId, field, accountIds), transactions);
    // Imported before landed records were kept: what is on the link is unknown here, so nothing is sent.
    if (diff.unrecorded)
      return ledger.transitionFrom(record, {
        topupDone: true,
        topupInFlight: null,
        topupError: 'no landed record for this link (imported before top-ups were possible): not topped up',
      });
    const todo = diff.fresh;
    if (todo.length === 0) break;
    const batch = transactionBatches(todo).batches[0]!;
    const settle = async () => {
      await ledger.noteLanded(record.runId, field, batch);
      record = await ledger.transitionFrom(record, {
        topupInFlight: null,
        transactionsImported: record.transactionsImported + batch.length,
        transactionsToppedUp: (record.transactionsToppedUp ?? 0) + batch.length,
      });
    };
    // An earlier send's outcome is unknown: this batch is that one unless its landing was recorded already.
    if (
      record.topupInFlight &&
      (await waitForUpstream(deps, record.sentAt), await batchLanded(deps, record.runId, linkId, batch))
    ) {
      await settle();
      continue;
    }
    await limited(deps, record.runId, async () => {
      record = await ledger.transitionFrom(record, { topupInFlight: true, sentAt: Date.now() });
      return api.importTransactions(linkId, { transactions: batch });
    });
    await settle();
  }
  return ledger.transitionFrom(record, { topupDone: true, topupInFlight: null });
}

/**
 * Of the rows the landed record says are not on the link, those MoneyKit holds already (by our id, `original_id`)
 * are recorded as landed. Rows without a source id cannot be asked for by id; they are sent as the record says.
 */
async function readBackLanded(
  deps: ImportDeps,
  record: ConnectionRecord,
  field: string,
  transactions: ImportConnection['request']['transactions'],
  accountIds: string[],
): Promise<void> {
  const diff = diffLanded(await deps.ledger.landed(record.runId, field, accountIds), transactions);
  const candidates = diff.fresh.filter((t) => t.transaction_id);
  if (diff.unrecorded || candidates.length === 0) return;
  const days = candidates.map((t) => t.date.slice(0, 10)).sort();
  const window = { startDate: days[0]!, endDate: days[days.length - 1]! };
  const held = await read(deps, record.runId, () =>
    deps.api.landedTransactionIds(
      record.linkId!,
      candidates.map((t) => t.transaction_id!),
      window,
    ),
  );
  if (held.size > 0)
    await deps.ledger.noteLanded(
      record.runId,
      field,
      candidates.filter((t) => held.has(t.transaction_id!)),
    );
}

export async function processTopupJob(
  deps: ImportProcessorDeps,
  job: Pick<Job, 'data' | 'attemptsMade' | 'opts' | 'id'>,
): Promise<Record<TopupOutcome, number>> {
  const opened = openImportPayload<TopupJob>(deps.sealer, job.data, topupJobSchema);
  if (!opened.ok) {
    const reason =
      'invalid' in opened
        ? `invalid top-up job payload: ${opened.invalid.issues[0]?.message ?? 'unreadable'}`
        : opened.sealError.message;
    deps.logger.error({ jobId: job.id, reason }, 'top-up job payload refused');
    if (!('invalid' in opened) && opened.sealError.unknownKey) throw new Error(reason);
    throw new UnrecoverableError(reason);
  }
  const payload = opened.payload;
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const records = await deps.ledger.getMany(
    payload.runId,
    payload.sourceUserId,
    payload.connections.map((c) => c.connectionId),
  );
  const outcome: Record<TopupOutcome, number> = { topped_up: 0, not_imported: 0, failed: 0 };
  let retryLater: string | undefined;
  for (const [i, connection] of payload.connections.entries()) {
    const record = records[i];
    if (!record || record.state !== 'imported') {
      outcome.not_imported++;
      continue;
    }
    const log = {
      runId: payload.runId,
      connectionId: connection.connectionId,
      jobId: job.id,
      topupId: payload.topupId,
    };
    try {
      await topupConnection(deps, payload.topupId, record, connection);
      outcome.topped_up++;
    } catch (err) {
      const decision = decideImportFailure(err, { lastAttempt });
      if (decision.kind === 'pause') throw new CredentialsRefusedError(decision.failure);
      if (decision.kind !== 'fail') {
        deps.logger.info(
          {
            ...log,
            reason:
              decision.kind === 'yield'
                ? decision.reason
                : 'failure' in decision
                  ? decision.failure.message
                  : decision.kind,
          },
          'top-up will be retried',
        );
        retryLater = 'failure' in decision ? decision.failure.message : 'the connection was changed by another worker';
        continue;
      }
      // The link refuses it for good (deleted, or attempts spent): this connection's top-up ends here, said why.
      const current = await deps.ledger.get(payload.runId, payload.sourceUserId, connection.connectionId);
      try {
        if (current)
          await deps.ledger.transitionFrom(current, {
            topupId: payload.topupId,
            topupDone: true,
            topupInFlight: null,
            topupError: decision.failure.message,
          });
        outcome.failed++;
        deps.logger.warn({ ...log, failure: decision.failure }, 'top-up of a connection failed');
      } catch (e) {
        if (!(e instanceof LedgerConflictError)) throw e;
        retryLater = 'the connection was changed by another worker';
      }
    }
  }
  if (retryLater) throw new RetryLaterError(retryLater);
  return outcome;
}
