import {
  countSince,
  decideRunState,
  describeRunState,
  throughputOf,
  type RunSignals,
  type RunStateName,
  type StallKind,
} from '@mk/ledger';

const NOW = Date.UTC(2027, 3, 1, 12, 0, 30); // 30 s into a minute
const MIN = 60_000;
const minute = (ms: number) => Math.floor(ms / MIN);

const base = (over: Partial<RunSignals> = {}): RunSignals => ({
  createdAt: NOW - 30 * MIN,
  status: 'enqueued',
  counts: { pending: 40, importing: 5, linked: 5, imported: 900, failed: 0 },
  rejects: 0,
  throughputPerMin: 60,
  producer: { at: NOW - 20 * MIN, line: 1000 },
  upstreamErrors: 0,
  lastImportAt: NOW - 1000,
  importQueue: { paused: false, workers: 3 },
  connectionsWithoutJob: 0,
  ...over,
});
const done = { pending: 0, importing: 0, linked: 0 };

describe('decideRunState: one decision table for every view', () => {
  const table: [string, Partial<RunSignals>, RunStateName, StallKind[]][] = [
    ['moving, nothing wrong', {}, 'running', []],
    ['finished, all imported', { counts: { ...done, imported: 950, failed: 0 } }, 'completed', []],
    [
      'finished with failed connections',
      { counts: { ...done, imported: 940, failed: 10 } },
      'completed_with_failures',
      [],
    ],
    [
      'finished with rejected records',
      { counts: { ...done, imported: 950 }, rejects: 3 },
      'completed_with_failures',
      [],
    ],
    ['finished, nothing imported', { counts: { ...done, imported: 0, failed: 950 } }, 'completed_with_failures', []],
    [
      'finished settles even while the queue is paused and no worker runs',
      { counts: { ...done, imported: 950 }, importQueue: { paused: true, workers: 0 } },
      'completed',
      [],
    ],
    [
      'producer still reading, nothing open yet',
      { status: 'enqueuing', counts: { imported: 0 }, producer: { at: NOW - 1000, line: 3 } },
      'running',
      [],
    ],
    ['operator paused the queue', { importQueue: { paused: true, workers: 3 } }, 'stalled', ['queue_paused']],
    [
      'a worker paused it for refused credentials',
      { importQueue: { paused: true, pausedBy: { by: 'worker-7', reason: 'credentials refused' }, workers: 3 } },
      'stalled',
      ['queue_paused'],
    ],
    ['no worker alive', { importQueue: { paused: false, workers: 0 } }, 'stalled', ['no_worker']],
    ['workers unknown (CLIENT LIST refused) is not a stall', { importQueue: { paused: false } }, 'running', []],
    [
      'errors and no import for 3 min',
      { upstreamErrors: 37, lastImportAt: NOW - 3 * MIN, throughputPerMin: 0 },
      'stalled',
      ['upstream_unreachable'],
    ],
    [
      'errors, nothing ever imported, run 10 min old',
      { upstreamErrors: 5, lastImportAt: undefined, throughputPerMin: 0 },
      'stalled',
      ['upstream_unreachable'],
    ],
    [
      'errors but imports still landing (a flaky upstream is not a stall)',
      { upstreamErrors: 12, lastImportAt: NOW - 5000 },
      'running',
      [],
    ],
    [
      'a young run whose first calls failed',
      { createdAt: NOW - 30_000, upstreamErrors: 2, lastImportAt: undefined },
      'running',
      [],
    ],
    ['connections with no job, producer done', { connectionsWithoutJob: 3 }, 'stalled', ['connections_without_job']],
    [
      'connections with no job while the producer still enqueues: not judged',
      { status: 'enqueuing', producer: { at: NOW - 2000, line: 500 }, connectionsWithoutJob: 3 },
      'running',
      [],
    ],
    [
      'producer silent for 2 min mid-dump',
      { status: 'enqueuing', producer: { at: NOW - 2 * MIN, line: 500 } },
      'stalled',
      ['producer_stopped'],
    ],
    [
      'producer gave up, and left a connection without a job',
      {
        status: 'enqueuing',
        producer: { at: NOW - 1000, line: 500, stopped: 'cannot read dump' },
        connectionsWithoutJob: 1,
      },
      'stalled',
      ['producer_stopped', 'connections_without_job'],
    ],
    [
      'retry pass silent',
      { status: 'retrying', producer: { at: NOW - 5 * MIN, line: 20 } },
      'stalled',
      ['producer_stopped'],
    ],
    ['run from before beats were recorded', { status: 'enqueuing', producer: undefined }, 'running', []],
    [
      'everything at once',
      {
        importQueue: { paused: true, workers: 0 },
        upstreamErrors: 4,
        lastImportAt: NOW - 10 * MIN,
        connectionsWithoutJob: 2,
      },
      'stalled',
      ['queue_paused', 'no_worker', 'upstream_unreachable', 'connections_without_job'],
    ],
  ];

  it.each(table)('%s', (_name, over, state, kinds) => {
    const s = decideRunState(base(over), NOW);
    expect(s.state).toBe(state);
    expect(s.stalled.map((r) => r.kind)).toEqual(kinds);
    if (state !== 'running') expect(s.etaSeconds).toBeNull();
  });

  it('says why in one line, the same words everywhere', () => {
    const paused = decideRunState(
      base({
        importQueue: {
          paused: true,
          pausedBy: { by: 'worker-7', reason: 'credentials refused', at: Date.UTC(2027, 3, 1, 11, 58) },
          workers: 2,
        },
      }),
      NOW,
    );
    expect(paused.summary).toBe(
      'stalled: import queue paused by worker-7 (credentials refused) since 2027-04-01 11:58 UTC',
    );
    expect(decideRunState(base({ importQueue: { paused: true, workers: 2 } }), NOW).summary).toMatch(
      /paused by an operator: resume it in Bull Board/,
    );
    expect(decideRunState(base({ connectionsWithoutJob: 3 }), NOW).summary).toBe(
      'stalled: 3 connections pending with no import job: run the same `mk-migrate run` again to enqueue them',
    );
    const down = decideRunState(
      base({ upstreamErrors: 37, lastImportAt: NOW - 4 * MIN, lastError: 'MoneyKit import answered HTTP 503' }),
      NOW,
    );
    expect(down.summary).toBe(
      'stalled: MoneyKit unreachable: 37 errors in the last 5 min, nothing imported for 4 min (last: MoneyKit import answered HTTP 503)',
    );
    expect(decideRunState(base({ importQueue: { paused: false, workers: 0 } }), NOW).summary).toMatch(
      /no import worker alive/,
    );
    expect(describeRunState('completed_with_failures', [], { counts: { failed: 2 }, rejects: 1 })).toBe(
      'completed with failures: 2 failed, 1 record rejected',
    );
  });

  it('gives an ETA from what is left and the throughput, projecting the dump while it is read', () => {
    expect(decideRunState(base(), NOW)).toMatchObject({ remaining: 50, remainingEstimated: false, etaSeconds: 50 });
    // A quarter of the dump read: 1,000 connections seen → ~4,000 in all, 900 settled.
    const reading = decideRunState(
      base({
        status: 'enqueuing',
        producer: { at: NOW - 1000, line: 800 },
        dumpProgress: { connectionsSeen: 1000, bytesRead: 25, bytesTotal: 100 },
      }),
      NOW,
    );
    expect(reading).toMatchObject({ state: 'running', remaining: 3100, remainingEstimated: true, etaSeconds: 3100 });
    expect(decideRunState(base({ throughputPerMin: 0 }), NOW).etaSeconds).toBeNull();
  });
});

describe('throughputOf: over the time actually elapsed', () => {
  it('divides by the run’s age when it is younger than a minute (20 s in, 20 imports → 60/min, not 2/min)', () => {
    const startedAt = NOW - 20_000;
    const buckets = new Map([[minute(NOW), 20]]);
    expect(throughputOf(buckets, NOW, startedAt)).toBeCloseTo(60);
  });

  it('spans the minute boundary for a young run', () => {
    // Started 40 s ago: 10 s of the previous minute (10 imports) and 30 s of this one (30 imports).
    const startedAt = NOW - 40_000;
    const buckets = new Map([
      [minute(NOW), 30],
      [minute(NOW) - 1, 10],
    ]);
    expect(throughputOf(buckets, NOW, startedAt)).toBeCloseTo(60);
  });

  it('takes the last 60 s of an older run, the earlier minute counted for its part in the window', () => {
    // Steady 60/min: the previous minute's 60 count for its last 30 s (30), this minute's 30 s has 30.
    const buckets = new Map([
      [minute(NOW), 30],
      [minute(NOW) - 1, 60],
      [minute(NOW) - 2, 60],
    ]);
    expect(throughputOf(buckets, NOW, NOW - 30 * MIN)).toBeCloseTo(60);
    expect(throughputOf(new Map(), NOW, NOW - 30 * MIN)).toBe(0);
  });

  it('counts the errors of a 5-minute window the same way', () => {
    const m = minute(NOW);
    const buckets = new Map([
      [m, 2],
      [m - 1, 1],
      [m - 4, 1],
      [m - 5, 4],
    ]); // m-5 is half in the window
    expect(countSince(buckets, NOW - 5 * MIN, NOW)).toBeCloseTo(6);
  });
});
