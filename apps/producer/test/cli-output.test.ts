/**
 * What the CLI leaves behind and how it ends: rejects files in --out-dir (none for a clean dump), exit 0 for a
 * command that did its job (`run` without --wait once enqueued, `report` once written), no stack trace when the
 * reader of its output goes away (`report --format json | head`), and the --wait progress on and off a terminal.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixtures } from '@mk/converters';
import { startApp, startPrivateRedis, type PrivateRedis, TEST_PAYLOAD_KEYS } from '@mk/testkit';
import { EXIT, main } from '../src';
import type { RunStatus } from '../src/commands/report';
import { waitLine, waitReporter, WAIT_LOG_INTERVAL_MS } from '../src/wait-reporter';

const PREFIX = '{cli-output}';
const quiet = { out: () => undefined, err: () => undefined };
let redis: PrivateRedis;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mk-cli-out-'));
const env = () => ({
  REDIS_URL: redis.url,
  REDIS_PREFIX: PREFIX,
  LOG_LEVEL: 'silent',
  PAYLOAD_KEYS: TEST_PAYLOAD_KEYS,
});

beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('mk-migrate run and report', () => {
  it('writes no rejects file for a clean dump, and exits 0 once enqueued', async () => {
    const dump = path.join(dir, 'clean.ndjson');
    await fixtures.writeDumpFile(dump, { users: 30, format: 'plaid', txPerAccount: 2, seed: 3 });
    const outDir = path.join(dir, 'clean-out');
    expect(await main(['run', dump, '--run', 'clean', '--out-dir', outDir], env(), quiet)).toBe(EXIT.success);
    expect(fs.existsSync(outDir)).toBe(false);
  });

  it('puts the rejects of a dirty dump in the out dir, ./mk-out by default', async () => {
    const dump = path.join(dir, 'dirty.ndjson');
    await fixtures.writeDumpFile(dump, { users: 30, format: 'mx', txPerAccount: 2, seed: 4, badShare: 0.2 });
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const err: string[] = [];
      expect(
        await main(['run', dump, '--run', 'dirty'], env(), { out: () => undefined, err: (s) => err.push(s) }),
      ).toBe(EXIT.success);
      const file = path.join(dir, 'mk-out', 'dirty.rejects.ndjson');
      expect(fs.readFileSync(file, 'utf8').trim().split('\n').length).toBeGreaterThan(0);
      expect(err.join('\n')).toContain(path.join('mk-out', 'dirty.rejects.ndjson'));
      expect(
        fs.readdirSync(dir).filter((f) => f.endsWith('.ndjson') && f !== 'clean.ndjson' && f !== 'dirty.ndjson'),
      ).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('exits 0 once the report is written, whatever the state of the run', async () => {
    const csv = path.join(dir, 'clean.csv');
    expect(await main(['report', 'clean', '--out', csv], env(), quiet)).toBe(EXIT.success);
    expect(fs.readFileSync(csv, 'utf8').split('\n')[0]).toMatch(/^source_user_id,/);
    expect(await main(['status', 'clean'], env(), quiet)).toBe(EXIT.stalled); // status keeps its documented codes: no worker here
  });

  it('stops quietly, exit 0, when the reader of the report goes away', async () => {
    const dump = path.join(dir, 'big.ndjson');
    await fixtures.writeDumpFile(dump, { users: 1500, format: 'plaid', txPerAccount: 1, seed: 5 });
    expect(await main(['run', dump, '--run', 'big', '--out-dir', dir], env(), quiet)).toBe(EXIT.success);
    const app = startApp('apps/producer/src/main.ts', env(), ['report', 'big', '--format', 'json']);
    let stderr = '';
    app.child.stderr!.on('data', (d) => (stderr += d));
    // like `| head -c 100`: read a little, then close the pipe
    await new Promise<void>((resolve) => app.child.stdout!.once('data', () => resolve()));
    app.child.stdout!.destroy();
    expect(await app.exited).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
  });
});

describe('the --wait progress', () => {
  const status = (over: Partial<RunStatus['state']> = {}, imported = 400): RunStatus => ({
    run: {
      runId: 'r',
      createdAt: 0,
      status: 'enqueued',
      usersSeen: 0,
      usersEnqueued: 0,
      usersSkipped: 0,
      connectionsSeen: 0,
      rejects: 0,
      updatedAt: 0,
    },
    counts: { pending: 500, importing: 10, linked: 0, imported, failed: 3 },
    total: 913 + imported - 400,
    state: {
      state: 'running',
      stalled: [],
      summary: 'running',
      remaining: 510,
      remainingEstimated: false,
      throughputPerMin: 59.8,
      etaSeconds: 512,
      ...over,
    },
    at: 0,
  });

  it('says state, done/total, rate, ETA and errors in one line', () => {
    expect(waitLine(status())).toBe('running | 403/913 (44.1 %) | 59.8/min | ETA 9 min | 3 failed');
    expect(
      waitLine(
        status({
          state: 'stalled',
          summary: 'stalled: no import worker alive: start one (pnpm worker)',
          etaSeconds: null,
        }),
      ),
    ).toContain('no ETA while stalled');
  });

  it('rewrites one line on a terminal', () => {
    const out: string[] = [];
    const r = waitReporter({ tty: true, write: (s) => out.push(s) });
    r.update(status());
    r.update(status({}, 401));
    r.stop();
    expect(out.slice(0, 2).every((s) => s.startsWith('\r\x1b[2K') && !s.includes('\n'))).toBe(true);
    expect(out[2]).toBe('\n');
  });

  it('off a terminal, writes a timestamped line on a change of state and otherwise every 30 s', () => {
    let now = Date.UTC(2026, 11, 1, 12, 0, 0);
    const out: string[] = [];
    const r = waitReporter({ tty: false, write: (s) => out.push(s), now: () => now });
    r.update(status());
    for (let i = 0; i < 20; i++) {
      now += 1000;
      r.update(status({}, 400 + i));
    }
    expect(out).toHaveLength(1);
    r.update(
      status({
        state: 'stalled',
        summary: 'stalled: no import worker alive: start one (pnpm worker)',
        etaSeconds: null,
      }),
    );
    expect(out).toHaveLength(2);
    now += WAIT_LOG_INTERVAL_MS;
    r.update(
      status({
        state: 'stalled',
        summary: 'stalled: no import worker alive: start one (pnpm worker)',
        etaSeconds: null,
      }),
    );
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^2026-12-01T12:00:00\.000Z running \| 403\/913/);
    expect(out.every((l) => l.endsWith('\n'))).toBe(true);
  });
});
