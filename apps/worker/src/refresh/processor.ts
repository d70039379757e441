/**
 * The refresh job: claim the quota, call MoneyKit once for every product claimed, record the answer.
 * Failures are decided in outcome.ts and acted on here, in one switch.
 */
import { RateLimitError, type Job, type Queue } from 'bullmq';
import { refreshJobSchema, type Logger, type Product } from '@mk/shared';
import { isMoneyKitError, MoneyKitError, type MoneyKitClient } from '@mk/moneykit-client';
import { LagTracker } from './lag';
import { decideRefreshOutcome } from './outcome';
import type { Claim, RefreshRegistry } from './registry';

type Claimed = Extract<Claim, { kind: 'claimed' }>;
export type RefreshClient = Pick<MoneyKitClient, 'refreshProducts'>;

export interface RefreshResult {
  outcome: 'accepted' | 'skipped' | 'deferred' | 'settled';
  products: Product[];
}

export interface ProcessorDeps {
  registry: RefreshRegistry;
  client: RefreshClient;
  queue: Queue;
  logger: Logger;
  lag?: LagTracker;
  /** Pause of the whole queue when MoneyKit refuses our credentials. */
  authPauseMs?: number;
}

/** The part of a claim that concerns one product (for probing a multi-product 403 product by product). */
function narrow(claim: Claimed, product: Product): Claimed {
  const i = claim.products.indexOf(product);
  return { ...claim, products: [product], previous: claim.previous.split(',')[i] ?? '-', dueTimes: [claim.dueTimes[i] ?? 0] };
}

export function createRefreshProcessor(deps: ProcessorDeps) {
  const { registry, client, queue, logger } = deps;
  const opts = registry.options;

  async function call(claim: Claimed): Promise<MoneyKitError | 'accepted'> {
    try {
      const link = await client.refreshProducts(claim.linkId, claim.products);
      const granted = Object.keys(link.products) as Product[];
      await registry.settle(claim, { action: 'accepted', granted });
      return 'accepted';
    } catch (err) {
      if (isMoneyKitError(err)) return err;
      // not a MoneyKit answer (a bug, Redis gone while settling): the call may have gone out
      await registry.settle(claim, { action: 'uncertain', answered: false }).catch(() => undefined);
      throw err;
    }
  }

  async function act(claim: Claimed, err: MoneyKitError, job: Job): Promise<void> {
    const recent429Links = err.errorClass === 'rate_limited' ? await registry.note429(claim.linkId) : undefined;
    const decision = decideRefreshOutcome(err, {
      products: claim.products,
      lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      ...(recent429Links !== undefined && { recent429Links }),
      appRateLimitLinks: opts.appRateLimitLinks,
      retryLaterMs: opts.leaseMs,
      authPauseMs: deps.authPauseMs ?? 60_000,
    });
    const log = { linkId: claim.linkId, products: claim.products, errorClass: err.errorClass, status: err.status, code: err.code };
    switch (decision.kind) {
      case 'settle':
        await registry.settle(claim, decision.settlement);
        if (decision.counter) await registry.count(decision.counter);
        logger.debug({ ...log, action: decision.settlement.action }, 'refresh settled after an error');
        return;
      case 'retry':
        // provably not sent: give the products back and let BullMQ retry with backoff
        await registry.settle(claim, { action: 'retry' });
        await registry.count('retries');
        throw err;
      case 'pause':
        await registry.settle(claim, { action: 'retry' });
        await registry.count(decision.counter);
        logger.warn({ ...log, pauseMs: decision.delayMs }, decision.counter === 'rateLimitedApp' ? 'app-wide 429: refresh queue paused' : 'credentials refused: refresh queue paused');
        await queue.rateLimit(decision.delayMs);
        throw new RateLimitError();
      case 'probe':
        // several products refused with one 403 (which one?): that call changed nothing, so each may go alone now
        for (const product of claim.products) {
          const single = narrow(claim, product);
          const answer = await call(single);
          if (answer !== 'accepted') await act(single, answer, job);
        }
        return;
    }
  }

  return async function processRefresh(job: Job): Promise<RefreshResult> {
    const data = refreshJobSchema.parse(job.data);
    const claim = await registry.claim(data.linkId, data.products);
    if (claim.kind === 'gone') return { outcome: 'skipped', products: [] };
    if (claim.products.length === 0) {
      // a duplicate or early job: the quota says not yet; plan the link from its state
      await registry.reschedule(data.linkId);
      return { outcome: 'deferred', products: [] };
    }
    deps.lag?.record(Date.now() - data.dueAt);
    const answer = await call(claim);
    if (answer === 'accepted') return { outcome: 'accepted', products: claim.products };
    await act(claim, answer, job);
    return { outcome: 'settled', products: claim.products };
  };
}
