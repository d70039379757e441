/**
 * The import job: one source user, each connection imported exactly once. Connections are independent: a
 * terminal failure of one is recorded and the others go on; a retryable one makes the job retry later, and
 * the retry resumes at the first connection not yet imported.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { ZodError } from 'zod';
import { planImport, type FailureInfo, type ImportJob, type Logger, type PayloadSealer } from '@mk/shared';
import { LedgerConflictError, type ConnectionRecord } from '@mk/ledger';
import { decideImportFailure, type ImportDecision } from './decide';
import { importConnection, type ImportDeps } from './import-connection';
import { openImportPayload } from './payload';

export class RetryLaterError extends Error {}
export class CredentialsRefusedError extends Error {
  constructor(readonly failure: FailureInfo) {
    super(failure.message);
  }
}

export interface ImportProcessorDeps extends ImportDeps {
  logger: Logger;
  /** Opens the sealed payloads (PAYLOAD_KEYS). */
  sealer: PayloadSealer;
}

export async function processImportJob(
  deps: ImportProcessorDeps,
  job: Pick<Job, 'data' | 'attemptsMade' | 'opts' | 'id'>,
): Promise<{ imported: number; failed: number }> {
  const opened = openImportPayload(deps.sealer, job.data);
  if (!opened.ok && 'invalid' in opened) return rejectPayload(deps, { id: job.id, data: opened.plain }, opened.invalid);
  if (!opened.ok) {
    deps.logger.error({ jobId: job.id, reason: opened.sealError.message }, 'import job payload cannot be opened');
    // A key missing from this worker's PAYLOAD_KEYS may be added (the job retries); altered text never opens.
    if (opened.sealError.unknownKey) throw new Error(opened.sealError.message);
    throw new UnrecoverableError(opened.sealError.message);
  }
  const payload: ImportJob = opened.payload;
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  const { ledger } = deps;
  const connectionIds = payload.connections.map((c) => c.connectionId);
  let records = await ledger.getMany(payload.runId, payload.sourceUserId, connectionIds);
  if (records.some((r) => !r)) {
    // The producer registers before enqueueing; a job without records (ledger lost, or enqueued by hand) registers here.
    records = await ledger.register(
      payload.runId,
      payload.sourceUserId,
      payload.line,
      payload.connections.map((c) => {
        let batchesTotal = 0;
        try {
          batchesTotal = planImport(c.request).batches.length;
        } catch {
          /* too large: importConnection reports it */
        }
        return {
          connectionId: c.connectionId,
          accounts: c.request.accounts.length,
          transactions: c.request.transactions.length,
          batchesTotal,
        };
      }),
    );
  }

  let imported = 0;
  let failed = 0;
  let retryLater: string | undefined;
  for (const [i, connection] of payload.connections.entries()) {
    const record = records[i]!;
    try {
      const done = await importConnection(deps, record, connection);
      if (done.state === 'imported') imported++;
      else if (done.state === 'failed') failed++;
    } catch (err) {
      const decision = decideImportFailure(err, { lastAttempt });
      const log = { runId: payload.runId, connectionId: connection.connectionId, jobId: job.id };
      const outcome = await recordDecision(deps, decision, payload, connection.connectionId, record, log);
      if (outcome.failed) failed++;
      retryLater = outcome.retryLater ?? retryLater;
    }
  }
  if (retryLater) throw new RetryLaterError(retryLater);
  return { imported, failed };
}

/**
 * Acts on the decision for one connection: writes its ledger record (fenced: a worker that was taken over writes
 * nothing and retries later) and says what became of it.
 */
async function recordDecision(
  deps: ImportProcessorDeps,
  decision: ImportDecision,
  payload: ImportJob,
  connectionId: string,
  read: ConnectionRecord,
  log: Record<string, unknown>,
): Promise<{ failed?: true; retryLater?: string }> {
  const { ledger } = deps;
  // Two workers on one connection: one lost the job's lock while starved and went on. The one fenced out writes
  // nothing and retries later from what the ledger then says (the other may die half-way).
  const yieldToOther = () => {
    deps.logger.warn(log, 'connection changed by another worker: retrying later');
    return { retryLater: 'the connection was changed by another worker' };
  };
  if (decision.kind === 'yield' || decision.kind === 'hold' || decision.kind === 'again') return yieldToOther();
  const current = (await ledger.get(payload.runId, payload.sourceUserId, connectionId)) ?? read;
  // Finished meanwhile by a worker that took the job over: never undo it.
  if (current.state === 'imported' || current.state === 'failed') return {};
  try {
    switch (decision.kind) {
      case 'fail':
        await ledger.transitionFrom(current, { state: 'failed', lastError: decision.failure });
        deps.logger.warn({ ...log, failure: decision.failure }, 'connection failed');
        return { failed: true };
      case 'retry':
        await ledger.transitionFrom(current, { lastError: decision.failure });
        deps.logger.info({ ...log, failure: decision.failure }, 'connection will be retried');
        return { retryLater: decision.failure.message };
      case 'pause':
        await ledger.transitionFrom(current, { lastError: decision.failure });
        deps.logger.error(
          { ...log, failure: decision.failure },
          'MoneyKit refused our credentials: fix MONEYKIT_CLIENT_ID / MONEYKIT_CLIENT_SECRET',
        );
        throw new CredentialsRefusedError(decision.failure);
    }
  } catch (err) {
    if (err instanceof LedgerConflictError) return yieldToOther();
    throw err;
  }
}

/**
 * A job that failed for good outside its own processing (its workers died more often than maxStalledCount allows):
 * its open connections are failed with that reason, so none is left open without a job — the run completes with
 * failures and `retry` re-drives them (an uncertain one still looks before it imports).
 */
export async function failOpenConnections(
  ledger: ImportProcessorDeps['ledger'],
  sealer: PayloadSealer,
  data: unknown,
  reason: string,
): Promise<number> {
  const opened = openImportPayload(sealer, data);
  if (!opened.ok) return 0;
  const { runId, sourceUserId, connections } = opened.payload;
  const records = await ledger.getMany(
    runId,
    sourceUserId,
    connections.map((c) => c.connectionId),
  );
  let failed = 0;
  for (const record of records) {
    if (!record || record.state === 'imported' || record.state === 'failed') continue;
    try {
      await ledger.transitionFrom(record, { state: 'failed', lastError: { errorClass: 'retryable', message: reason } });
      failed++;
    } catch (err) {
      if (!(err instanceof LedgerConflictError)) throw err; // a worker still on it: its outcome stands
    }
  }
  return failed;
}

/**
 * A payload that fails its schema can never succeed: its connections are failed with the reason (so the run
 * still finishes and the report says why) and the job is not retried.
 */
async function rejectPayload(
  deps: ImportProcessorDeps,
  job: Pick<Job, 'data' | 'id'>,
  error: ZodError,
): Promise<never> {
  const issue = error.issues[0];
  const reason = `invalid import job payload: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unreadable'}`;
  const data = (job.data ?? {}) as {
    runId?: unknown;
    sourceUserId?: unknown;
    connections?: { connectionId?: unknown }[];
  };
  if (typeof data.runId === 'string' && typeof data.sourceUserId === 'string' && Array.isArray(data.connections)) {
    for (const c of data.connections) {
      if (typeof c?.connectionId !== 'string') continue;
      const record = { runId: data.runId, sourceUserId: data.sourceUserId, connectionId: c.connectionId };
      const [existing] = await deps.ledger.getMany(data.runId, data.sourceUserId, [c.connectionId]);
      if (!existing)
        await deps.ledger.register(data.runId, data.sourceUserId, undefined, [
          { connectionId: c.connectionId, accounts: 0, transactions: 0, batchesTotal: 0 },
        ]);
      await deps.ledger.transition(record, { state: 'failed', lastError: { errorClass: 'terminal', message: reason } });
    }
  }
  deps.logger.error({ jobId: job.id, reason }, 'import job payload refused');
  throw new UnrecoverableError(reason);
}
