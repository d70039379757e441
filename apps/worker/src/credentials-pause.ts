/**
 * Refused credentials pause a queue (imports or refreshes: one policy for both pipelines) instead of burning every
 * job's attempts, and the pause undoes itself: it is marked as ours in `keysOn(redis, prefix).queuePause(queue)` (by, reason,
 * at ms), and while the mark stands every worker process of that queue probes the token endpoint with backoff; the
 * first whose probe gets a token resumes the queue and deletes the mark. A worker that starts while the mark stands
 * (the one that paused died) takes the probing over. A queue paused without the mark is an operator's, and is never
 * resumed here.
 */
import os from 'node:os';
import path from 'node:path';
import type { Queue } from 'bullmq';
import type { Redis } from '@mk/shared';
import { keysOn, scriptSet, type FailureInfo, type Logger, type QueueName } from '@mk/shared';

/** The `reason` field of the mark when refused credentials paused the queue. */
export const CREDENTIALS_REFUSED = 'credentials_refused';

export interface CredentialsPauseOptions {
  redis: Redis;
  prefix: string;
  /** The queue the refused calls come from (QUEUES.import or QUEUES.refresh). */
  queue: Queue;
  logger: Logger;
  /** Resolves when MoneyKit gives us a token (MoneyKitClient.verifyCredentials). Without it nothing is probed:
   * the pause is marked and stays until someone resumes the queue. */
  verifyCredentials?: () => Promise<void>;
  /** First probe this long after the pause, then doubling up to maxMs. */
  probeBaseMs?: number;
  probeMaxMs?: number;
  /** How often the mark and the queue are looked at. */
  pollMs?: number;
}

export const DEFAULT_PROBE = { baseMs: 1_000, maxMs: 60_000, pollMs: 1_000 } as const;

/** A process that claimed the resume and died: after this long another may claim it. */
const CLAIM_TTL_MS = 30_000;

const SCRIPTS = scriptSet(path.join(__dirname, 'lua'), {
  mkPauseOperatorPaused: { file: 'operator-paused.lua', keys: 2 },
  mkPauseClaimResume: { file: 'claim-resume.lua', keys: 1 },
  mkPauseDeleteMark: { file: 'delete-mark.lua', keys: 1 },
});

export interface CredentialsPause {
  /** Called when a job met refused credentials: pauses the queue (unless an operator already did) and marks it. */
  pause(failure: FailureInfo): Promise<void>;
  close(): Promise<void>;
}

export function startCredentialsPause(opts: CredentialsPauseOptions): CredentialsPause {
  const { redis, queue, logger } = opts;
  const baseMs = opts.probeBaseMs ?? DEFAULT_PROBE.baseMs;
  const maxMs = opts.probeMaxMs ?? DEFAULT_PROBE.maxMs;
  const mark = keysOn(redis, opts.prefix).queuePause(queue.name as QueueName);
  const which = `${queue.name} queue`;
  const meta = queue.keys.meta!;
  const by = `worker ${os.hostname()}:${process.pid}`;
  const scripts = SCRIPTS.on(redis);
  let delayMs = baseMs;
  let nextProbeAt: number | undefined;
  let lastResumedAt = 0;
  let closed = false;
  // Pausing and probing never interleave within one process.
  let serial: Promise<void> = Promise.resolve();
  const inTurn = (step: () => Promise<void>) =>
    (serial = serial.then(step).catch((err) => logger.warn({ err }, 'credentials pause: step failed, will try again')));

  const pause = (failure: FailureInfo) =>
    inTurn(async () => {
      if (Number(await scripts.mkPauseOperatorPaused([mark, meta], [])) === 1) {
        logger.error(
          { failure },
          `MoneyKit refused our credentials while an operator has the ${which} paused: left as it is`,
        );
        return;
      }
      // Paused first, marked second: a running queue with a mark can only mean someone resumed it since.
      await queue.pause();
      await redis
        .multi()
        .hset(mark, { by, reason: CREDENTIALS_REFUSED, at: Date.now() })
        .hdel(mark, 'resuming_at', 'resuming_by')
        .exec();
      logger.error(
        { failure },
        `MoneyKit refused our credentials: ${which} paused; it resumes by itself once the token endpoint accepts MONEYKIT_CLIENT_ID / MONEYKIT_CLIENT_SECRET`,
      );
    });

  const tick = () =>
    inTurn(async () => {
      const seen = await redis.hget(mark, 'at');
      if (seen === null) {
        nextProbeAt = undefined;
        return;
      }
      if (!(await queue.isPaused())) {
        // Resumed by hand (Bull Board), or by a probe that has not deleted the mark yet: the pause is over.
        if (Number(await scripts.mkPauseDeleteMark([mark], [seen])) === 1) {
          logger.info(`the ${which} was resumed by someone else: its credentials pause mark is removed`);
        }
        nextProbeAt = undefined;
        return;
      }
      if (!opts.verifyCredentials) return;
      if (nextProbeAt === undefined) {
        // A resume that was paused again soon after keeps backing off: the token works but the API still refuses.
        if (Date.now() - lastResumedAt > maxMs) delayMs = baseMs;
        nextProbeAt = Date.now() + delayMs;
      }
      if (Date.now() < nextProbeAt) return;
      try {
        await opts.verifyCredentials();
      } catch (err) {
        delayMs = Math.min(maxMs, delayMs * 2);
        nextProbeAt = Date.now() + delayMs;
        logger.warn(
          { err, nextProbeInMs: delayMs },
          `MoneyKit still refuses our credentials: the ${which} stays paused`,
        );
        return;
      }
      nextProbeAt = undefined;
      delayMs = Math.min(maxMs, delayMs * 2);
      if (Number(await scripts.mkPauseClaimResume([mark], [by, CLAIM_TTL_MS])) !== 1) return;
      await queue.resume();
      await redis.del(mark);
      lastResumedAt = Date.now();
      logger.warn(`MoneyKit accepts our credentials again: ${which} resumed`);
    });

  // One look at a time: a probe that hangs until its timeout must not queue up a look per poll.
  let looking = false;
  const look = () => {
    if (closed || looking) return;
    looking = true;
    void tick().finally(() => (looking = false));
  };
  const timer = setInterval(look, opts.pollMs ?? DEFAULT_PROBE.pollMs);
  timer.unref();
  look();

  return {
    pause: (failure) => (closed ? Promise.resolve() : pause(failure)),
    async close() {
      closed = true;
      clearInterval(timer);
      await serial;
    },
  };
}
