/**
 * Delivers signed webhooks: raw JSON body, MoneyKit-Signature, MoneyKit-Delivery-Token and
 * MoneyKit-Delivery-Attempt; a failed delivery (network error or non-2xx) is retried after each of the
 * configured delays. The last delivery is kept so it can be replayed verbatim.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@mk/shared';
import type { Timers } from '../util/timers';
import type { WebhookPayload } from './events';
import type { WebhookSigner } from './signer';

export interface DeliveryRecord {
  idempotencyKey: string;
  event: string;
  linkId: string;
  attempt: number;
  /** HTTP status the receiver answered, absent on a network error. */
  status?: number;
  error?: string;
  at: string;
  replay?: boolean;
}

interface SentRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

const LOG_SIZE = 500;
/** Deliveries in flight at once: enough to keep up with a refresh benchmark, few enough not to flood a receiver. */
const MAX_IN_FLIGHT = 32;
const DELIVERY_TIMEOUT_MS = 10_000;

export class WebhookDispatcher {
  private log: DeliveryRecord[] = [];
  private last: SentRequest | undefined;
  private queue: Array<() => Promise<void>> = [];
  private inFlight = 0;
  private scheduled = 0;
  private idleWaiters: Array<() => void> = [];
  delivered = 0;
  failedAttempts = 0;
  abandoned = 0;

  constructor(
    private readonly signer: WebhookSigner,
    private readonly timers: Timers,
    private readonly retryDelaysMs: number[],
    private readonly logger: Logger,
    /** Told of every delivery attempt once it is answered (the sandbox's per-link history). */
    private readonly onDelivery: (record: DeliveryRecord & { detail?: string }) => void = () => undefined,
  ) {}

  /** Fire and forget: the API answer never waits for the receiver. */
  send(url: string, payload: WebhookPayload): void {
    const body = JSON.stringify(payload);
    const deliveryToken = randomUUID();
    const attemptOnce = (attempt: number) =>
      this.enqueue(async () => {
        const ok = await this.deliver(url, body, payload, deliveryToken, attempt);
        if (ok) return;
        const delay = this.retryDelaysMs[attempt - 1];
        if (delay === undefined) {
          this.abandoned += 1;
          this.logger.warn(
            { event: payload.webhook_event, linkId: payload.link_id, attempts: attempt },
            'webhook delivery abandoned',
          );
          return;
        }
        this.scheduled += 1;
        this.timers.later(delay, () => {
          this.scheduled -= 1;
          attemptOnce(attempt + 1);
        });
      });
    attemptOnce(1);
  }

  /** Sends the last delivered request again, byte for byte and with the same headers (a replay attack). */
  async replayLast(): Promise<DeliveryRecord | undefined> {
    if (!this.last) return undefined;
    const { url, body, headers } = this.last;
    const payload = JSON.parse(body) as WebhookPayload;
    const record = this.baseRecord(payload, Number(headers['moneykit-delivery-attempt']), true);
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
      await res.arrayBuffer();
      record.status = res.status;
    } catch (err) {
      record.error = (err as Error).message;
    }
    this.remember(record);
    return record;
  }

  deliveries(): DeliveryRecord[] {
    return [...this.log];
  }

  /** Resolves when no delivery is queued, in flight or waiting for a retry. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  reset(): void {
    this.log = [];
    this.last = undefined;
    this.queue = [];
    this.scheduled = 0;
    this.delivered = 0;
    this.failedAttempts = 0;
    this.abandoned = 0;
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.inFlight === 0 && this.queue.length === 0 && this.scheduled === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue.push(task);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0 && !this.timers.isClosed) {
      const task = this.queue.shift()!;
      this.inFlight += 1;
      void task().finally(() => {
        this.inFlight -= 1;
        this.pump();
        this.notifyIdle();
      });
    }
    if (this.timers.isClosed) this.queue = [];
    this.notifyIdle();
  }

  private async deliver(
    url: string,
    body: string,
    payload: WebhookPayload,
    deliveryToken: string,
    attempt: number,
  ): Promise<boolean> {
    const headers = {
      'content-type': 'application/json',
      'moneykit-signature': await this.signer.sign(body),
      'moneykit-delivery-token': deliveryToken,
      'moneykit-delivery-attempt': String(attempt),
      'moneykit-version': '2023-02-18',
    };
    const record = this.baseRecord(payload, attempt, false);
    let ok = false;
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
      await res.arrayBuffer();
      record.status = res.status;
      ok = res.ok;
    } catch (err) {
      record.error = (err as Error).message;
    }
    if (ok) {
      this.delivered += 1;
      this.last = { url, body, headers };
    } else {
      this.failedAttempts += 1;
      this.logger.info(
        { event: payload.webhook_event, linkId: payload.link_id, attempt, status: record.status, error: record.error },
        'webhook delivery failed',
      );
    }
    this.remember(record);
    this.onDelivery({ ...record, detail: eventDetail(payload) });
    return ok;
  }

  private baseRecord(payload: WebhookPayload, attempt: number, replay: boolean): DeliveryRecord {
    return {
      idempotencyKey: payload.webhook_idempotency_key,
      event: payload.webhook_event,
      linkId: payload.link_id,
      attempt,
      at: new Date().toISOString(),
      ...(replay ? { replay } : {}),
    };
  }

  private remember(record: DeliveryRecord): void {
    this.log.push(record);
    if (this.log.length > LOG_SIZE) this.log.splice(0, this.log.length - LOG_SIZE);
  }
}

function eventDetail(payload: WebhookPayload): string {
  const p = payload as { state?: string; product?: string };
  return [p.product, p.state].filter(Boolean).join(' ');
}
