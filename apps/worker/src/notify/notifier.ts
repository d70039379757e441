/**
 * The notifier: delivers the runs' outboxes (@mk/ledger outbox.ts) to NOTIFY_URL, at least once.
 *
 * - One process delivers at a time (a lease in Redis, renewed while it lives): with a single sender, each link's
 *   events go out in the order of its history. Every worker process with NOTIFY_URL runs a notifier; a SIGKILLed
 *   holder's lease runs out and another process takes over.
 * - An event leaves the outbox only once the endpoint answered 2xx (delivered) or it has been refused for
 *   NOTIFY_GIVE_UP_AFTER_HOURS (moved to the dead letters, one Lua step). A crash anywhere in between sends it again:
 *   the endpoint recognises the repeat by its idempotency key.
 * - Of one link, only its oldest undelivered event is tried; the next waits until it is settled. Failed attempts back
 *   off exponentially (NOTIFY_RETRY_BASE_MS doubling up to NOTIFY_RETRY_MAX_MS, with jitter); where each stands is
 *   kept in Redis, so a restart neither resets the backoff nor the give-up clock.
 * - run.completed is written here, once per round, when a run has nothing open left and its producer is done.
 * Bodies carry source user ids: they are never logged.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { keys, scriptSet, type Logger, type Redis } from '@mk/shared';
import { EventOutbox, eventOf, type DeliveryState, type MigrationLedger, type OutboxEntry } from '@mk/ledger';
import { recordNotifyDelivery } from '@mk/telemetry';
import type { NotifyOptions } from './options';
import { NOTIFY_IDEMPOTENCY_HEADER, NOTIFY_SIGNATURE_HEADER, signNotifyBody } from './signature';

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), {
  mkNotifyLease: { file: 'lease.lua', keys: 1 },
  mkNotifyRelease: { file: 'release.lua', keys: 1 },
});

/** Outbox entries read per page, and at most per shard of a run and pass (the head of a long backlog waiting on retries). */
const PAGE = 200;
const SCAN_LIMIT = 5000;
const IDLE_MS = 200;
const COMPLETION_CHECK_MS = 1000;

export interface NotifierDeps {
  redis: Redis;
  ledger: MigrationLedger;
  prefix: string;
  options: NotifyOptions;
  logger: Logger;
}

export interface RunningNotifier {
  /** Whether this process holds the lease now. */
  delivering(): boolean;
  close(): Promise<void>;
}

export function backoffMs(
  attempts: number,
  o: Pick<NotifyOptions, 'retryBaseMs' | 'retryMaxMs'>,
  random = Math.random,
): number {
  const full = Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** Math.min(attempts - 1, 40));
  return Math.round(full * (0.5 + random() * 0.5));
}

export function startNotifier(deps: NotifierDeps): RunningNotifier {
  const { redis, options, logger } = deps;
  const outbox = new EventOutbox(deps.ledger);
  const scripts = SCRIPTS.on(redis);
  const leaseKey = keys(deps.prefix).notifyLease;
  const token = randomUUID();
  let heldUntil = 0;
  let closed = false;
  let wake: (() => void) | undefined;
  let lastCompletionCheck = 0;

  // Sends only well inside the lease: a holder that stalled past it must not send beside its successor.
  const holds = () => Date.now() < heldUntil - options.leaseMs / 3;
  const renew = async () => {
    const askedAt = Date.now();
    const held = Number(await scripts.mkNotifyLease([leaseKey], [token, options.leaseMs])) === 1;
    heldUntil = held ? askedAt + options.leaseMs : 0;
  };
  const renewer = setInterval(
    () => void renew().catch(() => (heldUntil = 0)),
    Math.max(100, Math.floor(options.leaseMs / 4)),
  );

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function post(id: string, body: string): Promise<string | undefined> {
    try {
      const res = await fetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'moneykit-migrator-notify',
          [NOTIFY_SIGNATURE_HEADER]: signNotifyBody(options.secret, body),
          [NOTIFY_IDEMPOTENCY_HEADER]: id,
        },
        body,
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? undefined : `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      return e.name === 'TimeoutError'
        ? `no answer within ${options.timeoutMs} ms`
        : `connection failed (${e.cause?.code ?? e.name})`;
    }
  }

  async function deliver(entry: OutboxEntry, state: DeliveryState | undefined): Promise<void> {
    const event = eventOf(entry);
    const failure = await post(event.id, JSON.stringify(event));
    const now = Date.now();
    if (failure === undefined) {
      await outbox.delivered(entry);
      recordNotifyDelivery('delivered');
      return;
    }
    const attempts = (state?.attempts ?? 0) + 1;
    const firstAt = state?.firstAt ?? now;
    if (now - firstAt >= options.giveUpAfterMs) {
      await outbox.deadLetter(entry, `${failure} after ${attempts} attempts`);
      recordNotifyDelivery('dead');
      logger.error(
        { runId: entry.runId, type: entry.type, attempts, failure },
        'event given up on: moved to the dead letters (`mk-migrate notify resend RUN --dead-letters`)',
      );
      return;
    }
    await outbox.noteAttempt(entry, {
      attempts,
      firstAt,
      nextAt: now + backoffMs(attempts, options),
      lastError: failure,
    });
    recordNotifyDelivery('failed');
    logger.warn({ runId: entry.runId, type: entry.type, attempts, failure }, 'event not delivered: will retry');
  }

  /** One event per link at most: the oldest of each whose backoff is over. Returns how many were tried. */
  async function pass(): Promise<number> {
    let tried = 0;
    for (const runId of await outbox.runIds()) {
      const picked: { entry: OutboxEntry; state: DeliveryState | undefined }[] = [];
      const seen = new Set<string>();
      const shards = await outbox.shards(runId);
      for (let shard = 0; shard < shards && picked.length < options.concurrency; shard++) {
        let after = '-';
        for (let scanned = 0; picked.length < options.concurrency && scanned < SCAN_LIMIT;) {
          const page = await outbox.read(runId, shard, PAGE, after);
          if (page.length === 0) break;
          const states = await outbox.deliveryStates(
            runId,
            shard,
            page.map((e) => e.id),
          );
          const now = Date.now();
          for (let i = 0; i < page.length && picked.length < options.concurrency; i++) {
            const entry = page[i]!;
            if (seen.has(entry.field)) continue;
            seen.add(entry.field);
            const state = states[i];
            if (state && state.nextAt > now) continue;
            picked.push({ entry, state });
          }
          scanned += page.length;
          after = page[page.length - 1]!.id;
          if (page.length < PAGE) break;
        }
      }
      if (picked.length === 0 || !holds()) continue;
      await Promise.all(picked.map((p) => deliver(p.entry, p.state)));
      tried += picked.length;
    }
    return tried;
  }

  async function checkCompletions(): Promise<void> {
    for (const runId of await outbox.runIds()) {
      const run = await deps.ledger.getRun(runId);
      if (!run || run.status !== 'enqueued') continue;
      const c = await deps.ledger.counts(runId);
      const total = c.pending + c.importing + c.linked + c.imported + c.failed;
      if (total === 0 || c.pending + c.importing + c.linked > 0) continue;
      const state = c.failed > 0 || run.rejects > 0 ? 'completed_with_failures' : 'completed';
      await outbox.runCompleted(runId, run.retryRounds ?? 0, {
        state,
        connections: total,
        imported: c.imported,
        failed: c.failed,
        rejected: run.rejects,
      });
    }
  }

  const loop = (async () => {
    await renew().catch(() => undefined);
    while (!closed) {
      try {
        if (!holds()) {
          await sleep(Math.min(1000, options.leaseMs / 4));
          continue;
        }
        if (Date.now() - lastCompletionCheck >= COMPLETION_CHECK_MS) {
          lastCompletionCheck = Date.now();
          await checkCompletions();
        }
        if ((await pass()) === 0) await sleep(IDLE_MS);
      } catch (err) {
        logger.warn({ err }, 'notifier pass failed: trying again');
        await sleep(1000);
      }
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    delivering: holds,
    close: () =>
      (closing ??= (async () => {
        closed = true;
        clearInterval(renewer);
        wake?.();
        await loop;
        await scripts.mkNotifyRelease([leaseKey], [token]).catch(() => undefined);
      })()),
  };
}
