/**
 * The refresh jobs: claim the quota, call MoneyKit once for every product claimed, record the answer. A batch job
 * carries many due links: they are claimed, sent and settled in groups of as many calls as may be in flight, one
 * script call per shard of the group for each step. Failures are decided in outcome.ts and acted on here, in one switch.
 */
import { RateLimitError, type Job, type Queue } from 'bullmq';
import {
  ConfigError,
  refreshBatchJob,
  refreshBatchJobSchema,
  refreshCheckJob,
  refreshCheckJobSchema,
  refreshJob,
  refreshJobSchema,
  type RefreshJob,
  type FailureInfo,
  type Logger,
  type Product,
} from '@mk/shared';
import { isMoneyKitError, isTimeoutError, MoneyKitError, type MoneyKitClient } from '@mk/moneykit-client';
import { recordRefreshLag } from '@mk/telemetry';
import { CongestionLimit, type CallSignal } from './congestion';
import { LagTracker } from './lag';
import { decideRefreshOutcome } from './outcome';
import type { Claim, Claimed, RefreshRegistry, Settlement } from '@mk/refresh';
import type { LinkEvents } from '../link-events';

export type RefreshClient = Pick<MoneyKitClient, 'refreshProducts' | 'maxExchangeMs' | 'getLink'> &
  Partial<Pick<MoneyKitClient, 'verifyCredentials'>>;

export interface RefreshResult {
  outcome: 'accepted' | 'skipped' | 'deferred' | 'settled';
  products: Product[];
}

/** What a batch job did with its links. */
export interface BatchResult {
  accepted: number;
  /** Answered with an error and settled by the decision table (later, parked, stopped, uncertain…). */
  settled: number;
  /** Nothing claimable yet (a duplicate dispatch): planned again from their state. */
  deferred: number;
  /** No longer active (parked, removed) or unknown. */
  skipped: number;
  /** Given to a job of their own: a retry with backoff, or the rest of the batch once the queue is held. */
  handedOff: number;
}

/**
 * What is left for the job once a failed call was acted on: nothing, a retry with backoff (the call provably did not
 * go out), or holding the queue (an app-wide 429, refused credentials), with the products still to send.
 */
type Aftermath =
  { kind: 'done' } | { kind: 'retry'; err: MoneyKitError; products: Product[] } | { kind: 'halt'; products: Product[] };

export interface ProcessorDeps {
  registry: RefreshRegistry;
  client: RefreshClient;
  queue: Queue;
  logger: Logger;
  lag?: LagTracker;
  /** MoneyKit refused our credentials: pause the queue until it accepts them (the credentials pause of this queue). */
  credentialsRefused: (failure: FailureInfo) => Promise<void>;
  /** Calls in flight in this process, backed off on timeouts (default: one permit per job, no back-off). */
  congestion?: CongestionLimit;
  /** Told of links that need a person (parked, removed, a product forbidden): the ledger's events for the team. */
  links?: LinkEvents;
}

/** Why a settlement means the link needs a person, or undefined when it does not. */
export function attentionOf(settlement: Settlement): string | undefined {
  switch (settlement.action) {
    case 'park':
    case 'remove':
      return settlement.reason;
    case 'stop':
      return settlement.why === 'forbidden' ? `product_forbidden:${settlement.products.join(',')}` : undefined;
    default:
      return undefined;
  }
}

/**
 * How long after its claim a call may still be sent: a claim counts as a refresh at `claim + inFlightMs`, so the call
 * must be over (answered, or given up on) by then with the quota guard to spare. A process that stalled longer
 * between claim and send gives the claim back unsent and claims again.
 */
export function sendWindowMs(inFlightMs: number, callDeadlineMs: number, quotaGuardMs: number): number {
  return inFlightMs - callDeadlineMs - quotaGuardMs;
}

const MAX_RECLAIMS = 3;
/** How far MoneyKit's clock may run behind ours when we read its `last_attempted_at` (capped at half a quota window). */
const MAX_CLOCK_SKEW_MS = 60_000;
/** After an uncertain call's token, how long before asking MoneyKit whether it arrived. */
const CHECK_MARGIN_MS = 1000;

/**
 * Did MoneyKit receive the call claimed at `claimedAt`? It records `last_attempted_at` when it takes a refresh; our
 * previous refresh of the product is at least a quota window older than the claim (the claim's own gate), so any
 * attempt recorded since the claim, give or take the clocks' skew, is that call (or MoneyKit's own, which counts too).
 * A product the link does not list says nothing: the call stays counted.
 */
export function callArrived(
  status: { last_attempted_at?: string | null } | undefined,
  claimedAt: number,
  skewMs: number,
): boolean {
  if (status === undefined) return true;
  if (!status.last_attempted_at) return false;
  return Date.parse(status.last_attempted_at) >= claimedAt - skewMs;
}

function signalOf(answer: MoneyKitError | 'accepted'): CallSignal {
  if (answer === 'accepted') return 'answered';
  return isTimeoutError(answer) ? 'timedOut' : 'other';
}

/** The part of a claim that concerns one product (for probing a multi-product 403 product by product). */
function narrow(claim: Claimed, product: Product): Claimed {
  const i = claim.products.indexOf(product);
  return {
    ...claim,
    products: [product],
    previous: claim.previous.split(',')[i] ?? '-',
    dueTimes: [claim.dueTimes[i] ?? 0],
  };
}

export function createRefreshProcessor(deps: ProcessorDeps) {
  const { registry, client, queue, logger } = deps;
  const opts = registry.options;
  const callMs = client.maxExchangeMs('refresh_products');
  const window = sendWindowMs(opts.inFlightMs, callMs, opts.quotaGuardMs);
  if (window <= 0)
    throw new ConfigError(
      'REFRESH_IN_FLIGHT_MS',
      `(${opts.inFlightMs} ms) must exceed the longest refresh call (${callMs} ms: MONEYKIT_TIMEOUT_MS and the transport's grace) plus REFRESH_QUOTA_GUARD_MS (${opts.quotaGuardMs} ms)`,
    );
  const congestion = deps.congestion ?? new CongestionLimit({ max: Number.MAX_SAFE_INTEGER, cooldownMs: callMs });
  const isLastAttempt = (job: Job) => job.attemptsMade + 1 >= (job.opts.attempts ?? 1);

  /** One call: MoneyKit's answer (the products it granted, or its error). Anything else may have gone out: uncertain. */
  async function send(claim: Claimed): Promise<MoneyKitError | { granted: Product[] }> {
    const { trace } = registry;
    try {
      await trace.note(claim.linkId, 'sent', claim.products.join('+'));
      const link = await client.refreshProducts(claim.linkId, claim.products, { sendBy: claim.askedAt + window });
      await trace.note(claim.linkId, 'answer', '202 accepted');
      return { granted: Object.keys(link.products) as Product[] };
    } catch (err) {
      if (isMoneyKitError(err)) {
        await trace.note(
          claim.linkId,
          'answer',
          `${err.errorClass}${err.status ? ` ${err.status}` : ''} ${err.code ?? ''}${err.mayHaveTakenEffect ? ' (may have taken effect)' : ''}`,
        );
        return err;
      }
      // not a MoneyKit answer (a bug, Redis gone): the call may have gone out
      await registry.settle(claim, { action: 'uncertain', answered: false }).catch(() => undefined);
      throw err;
    }
  }

  /** send(), an accepted call settled at once. */
  async function call(claim: Claimed): Promise<MoneyKitError | 'accepted'> {
    const answer = await send(claim);
    if (isMoneyKitError(answer)) return answer;
    await registry.settle(claim, { action: 'accepted', granted: answer.granted });
    return 'accepted';
  }

  async function act(claim: Claimed, err: MoneyKitError, lastAttempt: boolean): Promise<Aftermath> {
    const recent429Links = err.errorClass === 'rate_limited' ? await registry.note429(claim.linkId) : undefined;
    const decision = decideRefreshOutcome(err, {
      products: claim.products,
      lastAttempt,
      ...(recent429Links !== undefined && { recent429Links }),
      appRateLimitLinks: opts.appRateLimitLinks,
      retryLaterMs: opts.retryLaterMs,
    });
    const log = {
      linkId: claim.linkId,
      products: claim.products,
      errorClass: err.errorClass,
      status: err.status,
      code: err.code,
    };
    switch (decision.kind) {
      case 'settle': {
        await registry.settle(claim, decision.settlement);
        if (decision.counter) await registry.count(decision.counter);
        if (decision.settlement.action === 'uncertain') await scheduleCheck(claim);
        const attention = attentionOf(decision.settlement);
        if (attention && deps.links)
          await deps.links
            .needsAttention(claim.linkId, attention, Date.now())
            .catch((e: unknown) =>
              logger.warn({ err: e, linkId: claim.linkId }, 'link needing attention not recorded'),
            );
        logger.debug({ ...log, action: decision.settlement.action }, 'refresh settled after an error');
        return { kind: 'done' };
      }
      case 'retry':
        // provably not sent: give the products back (the lease stays) and try again with backoff
        await registry.settle(claim, { action: 'retry' });
        await registry.count('retries');
        return { kind: 'retry', err, products: claim.products };
      case 'pause':
        await registry.settle(claim, { action: 'retry' });
        await registry.count(decision.counter);
        logger.warn({ ...log, pauseMs: decision.delayMs }, 'app-wide 429: refresh queue paused');
        await queue.rateLimit(decision.delayMs);
        return { kind: 'halt', products: claim.products };
      case 'credentials':
        // nothing was spent: the products go back, the job waits in the paused queue
        await registry.settle(claim, { action: 'retry' });
        await registry.count('authFailures');
        await deps.credentialsRefused(err.toFailure());
        return { kind: 'halt', products: claim.products };
      case 'probe':
        return probe(claim, lastAttempt);
    }
  }

  /** Several products refused with one 403 (which one?): that call changed nothing, so each may go alone now. */
  async function probe(claim: Claimed, lastAttempt: boolean): Promise<Aftermath> {
    const retry: Product[] = [];
    let firstErr: MoneyKitError | undefined;
    for (const [i, product] of claim.products.entries()) {
      const single = narrow(claim, product);
      const answer = await call(single);
      if (answer === 'accepted') continue;
      const after = await act(single, answer, lastAttempt);
      if (after.kind === 'halt') {
        // the queue is held: the products not sent yet go back with it
        const unsent = claim.products.slice(i + 1);
        await registry.settleMany(unsent.map((p) => ({ claim: narrow(claim, p), settlement: { action: 'retry' } })));
        return { kind: 'halt', products: [...retry, product, ...unsent] };
      }
      if (after.kind === 'retry') {
        retry.push(product);
        firstErr ??= after.err;
      }
    }
    return firstErr ? { kind: 'retry', err: firstErr, products: retry } : { kind: 'done' };
  }

  /**
   * An uncertain call counts as a refresh: without more, a daily product whose call was dropped waits a day. Once the
   * call can no longer arrive, one GET /links/{id} tells whether it did (refreshCheckJob). Lost if this process dies
   * before adding it: then the call just stays counted.
   */
  async function scheduleCheck(claim: Claimed): Promise<void> {
    const { claimedAt, arrivesBy } = registry.claimWindow(claim);
    const delay =
      Math.max(0, arrivesBy - claimedAt - (Date.now() - claim.askedAt)) + opts.quotaGuardMs + CHECK_MARGIN_MS;
    // only where the quota window outlasts the wait for the check: a shorter one is due again before it could tell
    const previous = claim.previous.split(',');
    const worth = claim.products
      .map((p, i) => [p, previous[i] ?? '-'] as const)
      .filter(([p]) => registry.timings[p].allowMs > arrivesBy - claimedAt + delay);
    if (worth.length === 0) return;
    const check = {
      linkId: claim.linkId,
      products: worth.map(([p]) => p),
      claimedAt,
      previous: worth.map(([, e]) => e).join(','),
    };
    await queue.add(refreshCheckJob.name, check, {
      ...refreshCheckJob.options,
      jobId: refreshCheckJob.id(check),
      delay,
    });
  }

  /**
   * The quota gate, re-asked while the claim is too old to send (this process stalled since it was taken): the
   * products are given back unsent and claimed again.
   */
  async function fresh(data: { linkId: string; products: Product[] }, claim: Claim): Promise<Claim> {
    for (let i = 0; ; i++) {
      if (claim.kind === 'gone' || claim.products.length === 0 || Date.now() - claim.askedAt < window) return claim;
      await registry.settle(claim, { action: 'rollback' });
      await registry.count('staleClaims');
      logger.warn(
        { linkId: data.linkId, ageMs: Date.now() - claim.askedAt, windowMs: window },
        'refresh claim too old to send (process stalled): claimed again',
      );
      if (i + 1 >= MAX_RECLAIMS)
        throw new Error(`refresh claim of ${data.linkId} went stale ${MAX_RECLAIMS} times: this process is starved`);
      claim = await registry.claim(data.linkId, data.products);
    }
  }

  function recordLag(dueAt: number): void {
    const lagMs = Date.now() - dueAt;
    deps.lag?.record(lagMs);
    recordRefreshLag(lagMs);
  }

  /** refreshCheckJob: gives back the quota of the products an uncertain call never brought to MoneyKit. */
  async function processCheck(job: Job): Promise<RefreshResult> {
    const check = refreshCheckJobSchema.parse(job.data);
    // a failed look (retried by BullMQ, then dropped) leaves the call counted: late, never over quota
    const link = await client.getLink(check.linkId);
    await registry.count('uncertainChecked');
    const skew = (p: Product) => Math.min(MAX_CLOCK_SKEW_MS, registry.timings[p].allowMs / 2);
    const unsent = check.products.filter((p) => !callArrived(link.products[p], check.claimedAt, skew(p)));
    await registry.trace.note(
      check.linkId,
      'checked',
      unsent.length ? `never arrived: ${unsent.join('+')} due again` : 'the uncertain call arrived',
    );
    if (unsent.length === 0) return { outcome: 'settled', products: [] };
    await registry.unsent({ ...check, products: unsent, claimedProducts: check.products });
    return { outcome: 'settled', products: unsent };
  }

  /** refreshJob: one link (a retry handed off by a batch, or a job queued by an earlier version). */
  async function processRefresh(job: Job): Promise<RefreshResult> {
    const data = refreshJobSchema.parse(job.data);
    await congestion.acquire();
    let signal: CallSignal = 'other';
    try {
      const claim = await fresh(data, await registry.claim(data.linkId, data.products));
      if (claim.kind === 'gone') return { outcome: 'skipped', products: [] };
      if (claim.products.length === 0) {
        // a duplicate or early job: the quota says not yet; plan the link from its state
        await registry.reschedule(data.linkId);
        return { outcome: 'deferred', products: [] };
      }
      recordLag(data.dueAt);
      const answer = await call(claim);
      signal = signalOf(answer);
      if (answer === 'accepted') return { outcome: 'accepted', products: claim.products };
      const after = await act(claim, answer, isLastAttempt(job));
      // BullMQ retries the job with backoff, or keeps it waiting in the held queue
      if (after.kind === 'retry') throw after.err;
      if (after.kind === 'halt') throw new RateLimitError();
      return { outcome: 'settled', products: claim.products };
    } finally {
      congestion.release(signal);
    }
  }

  /**
   * refreshBatchJob: the links in groups of as many calls as may be in flight now. A group is claimed in one script
   * call per shard, its calls go out together, and the accepted ones are settled so once all are answered; its
   * permits are given back then, together, so the next group is as large. A process killed mid-group leaves the claims
   * counted as refreshes until their in-flight end (late, never over quota); the job runs again and the quota gate
   * defers what was sent.
   */
  async function processBatch(job: Job): Promise<BatchResult> {
    const { links } = refreshBatchJobSchema.parse(job.data);
    const lastAttempt = isLastAttempt(job);
    const result: BatchResult = { accepted: 0, settled: 0, deferred: 0, skipped: 0, handedOff: 0 };
    const held: RefreshJob[] = [];
    let next = 0;
    while (next < links.length && held.length === 0) {
      const permits = await congestion.acquireUpTo(links.length - next);
      const group = links.slice(next, next + permits);
      next += group.length;
      const signals: CallSignal[] = group.map(() => 'other');
      const accepted: { claim: Claimed; settlement: Settlement }[] = [];
      const deferred: string[] = [];
      try {
        const claims = await registry.claimMany(group);
        const outcomes = await Promise.allSettled(
          group.map(async (data, i) => {
            const claim = await fresh(data, claims[i]!);
            if (claim.kind === 'gone') return void (result.skipped += 1);
            if (claim.products.length === 0) return void deferred.push(data.linkId);
            recordLag(data.dueAt);
            const answer = await send(claim);
            signals[i] = signalOf(isMoneyKitError(answer) ? answer : 'accepted');
            if (!isMoneyKitError(answer))
              return void accepted.push({ claim, settlement: { action: 'accepted', granted: answer.granted } });
            const after = await act(claim, answer, lastAttempt);
            if (after.kind === 'done') return void (result.settled += 1);
            const rest = { ...data, products: after.products };
            if (after.kind === 'halt') return void held.push(rest);
            await queue.add(refreshJob.name, rest, { jobId: refreshJob.id(rest), delay: opts.backoffMs });
            result.handedOff += 1;
          }),
        );
        await registry.settleMany(accepted);
        result.accepted += accepted.length;
        await registry.rescheduleMany(deferred);
        result.deferred += deferred.length;
        const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed) throw failed.reason;
      } finally {
        for (const signal of signals) congestion.release(signal);
      }
    }
    if (held.length > 0) {
      // the queue is held (app-wide 429, credentials): what is left waits in it as one job
      const rest = [...held, ...links.slice(next)];
      const first = { linkId: rest[0]!.linkId, handOverUntil: Date.now() };
      await queue.add(refreshBatchJob.name, { links: rest }, { jobId: refreshBatchJob.id(first) });
      result.handedOff += rest.length;
    }
    return result;
  }

  return { processRefresh, processBatch, processCheck };
}
