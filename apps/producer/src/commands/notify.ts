/**
 * `notify`: the events for the team's backend (NOTIFY_URL, delivered by the workers). `resend` queues a run's events
 * again for the workers' notifier: every event re-derived from the ledger (a full resync), or with `--dead-letters`
 * only those given up on. Either way with their original idempotency keys, so the endpoint drops what it already has.
 */
import { EventOutbox, type MigrationLedger } from '@mk/ledger';

export async function resendEvents(
  ledger: MigrationLedger,
  runId: string,
  opts: { deadLetters?: boolean },
): Promise<number> {
  if (!(await ledger.getRun(runId))) throw new Error(`run ${runId} does not exist (see \`runs\`)`);
  const outbox = new EventOutbox(ledger);
  return opts.deadLetters ? outbox.resendDeadLetters(runId) : outbox.rederive(runId);
}

export async function notifyBacklog(
  ledger: MigrationLedger,
  runId: string,
): Promise<{ pending: number; dead: number }> {
  if (!(await ledger.getRun(runId))) throw new Error(`run ${runId} does not exist (see \`runs\`)`);
  return new EventOutbox(ledger).backlog(runId);
}
