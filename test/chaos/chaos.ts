/**
 * Proof under fire: a migration of ≥ 2,000 connections and then a refresh period against the sandbox, with several
 * worker processes, while workers are SIGKILLed at random moments, Redis (AOF on) is killed and restarted twice, the
 * producer is killed and re-run, and the sandbox injects 5xx, dropped connections, timeouts, committed-then-failed
 * imports and 429 bursts. Then Redis loses everything (restarted without its data) and the producer is re-run: every
 * link is found again at MoneyKit, none created twice. In the refresh period the webhook receiver is SIGKILLed
 * mid-delivery too. Before that, the cutover's top-up: a newer dump of the same users (new rows, rows posted since,
 * changed rows, new users) goes in through `topup` under the same faults, while workers are SIGKILLed and Redis (AOF)
 * restarts; the sandbox must then hold exactly what the two dumps say (test/chaos/topup-phase.ts). At the end:
 * imported, duplicates, lost, failed-with-reason, quota violations, stuck jobs, the top-up's books, and every
 * reconnect applied and refreshed. `cpuLoad` runs it all with every core kept busy by other processes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { QUEUES, createRedis, type Redis } from '@mk/shared';
import { MigrationLedger } from '@mk/ledger';
import { fixtures } from '@mk/converters';
import { plan, topupIdOf } from '@mk/producer';
import { RefreshRegistry } from '@mk/refresh';
import { startSandbox, type RunningSandbox } from '@mk/sandbox';
import {
  createFuzzRng,
  freePort,
  startApp,
  startCpuLoad,
  startPrivateRedis,
  trackSlowdown,
  type AppProcess,
  type CpuLoad,
  type PrivateRedis,
} from '@mk/testkit';
import { checkTopupBooks, writeNewerDump, type TopupBooks } from './topup-phase';

export interface ChaosOptions {
  users: number;
  workers: number;
  /** Import calls per minute, the same on both sides. */
  importRatePerMinute: number;
  /** Simulated refresh period after the imports, in real seconds (TIME_SCALE 3600: one second is an hour). */
  refreshSeconds: number;
  /** Mean seconds between two worker kills. */
  killEverySeconds: number;
  /** Users only in the top-up's newer dump (their connections are imported by `topup`). */
  topupNewUsers: number;
  /** Every N-th user of the first dump has changed in the newer one (Plaid and canonical records only). */
  topupChangeEvery: number;
  seed: number;
  /** Keep every core busy with other processes all along (the loaded run of `npm test`). */
  cpuLoad?: boolean;
  log?: (line: string) => void;
}

export const SHORT: ChaosOptions = {
  users: 1400,
  workers: 3,
  importRatePerMinute: 30_000,
  refreshSeconds: 20,
  killEverySeconds: 4,
  topupNewUsers: 20,
  topupChangeEvery: 3,
  seed: 1,
};
export const LONG: ChaosOptions = {
  users: 20_000,
  workers: 4,
  importRatePerMinute: 6_000,
  refreshSeconds: 600,
  killEverySeconds: 20,
  topupNewUsers: 200,
  topupChangeEvery: 1,
  seed: 1,
};

export interface ChaosResult {
  /** Of the first dump and the top-up's new users. */
  connectionsExpected: number;
  imported: number;
  failedWithReason: number;
  failedWithoutReason: number;
  lost: number;
  duplicateLinks: number;
  duplicateTransactions: number;
  quotaViolations: number;
  stuckJobs: number;
  linksRefreshed: number;
  linksReconnected: number;
  /** Reconnected links the registry still holds parked: a `connected` webhook that was never applied. */
  reconnectsNotApplied: number;
  workerKills: number;
  redisRestarts: number;
  /** Restarts of Redis with all its data gone (then the producer is re-run). */
  redisWipes: number;
  /** The top-up phase: its books from the dumps, the sandbox's duplicate count over it, its chaos and its time. */
  topup: TopupBooks & {
    connectionsToppedUp: number;
    duplicateTransactions: number;
    importTransactionsCalls: number;
    workerKills: number;
    redisRestarts: number;
    /** Upstream faults injected while it ran. */
    faultsInjected: Record<string, number>;
    seconds: number;
  };
  webhookReceiverKills: number;
  producerKills: number;
  /** Worst measured slowdown of the test process (1 = a core to itself); the final wait stretched by it. */
  slowdown: number;
  faultsInjected: Record<string, number>;
  webhooks: { delivered: number; failedAttempts: number; abandoned: number };
  seconds: number;
  /** Of a few links that were reconnected but never refreshed: every step both sides saw, in time order. */
  lostLinkStories: string[];
}

const TIME_SCALE = 3600;
/** Share of links whose every refresh step is kept (REFRESH_TRACE_SAMPLE), so a failure can tell their story. */
const TRACE_SAMPLE = 0.25;
const PREFIX = '{chaos}';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  const random = createFuzzRng(opts.seed);
  const rng = () => random.next();
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-chaos-'));
  const processes: AppProcess[] = [];
  const load: CpuLoad | undefined = opts.cpuLoad ? startCpuLoad() : undefined;
  const slowdown = trackSlowdown();
  let redisServer: PrivateRedis | undefined;
  let sandbox: RunningSandbox | undefined;
  let redis: Redis | undefined;
  try {
    const dump = path.join(dir, 'dump.ndjson.gz');
    const dumpOptions = {
      users: opts.users,
      format: 'mixed' as const,
      txPerAccount: 6,
      heavyShare: 0.002,
      badShare: 0.005,
      seed: opts.seed,
    };
    await fixtures.writeDumpFile(dump, { ...dumpOptions, gzip: true });
    const expected = await plan(dump, { ratePerMinute: opts.importRatePerMinute });
    log(
      `dump: ${expected.users} users, ${expected.connections} connections (${expected.oversizedConnections} over 1 MB), ${expected.rejects} bad records`,
    );

    redisServer = await startPrivateRedis({ aof: true });
    redis = createRedis(redisServer.url, 'worker');
    const webhookPort = await freePort();
    sandbox = await startSandbox({
      latency: { baseMs: 20, perKbMs: 0.05, maxMs: 300 },
      importRatePerMinute: opts.importRatePerMinute,
      timeScale: TIME_SCALE,
      seed: opts.seed,
      logLevel: 'silent',
      linkHistory: true,
      refreshCompletionDelayMs: 50,
      // Real seconds between redeliveries, as MoneyKit spaces them (the sandbox divides by the time scale).
      webhookRetryDelaysMs: [1, 2, 5, 10, 20].map((s) => s * 1000 * TIME_SCALE),
      webhookUrl: `http://127.0.0.1:${webhookPort}/webhooks/moneykit`,
    });
    sandbox.state.faults.set({
      error5xxRate: 0.03,
      dropRate: 0.03,
      timeoutRate: 0.02,
      timeoutMs: 1500,
      commitThenFailRate: 0.05,
    });

    const env = {
      REDIS_URL: redisServer.url,
      REDIS_PREFIX: PREFIX,
      LOG_LEVEL: 'error',
      TIME_SCALE: String(TIME_SCALE),
      MONEYKIT_BASE_URL: sandbox.url,
      MONEYKIT_CLIENT_ID: sandbox.clientId,
      MONEYKIT_CLIENT_SECRET: sandbox.clientSecret,
      // IMPORT_SETTLE_MS: a call we gave up on may still commit up to the injected 1.5 s hold + 0.3 s latency later
      MONEYKIT_IMPORT_TIMEOUT_MS: '1000',
      MONEYKIT_TIMEOUT_MS: '1000',
      IMPORT_SETTLE_MS: '4000',
      IMPORT_RATE_PER_MIN: String(opts.importRatePerMinute),
      IMPORT_CONCURRENCY: '16',
      IMPORT_LOCK_MS: '3000',
      REFRESH_LOCK_MS: '3000',
      // A refresh whose outcome we never learn counts as one until this long after its claim: the quota design's one
      // assumption is that the upstream acts on a request by then (packages/refresh/README.md). The sandbox runs in
      // this test's process; on a saturated machine it was seen reading a request 10.7 s after it was sent (×9.7
      // slowdown), so the window is far above the 1 s client timeout.
      REFRESH_IN_FLIGHT_MS: '20000',
      REFRESH_TRACE_SAMPLE: String(TRACE_SAMPLE),
      IMPORT_BACKOFF_BASE_MS: '100',
      IMPORT_BACKOFF_MAX_MS: '2000',
      REFRESH_PRODUCTS: 'accounts,transactions,identity',
      OPS_PORT: '0',
      PRODUCER_OUT_DIR: dir,
    };
    const workers: AppProcess[] = [];
    const startWorkerProcess = () => {
      const w = startApp('apps/worker/src/main.ts', { ...env, WORKER_ROLES: 'import,refresh', WEBHOOK_PORT: '0' });
      processes.push(w);
      workers.push(w);
    };
    // The webhook receiver runs apart; it is SIGKILLed in the refresh period, mid-delivery, and MoneyKit's redelivery covers it.
    const startReceiver = () => {
      const r = startApp('apps/worker/src/main.ts', {
        ...env,
        WORKER_ROLES: 'webhooks',
        WEBHOOK_PORT: String(webhookPort),
        WEBHOOK_HOST: '127.0.0.1',
      });
      processes.push(r);
      return r;
    };
    let receiver = startReceiver();
    for (let i = 0; i < opts.workers; i++) startWorkerProcess();

    const producerArgs = ['run', dump, '--run', 'chaos', '--rejects', path.join(dir, 'rejects.ndjson')];
    const producerEnv = { ...env, PRODUCER_MAX_WAITING: '200' };
    let producerKills = 0;
    let workerKills = 0;
    let redisRestarts = 0;
    const ledger = new MigrationLedger(redis, PREFIX);
    const counts = () => ledger.counts('chaos').catch(() => undefined);

    // Producer: killed once part-way, then re-run (again after each Redis restart, which fails it fast).
    let producer = startApp('apps/producer/src/main.ts', producerEnv, producerArgs);
    processes.push(producer);
    await sleep(1500 + rng() * 1500);
    await producer.kill('SIGKILL');
    producerKills++;
    log('producer killed');

    const restartRedisAt = new Set([0.3, 0.6]);
    let producerDone = false;
    const nextKillTime = () => Date.now() + opts.killEverySeconds * 1000 * (0.5 + rng());
    let nextKill = nextKillTime();
    /** At random moments, SIGKILL one worker and start another in its place. */
    const maybeKillAWorker = async () => {
      if (Date.now() < nextKill) return;
      const victim = workers.splice(Math.floor(rng() * workers.length), 1)[0]!;
      await victim.kill('SIGKILL');
      workerKills++;
      startWorkerProcess();
      nextKill = nextKillTime();
    };
    for (;;) {
      // A producer that finished enqueueing exits 0 or 4 (still importing); killed, or failed fast on a Redis restart, it runs again.
      if (!producerDone && (producer.child.exitCode !== null || producer.child.signalCode !== null)) {
        if (producer.child.exitCode === 4 || producer.child.exitCode === 0) producerDone = true;
        else {
          producer = startApp('apps/producer/src/main.ts', producerEnv, producerArgs);
          processes.push(producer);
        }
      }
      const c = await counts();
      const settled = c ? c.imported + c.failed : 0;
      const progress = settled / expected.connections;
      for (const at of [...restartRedisAt]) {
        if (progress >= at) {
          restartRedisAt.delete(at);
          await redisServer.restart();
          redisRestarts++;
          log(`redis restarted at ${Math.round(progress * 100)}% imported`);
        }
      }
      await maybeKillAWorker();
      if (rng() < 0.05)
        sandbox.state.faults.set({
          ...sandbox.state.faults.current,
          rateLimitBurst: 5,
          rateLimitBurstRetryAfterSeconds: 1,
        });
      if (producerDone && c && settled === expected.connections && c.pending + c.importing + c.linked === 0) break;
      if (Date.now() - started > 30 * 60_000) throw new Error(`chaos run did not settle: ${JSON.stringify(c)}`);
      await sleep(250);
    }
    log(`imports settled after ${Math.round((Date.now() - started) / 1000)} s`);

    // Redis loses everything (no AOF, a lost disk): queue, ledger, registry gone. The operator re-runs the producer;
    // MoneyKit still holds every link, and each is found again (GET /users/{id}/links) instead of imported twice.
    await redisServer.restartEmpty();
    const redisWipes = 1;
    log('redis restarted without its data; producer re-run');
    await runToCompletion(
      () => {
        const p = startApp('apps/producer/src/main.ts', producerEnv, producerArgs);
        processes.push(p);
        return p;
      },
      async () => {
        const c = await counts();
        return (
          c !== undefined && c.imported + c.failed === expected.connections && c.pending + c.importing + c.linked === 0
        );
      },
      async () => {
        await maybeKillAWorker();
      },
    );
    log(`re-run after the wipe settled after ${Math.round((Date.now() - started) / 1000)} s`);

    // The cutover's top-up, under the same faults: a newer dump of the same users (every link was found again after
    // the wipe, so each one is read back before its first batch), while workers are SIGKILLed and Redis restarts.
    const topupStarted = Date.now();
    const newer = path.join(dir, 'newer.ndjson');
    const newerDump = writeNewerDump(newer, dumpOptions, opts.topupNewUsers, opts.topupChangeEvery);
    const topupId = topupIdOf(newer);
    const beforeTopup = sandbox.state.counters();
    const killsBeforeTopup = workerKills;
    let topupRedisRestarts = 0;
    nextKill = nextKillTime();
    const importQueue = new Queue(QUEUES.import, { connection: redis, prefix: PREFIX });
    // its connection errors while Redis restarts below: expected, and the reads of the done check are tried again
    importQueue.on('error', () => undefined);
    await runToCompletion(
      () => {
        const p = startApp('apps/producer/src/main.ts', producerEnv, ['topup', newer, '--run', 'chaos']);
        processes.push(p);
        return p;
      },
      async () => {
        // (read again after a Redis restart: a read that fails then is "not yet")
        const j = await importQueue
          .getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')
          .catch(() => undefined);
        if (!j || Object.values(j).some((n) => Number(n) > 0)) return false;
        const c = await counts();
        return c !== undefined && c.pending + c.importing + c.linked === 0;
      },
      async () => {
        await maybeKillAWorker();
        const calls = sandbox!.state.counters().importTransactionsCalls - beforeTopup.importTransactionsCalls;
        if (topupRedisRestarts === 0 && calls >= newerDump.changed / 3) {
          await redisServer!.restart();
          topupRedisRestarts++;
          redisRestarts++;
          log(`redis restarted mid-top-up (${calls} top-up calls in)`);
        }
      },
    );
    log(`top-up jobs settled after ${Math.round((Date.now() - topupStarted) / 1000)} s`);
    const afterTopup = sandbox.state.counters();
    let connectionsToppedUp = 0;
    for await (const r of ledger.scan('chaos'))
      if (r.topupId === topupId && r.topupDone && !r.topupError) connectionsToppedUp++;
    const changedCsv = path.join(dir, `chaos.topup-${topupId}.changed.csv`);
    const topupBooks = await checkTopupBooks(dump, newer, changedCsv, sandbox, ledger, 'chaos');
    const topup = {
      ...topupBooks,
      connectionsToppedUp,
      duplicateTransactions: afterTopup.duplicateTransactions - beforeTopup.duplicateTransactions,
      importTransactionsCalls: afterTopup.importTransactionsCalls - beforeTopup.importTransactionsCalls,
      workerKills: workerKills - killsBeforeTopup,
      redisRestarts: topupRedisRestarts,
      faultsInjected: Object.fromEntries(
        Object.entries(afterTopup.faultsInjected).map(([k, n]) => [
          k,
          n - beforeTopup.faultsInjected[k as keyof typeof beforeTopup.faultsInjected],
        ]),
      ),
      seconds: Math.round((Date.now() - topupStarted) / 1000),
    };
    log(`top-up settled after ${topup.seconds} s`);

    // Refresh period: every end user reconnects; the pipeline keeps refreshing under the same chaos, and the webhook
    // receiver is killed twice while the reconnect webhooks are being delivered.
    const linkIds: string[] = [];
    for await (const r of ledger.scan('chaos')) if (r.linkId) linkIds.push(r.linkId);
    const reconnectedAt = Date.now();
    for (const id of linkIds) sandbox.state.reconnect(id);
    const refreshUntil = Date.now() + opts.refreshSeconds * 1000;
    const receiverKillsAt = [reconnectedAt + 1500, reconnectedAt + 5000];
    let webhookReceiverKills = 0;
    nextKill = nextKillTime();
    while (Date.now() < refreshUntil) {
      await maybeKillAWorker();
      if (receiverKillsAt.length && Date.now() >= receiverKillsAt[0]!) {
        receiverKillsAt.shift();
        await receiver.kill('SIGKILL');
        webhookReceiverKills++;
        await sleep(500 + rng() * 1000);
        receiver = startReceiver();
      }
      await sleep(250);
    }
    sandbox.state.faults.set({});
    // The chaos stops; every reconnected link must now be refreshed. Refreshes held back by the chaos (a dead
    // worker's claims, calls that timed out, redeliveries of webhooks the killed receiver missed) come through within
    // about a minute on a quiet machine; the wait stretches with the measured slowdown.
    const registry = await RefreshRegistry.open(redis, PREFIX, { timeScale: TIME_SCALE, traceSample: TRACE_SAMPLE });
    const reconnected = new Set(linkIds);
    const waitUntil = Date.now() + 60_000 * slowdown.worst;
    let notApplied: string[] = [];
    for (;;) {
      const calls = sandbox.state.counters().refreshCalls;
      for (const id of [...reconnected]) if ((calls[id]?.transactions ?? 0) > 0) reconnected.delete(id);
      if (reconnected.size === 0 || Date.now() > waitUntil) break;
      await sleep(500);
    }
    const states = await Promise.all(linkIds.map((id) => registry.get(id)));
    notApplied = linkIds.filter((id, i) => states[i]?.mode !== 'active');
    log(
      `refresh settled after ${Math.round((Date.now() - reconnectedAt) / 1000)} s (slowdown ×${slowdown.worst.toFixed(2)})`,
    );

    // Settle: whatever is queued finishes (or is reported) before the books are closed.
    let stuckJobs = 0;
    for (let i = 0; i < 40; i++) {
      const j = await importQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      stuckJobs = Object.values(j).reduce((a: number, b) => a + Number(b), 0);
      if (stuckJobs === 0) break;
      await sleep(250);
    }
    await importQueue.close();

    let failedWithReason = 0;
    let failedWithoutReason = 0;
    for await (const r of ledger.scan('chaos')) {
      if (r.state !== 'failed') continue;
      if (r.lastError?.message) failedWithReason++;
      else failedWithoutReason++;
    }
    const final = (await ledger.counts('chaos'))!;
    const sb = sandbox.state.counters();
    const notRefreshed = linkIds.filter((id) => !((sb.refreshCalls[id]?.transactions ?? 0) > 0));
    const linksRefreshed = linkIds.length - notRefreshed.length;
    const lostLinkStories: string[] = [];
    // traced links first (both sides of their story); an untraced one still has the sandbox's side
    const explain = [...new Set([...notRefreshed, ...notApplied, ...Object.keys(sb.quotaViolations)])].sort(
      (a, b) => Number(registry.trace.traced(b)) - Number(registry.trace.traced(a)),
    );
    for (const id of explain.slice(0, 4)) lostLinkStories.push(await linkStory(registry, sandbox, id, reconnectedAt));
    if (explain.length) log(`registry: ${JSON.stringify(await registry.stats())}`);
    return {
      connectionsExpected: expected.connections + topup.connectionsNew,
      imported: final.imported,
      failedWithReason,
      failedWithoutReason,
      lost: expected.connections + topup.connectionsNew - final.imported - final.failed,
      duplicateLinks: sb.duplicateLinks,
      duplicateTransactions: sb.duplicateTransactions,
      quotaViolations: sb.quotaViolationsAttempted,
      stuckJobs,
      linksRefreshed,
      linksReconnected: linkIds.length,
      reconnectsNotApplied: notApplied.length,
      workerKills,
      redisRestarts,
      redisWipes,
      topup,
      webhookReceiverKills,
      producerKills,
      slowdown: Number(slowdown.worst.toFixed(2)),
      faultsInjected: { ...sb.faultsInjected },
      webhooks: { ...sb.webhooks },
      seconds: Math.round((Date.now() - started) / 1000),
      lostLinkStories,
    };
  } finally {
    slowdown.stop();
    await load?.stop();
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    redis?.disconnect();
    await sandbox?.close();
    await redisServer?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts `start()` (a producer run) and keeps re-running it if it dies, until `done()`; `tick` runs the chaos meanwhile.
 * A producer that finished enqueueing exits 4 (in progress) or 0.
 */
async function runToCompletion(
  start: () => AppProcess,
  done: () => Promise<boolean>,
  tick: () => Promise<void>,
  limitMs = 30 * 60_000,
): Promise<void> {
  const until = Date.now() + limitMs;
  let p = start();
  let enqueued = false;
  for (;;) {
    if (!enqueued && (p.child.exitCode !== null || p.child.signalCode !== null)) {
      if (p.child.exitCode === 4 || p.child.exitCode === 0) enqueued = true;
      else p = start();
    }
    if (enqueued && (await done())) return;
    if (Date.now() > until) throw new Error('producer re-run did not settle');
    await tick();
    await sleep(250);
  }
}

/** Our side (the registry's trace) and MoneyKit's side (the sandbox's history) of one link, merged in time order. */
async function linkStory(
  registry: RefreshRegistry,
  sandbox: RunningSandbox,
  linkId: string,
  since: number,
): Promise<string> {
  const ours = (await registry.trace.story(linkId)).map((e) => ({
    at: e.at,
    line: `worker ${e.by}: ${e.step} ${e.detail}`,
  }));
  const theirs = sandbox.state.history(linkId).map((e) => ({ at: e.at, line: `sandbox: ${e.what}` }));
  const lines = [...ours, ...theirs]
    .sort((a, b) => a.at - b.at)
    .map((e) => `  ${((e.at - since) / 1000).toFixed(3).padStart(8)} s  ${e.line}`);
  return [`${linkId} (times from the reconnects), now ${JSON.stringify(await registry.get(linkId))}`, ...lines].join(
    '\n',
  );
}

/** The goals: what must be zero is zero. */
export function verdict(r: ChaosResult): string[] {
  const problems: string[] = [];
  if (r.duplicateLinks) problems.push(`${r.duplicateLinks} duplicate links`);
  if (r.duplicateTransactions) problems.push(`${r.duplicateTransactions} duplicate transactions`);
  if (r.lost) problems.push(`${r.lost} connections lost`);
  if (r.failedWithoutReason) problems.push(`${r.failedWithoutReason} failures without a reason`);
  if (r.quotaViolations) problems.push(`${r.quotaViolations} refresh quota violations`);
  if (r.stuckJobs) problems.push(`${r.stuckJobs} import jobs stuck`);
  if (r.linksRefreshed < r.linksReconnected)
    problems.push(`${r.linksReconnected - r.linksRefreshed} reconnected links never refreshed`);
  if (r.reconnectsNotApplied)
    problems.push(`${r.reconnectsNotApplied} reconnect webhooks never applied (links still parked)`);
  const t = r.topup;
  if (t.duplicateTransactions || t.transactionsDuplicated)
    problems.push(
      `top-up: ${t.duplicateTransactions} duplicate transactions counted by the sandbox, ${t.transactionsDuplicated} found on the links`,
    );
  if (t.transactionsLost)
    problems.push(`top-up: ${t.transactionsLost} transactions expected by the dumps not on their links`);
  if (t.connectionsWithoutLink)
    problems.push(`top-up: ${t.connectionsWithoutLink} connections of the dumps without a link`);
  if (t.changedSentAgain) problems.push(`top-up: ${t.changedSentAgain} changed rows sent again instead of reported`);
  if (t.changedReported < t.changedExpected)
    problems.push(`top-up: ${t.changedExpected - t.changedReported} changed rows not in the changed report`);
  return problems;
}

export function formatResult(r: ChaosResult): string {
  return [
    `connections expected ${r.connectionsExpected}: imported ${r.imported}, failed with reason ${r.failedWithReason}, lost ${r.lost}`,
    `duplicates: links ${r.duplicateLinks}, transactions ${r.duplicateTransactions} (counted by the sandbox)`,
    `refresh: ${r.linksRefreshed}/${r.linksReconnected} reconnected links refreshed, ${r.reconnectsNotApplied} reconnects not applied, quota violations ${r.quotaViolations}`,
    `top-up: ${r.topup.connectionsToppedUp} connections topped up and ${r.topup.connectionsNew} new ones imported in ${r.topup.importTransactionsCalls} calls, ${r.topup.transactionsExpected} transactions expected by the dumps on ${r.topup.connectionsChecked} links: lost ${r.topup.transactionsLost}, duplicated ${r.topup.transactionsDuplicated} (sandbox: ${r.topup.duplicateTransactions}), changed ${r.topup.changedExpected} (reported ${r.topup.changedReported}, sent again ${r.topup.changedSentAgain}), connections without a link ${r.topup.connectionsWithoutLink}; ${r.topup.workerKills} worker SIGKILLs, ${r.topup.redisRestarts} Redis restart and faults ${JSON.stringify(r.topup.faultsInjected)} in it; took ${r.topup.seconds} s`,
    `stuck import jobs ${r.stuckJobs}; webhooks delivered ${r.webhooks.delivered}, failed attempts ${r.webhooks.failedAttempts}, abandoned ${r.webhooks.abandoned}`,
    `chaos: ${r.workerKills} worker SIGKILLs, ${r.redisRestarts} Redis restarts (AOF), ${r.redisWipes} Redis restart with its data gone, ${r.webhookReceiverKills} webhook receiver SIGKILLs, ${r.producerKills} producer kills, faults ${JSON.stringify(r.faultsInjected)}`,
    `took ${r.seconds} s (worst slowdown ×${r.slowdown})`,
    ...(r.lostLinkStories.length
      ? ['stories of links not refreshed, not resumed or refreshed early:', ...r.lostLinkStories]
      : []),
    ...(r.topup.stories.length
      ? ['stories of connections whose top-up books do not balance:', ...r.topup.stories]
      : []),
  ].join('\n');
}
